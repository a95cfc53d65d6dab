"""The Python runtime's defaults come from runtime/shared_params.json, the file the native runtime embeds."""

import dataclasses
import inspect

from sofp.runtime.face.cropper import FaceCropper
from sofp.runtime.face.detector import HaarDetector
from sofp.runtime.face.stabilise import Stabiliser
from sofp.runtime.features import INPUT_SPEC
from sofp.runtime.flow.dis import _PRESET_OVERRIDES, _PRESETS
from sofp.runtime.flow.params import DisParams
from sofp.runtime.pipeline import MOTION_FLOW_PARAMS, PipelineConfig
from sofp.runtime.shared_params import SHARED, load_shared_params
from sofp.runtime.spotting import SpotConfig, motion_magnitude


def _defaults(func) -> dict:
    return {k: p.default for k, p in inspect.signature(func).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_file_is_the_package_default():
    assert load_shared_params() == SHARED


def test_spotting_defaults_are_the_files():
    assert dataclasses.asdict(SpotConfig()) == SHARED["spot"]


def test_face_detector_and_stabiliser_defaults_are_the_files():
    face = _defaults(FaceCropper.__init__)
    face["crop_size"] = face.pop("size")
    assert {k: face[k] for k in SHARED["face"]} == SHARED["face"]
    det = _defaults(HaarDetector.__init__)
    assert {k: det[k] for k in ("scale_factor", "min_neighbors", "min_size_frac", "pad")} == {
        k: SHARED["detector"][k] for k in ("scale_factor", "min_neighbors", "min_size_frac", "pad")}
    st = _defaults(Stabiliser.__init__)
    assert (st["method"], st["max_shift_frac"], st["border"]) == (
        SHARED["stabiliser"]["method"], SHARED["stabiliser"]["max_shift_frac"], SHARED["stabiliser"]["border"])


def test_flow_motion_and_input_defaults_are_the_files():
    assert DisParams().preset == SHARED["feature_flow"]["preset"]
    assert set(_PRESETS) == set(SHARED["dis_presets"])
    assert _PRESET_OVERRIDES["fine"] == {"finest_scale": 0, "variational_refinement_epsilon": 0.001}
    assert {"preset": SHARED["motion"]["preset"]} == MOTION_FLOW_PARAMS
    config = PipelineConfig()
    assert config.top_fraction == SHARED["motion"]["top_fraction"]
    assert config.mirror_average is SHARED["mirror_average"]
    mm = _defaults(motion_magnitude)
    assert (mm["top_fraction"], mm["cell"]) == (SHARED["motion"]["top_fraction"], SHARED["motion"]["cell"])
    assert SHARED["input_spec"] == INPUT_SPEC
