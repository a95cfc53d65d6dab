"""Engine file names and cache keys: everything that invalidates an engine is in its name.

An engine built from ``sofp_composite.onnx`` at FP16 with batch profile 1/8/32 on the GPU of an
RTX 4090 with TensorRT 10.3.0 is named::

    sofp_composite.fp16.b1-8-32.gpu.nvidia-geforce-rtx-4090.trt10.3.0.<key>.engine

``<key>`` is the first 12 hex digits of the SHA-256 of the canonical JSON of
:class:`EngineKey` (model hash, precision, profile, DLA core, device, TensorRT version and, for
INT8, the calibration cache's hash), so two engines with different inputs never share a name and a
rebuild with the same inputs finds the cached one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass


def slug(text: str) -> str:
    """Lower-case file-name-safe form: "NVIDIA GeForce RTX 4090" -> "nvidia-geforce-rtx-4090"."""
    s = re.sub(r"[^a-z0-9.]+", "-", text.strip().lower()).strip("-.")
    return s or "unknown"


@dataclass(frozen=True)
class EngineKey:
    """What an engine depends on. ``device`` is the GPU name or, on a Jetson, the board model."""

    model_sha256: str
    precision: str
    min_batch: int
    opt_batch: int
    max_batch: int
    dla_core: int | None
    device: str
    tensorrt: str
    calibration_sha256: str | None = None

    def digest(self) -> str:
        """First 12 hex digits of the SHA-256 of this key's canonical JSON."""
        blob = json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def to_dict(self) -> dict:
        return {**asdict(self), "digest": self.digest()}


def profile_tag(min_batch: int, opt_batch: int, max_batch: int) -> str:
    """Batch profile part of a name: "b1-8-32" (static batch 4: "b4")."""
    if min_batch == opt_batch == max_batch:
        return f"b{min_batch}"
    return f"b{min_batch}-{opt_batch}-{max_batch}"


def engine_name(stem: str, key: EngineKey) -> str:
    """File name of the engine built from the ONNX graph ``<stem>.onnx`` under ``key``."""
    unit = "gpu" if key.dla_core is None else f"dla{key.dla_core}"
    parts = [
        stem,
        key.precision,
        profile_tag(key.min_batch, key.opt_batch, key.max_batch),
        unit,
        slug(key.device),
        "trt" + slug(key.tensorrt),
        key.digest(),
    ]
    return ".".join(parts) + ".engine"


def target_engine_name(stem: str, precision: str, min_batch: int, opt_batch: int, max_batch: int,
                       dla_core: int | None) -> str:
    """Name for an engine built elsewhere with ``trtexec`` (device and TensorRT unknown here)."""
    unit = "gpu" if dla_core is None else f"dla{dla_core}"
    return ".".join([stem, precision, profile_tag(min_batch, opt_batch, max_batch), unit]) + ".engine"
