"""Spotting on synthetic motion curves with known intervals (pure NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

from sofp.runtime.spotting import (
    SpotConfig,
    Spotter,
    interval_iou,
    motion_magnitude,
    score_spotting,
    spot_signal,
)


def synthetic_curve(fps: float, seconds: float, events_s,
                    noise: float = 0.02, peak: float = 1.0, seed: int = 0):
    """Noise plus triangular bumps; events given in seconds (onset, apex, offset) -> frames."""
    n = round(seconds * fps)
    rng = np.random.default_rng(seed)
    sig = np.abs(rng.normal(0.0, noise, n))
    truth = []
    for o_s, a_s, f_s in events_s:
        o, a, f = round(o_s * fps), round(a_s * fps), round(f_s * fps)
        i = np.arange(o, f + 1)
        bump = np.where(i <= a, (i - o) / max(a - o, 1), (f - i) / max(f - a, 1))
        sig[o : f + 1] += peak * bump
        truth.append((o, a, f))
    return sig, truth


EVENTS = [(1.5, 1.65, 1.85), (3.0, 3.1, 3.3), (4.5, 4.7, 4.95)]


@pytest.mark.parametrize("fps", [25.0, 30.0, 100.0, 200.0])
def test_finds_injected_intervals_at_any_frame_rate(fps):
    sig, truth = synthetic_curve(fps, 6.0, EVENTS)
    found = spot_signal(sig, fps)
    score = score_spotting([(s.onset, s.offset) for s in found], [(o, f) for o, _, f in truth])
    assert score.f1 == 1.0, (found, truth)
    for s, (o, a, f) in zip(found, truth, strict=True):
        assert abs(s.apex - a) <= max(1, round(0.02 * fps))
        hold = round(SpotConfig().hold_s * fps) + 1  # the offset is the quietest frame of the hold
        slack = max(1, round(0.05 * fps))  # onset: the foot of the rise, found in noise
        assert o - slack <= s.onset <= a and a <= s.offset <= f + hold
        assert s.onset_time == pytest.approx(s.onset / fps)
        assert s.magnitude > 0.8


def test_rejects_macro_expressions_and_single_frame_spikes():
    fps = 30.0
    sig, _ = synthetic_curve(fps, 6.0, [(1.0, 1.6, 2.4)])  # 1.4 s: a macro-expression
    sig[120] += 2.0  # a one-frame spike (e.g. a detector jump)
    assert spot_signal(sig, fps) == []


def test_adaptive_threshold_follows_noise_level():
    fps = 60.0
    quiet, _ = synthetic_curve(fps, 3.0, [], noise=0.01)
    noisy, _ = synthetic_curve(fps, 3.0, [], noise=0.2, seed=1)
    on_quiet = _threshold_after(quiet, fps)
    on_noisy = _threshold_after(noisy, fps)
    assert on_noisy > 3 * on_quiet
    # the noisy clip alone spots nothing (false positives would come from a fixed threshold)
    assert spot_signal(noisy, fps) == []


def _threshold_after(sig, fps):
    spotter = Spotter(fps)
    for i, m in enumerate(sig):
        spotter.reference_for(i)
        spotter.update(i, i / fps, float(m))
    return spotter.thresholds()[0]


def test_reference_trails_then_freezes_at_onset_then_restarts():
    fps = 50.0
    spotter = Spotter(fps, SpotConfig(reference_lag_s=0.2, hold_s=0.05, smooth_s=0.0))
    lag = spotter.lag
    assert lag == 10
    assert spotter.reference_for(0) == 0
    for i in range(40):
        assert spotter.reference_for(i) == max(0, i - lag)
        spotter.update(i, i / fps, 0.01)
    on, off = spotter.thresholds()
    assert on == pytest.approx(0.04) and off == pytest.approx(0.03)  # constant noise: the floors hold
    # a movement: rises from frame 40, peaks at 44, back to quiet at 51; the hold (0.05 s) ends at 54
    rise_fall = [0.05, 0.3, 0.6, 0.9, 1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.04, 0.01, 0.01, 0.01, 0.01]
    got = []
    for i, m in zip(range(40, 55), rise_fall, strict=True):
        ref = spotter.reference_for(i)
        if 42 <= i <= 54:
            assert ref == 39  # frozen at the foot of the rise
        r = spotter.update(i, i / fps, m)
        if r is not None:
            got.append((i, r))
    assert len(got) == 1
    emitted_at, interval = got[0]
    assert emitted_at == 54
    assert (interval.onset, interval.apex, interval.offset) == (39, 44, 51)
    assert interval.magnitude == 1.0
    assert spotter.reference_for(55) == 54  # restarted once the hold was over


def test_short_dips_do_not_split_a_movement():
    fps = 100.0
    sig, _truth = synthetic_curve(fps, 4.0, [(2.0, 2.1, 2.3)])
    sig[215:217] = 0.0  # a 20 ms dip during the fall (flow noise): shorter than hold_s
    found = spot_signal(sig, fps)
    assert len(found) == 1
    assert found[0].offset >= 225


def test_reset_drops_the_candidate():
    fps = 30.0
    sig, _ = synthetic_curve(fps, 3.0, [(1.5, 1.65, 1.85)])
    spotter = Spotter(fps)
    found = []
    for i, m in enumerate(sig):
        if i == round(1.6 * fps):
            spotter.reset()  # face lost mid-movement
        spotter.reference_for(i)
        got = spotter.update(i, i / fps, float(m))
        if got:
            found.append(got)
    assert found == []


def test_durations_use_timestamps_not_frame_counts():
    # frames arrive at 100 fps but half of them were dropped: a 0.3 s event stays 0.3 s
    fps = 100.0
    sig, _truth = synthetic_curve(fps, 4.0, [(2.0, 2.15, 2.3)])
    keep = np.arange(0, len(sig), 2)
    found = spot_signal(sig[keep], fps, timestamps=keep / fps)
    assert len(found) == 1
    assert found[0].duration == pytest.approx(0.3, abs=0.08)  # (frame counts would give ~0.15)


def test_scoring_follows_megc_iou_rule():
    assert interval_iou((0, 9), (5, 14)) == pytest.approx(5 / 15)
    truth = [(10, 20), (50, 60)]
    score = score_spotting([(10, 19), (30, 35), (54, 70)], truth)
    assert (score.tp, score.fp, score.fn) == (1, 2, 1)
    assert score.f1 == pytest.approx(2 / 5)
    assert score_spotting([], []).f1 == 1.0


def test_motion_magnitude_sees_small_local_motion():
    flow = np.zeros((64, 64, 2), np.float32)
    flow[8:24, 8:32, 1] = -1.0  # a brow raise: 6 of the 64 cells of 8 x 8 px move 1 px up
    assert motion_magnitude(flow, top_fraction=0.1, cell=8) == pytest.approx(1.0)
    flow[..., 0] += 0.7  # plus a head translation: removed as the median vector
    assert motion_magnitude(flow, top_fraction=0.1, cell=8) == pytest.approx(1.0)
    assert motion_magnitude(np.zeros_like(flow)) == 0.0
    noise = np.random.default_rng(0).normal(0, 0.3, (112, 112, 2)).astype(np.float32)
    assert motion_magnitude(noise) < 0.1  # incoherent flow noise averages out within cells


def test_config_validation():
    with pytest.raises(ValueError):
        SpotConfig(max_duration_s=0.0)
    with pytest.raises(ValueError):
        SpotConfig(k_on=1.0, k_off=2.0)
    with pytest.raises(ValueError):
        Spotter(0.0)


def test_median_smoothing_drops_codec_flicker_without_widening_movements():
    # 100 frames/s, smooth_s 0.07: a 7-sample running median. A 3-frame flicker (a keyframe of a lossy codec)
    # is not a movement; a real one keeps its length (a mean would spread the flicker over 70 ms, past
    # min_duration_s, and widen the movement by 60 ms)
    fps = 100.0
    sig, truth = synthetic_curve(fps, 6.0, [(3.0, 3.1, 3.3)])
    sig[150:153] += 1.5
    found = spot_signal(sig, fps, SpotConfig(smooth_s=0.07))
    assert [(s.onset, s.offset) for s in found] and score_spotting(
        [(s.onset, s.offset) for s in found], [(o, f) for o, _, f in truth]).f1 == 1.0
    assert found[0].duration == pytest.approx(0.3, abs=0.06)
