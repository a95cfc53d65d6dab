"""Checkpoint or ONNX graph -> TensorRT engine(s) with sidecars, parity-checked against ONNX Runtime.

The library behind ``python export/to_trt.py``:

1. ONNX: export the checkpoint (``onnx_export.export_onnx``; whole model or ``--split`` graphs) or
   take ``--onnx FILE`` with its sidecar; for fp16 also write the FP16 ONNX graph
   (``<stem>.fp16.onnx``, float32 I/O) and its parity against FP32 in ONNX Runtime.
2. Without TensorRT or a GPU: stop with exit 2 and one line naming what is missing and the
   equivalent ``trtexec`` command(s) for the target.
3. Static compatibility with the local TensorRT's parser list (``trt_ops``), then one engine per
   graph (``trt_build``), named by :mod:`naming` (a cached engine with a passing sidecar is reused
   unless ``--force``).
4. Parity: the engine against ONNX Runtime FP32 on ``parity_n`` random inputs (split fusion:
   on the encoders' tokens) with the precision's tolerances (``parity.tolerances_for``). A failing
   engine is deleted and the run fails (exit 1) unless ``--force``, which keeps it with
   ``parity.passed = false`` in its sidecar.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sofp.export import trt_ops
from sofp.export.defaults import TRT_PARITY_N as PARITY_N
from sofp.export.fp16 import convert_fp16, fp16_path
from sofp.export.naming import EngineKey, engine_name, target_engine_name
from sofp.export.onnx_checks import check_model, load_onnx, require_compatible
from sofp.export.onnx_export import DEFAULT_OPSET, export_onnx, ort_session, run_ort, versions
from sofp.export.parity import compare, sidecar_parity, tolerances_for
from sofp.export.sidecar import file_sha256, make_sidecar, read_sidecar, sidecar_path, write_sidecar
from sofp.export.trt_build import BuildSettings, build_engine, is_strongly_typed, make_calibrator
from sofp.export.trtexec import trtexec_command
from sofp.runtime.errors import SofpError, UsageError

DEFAULT_OUT = Path("runs/export")


ONE_SOURCE = "give exactly one of --ckpt CHECKPOINT or --onnx FILE"


@dataclass(frozen=True)
class TrtExportConfig:
    """One ``to_trt.py`` run. Exactly one of ``ckpt`` / ``onnx``; ``out_dir`` None = a default."""

    ckpt: Path | None = None
    onnx: Path | None = None
    out_dir: Path | None = None
    settings: BuildSettings = field(default_factory=BuildSettings)
    split: bool = False
    force: bool = False
    opset: int | None = None  # None: 16 where the local TensorRT is 8.5 (no LayerNormalization import), else 17
    parity_n: int = PARITY_N

    def validate(self) -> TrtExportConfig:
        if (self.ckpt is None) == (self.onnx is None):
            raise UsageError(ONE_SOURCE)
        if self.split and self.onnx is not None:
            raise UsageError("--split exports split graphs from a checkpoint: use --ckpt, or pass each split .onnx")
        if self.parity_n < 1:
            raise UsageError(f"--parity-n {self.parity_n}: give a positive number of inputs")
        self.settings.validate()
        return self


@dataclass
class Graph:
    """One ONNX graph to build: its file, sidecar, and the graph TensorRT parses (FP16 when strongly typed)."""

    onnx: Path
    meta: dict
    fp16: Path | None = None

    @property
    def stem(self) -> str:
        return self.onnx.name[: -len(".onnx")]

    @property
    def input_shapes(self) -> dict[str, tuple]:
        return {i["name"]: tuple(-1 if isinstance(d, str) else d for d in i["shape"]) for i in self.meta["inputs"]}


@dataclass
class TrtExportResult:
    """Files written (ONNX, sidecars, engines) and the engines built or reused."""

    written: list[Path] = field(default_factory=list)
    engines: list[Path] = field(default_factory=list)
    reused: list[Path] = field(default_factory=list)


def import_tensorrt() -> Any:
    """The ``tensorrt`` module; its absence raises :class:`ImportError` (the caller words the line)."""
    import tensorrt

    return tensorrt


def resolve_opset(opset: int | None, trt: Any) -> int:
    """The export opset: the one asked for, else 16 for a local TensorRT 8.5 (JetPack 5), else 17."""
    if opset is not None:
        return opset
    if trt is not None and trt_ops.target_for_version(str(getattr(trt, "__version__", ""))) == "trt8.5":
        return 16
    return DEFAULT_OPSET


def _onnx_graphs(cfg: TrtExportConfig, written: list[Path], opset: int) -> tuple[list[Graph], Path]:
    from sofp.runtime.features import INPUT_SPEC

    if cfg.ckpt is not None:
        out = cfg.out_dir or DEFAULT_OUT / Path(cfg.ckpt).stem
        files = export_onnx(cfg.ckpt, out, opset, "dynamic", cfg.split)
        written += files
        graphs = [Graph(p, read_sidecar(p, kind="onnx", input_spec=INPUT_SPEC)) for p in files if p.suffix == ".onnx"]
    elif cfg.onnx is not None:
        src = Path(cfg.onnx)
        load_onnx(src)
        out = cfg.out_dir or src.parent
        meta = read_sidecar(src, kind="onnx", input_spec=INPUT_SPEC)
        if meta["precision"] != "fp32":
            raise UsageError(f"{src} is a {meta['precision']} graph; give the FP32 .onnx (the FP16 one is derived)")
        graphs = [Graph(src, meta)]
    else:
        raise UsageError(ONE_SOURCE)
    Path(out).mkdir(parents=True, exist_ok=True)
    return graphs, Path(out)


def _random_feeds(graphs: list[Graph], n: int, seed: int = 1) -> dict[str, dict[str, np.ndarray]]:
    """Per graph, its parity inputs: x ~ U[0,1) (N, 3, 28, 28); the fusion graph gets the encoders'
    ONNX Runtime outputs on that x (standard-normal tokens when it is built on its own)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3, 28, 28), dtype=np.float32)
    feeds: dict[str, dict[str, np.ndarray]] = {}
    tokens: dict[str, np.ndarray] = {}
    for g in graphs:
        if g.meta["role"] != "fusion":
            feeds[g.stem] = {"input": x}
            if g.meta["role"] != "whole":
                tokens[g.meta["role"]] = run_ort(ort_session(g.onnx), {"input": x})["tokens"]
    for g in graphs:
        if g.meta["role"] == "fusion":  # alone (--onnx <stem>.fusion.onnx): standard-normal tokens
            feeds[g.stem] = {
                name: tokens.get("global" if name == "g" else f"region_{name}",
                                 rng.standard_normal((n, *shape[1:])).astype(np.float32))
                for name, shape in g.input_shapes.items()
            }
    return feeds


