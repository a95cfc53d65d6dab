"""ONNX Runtime backend: an .onnx file with its sidecar (default: the shipped built-in graph), or a
checkpoint exported once into the cache (which needs torch and the exporter, once).

Execution providers, in this order where this onnxruntime build has them: TensorRT, CUDA, CPU.
On the CPU the model (a few MFLOP) runs on one intra-op thread: more threads only add
synchronisation to a sub-millisecond call and steal cores from optical flow.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.infer.base import (
    InferenceBackend,
    cache_dir,
    check_batch,
    check_input_spec,
    check_labels,
    model_kind,
    resolve_model,
    softmax,
)
from sofp.runtime.sidecar import file_sha256, read_sidecar

PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
FP16_MIN_AGREEMENT = 0.995  # the acceptance to_trt.py applies to FP16 engines (export/parity.py FP16_LOGITS)
FP16_CHECK_N = 1000


def argmax_agreement(session, reference, n: int = FP16_CHECK_N, seed: int = 1) -> float:
    """Share of ``n`` uniform [0, 1) random inputs on which two sessions' logits have the same argmax."""
    x = np.random.default_rng(seed).random((n, 3, 28, 28), dtype=np.float32)
    name = reference.get_inputs()[0].name
    got = np.asarray(session.run(None, {name: x})[0])
    want = np.asarray(reference.run(None, {name: x})[0])
    return float(np.mean(got.argmax(-1) == want.argmax(-1)))


def check_fp16_agreement(session, path: Path) -> None:
    """Refuse (one line) a TensorRT EP FP16 session whose argmax agrees with FP32 on the CPU below 99.5 %."""
    import onnxruntime as ort

    reference = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    agree = argmax_agreement(session, reference)
    if agree < FP16_MIN_AGREEMENT:
        raise SofpError(
            f"{path.name} on the TensorRT execution provider (FP16) agrees with FP32 on {agree:.1%} of "
            f"{FP16_CHECK_N} random inputs, below {FP16_MIN_AGREEMENT:.1%}; run it with --backend tensorrt "
            "and an FP32 engine, or on the CUDA/CPU providers"
        )


def choose_providers(available: list[str]) -> list[str]:
    """The providers to ask for, best first, among those this build offers."""
    chosen = [p for p in PROVIDER_ORDER if p in available]
    return chosen or list(available)


def cached_onnx_for(checkpoint: Path) -> Path:
    """Cache path of the ONNX export of ``checkpoint``: ``<cache>/onnx/<sha256[:16]>/<stem>.onnx``
    (named by the checkpoint's hash, so a changed checkpoint never reuses a stale graph)."""
    return cache_dir() / "onnx" / file_sha256(checkpoint)[:16] / f"{checkpoint.stem}.onnx"


def ensure_onnx(checkpoint: Path) -> Path:
    """The ONNX file for a checkpoint: from the cache, else exported now with
    ``sofp.export.onnx_export.export_onnx`` (checked and parity-verified; needs torch, once)."""
    out = cached_onnx_for(checkpoint)
    if out.is_file() and out.with_name(out.name + ".json").is_file():
        return out
    try:
        import torch  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError:
        raise UsageError(
            f"{checkpoint} must be exported to ONNX once and torch is not installed; "
            "install sofp-edge[export] or pass --model FILE.onnx"
        ) from None
    from sofp.export.onnx_export import export_onnx

    print(f"exporting {checkpoint.name} to ONNX once: {out}", flush=True, file=sys.stderr)
    written = export_onnx(checkpoint, out.parent)
    return written[0]


class OnnxRuntimeBackend(InferenceBackend):
    """``predict`` through an ``onnxruntime.InferenceSession``."""

    name = "onnxruntime"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            return False, f"onnxruntime is not installed ({exc})"
        return True, "providers: " + ", ".join(choose_providers(ort.get_available_providers()))

    def __init__(self, model: str | Path | None = None, *, threads: int | None = None,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        path = resolve_model(model)
        kind = model_kind(path)
        if kind == "checkpoint":
            self.checkpoint: Path | None = path
            path = ensure_onnx(path)
        elif kind == "onnx":
            self.checkpoint = None
        else:
            raise UsageError(f"the onnxruntime backend needs a .onnx file or a .pt checkpoint, got {path}")
        meta = read_sidecar(path, kind="onnx", verify_hash=False)
        model_bytes = path.read_bytes()  # hashed and loaded from the same bytes: a file replaced meanwhile is refused
        if hashlib.sha256(model_bytes).hexdigest() != meta["sha256"]:
            raise SofpError(f"{path} does not match its sidecar (sha256 "
                            f"{hashlib.sha256(model_bytes).hexdigest()[:12]} vs {str(meta['sha256'])[:12]}); "
                            "re-export it")
        check_input_spec(meta.get("input_spec"), path)
        if meta.get("role", "whole") != "whole":
            raise UsageError(f"{path} is one part ({meta['role']}) of a split graph; pass the whole model")
        self.labels = check_labels(meta.get("labels"), path)
        self.meta = meta
        self.model_path = path

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        wanted = providers or choose_providers(ort.get_available_providers())
        provider_args: list = []
        for p in wanted:
            if p == "TensorrtExecutionProvider":
                trt_cache = cache_dir() / "ort-trt"
                trt_cache.mkdir(parents=True, exist_ok=True)
                provider_args.append((p, {"trt_engine_cache_enable": True,
                                          "trt_engine_cache_path": str(trt_cache),
                                          "trt_fp16_enable": True}))
            else:
                provider_args.append(p)
        try:
            self.session = ort.InferenceSession(model_bytes, sess_options=options, providers=provider_args)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SofpError(f"onnxruntime cannot load {path}: {first[:200]}") from None
        self.providers = self.session.get_providers()
        if "TensorrtExecutionProvider" in self.providers:  # trt_fp16_enable: the FP16 acceptance of to_trt.py
            check_fp16_agreement(self.session, path)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        batch_dim = inp.shape[0]
        self.fixed_batch = batch_dim if isinstance(batch_dim, int) else None
        self.description = f"{path.name} on {', '.join(self.providers)}"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        session = self.session
        if session is None:
            raise SofpError(f"the onnxruntime backend of {self.model_path.name} is closed; create a new one")
        x = check_batch(batch)
        if self.fixed_batch is not None and x.shape[0] != self.fixed_batch:
            if self.fixed_batch != 1:
                raise ValueError(f"{self.model_path.name} takes batches of {self.fixed_batch}, got {x.shape[0]}")
            return np.concatenate([self.predict(x[i : i + 1]) for i in range(x.shape[0])])
        logits = session.run([self.output_name], {self.input_name: x})[0]
        return softmax(np.asarray(logits, dtype=np.float32))

    def close(self) -> None:
        self.session = None
