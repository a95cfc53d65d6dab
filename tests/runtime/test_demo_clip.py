"""The demo clip: deterministic, a 640 x 480 real face, injected events with known timing (< 0.5 s) and
amplitude, head drift and noise; warp_by_flow moves pixels by exactly the field asked for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sofp.runtime.demo_clip import KINDS, crop_matrix, field_in_crop, make_demo_clip, smooth_field, warp_by_flow


@pytest.fixture(scope="module")
def clip():
    return make_demo_clip(seed=5, fps=100.0, duration_s=4.0)


def test_frames_and_truth(clip):
    assert clip.fps == 100.0 and len(clip.frames) == 400
    f = clip.frames[0]
    assert f.shape == (480, 640, 3) and f.dtype == np.uint8
    assert [e.kind for e in clip.truth] == list(KINDS)
    prev_end = -1
    for e in clip.truth:
        assert prev_end < e.onset < e.apex < e.offset < len(clip.frames)
        assert (e.offset - e.onset) / clip.fps < 0.5
        assert 0.5 <= e.amplitude_px <= 3.0
        assert e.times(clip.fps)[1] == pytest.approx(e.apex / 100.0)
        prev_end = e.offset


def test_deterministic_and_seeded(clip):
    again = make_demo_clip(seed=5, fps=100.0, duration_s=4.0)
    np.testing.assert_array_equal(again.frames[123], clip.frames[123])
    assert again.truth == clip.truth
    other = make_demo_clip(seed=6, fps=100.0, duration_s=4.0)
    assert other.truth != clip.truth


def test_lazy_frames_sequence(clip):
    assert clip.frames[-1].shape == (480, 640, 3)
    assert len(clip.frames[10:13]) == 3
    with pytest.raises(IndexError):
        clip.frames[400]


def test_events_move_the_face_by_their_amplitude(clip):
    for e in clip.truth:
        field = clip.motion.local_field(e.apex)
        peak = float(np.sqrt((field ** 2).sum(-1)).max())
        assert peak == pytest.approx(e.amplitude_px, rel=0.05)
        assert not clip.motion.local_field(e.onset).any() and not clip.motion.local_field(e.offset).any()
        x, y, w, h = clip.face_box
        yy, xx = np.unravel_index(np.sqrt((field ** 2).sum(-1)).argmax(), field.shape[:2])
        assert x <= xx <= x + w and y <= yy <= y + h  # the movement is on the face


def test_drift_and_noise(clip):
    dx, dy = zip(*(clip.motion.drift(i) for i in range(400)), strict=True)
    assert 0.5 < max(np.ptp(dx), np.ptp(dy)) < 4.0  # slight head sway, px
    a, b = (clip.frames[i].astype(float) for i in (0, 1))
    assert 0.5 < (a - b).std() < 4.0  # fresh sensor noise every frame


def test_too_short_clip_is_refused():
    with pytest.raises(ValueError):
        make_demo_clip(fps=30.0, duration_s=0.5)


def test_warp_by_flow_constant_shift_is_exact():
    ramp = np.tile(np.arange(64, dtype=np.float32), (48, 1))
    flow = np.zeros((48, 64, 2), np.float32)
    flow[..., 0] = 2.5
    out = warp_by_flow(ramp, flow)
    np.testing.assert_allclose(out[:, 8:-8], ramp[:, 8:-8] - 2.5, atol=1e-3)


def test_warp_by_flow_inverts_smooth_fields():
    """out(p + f(p)) == img(p): sampling the result at the moved points gives back the source."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (80, 80)).astype(np.float32), (0, 0), 3)
    flow = smooth_field((80, 80), 2.5, seed=3)
    out = warp_by_flow(img, flow)
    ys, xs = np.mgrid[0:80, 0:80].astype(np.float32)
    back = cv2.remap(out, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_CUBIC)
    assert np.abs(back - img)[10:-10, 10:-10].mean() < 0.05 * img.std()


def test_field_in_crop_scales_to_crop_px():
    field = np.zeros((480, 640, 2), np.float32)
    field[..., 0] = 3.0
    box = (250.0, 100.0, 150.0, 150.0)
    m = crop_matrix(box, 112, 0.2)
    assert m[0, 0] == pytest.approx(112 / 180)
    out = field_in_crop(field, box, 112)
    np.testing.assert_allclose(out[..., 0], 3.0 * 112 / 180, rtol=1e-5)
    assert not out[..., 1].any()
