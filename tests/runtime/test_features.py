"""The runtime's features match the training format: 28 x 28 x 3 uint8, channels (u, v, strain), every
channel min-max normalised to 0..255, u flips sign under a left-right mirror (mirror_features), upward
brow motion lowers v in the brow rows, and the model input is channels-first in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sofp.runtime.demo_clip import face_crop_gray, field_in_crop, make_demo_clip, warp_by_flow
from sofp.runtime.features import (
    CHANNELS,
    FEATURE_SIZE,
    INPUT_SPEC,
    features_to_input,
    flow_to_features,
    mirror_features,
)
from sofp.runtime.flow import create_flow

COMPOSITE = Path(__file__).resolve().parents[3] / "shared" / "data" / "composite"
S = 112


def _bump(cx: float, cy: float, sx: float = 10.0, sy: float = 8.0) -> np.ndarray:
    ys, xs = np.mgrid[0:S, 0:S].astype(np.float32)
    return np.exp(-0.5 * (((xs - cx) / sx) ** 2 + ((ys - cy) / sy) ** 2)).astype(np.float32)


@pytest.fixture(scope="module")
def face():
    return face_crop_gray(S, margin=0.2)


def _measured(face, truth):
    return create_flow("cpu-dis").compute(face, warp_by_flow(face, truth))


def test_shape_dtype_range_every_channel(face):
    truth = np.zeros((S, S, 2), np.float32)
    truth[..., 0] = 1.5 * _bump(35, 40)
    truth[..., 1] = -1.0 * _bump(75, 80)
    feats = flow_to_features(_measured(face, truth))
    assert feats.shape == (FEATURE_SIZE, FEATURE_SIZE, 3) and feats.dtype == np.uint8
    for c in range(3):  # the composite's property: every image has 0 and 255 in every channel
        assert feats[..., c].min() == 0 and feats[..., c].max() == 255
    assert CHANNELS == ("u", "v", "strain") and INPUT_SPEC["channels"] == ["u", "v", "strain"]


def test_rightward_motion_lands_in_u(face):
    """Motion to the right where the bump is: u (channel 0) is brightest there; v does not follow it."""
    bump = _bump(40, 56, 14, 14)
    truth = np.zeros((S, S, 2), np.float32)
    truth[..., 0] = 2.0 * bump
    feats = flow_to_features(_measured(face, truth)).astype(float)
    small = cv2.resize(bump, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA).ravel()
    corr_u = np.corrcoef(feats[..., 0].ravel(), small)[0, 1]
    corr_v = np.corrcoef(feats[..., 1].ravel(), small)[0, 1]
    assert corr_u > 0.8 and abs(corr_v) < 0.5
    peak = np.unravel_index(feats[..., 0].argmax(), feats[..., 0].shape)
    assert abs(peak[1] - 40 / 4) <= 2 and abs(peak[0] - 56 / 4) <= 2
    # leftward motion: the same place becomes the darkest of u
    truth[..., 0] = -2.0 * bump
    left = flow_to_features(_measured(face, truth)).astype(float)
    assert np.corrcoef(left[..., 0].ravel(), small)[0, 1] < -0.8


def test_brow_raise_lowers_v_in_brow_rows():
    """Like the composite's surprise class: upward brow motion puts v below its median in the top rows."""
    clip = make_demo_clip(seed=0, duration_s=1.5, fps=60.0, kinds=("brow_raise",))
    ev = clip.truth[0]
    truth = field_in_crop(clip.motion.local_field(ev.apex), clip.face_box, S)
    feats = flow_to_features(truth)
    v = feats[..., 1].astype(float)
    assert v[:12].mean() < np.median(v) - 20


def test_mirror_of_flow_equals_mirror_features(face):
    truth = np.zeros((S, S, 2), np.float32)
    truth[..., 0] = 1.5 * _bump(35, 40) - 0.5 * _bump(80, 70)
    truth[..., 1] = -1.0 * _bump(70, 35)
    flow = _measured(face, truth)
    mirrored = flow[:, ::-1].copy()
    mirrored[..., 0] *= -1.0  # left-right mirror of a flow field: flip columns, negate u
    direct = flow_to_features(mirrored).astype(int)
    via = mirror_features(flow_to_features(flow)).astype(int)
    assert np.abs(direct - via).max() <= 1
    twice = mirror_features(mirror_features(flow_to_features(flow)))
    np.testing.assert_array_equal(twice, flow_to_features(flow))


def test_model_input_layout():
    feats = np.zeros((2, 28, 28, 3), np.uint8)
    feats[..., 0], feats[..., 1], feats[..., 2] = 255, 51, 0
    x = features_to_input(feats)
    assert x.shape == (2, 3, 28, 28) and x.dtype == np.float32
    assert x[:, 0].min() == 1.0 and x[:, 1].max() == pytest.approx(0.2) and x[:, 2].max() == 0.0


def test_constant_flow_does_not_break():
    flow = np.ones((S, S, 2), np.float32)
    feats = flow_to_features(flow)
    assert feats.dtype == np.uint8 and not feats.any()


@pytest.mark.skipif(not COMPOSITE.is_dir(), reason="../shared/data/composite not on this machine")
def test_same_format_as_the_composite(face):
    """Real composite images (RGB = u, v, strain) and ours share size, dtype and per-channel range."""
    files = sorted((COMPOSITE / "flow").glob("*.png"))[:20]
    assert files
    for f in files:
        rgb = cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert rgb.shape == (FEATURE_SIZE, FEATURE_SIZE, 3) and rgb.dtype == np.uint8
        assert all(rgb[..., c].min() == 0 and rgb[..., c].max() == 255 for c in range(3))
