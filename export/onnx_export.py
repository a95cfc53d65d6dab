"""Checkpoint -> ONNX graph(s) with sidecars, checked and parity-verified at export.

Whole model: ``<stem>.onnx``, input ``input`` (N, 3, 28, 28) float32 in [0, 1] -> ``logits`` (N, C).
Split (``split=True``), so a Jetson can put the convolutional encoders on a DLA and the attention
on the GPU; the composition equals the whole model::

    <stem>.global.onnx     input (N, 3, 28, 28) -> tokens (N, 9, D)    (absent without a global branch)
    <stem>.region_tl.onnx  input (N, 3, 28, 28) -> tokens (N, 9, D)    (each slices its own quadrant)
    <stem>.region_tr.onnx, <stem>.region_bl.onnx, <stem>.region_br.onnx
    <stem>.fusion.onnx     g, tl, tr, bl, br (each (N, 9, D)) -> logits (N, C)   (SRAF + classifier)
    <stem>.split.json      the manifest: files, I/O names, composition

Exporter: ``torch.onnx.export(..., dynamo=False)`` (the TorchScript exporter; the dynamo exporter
emits BOOL tensors and ``Where`` nodes for attention), default opset 17, batch axis dynamic.
No graph simplifier is run: the TorchScript exporter already folds constants, and the graph has
no shape sub-graphs for a simplifier to remove (see the node counts in the parity benchmark).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from sofp.export import trt_ops
from sofp.export.defaults import DEFAULT_OPSET, MIN_OPSET
from sofp.export.defaults import ONNX_PARITY_N as PARITY_N
from sofp.export.onnx_checks import check_model, default_opset
from sofp.export.parity import FP32_LOGITS, FP32_TOKENS, ParityReport, compare, sidecar_parity
from sofp.export.sidecar import file_sha256, io_entry, make_sidecar, write_sidecar
from sofp.runtime.errors import SofpError, UsageError

INPUT_NAME = "input"
QUADRANTS = ("tl", "tr", "bl", "br")


def versions() -> dict:
    """Library versions recorded in sidecars (``None`` for what is not installed)."""
    out: dict[str, str | None] = {}
    for mod in ("torch", "onnx", "onnxruntime", "tensorrt"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            out[mod] = None
    try:
        from importlib.metadata import version

        out["sofp"] = version("sofp-edge")
    except Exception:
        out["sofp"] = None
    return out


def ort_session(path: str | Path, threads: int = 1):
    """A CPU ONNX Runtime session on ``path`` with ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only (ORT warns about not constant-folding FP16 Einsum on CPU)
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def run_ort(session, feeds: dict[str, np.ndarray], batch: int | None = None) -> dict[str, np.ndarray]:
    """Run ``session`` on ``feeds`` (in chunks of ``batch`` rows when given) -> outputs by name."""
    names = [o.name for o in session.get_outputs()]
    n = len(next(iter(feeds.values())))
    step = batch or n
    chunks = [session.run(names, {k: v[i:i + step] for k, v in feeds.items()}) for i in range(0, n, step)]
    return {name: np.concatenate([c[j] for c in chunks]) for j, name in enumerate(names)}


@dataclass(frozen=True)
class GraphSpec:
    """One graph to export: its role, file suffix, module, input and output names."""

    role: str
    suffix: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _load(checkpoint_path: str | Path):
    from sofp.runtime.features import INPUT_SPEC
    from sofp.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint_path)
    spec = ckpt.meta.get("input_spec")
    if spec != INPUT_SPEC:
        raise UsageError(f"checkpoint {checkpoint_path} has input spec {spec}; this exporter expects {INPUT_SPEC}")
    return ckpt


