"""The inference backend interface: model input (N, 3, 28, 28) float32 in [0, 1] -> class probabilities.

Every backend is a context manager that loads its model on construction and frees it on
``close()``. ``labels`` come from the model's sidecar or checkpoint (index = class id).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import INPUT_SPEC

CHECKPOINT_SUFFIXES = (".pt", ".pth")
ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
MODEL_KINDS = {"checkpoint": CHECKPOINT_SUFFIXES, "onnx": ONNX_SUFFIXES, "tensorrt": ENGINE_SUFFIXES}
SPLIT_SUFFIX = ".split.engines.json"  # to_trt.py --split: the engines of a split model (a TensorRT model)
BUILTIN_NAME = "sofp_composite.pt"
BUILTIN_ONNX = Path(__file__).resolve().parents[1] / "builtin" / "sofp_composite.onnx"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits, float32."""
    z = logits.astype(np.float32, copy=False)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def check_batch(batch: np.ndarray) -> np.ndarray:
    """The model input as a C-contiguous float32 (N, 3, 28, 28) array, or ValueError."""
    x = np.ascontiguousarray(batch, dtype=np.float32)
    shape = (3, INPUT_SPEC["height"], INPUT_SPEC["width"])
    if x.ndim != 4 or x.shape[1:] != shape:
        raise ValueError(f"model input must be (N, {', '.join(map(str, shape))}) float32, got {x.shape}")
    return x


def model_kind(path: str | Path) -> str:
    """"checkpoint", "onnx" or "tensorrt" from the file name; anything else is a usage error."""
    if Path(path).name.lower().endswith(SPLIT_SUFFIX):
        return "tensorrt"
    suffix = Path(path).suffix.lower()
    for kind, suffixes in MODEL_KINDS.items():
        if suffix in suffixes:
            return kind
    valid = ", ".join([*(s for group in MODEL_KINDS.values() for s in group), SPLIT_SUFFIX])
    raise UsageError(f"model {path} has an unknown file type {suffix or '(none)'!r}; valid: {valid}")


def builtin_checkpoint() -> Path:
    """Path of the shipped checkpoint (training/builtin/sofp_composite.pt), found without importing
    ``sofp.training`` (which would pull torch into the runtime)."""
    import importlib.util

    spec = importlib.util.find_spec("sofp.training")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        p = Path(loc) / "builtin" / BUILTIN_NAME
        if p.is_file():
            return p
    where = Path(locations[0]) / "builtin" / BUILTIN_NAME if locations else BUILTIN_NAME
    raise SofpError(f"the built-in model {where} is missing; pass --model PATH (.pt, .onnx or .engine)")


def builtin_onnx() -> Path:
    """Path of the shipped ONNX export of the built-in checkpoint (runtime/builtin/sofp_composite.onnx,
    with its sidecar): what the runtime runs by default, with no torch installed."""
    if not BUILTIN_ONNX.is_file():
        raise SofpError(f"the built-in model {BUILTIN_ONNX} is missing; pass --model PATH (.pt, .onnx or .engine)")
    return BUILTIN_ONNX


def resolve_model(model: str | Path | None, builtin: str = "onnx") -> Path:
    """``None`` -> the built-in model (``builtin``: "onnx" or "checkpoint"); else the given file,
    which must exist (a missing file is a usage error) and have a known type."""
    if model is None:
        return builtin_onnx() if builtin == "onnx" else builtin_checkpoint()
    p = Path(model).expanduser()
    if not p.is_file():
        raise UsageError(f"model file not found: {p}; pass a .pt checkpoint, an .onnx file or a TensorRT engine")
    model_kind(p)
    return p


def cache_dir() -> Path:
    """Where derived models (ONNX exported from a checkpoint, TensorRT EP caches) live:
    ``$SOFP_CACHE`` or ``~/.cache/sofp-edge``."""
    root = os.environ.get("SOFP_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "sofp-edge"


def check_labels(labels: object, where: str | Path) -> list[str]:
    if not isinstance(labels, list) or not labels or not all(isinstance(s, str) for s in labels):
        raise UsageError(f"{where} has no usable label list (got {labels!r}); re-export the model")
    return labels


def check_input_spec(spec: object, where: str | Path) -> None:
    """One line when a model was made for another input than the runtime's INPUT_SPEC."""
    if spec != INPUT_SPEC:
        if not isinstance(spec, dict):
            raise UsageError(f"{where} records no input spec; re-export it with this version")
        diff = [k for k in sorted(set(spec) | set(INPUT_SPEC)) if spec.get(k) != INPUT_SPEC.get(k)]
        k = diff[0]
        raise UsageError(
            f"{where} expects input {k}={spec.get(k)!r}, this runtime feeds {k}={INPUT_SPEC.get(k)!r}"
            f"{f' (and {len(diff) - 1} more differences)' if len(diff) > 1 else ''}; re-export the model"
        )


B = TypeVar("B", bound="InferenceBackend")  # `with SomeBackend(...) as b`: b keeps its own class


class InferenceBackend:
    """Base of all inference backends (one file each in runtime/infer/)."""

    name: ClassVar[str] = "base"
    labels: list[str]
    model_path: Path
    description: str = ""  # one line for the capability report: model, device, providers

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        """Whether this backend's dependencies are present (nothing is allocated)."""
        return True, ""

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, 28, 28) float32 in [0, 1] -> (N, C) float32 class probabilities (rows sum to 1)."""
        raise NotImplementedError

    def close(self) -> None:
        """Free the model and any device memory."""

    def __enter__(self: B) -> B:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def num_classes(self) -> int:
        return len(self.labels)
