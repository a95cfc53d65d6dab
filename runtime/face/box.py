"""FaceBox and FaceCrop: what the face stage hands to the rest of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in frame px (floats: smoothed boxes are sub-pixel); ``score`` 0..1."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def side(self) -> float:
        return max(self.w, self.h)

    def scaled(self, k: float) -> FaceBox:
        """The box with every coordinate multiplied by ``k`` (a downscaled frame -> full frame)."""
        return FaceBox(self.x * k, self.y * k, self.w * k, self.h * k, self.score)

    @classmethod
    def square(cls, cx: float, cy: float, side: float, score: float = 1.0) -> FaceBox:
        return cls(cx - side / 2, cy - side / 2, side, side, score)

    def iou(self, other: FaceBox) -> float:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class FaceCrop:
    """gray: S x S uint8 square face crop; box: the face box in frame px; tracked: True when the box
    came from tracking (no detector run on this frame), False on a detection frame."""

    gray: np.ndarray
    box: FaceBox
    tracked: bool
