"""Face stage: detection on the demo frame, tracking between detections, None without a face,
a fixed crop size, and head-motion removal by the stabiliser."""

from __future__ import annotations

import numpy as np
import pytest

from sofp.runtime.demo_clip import face_crop_gray, face_frame, make_demo_clip, warp_by_flow
from sofp.runtime.errors import UsageError
from sofp.runtime.face import FaceCropper, HaarDetector, Stabiliser
from sofp.runtime.face import detector as detector_mod


@pytest.fixture(scope="module")
def frame():
    return face_frame()


def test_cropper_finds_the_demo_face(frame):
    img, _, (x, y, w, h) = frame
    crop = FaceCropper(size=112)(img)
    assert crop is not None and not crop.tracked
    assert crop.gray.shape == (112, 112) and crop.gray.dtype == np.uint8
    assert abs(crop.box.cx - (x + w / 2)) < 0.15 * w and abs(crop.box.cy - (y + h / 2)) < 0.15 * h
    assert 0.7 < crop.box.side / w < 1.3


def test_tracks_between_detections_and_follows_drift():
    clip = make_demo_clip(seed=1, fps=100.0, duration_s=1.2, drift_px=6.0)
    cropper = FaceCropper(size=96, detect_every=10)
    crops = [cropper(clip.frames[i]) for i in range(0, 120, 2)]
    assert all(c is not None for c in crops)
    assert cropper.stats["detections"] <= 8 and cropper.stats["tracked"] >= 50
    assert all(c.gray.shape == (96, 96) for c in crops)
    # the box follows the head (11 px of drift here) to within 2.5 px; the Stabiliser removes the rest
    i_last = 118
    dx, dy = clip.motion.drift(i_last)
    moved = (crops[-1].box.cx - crops[0].box.cx, crops[-1].box.cy - crops[0].box.cy)
    assert abs(moved[0] - dx) < 2.5 and abs(moved[1] - dy) < 2.5


@pytest.mark.parametrize("image", [np.zeros((480, 640, 3), np.uint8),
                                   np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8),
                                   np.full((100, 100), 128, np.uint8)])
def test_no_face_returns_none(image):
    assert FaceCropper()(image) is None


def test_face_then_gone_then_back(frame):
    img = frame[0]
    cropper = FaceCropper(detect_every=5, max_misses=1)
    assert cropper(img) is not None
    blank = np.zeros_like(img)
    results = [cropper(blank) for _ in range(4)]
    assert results[-1] is None
    back = [cropper(img) for _ in range(cropper.search_every)]  # whole-frame search every N frames
    assert back[-1] is not None and all(b is None for b in back[:-1])


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError):
        FaceCropper()(np.zeros((4, 4, 3), np.float32))


def test_detector_needs_margin_on_tight_crops():
    tight = face_crop_gray(size=160, margin=0.0)  # the face fills the image
    assert HaarDetector(pad=0.15).detect(tight)
    boxes = HaarDetector(pad=0.15).detect(face_crop_gray(size=160, margin=0.3))
    assert boxes and 0.5 < boxes[0].w / 160 < 1.0


def test_missing_cascade_is_one_line(monkeypatch):
    monkeypatch.setattr(detector_mod, "cascade_path", lambda name=detector_mod.CASCADE: None)
    with pytest.raises(UsageError, match="ships no Haar cascades") as exc:
        HaarDetector()
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(("method", "tol"), [("phase", 0.08), ("ecc", 0.15)])
@pytest.mark.parametrize("shift", [(1.3, -0.7), (-2.6, 3.1)])
def test_stabiliser_removes_global_shift(method, tol, shift):
    ref = face_crop_gray(112)
    flow = np.zeros((112, 112, 2), np.float32)
    flow[..., 0], flow[..., 1] = shift
    moved = warp_by_flow(ref, flow)
    st = Stabiliser(method)
    aligned = st.align(ref, moved)
    assert st.last_shift == pytest.approx(shift, abs=tol)
    inner = (slice(12, -12), slice(12, -12))
    before = np.abs(moved[inner].astype(float) - ref[inner]).mean()
    after = np.abs(aligned[inner].astype(float) - ref[inner]).mean()
    assert after < 0.3 * before


def test_stabiliser_keeps_local_motion():
    """A local movement (a brow raise) survives alignment: only the global part is removed."""
    ref = face_crop_gray(112)
    ys, xs = np.mgrid[0:112, 0:112].astype(np.float32)
    bump = np.exp(-0.5 * (((xs - 40) / 9) ** 2 + ((ys - 35) / 6) ** 2))
    flow = np.zeros((112, 112, 2), np.float32)
    flow[..., 0] = 1.5
    flow[..., 1] = -2.0 * bump  # brow up by 2 px on top of a 1.5 px head shift
    st = Stabiliser("phase")
    aligned = st.align(ref, warp_by_flow(ref, flow))
    assert st.last_shift == pytest.approx((1.5, 0.0), abs=0.25)
    far = bump < 0.01
    far[:12], far[-12:], far[:, :12], far[:, -12:] = False, False, False, False
    near = bump > 0.5
    diff = np.abs(aligned.astype(float) - ref)
    assert diff[far].mean() < 3.0 and diff[near].mean() > 2 * diff[far].mean()


def test_stabiliser_none_and_bad_method():
    ref = face_crop_gray(64)
    assert Stabiliser("none").align(ref, ref[::-1].copy()) is not None
    with pytest.raises(ValueError):
        Stabiliser("optical")
