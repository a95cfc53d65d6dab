"""Inference backends, chosen by name: ``--backend auto|tensorrt|onnxruntime|torch``.

Each backend lives in its own module and imports its engine (tensorrt, onnxruntime, torch) there;
nothing heavy is imported by this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sofp.runtime.errors import UsageError
from sofp.runtime.infer.base import InferenceBackend, model_kind, resolve_model
from sofp.runtime.registry import Registry

INFERENCE: Registry[InferenceBackend] = Registry("inference backend")
INFERENCE.add("tensorrt", "sofp.runtime.infer.tensorrt:TensorRTBackend")
INFERENCE.add("onnxruntime", "sofp.runtime.infer.onnxruntime:OnnxRuntimeBackend")
INFERENCE.add("torch", "sofp.runtime.infer.torch:TorchBackend")

BACKEND_CHOICES = ("auto", *INFERENCE.names())


def _available(name: str) -> tuple[bool, str]:
    try:
        cls = INFERENCE.load(name)
    except UsageError as exc:
        return False, str(exc)
    probe = getattr(cls, "probe", None)
    return probe() if probe is not None else (True, "")


def resolve_backend(name: str, model: str | Path | None = None) -> tuple[str, str]:
    """(backend name, why) for ``name`` ("auto" or a registered name) and a model file.

    auto: an engine -> tensorrt; an .onnx file -> onnxruntime; no model -> the built-in ONNX graph on
    onnxruntime when installed, else the built-in checkpoint on torch; a checkpoint -> onnxruntime
    (exported once to the cache) when installed, else torch.
    """
    if name != "auto":
        INFERENCE.load(name)  # unknown names fail here with the list of known ones
        return name, "asked for"
    ok, why = _available("onnxruntime")
    if model is None and ok:
        return "onnxruntime", f"built-in {resolve_model(None).name} ({why})"
    path = resolve_model(model, builtin="checkpoint")
    kind = model_kind(path)
    if kind == "tensorrt":
        return "tensorrt", f"{path.name} is a TensorRT engine"
    if kind == "onnx":
        return "onnxruntime", f"{path.name} is an ONNX graph"
    if ok:
        return "onnxruntime", f"checkpoint {path.name} runs through ONNX Runtime ({why})"
    ok_t, why_t = _available("torch")
    if ok_t:
        return "torch", f"onnxruntime unavailable ({why}); torch: {why_t}"
    raise UsageError(f"no inference backend can run {path.name}: onnxruntime: {why}; torch: {why_t}")


def create_backend(name_or_obj: str | InferenceBackend = "auto", model: str | Path | None = None,
                   **options: Any) -> InferenceBackend:
    """Build a backend by name ("auto" resolves first) for ``model`` (None: the built-in model);
    a ready :class:`InferenceBackend` object is passed through."""
    if not isinstance(name_or_obj, str):
        return name_or_obj
    name, _ = resolve_backend(name_or_obj, model)
    return INFERENCE.create(name, model, **options)


__all__ = ["BACKEND_CHOICES", "INFERENCE", "InferenceBackend", "create_backend", "resolve_backend"]