def _modules(model, split: bool):
    """[(GraphSpec, torch module taking the graph's inputs)] for the whole model or its split."""
    import torch

    if not split:
        return [(GraphSpec("whole", "", (INPUT_NAME,), ("logits",)), model)]
    if hasattr(model, "members"):  # training/models/ensemble.py: members, no encoders of its own
        partner = f" with a {model.cfg.partner} partner" if getattr(model, "partner", None) is not None else ""
        raise UsageError(f"--split cuts one SOFP model into encoders and fusion; this checkpoint is a "
                         f"{len(model.members)}-member ensemble{partner} (the shipped default). For a split (DLA) "
                         f"deployment train one model: sofp-train all --data DATA --set members=1 --set partner=")
    for attr in ("region_encoders", "fuse"):
        if not hasattr(model, attr):
            raise UsageError(f"--split needs a SOFP model (global/region encoders + fuse); "
                             f"{type(model).__name__} has no {attr}")

    class Fusion(torch.nn.Module):
        def __init__(self, inner, with_global: bool) -> None:
            super().__init__()
            self.inner = inner
            self.with_global = with_global

        def forward(self, *tokens):
            if self.with_global:
                return self.inner.fuse(*tokens)
            return self.inner.fuse(None, *tokens)

    with_global = getattr(model, "global_encoder", None) is not None
    out = []
    if with_global:
        out.append((GraphSpec("global", ".global", (INPUT_NAME,), ("tokens",)), model.global_encoder))
    for q, enc in zip(QUADRANTS, model.region_encoders, strict=True):
        out.append((GraphSpec(f"region_{q}", f".region_{q}", (INPUT_NAME,), ("tokens",)), enc))
    fuse_inputs = (("g",) if with_global else ()) + QUADRANTS
    out.append((GraphSpec("fusion", ".fusion", fuse_inputs, ("logits",)), Fusion(model, with_global)))
    return out


