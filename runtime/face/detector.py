"""Haar-cascade face detection (no download: OpenCV 4.x wheels and JetPack ship the cascades).

OpenCV 5.x moved ``CascadeClassifier`` to contrib and its wheels ship no cascades: there the
detector says so in one line. JetPack's OpenCV has no ``cv2.data``; its cascades live under
/usr/share/opencv4/haarcascades, which is searched too.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from sofp.runtime.errors import UsageError
from sofp.runtime.face.box import FaceBox
from sofp.runtime.shared_params import SHARED

_DET = SHARED["detector"]  # defaults shared with the native runtime (runtime/shared_params.json)
CASCADE = _DET["cascade"]
_SEARCH = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades",
           "/usr/local/share/opencv4/haarcascades", "/usr/local/share/opencv/haarcascades")


def cascade_path(name: str = CASCADE) -> str | None:
    """Full path of a Haar cascade file shipped with OpenCV, or None when this install has none."""
    dirs = []
    data = getattr(cv2, "data", None)
    if data is not None and getattr(data, "haarcascades", None):
        dirs.append(data.haarcascades)
    dirs.extend(_SEARCH)
    for d in dirs:
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return p
    return None


class HaarDetector:
    """Viola-Jones frontal face detector on a grey image; returns boxes sorted largest first.

    ``pad``: the image is padded by this fraction of its size on every side before detecting
    (replicated border), so a face filling a tightly cropped image still has the margin the
    cascade needs. ``min_size_frac``: the smallest face searched, as a fraction of the image's
    shorter side.
    """

    name = "haar"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        if not hasattr(cv2, "CascadeClassifier"):
            return False, (f"OpenCV {cv2.__version__} has no CascadeClassifier (moved to contrib in 5.x); "
                           "install opencv-python-headless<5")
        path = cascade_path()
        if path is None:
            return False, f"OpenCV {cv2.__version__} ships no Haar cascades ({CASCADE}); install opencv-python<5"
        return True, path

    def __init__(self, scale_factor: float = _DET["scale_factor"], min_neighbors: int = _DET["min_neighbors"],
                 min_size_frac: float = _DET["min_size_frac"], pad: float = _DET["pad"]) -> None:
        ok, reason = self.probe()
        if not ok:
            raise UsageError(f"face detector unavailable: {reason}")
        self._cascade = cv2.CascadeClassifier(reason)
        if self._cascade.empty():
            raise UsageError(f"face detector unavailable: cascade {reason} did not load")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_size_frac, self.pad = min_size_frac, pad

    def detect(self, gray: np.ndarray, min_side: float | None = None, max_side: float | None = None,
               pad: float | None = None, scale_factor: float | None = None) -> list[FaceBox]:
        """Faces in ``gray`` (H x W uint8), px of ``gray``, largest first; [] when none.

        ``min_side`` / ``max_side`` (px) limit the face sizes searched: with a tracked face of known
        size the cascade skips most of its scale pyramid. ``pad`` / ``scale_factor`` override the
        detector's for this call (a region around a tracked face needs no padding).
        """
        h, w = gray.shape[:2]
        pad = self.pad if pad is None else pad
        py, px = round(h * pad), round(w * pad)
        img = cv2.copyMakeBorder(gray, py, py, px, px, cv2.BORDER_REPLICATE) if pad > 0 else gray
        lo = max(20, int(min_side if min_side is not None else min(h, w) * self.min_size_frac))
        hi = int(max_side) if max_side is not None else 0
        rects, _, weights = self._cascade.detectMultiScale3(
            img, scaleFactor=scale_factor or self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(lo, lo), maxSize=(hi, hi) if hi > lo else (0, 0), outputRejectLevels=True)
        boxes = []
        for (x, y, bw, bh), wgt in zip(rects, np.ravel(weights) if len(rects) else [], strict=False):
            score = float(1.0 / (1.0 + np.exp(-float(wgt))))  # cascade stage weight -> 0..1
            boxes.append(FaceBox(float(x - px), float(y - py), float(bw), float(bh), score))
        return sorted(boxes, key=lambda b: -b.w * b.h)