def _write_fp16(graphs: list[Graph], feeds: dict[str, dict[str, np.ndarray]], written: list[Path], out: Path) -> None:
    """FP16 ONNX graph (in ``out``) + sidecar (parity vs FP32 in ONNX Runtime) for each graph."""
    for g in graphs:
        dst = convert_fp16(g.onnx, out / fp16_path(g.onnx).name)
        ref = run_ort(ort_session(g.onnx), feeds[g.stem])
        got = run_ort(ort_session(dst), feeds[g.stem])
        rep = compare(ref, got, tolerances_for("fp16", list(ref)), ref_name="onnxruntime-fp32",
                      test_name=f"onnxruntime:{dst.name}")
        meta = {k: v for k, v in g.meta.items() if k not in ("format", "file", "sha256", "created")}
        n = len(next(iter(ref.values())))
        meta.update(precision="fp16", parity=sidecar_parity(rep, f"uniform[0,1) random, seed 1, n={n}"),
                    source={**g.meta["source"], "onnx": g.onnx.name, "onnx_sha256": g.meta["sha256"]})
        written += [dst, write_sidecar(dst, make_sidecar(dst, **meta))]
        g.fp16 = dst


def _missing_line(what: str, graphs: list[Graph], out: Path, s: BuildSettings, written: list[Path]) -> str:
    cmds = []
    note = ""
    if s.precision == "int8" and not (s.calib_cache and Path(s.calib_cache).is_file()):
        note = (" (trtexec cannot calibrate from images: --calib names the cache that to_trt.py --calib writes "
                "where TensorRT's Python bindings are installed)")
    for g in graphs:
        cache = s.calib_cache or (out / f"{g.stem}.int8.calib" if s.precision == "int8" else None)
        gs = dataclasses.replace(s, dla_core=_dla_core(g, s), calib_cache=cache)
        name = target_engine_name(g.stem, gs.precision, gs.min_batch, gs.opt_batch, gs.max_batch, gs.dla_core)
        cmds.append(trtexec_command(g.onnx, out / name, gs, g.input_shapes))
    n_onnx = sum(1 for p in written if p.suffix == ".onnx")
    return (f"{what}; wrote {n_onnx} ONNX file(s) with sidecars to {out}; build on the target with: "
            + " && ".join(cmds) + note)


