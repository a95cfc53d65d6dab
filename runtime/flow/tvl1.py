"""cpu-tvl1: OpenCV's Dual TV-L1 (``cv2.optflow``), the flow the composite was made with.

Only the contrib build (opencv-contrib-python[-headless]) has ``cv2.optflow``, and it cannot be
installed beside opencv-python(-headless): both provide the ``cv2`` module. torch-tvl1 is the same
algorithm without that dependency. About 0.2-0.4 s per 112 x 112 pair on a small CPU: for
training-data preparation and reference, not for every live frame.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from sofp.runtime.errors import UsageError
from sofp.runtime.flow.base import FLOWS, check_pair
from sofp.runtime.flow.params import Tvl1Params, resolve_params


def _optflow() -> Any | None:
    """``cv2.optflow`` where this OpenCV has it (contrib builds; absent from the headless wheel and its stubs)."""
    return getattr(cv2, "optflow", None)


@FLOWS.register("cpu-tvl1")
class Tvl1Flow:
    """cv2.optflow.DualTVL1OpticalFlow with params.TVL1 (OpenCV's CPU defaults) set explicitly."""

    name = "cpu-tvl1"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        if hasattr(_optflow(), "DualTVL1OpticalFlow_create"):
            return True, f"OpenCV {cv2.__version__} contrib"
        return False, (f"OpenCV {cv2.__version__} has no cv2.optflow (contrib build only: "
                       "replace opencv-python-headless by opencv-contrib-python-headless<5; "
                       "or use torch-tvl1)")

    def __init__(self, params: Tvl1Params | dict | None = None) -> None:
        self.params = resolve_params("cpu-tvl1", params, Tvl1Params)
        p = self.params
        optflow = _optflow()
        if optflow is None or not hasattr(optflow, "DualTVL1OpticalFlow_create"):  # built past the registry's probe
            raise UsageError(f"cpu-tvl1 cannot run here: {self.probe()[1]}")
        self._tvl1 = optflow.DualTVL1OpticalFlow_create(
            tau=p.tau, lambda_=p.lambda_, theta=p.theta, nscales=p.nscales, warps=p.warps,
            epsilon=p.epsilon, innnerIterations=p.inner_iterations, outerIterations=p.outer_iterations,
            scaleStep=p.scale_step, gamma=p.gamma, medianFiltering=p.median_filtering)

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        """prev, curr H x W uint8 -> H x W x 2 float32 px."""
        check_pair(prev, curr)
        return self._tvl1.calc(prev, curr, None)
