"""cpu-dis: OpenCV's DIS optical flow (Kroeger et al. 2016), fast enough for every frame on a CPU."""

from __future__ import annotations

import cv2
import numpy as np

from sofp.runtime.flow.base import FLOWS, check_pair
from sofp.runtime.flow.params import DisParams, resolve_params
from sofp.runtime.shared_params import SHARED

# Named presets (runtime/shared_params.json, shared with the native runtime): OpenCV's base preset plus
# overrides; "fine" = medium down to the full-resolution scale (finest_scale 0 instead of medium's 1).
_PRESETS = {name: f"DISOPTICAL_FLOW_PRESET_{p['base'].upper()}" for name, p in SHARED["dis_presets"].items()}
_PRESET_OVERRIDES = {name: {k: v for k, v in p.items() if k != "base"} for name, p in SHARED["dis_presets"].items()}
# Fields OpenCV < 4.10 cannot set, with the value it has built in (modules/video/src/dis_flow.cpp).
_BUILT_IN = {"variational_refinement_epsilon": 0.001}
_SETTERS = {
    "finest_scale": "setFinestScale", "patch_size": "setPatchSize", "patch_stride": "setPatchStride",
    "gradient_descent_iterations": "setGradientDescentIterations",
    "variational_refinement_iterations": "setVariationalRefinementIterations",
    "variational_refinement_alpha": "setVariationalRefinementAlpha",
    "variational_refinement_delta": "setVariationalRefinementDelta",
    "variational_refinement_gamma": "setVariationalRefinementGamma",
    "variational_refinement_epsilon": "setVariationalRefinementEpsilon",
    "use_mean_normalization": "setUseMeanNormalization",
    "use_spatial_propagation": "setUseSpatialPropagation",
}


def _preset_value(const: str) -> int:
    """The preset constant under its 4.x name, its 5.x class attribute, or OpenCV's documented value."""
    short = const.replace("DISOPTICAL_FLOW_", "")  # PRESET_MEDIUM
    for owner, attr in ((cv2, const), (cv2, f"DISOpticalFlow_{short}"), (getattr(cv2, "DISOpticalFlow", None), short)):
        value = getattr(owner, attr, None) if owner is not None else None
        if value is not None:
            return int(value)
    return {"PRESET_ULTRAFAST": 0, "PRESET_FAST": 1, "PRESET_MEDIUM": 2}[short]


def _dis_create(preset: int):
    """cv2.DISOpticalFlow_create (4.x) or cv2.DISOpticalFlow.create (older/newer spellings)."""
    create = getattr(cv2, "DISOpticalFlow_create", None) or cv2.DISOpticalFlow.create  # the 4.x name: not in the stubs
    return create(preset)


@FLOWS.register("cpu-dis")
class DisFlow:
    """Dense Inverse Search flow on the CPU; parameters from params.DIS (preset + overrides)."""

    name = "cpu-dis"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        ok = hasattr(cv2, "DISOpticalFlow_create") or hasattr(cv2, "DISOpticalFlow")
        return ok, f"OpenCV {cv2.__version__}" if ok else f"OpenCV {cv2.__version__} has no DISOpticalFlow"

    def __init__(self, params: DisParams | dict | None = None) -> None:
        self.params = resolve_params("cpu-dis", params, DisParams)
        if self.params.preset not in _PRESETS:
            raise ValueError(f"DIS preset {self.params.preset!r}; valid: {', '.join(_PRESETS)}")
        preset = _preset_value(_PRESETS[self.params.preset])
        self._dis = _dis_create(preset)
        implied = _PRESET_OVERRIDES.get(self.params.preset, {})
        for field, setter in _SETTERS.items():
            value = getattr(self.params, field)
            if value is None:
                value = implied.get(field)
            if value is None:
                continue
            if hasattr(self._dis, setter):
                getattr(self._dis, setter)(value)
            elif _BUILT_IN.get(field) != value:
                raise ValueError(f"DIS {field}={value}: OpenCV {cv2.__version__} cannot set it "
                                 f"(it has {_BUILT_IN.get(field, 'a fixed value')} built in)")

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        """prev, curr H x W uint8 -> H x W x 2 float32 px."""
        check_pair(prev, curr)
        # OpenCV's stubs make the output array an argument; None lets OpenCV allocate it (its documented Python use)
        return self._dis.calc(prev, curr, None)  # pyright: ignore[reportCallIssue, reportArgumentType]