def _torch_run(module, feeds: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(*[torch.from_numpy(feeds[n]) for n in names]).numpy()


def export_onnx(checkpoint_path: str | Path, out_dir: str | Path, opset: int = DEFAULT_OPSET,
                batch: str | int = "dynamic", split: bool = False) -> list[Path]:
    """Export a checkpoint to ONNX (whole model, or its split graphs) with a sidecar per graph.

    Each graph is checked (``onnx.checker``, strict shape inference, TensorRT parser lists for
    ``trt8.5``, ``trt8.6`` and ``trt10``, recorded in the sidecar's ``checks``) and compared with
    PyTorch on 64 random inputs in [0, 1] (max |delta| <= 1e-4, 100 % argmax agreement; split graphs
    also composed against the whole model). A failing comparison raises :class:`SofpError`.

    ``batch``: "dynamic" (batch axis named "batch") or a fixed int. Returns the written paths:
    the ONNX files first (in composition order), then sidecars and, when split, the manifest.
    """
    import torch

    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise UsageError(f"--opset {opset}: the attention blocks need opset >= {MIN_OPSET} (default {DEFAULT_OPSET})")
    if batch != "dynamic" and not (isinstance(batch, int) and batch >= 1):
        raise UsageError(f"--batch {batch!r}: give 'dynamic' or a positive integer")
    ckpt = _load(checkpoint_path)
    model = ckpt.model.eval()
    meta = ckpt.meta
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(checkpoint_path).stem
    dynamic = batch == "dynamic"
    n_dummy = 2 if dynamic else int(batch)

    rng = np.random.default_rng(0)
    n_check = PARITY_N if dynamic else max(int(batch), 1) * max(1, PARITY_N // int(batch))
    x = rng.random((n_check, 3, 28, 28), dtype=np.float32)
    feeds: dict[str, np.ndarray] = {INPUT_NAME: x}

    graphs = _modules(model, split)
    written_onnx: list[Path] = []
    sidecars: list[Path] = []
    results: dict[str, dict[str, np.ndarray]] = {}
    reports: dict[str, ParityReport] = {}
    for spec, module in graphs:
        module.eval()
        if spec.role == "fusion":  # its inputs are the encoders' outputs on the same random inputs
            for name in spec.inputs:
                role = "global" if name == "g" else f"region_{name}"
                feeds[name] = results[role]["tokens"]
        dummy = tuple(torch.from_numpy(np.ascontiguousarray(feeds[n][:n_dummy])) for n in spec.inputs)
        path = out / f"{stem}{spec.suffix}.onnx"
        tmp = path.with_name(path.name + ".tmp")
        axes = {n: {0: "batch"} for n in (*spec.inputs, *spec.outputs)} if dynamic else None
        with torch.no_grad(), warnings.catch_warnings():
            # torch documents torch.jit.TracerWarning but leaves it out of torch.jit's __all__
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # pyright: ignore[reportPrivateImportUsage]
            warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False is deliberate (module doc)
            torch.onnx.export(
                module, dummy, str(tmp), dynamo=False, opset_version=opset, input_names=list(spec.inputs),
                output_names=list(spec.outputs), dynamic_axes=axes, do_constant_folding=True,
            )
        os.replace(tmp, path)
        sess = ort_session(path)
        step = None if dynamic else int(batch)
        got = run_ort(sess, {n: feeds[n] for n in spec.inputs}, step)
        results[spec.role] = got
        ref = {spec.outputs[0]: _torch_run(module, feeds, spec.inputs)}
        tol = {spec.outputs[0]: FP32_LOGITS if spec.outputs[0] == "logits" else FP32_TOKENS}
        reports[spec.role] = compare(ref, got, tol, ref_name="pytorch", test_name=f"onnxruntime:{path.name}")
        written_onnx.append(path)

    if split:  # composed split graphs vs the whole PyTorch model
        ref = {"logits": _torch_run(model, feeds, (INPUT_NAME,))}
        reports["composed"] = compare(ref, results["fusion"], {"logits": FP32_LOGITS}, ref_name="pytorch",
                                      test_name="onnxruntime:composed split graphs")
    failed = [r.summary() for r in reports.values() if not r.passed]
    if failed:
        raise SofpError(f"ONNX export of {checkpoint_path} does not match PyTorch: {failed[0]}")

    manifest_name = f"{stem}.split.json"  # written with split graphs only
    vers = versions()
    for (spec, _), path in zip(graphs, written_onnx, strict=True):
        model_proto = onnx.load(str(path))
        report = check_model(path, tuple(trt_ops.TARGETS), model=model_proto)
        shapes = {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
                  for vi in [*model_proto.graph.input, *model_proto.graph.output]}
        parity = sidecar_parity(reports[spec.role], f"uniform[0,1) random, seed 0, n={n_check}")
        if split and spec.role == "fusion":
            parity["composed"] = sidecar_parity(reports["composed"], parity["inputs"])
        data = make_sidecar(
            path, kind="onnx", role=spec.role,
            inputs=[io_entry(n, shapes[n], "float32") for n in spec.inputs],
            outputs=[io_entry(n, shapes[n], "float32") for n in spec.outputs],
            labels=list(meta.get("labels", [])), input_spec=meta["input_spec"],
            model={"name": meta.get("model_name"), "config": meta.get("model_config")},
            source={"checkpoint": Path(checkpoint_path).name,
                    "checkpoint_sha256": meta.get("sha256") or file_sha256(checkpoint_path),
                    "onnx": None, "onnx_sha256": None},
            opset=default_opset(model_proto), precision="fp32",
            batch={"dynamic": dynamic, "min": 1 if dynamic else int(batch), "opt": None if dynamic else int(batch),
                   "max": None if dynamic else int(batch)},
            versions=vers, parity=parity,
            checks=report.to_dict(),
            split={"manifest": manifest_name} if split else None,
        )
        sidecars.append(write_sidecar(path, data))

    extra: list[Path] = []
    if split:
        manifest = {
            "format": "sofp-split/1",
            "checkpoint": Path(checkpoint_path).name,
            "composition": "logits = fusion(" + ", ".join(
                f"{s.role}(input)" for s, _ in graphs if s.role != "fusion") + ")",
            "graphs": [{"role": s.role, "file": p.name, "inputs": list(s.inputs), "outputs": list(s.outputs)}
                       for (s, _), p in zip(graphs, written_onnx, strict=True)],
            "fusion_inputs": {n: ("global" if n == "g" else f"region_{n}") for n in graphs[-1][0].inputs},
            "parity": sidecar_parity(reports["composed"], f"uniform[0,1) random, seed 0, n={n_check}"),
        }
        mpath = out / manifest_name
        mpath.write_text(json.dumps(manifest, indent=2) + "\n")
        extra.append(mpath)
    return [*written_onnx, *sidecars, *extra]
