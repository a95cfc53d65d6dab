"""cpu-farneback: Farneback's polynomial-expansion flow (OpenCV), parameters pinned in params.FARNEBACK."""

from __future__ import annotations

import cv2
import numpy as np

from sofp.runtime.flow.base import FLOWS, check_pair
from sofp.runtime.flow.params import FarnebackParams, resolve_params


@FLOWS.register("cpu-farneback")
class FarnebackFlow:
    """cv2.calcOpticalFlowFarneback with every parameter given explicitly (no hidden defaults)."""

    name = "cpu-farneback"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        return hasattr(cv2, "calcOpticalFlowFarneback"), f"OpenCV {cv2.__version__}"

    def __init__(self, params: FarnebackParams | dict | None = None) -> None:
        self.params = resolve_params("cpu-farneback", params, FarnebackParams)

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        """prev, curr H x W uint8 -> H x W x 2 float32 px."""
        check_pair(prev, curr)
        p = self.params
        # OpenCV's stubs make the output array an argument; None lets OpenCV allocate it (its documented Python use)
        return cv2.calcOpticalFlowFarneback(prev, curr, None,  # pyright: ignore[reportCallIssue, reportArgumentType]
                                            p.pyr_scale, p.levels, p.winsize, p.iterations, p.poly_n, p.poly_sigma,
                                            p.flags)
