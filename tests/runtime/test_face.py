"""Face stage: detection on the demo frame, tracking between detections, None without a face,
a fixed crop size, and head-motion removal by the stabiliser."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sofp.runtime.demo_clip import face_crop_gray, face_frame, make_demo_clip, warp_by_flow
from sofp.runtime.errors import UsageError
from sofp.runtime.face import FaceBox, FaceCropper, HaarDetector, Stabiliser
from sofp.runtime.face import detector as detector_mod
from sofp.runtime.shared_params import SHARED


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


class _Recording:
    """A HaarDetector that records each call (the image's bytes, the options, the thread, the answer),
    optionally sleeping first (a slow worker)."""

    def __init__(self, sleep_s: float = 0.0) -> None:
        self.inner, self.sleep_s, self.calls = HaarDetector(), sleep_s, []

    def detect(self, gray, *args, **kwargs):
        time.sleep(self.sleep_s)
        found = self.inner.detect(gray, *args, **kwargs)
        self.calls.append({"image": gray.tobytes(), "args": (args, kwargs), "found": found,
                           "main": threading.current_thread() is threading.main_thread()})
        return found


@pytest.fixture(scope="module")
def drift_frames():
    clip = make_demo_clip(seed=0, drift_px=3.0, noise_sigma=3.0)
    return [clip.frames[i] for i in range(60)]


def _run(frames, **kw) -> list:
    """(box, tracked) per frame (None without a face) of a fresh cropper."""
    with FaceCropper(**kw) as cropper:
        return [None if c is None else (c.box, c.tracked) for c in map(cropper, frames)]


def test_detect_lag_zero_detects_on_the_frame(drift_frames):
    det = _Recording()
    with FaceCropper(detect_lag=0, detector=det) as cropper:
        crops = [cropper(f) for f in drift_frames]
        assert cropper._worker is None
    assert [i for i, c in enumerate(crops) if not c.tracked] == list(range(0, len(crops), 15))
    assert all(c["main"] for c in det.calls)


def test_lagged_detection_is_frame_ks_applied_at_k_plus_lag(drift_frames, monkeypatch):
    sync_det, lag_det = _Recording(), _Recording()
    sync = _run(drift_frames, detect_lag=0, detector=sync_det)
    smoothed = []
    real_smooth = FaceCropper._smooth

    def spy(self, det):
        smoothed.append((self.box, det))
        return real_smooth(self, det)

    monkeypatch.setattr(FaceCropper, "_smooth", spy)
    lagged = _run(drift_frames, detect_lag=2, detector=lag_det)
    # the first search on the frame, then every 15th frame's detection on the worker, applied 2 frames later
    assert [i for i, c in enumerate(lagged) if not c[1]] == [0, 17, 32, 47]
    assert [c["main"] for c in lag_det.calls] == [True, False, False, False]
    assert lagged[:15] == sync[:15]
    # frame 15: the worker saw what the synchronous detector saw on frame 15, so it found the same face
    assert (lag_det.calls[1]["image"], lag_det.calls[1]["args"]) == (sync_det.calls[1]["image"],
                                                                     sync_det.calls[1]["args"])
    assert lag_det.calls[1]["found"] == sync_det.calls[1]["found"] and len(sync_det.calls[1]["found"]) == 1
    # applied at frame 17 as a detection on frame 17 is (smoothed into the box tracked there), moved by
    # the tracked motion since frame 15
    tracked_17, applied = smoothed[1]
    k = 640 / 160
    raw, roi = sync_det.calls[1]["found"][0], sync[14][0].scaled(1 / k)
    x0, y0 = int(max(0, roi.cx - roi.side)), int(max(0, roi.cy - roi.side))
    found_15 = FaceBox(raw.x + x0, raw.y + y0, raw.w, raw.h, raw.score).scaled(k)
    dx, dy = tracked_17.cx - lagged[15][0].cx, tracked_17.cy - lagged[15][0].cy
    assert applied == FaceBox(found_15.x + dx, found_15.y + dy, found_15.w, found_15.h, found_15.score)
    a = SHARED["face"]["center_alpha"]
    assert lagged[17][0] == FaceBox.square((1 - a) * tracked_17.cx + a * applied.cx,
                                           (1 - a) * tracked_17.cy + a * applied.cy, tracked_17.side, applied.score)


def test_lagged_answer_does_not_depend_on_thread_timing(drift_frames):
    assert _run(drift_frames, detect_lag=2) == _run(drift_frames, detect_lag=2, detector=_Recording(sleep_s=0.03))


def test_reset_close_and_loss_with_a_detection_pending(drift_frames):
    threads = threading.active_count()
    cropper = FaceCropper(detect_lag=2, detector=_Recording(sleep_s=0.05))
    assert all(cropper(f) is not None for f in drift_frames[:16])  # frame 15 started a detection
    assert cropper._pending is not None
    cropper.reset()
    assert cropper._pending is None and cropper(drift_frames[16]) is not None  # a whole-frame search
    for f in drift_frames[17:]:
        if cropper(f) is not None and cropper._pending is not None:
            break
    assert cropper._pending is not None
    assert cropper(np.zeros_like(drift_frames[0])) is None  # tracking lost: dropped, searched on the frame
    assert cropper._pending is None and cropper.stats["lost"] == 1
    cropper.close()
    assert threading.active_count() == threads
    with pytest.raises(ValueError, match="detect_lag"):
        FaceCropper(detect_every=2, detect_lag=2)
