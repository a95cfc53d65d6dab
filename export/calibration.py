"""INT8 calibration data: a folder of flow images (28 x 28 x 3 PNG/JPEG, u/v/strain in RGB order, the
composite's format) -> the model's input batch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from sofp.runtime.errors import UsageError
from sofp.runtime.features import features_to_input

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def calibration_files(folder: str | Path, max_images: int | None = None) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted; the first ``max_images`` spread evenly)."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"--calib {root}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UsageError(f"--calib {root}: no flow images ({', '.join(IMAGE_SUFFIXES)}) found")
    if max_images is not None and len(files) > max_images:
        idx = np.linspace(0, len(files) - 1, max_images).round().astype(int)
        files = [files[i] for i in idx]
    return files


def load_calibration(folder: str | Path, max_images: int | None = None) -> np.ndarray:
    """Flow images under ``folder`` -> (N, 3, 28, 28) float32 in [0, 1]; bad images raise one line."""
    from sofp.training.data.flowset import read_flow_image

    images = np.stack([read_flow_image(p) for p in calibration_files(folder, max_images)])
    return features_to_input(images)


def data_sha256(data: np.ndarray) -> str:
    """SHA-256 of a calibration batch's bytes (part of the INT8 engine's cache key)."""
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