def _calibration_feeds(g: Graph, graphs: list[Graph], images: np.ndarray | None) -> dict[str, np.ndarray]:
    """INT8 calibration inputs of graph ``g``: the flow images, or for the split fusion graph the
    encoders' ONNX Runtime tokens on them. ``None`` images (cache only) -> empty arrays."""
    if images is None:
        return {name: np.zeros((0, *shape[1:]), np.float32) for name, shape in g.input_shapes.items()}
    if g.meta["role"] != "fusion":
        return {"input": images}
    tokens = {e.meta["role"]: run_ort(ort_session(e.onnx), {"input": images})["tokens"]
              for e in graphs if e.meta["role"] != "fusion"}
    return {name: tokens["global" if name == "g" else f"region_{name}"] for name in g.input_shapes}


def _dla_core(g: Graph, s: BuildSettings) -> int | None:
    """The DLA core for graph ``g``: the split fusion graph (attention) always builds for the GPU."""
    return None if g.meta["role"] == "fusion" else s.dla_core


def _run_chunks(runner: Any, feeds: dict[str, np.ndarray], s: BuildSettings) -> tuple[dict[str, np.ndarray], int]:
    """Run ``runner.infer`` over ``feeds`` in chunks of at most max_batch rows (dropping a tail shorter
    than min_batch) -> (outputs, rows used)."""
    n = len(next(iter(feeds.values())))
    parts: list[dict[str, np.ndarray]] = []
    used = 0
    for i in range(0, n, s.max_batch):
        chunk = {k: v[i:i + s.max_batch] for k, v in feeds.items()}
        rows = len(next(iter(chunk.values())))
        if rows < s.min_batch:
            break
        parts.append(runner.infer(chunk))
        used += rows
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, used


def _parsed_graph(g: Graph, fp16: bool) -> Path:
    """The graph TensorRT parses: the FP16 one for a strongly typed FP16 build, else the FP32 one."""
    if not fp16:
        return g.onnx
    if g.fp16 is None:
        raise SofpError(f"no FP16 graph for {g.onnx.name}")
    return g.fp16


def _reusable(engine: Path) -> bool:
    if not engine.is_file() or not sidecar_path(engine).is_file():
        return False
    try:
        meta = read_sidecar(engine, kind="tensorrt")
    except SofpError:
        return False
    return bool(meta.get("parity") and meta["parity"].get("passed"))


