"""Onset-to-apex optical flow -> the model's 28 x 28 input. Training and the live runtime both call this.

The format is the composite's (../shared/data/composite/README.md): three channels in the order
u (horizontal flow), v (vertical flow, image y down), optical strain; each channel min-max
normalised per image to 0..255 and stored as uint8 (RGB order when written as PNG). The model sees
that image divided by 255, channels first.
"""

from __future__ import annotations

import cv2
import numpy as np

from sofp.runtime.shared_params import SHARED

# Everything a checkpoint, an ONNX sidecar or an engine sidecar records about its input
# (runtime/shared_params.json, shared with the native runtime).
INPUT_SPEC: dict = SHARED["input_spec"]
FEATURE_SIZE = int(INPUT_SPEC["height"])
CHANNELS = tuple(INPUT_SPEC["channels"])


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Optical strain magnitude sqrt(ux^2 + vy^2 + 0.5 (uy + vx)^2) of an H x W x 2 flow (px).

    Derivatives are central differences (``np.gradient``) in px/px. Returns H x W float32.
    """
    u = flow[..., 0].astype(np.float32, copy=False)
    v = flow[..., 1].astype(np.float32, copy=False)
    uy, ux = np.gradient(u)
    vy, vx = np.gradient(v)
    return np.sqrt(ux * ux + vy * vy + 0.5 * (uy + vx) ** 2).astype(np.float32)


def _minmax_u8(channel: np.ndarray) -> np.ndarray:
    lo, hi = float(channel.min()), float(channel.max())
    if hi - lo < 1e-12:
        return np.zeros(channel.shape, np.uint8)
    return np.rint((channel - lo) * (255.0 / (hi - lo))).astype(np.uint8)


MAX_FLOW_PX = 1e6  # |u|, |v| beyond this are clipped (real flows on a face crop are a few px)


def flow_to_features(flow: np.ndarray, size: int = FEATURE_SIZE) -> np.ndarray:
    """H x W x 2 float flow (px, on the face crop; H, W >= 2) -> size x size x 3 uint8 image (u, v, strain).

    Strain is computed at the crop's resolution, then each channel is resized with area
    averaging and min-max normalised to 0..255 on its own. Repaired, so that any input gives a valid
    image: non-finite vectors (NaN, +-inf: a flow backend failing at a pixel) count as no motion (0 px),
    and components beyond +-``MAX_FLOW_PX`` are clipped (finite flows within it are used as they are).
    """
    if not isinstance(flow, np.ndarray) or flow.ndim != 3 or flow.shape[2] != 2 or min(flow.shape[:2]) < 2:
        raise ValueError(f"flow must be an H x W x 2 array with H, W >= 2, got {getattr(flow, 'shape', type(flow))}")
    if not (np.issubdtype(flow.dtype, np.floating) or np.issubdtype(flow.dtype, np.integer)):
        raise ValueError(f"flow must be a real-valued array (px), got dtype {flow.dtype}")
    if not np.isfinite(flow).all() or np.abs(flow).max() > MAX_FLOW_PX:
        finite = np.nan_to_num(flow.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        flow = np.clip(finite, -MAX_FLOW_PX, MAX_FLOW_PX)
    flow = flow.astype(np.float32, copy=False)
    stack = np.dstack([flow[..., 0], flow[..., 1], optical_strain(flow)])
    small = cv2.resize(stack, (size, size), interpolation=cv2.INTER_AREA)
    return np.dstack([_minmax_u8(small[..., c]) for c in range(3)])


def features_to_input(features: np.ndarray) -> np.ndarray:
    """Feature image(s) (..., 28, 28, 3) uint8 -> model input (..., 3, 28, 28) float32 in [0, 1]."""
    x = np.asarray(features, dtype=np.float32) / 255.0
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def mirror_features(features: np.ndarray) -> np.ndarray:
    """Left-right mirror of feature image(s) (..., H, W, 3) uint8: flip columns, u -> 255 - u.

    Mirroring a flow field negates its horizontal component; for min-max normalised u this is
    exactly 255 - u. v and strain only flip.
    """
    out = np.ascontiguousarray(features[..., :, ::-1, :])
    out[..., 0] = 255 - out[..., 0]
    return out