def export_trt(cfg: TrtExportConfig, *, trt: Any = None, device: dict | None = None,
               runner_factory: Callable[[Any, bytes], Any] | None = None,
               builder: Callable[..., Any] = build_engine) -> TrtExportResult:
    """Run the whole ``to_trt.py`` flow (see module doc) -> files written.

    ``trt``, ``device``, ``runner_factory`` and ``builder`` default to the real TensorRT module, CUDA device 0,
    :class:`sofp.runtime.infer.trt_runner.TrtRunner` and :func:`trt_build.build_engine`; tests pass fakes.
    """
    cfg = cfg.validate()
    s = cfg.settings
    result = TrtExportResult()
    missing = None
    if trt is None:
        try:
            trt = import_tensorrt()
        except ImportError as exc:
            missing = f"TensorRT is not installed here ({exc})"
    graphs, out = _onnx_graphs(cfg, result.written, resolve_opset(cfg.opset, trt))
    feeds = _random_feeds(graphs, cfg.parity_n)
    if s.precision == "fp16":
        _write_fp16(graphs, feeds, result.written, out)
    if missing is not None:
        raise UsageError(_missing_line(missing, graphs, out, s, result.written))
    if device is None:
        from sofp.runtime.infer.trt_runner import device_info

        try:
            device = device_info()
        except UsageError as exc:
            raise UsageError(_missing_line(str(exc), graphs, out, s, result.written)) from None
    if runner_factory is None:
        from sofp.runtime.infer.trt_runner import TrtRunner

        def trt_runner(trt_mod: Any, plan: bytes) -> Any:
            return TrtRunner(trt_mod, plan)

        runner_factory = trt_runner

    trt_version = str(getattr(trt, "__version__", "unknown"))
    target = trt_ops.target_for_version(trt_version)
    strongly = is_strongly_typed(trt)
    parsed_graphs = [_parsed_graph(g, strongly and s.precision == "fp16") for g in graphs]  # checked before building
    calib_data = calib_sha = None
    if s.precision == "int8" and s.calib_dir is not None:
        from sofp.export.calibration import data_sha256, load_calibration

        calib_data = load_calibration(s.calib_dir, s.calib_max_images)
        calib_sha = data_sha256(calib_data)
    elif s.precision == "int8" and s.calib_cache is not None:  # int8 has a --calib folder or cache (validate)
        calib_sha = file_sha256(s.calib_cache)

    engine_names: dict[str, str] = {}
    for g, parsed in zip(graphs, parsed_graphs, strict=True):
        require_compatible(check_model(parsed, (target,)), target)
        key = EngineKey(file_sha256(parsed), s.precision, s.min_batch, s.opt_batch, s.max_batch, _dla_core(g, s),
                        device.get("jetson") or device.get("gpu") or "unknown-gpu", trt_version, calib_sha)
        engine = out / engine_name(g.stem, key)
        engine_names[g.meta["role"]] = engine.name
        if _reusable(engine) and not cfg.force:
            result.reused.append(engine)
            result.engines.append(engine)
            continue

        calib_cache = s.calib_cache or (out / f"{g.stem}.int8.calib" if s.precision == "int8" else None)
        settings = dataclasses.replace(s, calib_cache=calib_cache, dla_core=_dla_core(g, s))

        def calibrator(g: Graph = g, settings: BuildSettings = settings) -> Any:
            from sofp.runtime.infer.trt_runner import DeviceBuffer, cuda_backend

            cuda = cuda_backend()
            return make_calibrator(trt, _calibration_feeds(g, graphs, calib_data), settings.calibration_batch,
                                   settings.calib_cache, lambda n: DeviceBuffer(cuda, n), on_close=cuda.close)

        built = builder(trt, parsed, settings, calibrator)
        if settings.dla_core is not None:
            fallback = g.meta.get("checks", {}).get("dla_fallback") or []
            built.notes.append("ops the DLA hands to the GPU: " + (", ".join(fallback) or "none"))
        tmp = engine.with_name(engine.name + ".tmp")
        tmp.write_bytes(built.plan)
        ref = run_ort(ort_session(g.onnx), feeds[g.stem])
        runner = runner_factory(trt, built.plan)
        try:
            got, used = _run_chunks(runner, feeds[g.stem], s)
        finally:
            if hasattr(runner, "close"):
                runner.close()
        ref = {k: v[:used] for k, v in ref.items()}
        rep = compare(ref, got, tolerances_for(s.precision, list(ref)), ref_name="onnxruntime-fp32",
                      test_name=f"tensorrt:{engine.name}")
        if not rep.passed and not cfg.force:
            tmp.unlink(missing_ok=True)
            raise SofpError(f"engine for {g.onnx.name} fails parity ({rep.summary()}); not kept "
                            "(rerun with --force to keep it)")
        tmp.replace(engine)
        meta = {k: v for k, v in g.meta.items() if k not in ("format", "file", "sha256", "created", "checks")}
        meta.update(
            kind="tensorrt", precision=s.precision,
            source={**g.meta["source"], "onnx": parsed.name, "onnx_sha256": file_sha256(parsed)},
            batch={"dynamic": True, "min": s.min_batch, "opt": s.opt_batch, "max": s.max_batch},
            versions={**versions(), "tensorrt": trt_version},
            device={"gpu": device.get("gpu"), "compute_capability": device.get("compute_capability"),
                    "jetson": device.get("jetson"), "dla_core": settings.dla_core},
            build={"workspace_mb": s.workspace_mb, "timing_cache": str(s.timing_cache) if s.timing_cache else None,
                   "calibration_cache": str(settings.calib_cache) if settings.calib_cache else None,
                   "cache_key": key.to_dict(), "strongly_typed": built.strongly_typed, "notes": built.notes,
                   "target": target},
            parity=sidecar_parity(rep, f"uniform[0,1) random, seed 1, n={used}"),
        )
        result.written += [engine, write_sidecar(engine, make_sidecar(engine, **meta))]
        result.engines.append(engine)

    if cfg.split and cfg.ckpt is not None:  # split graphs come from a checkpoint (validate)
        stem = Path(cfg.ckpt).stem
        manifest = out / f"{stem}.split.engines.json"
        manifest.write_text(json.dumps({"format": "sofp-split-engines/1", "precision": s.precision,
                                        "engines": engine_names}, indent=2) + "\n")
        result.written.append(manifest)
    return result
