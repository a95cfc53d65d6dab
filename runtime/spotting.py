"""Micro-expression spotting on a per-frame motion signal (pure NumPy, online, one sample per frame).

The signal
----------
For frame ``t`` the pipeline measures the optical flow between the stabilised face crop of a
*reference* frame ``r(t)`` and the crop of ``t``; :func:`motion_magnitude` turns that flow into
one number in px (the mean of the largest ``top_fraction`` of per-pixel magnitudes: a micro-
expression moves a small part of the face, so a whole-face mean would drown it).

The reference ("moving onset reference")
----------------------------------------
While nothing happens the reference trails the current frame by ``reference_lag_s`` (so slow
head drift does not accumulate), ``r(t) = max(last_reset, t - lag)``. When a candidate starts,
the reference is frozen at the candidate's onset frame (the last quiet frame), so that during the
event the signal is the displacement from the neutral face: it rises from the onset, peaks at
the apex and falls back at the offset, exactly the movement's own shape. After the event the
reference restarts at the offset frame. :meth:`Spotter.reference_for` tells the pipeline which
frame to measure against; the spotter and the signal stay consistent by construction.

The rule
--------
Adaptive hysteresis thresholds from the recent quiet samples (last ``window_s``):
``on = median + max(k_on * 1.4826 * MAD, floor_on)``, ``off = median + max(k_off * 1.4826 * MAD, floor_off)``
(1.4826 MAD estimates the noise's standard deviation). A candidate starts when the signal exceeds
``on``; its onset is the foot of the rise (the latest earlier frame at or below ``off``, moved back
while the signal keeps falling); its offset is the quietest frame of the first run of ``hold_s`` at
or below ``off`` after it (shorter dips belong to the movement, and within the hold only a rise past
(on + off) / 2 resumes it; the event is reported when the hold is over); its apex is the frame of
the largest signal in between. It becomes a spotted interval when it lasted between
``min_duration_s`` and ``max_duration_s`` (micro-expressions: under 0.5 s), measured from its first
to its last sample above ``off``, with at least two such samples (one-sample spikes are noise at any
frame rate). The signal is first smoothed by a centred running median over ``smooth_s`` (an odd
number of samples: 7 at 100 frames/s, 3 at 30, none at 25), for a delay of half the window (30 ms at
100 frames/s): it removes spikes shorter than half the window (a video codec's flicker, a detector jump)
and lowers the flow noise that lossy compression adds, without widening a movement as a mean would. A
candidate above ``off`` for longer than ``max_duration_s`` is a macro-expression or a pose change:
it is dropped, and the spotter waits for the signal to fall (or ``settle_s``) before restarting the
reference. All durations are seconds, converted with the stream's real fps and checked on capture
timestamps, never fixed frame counts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sofp.runtime.shared_params import SHARED

_SPOT = SHARED["spot"]  # defaults shared with the native runtime (runtime/shared_params.json)
_MOTION = SHARED["motion"]
# Durations compared with a limit count as reaching it within a nanosecond: capture times are whole ns,
# and a hold of exactly N frames is otherwise decided by float rounding (differently in the native runtime).
_TIME_EPS = 1e-9
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class SpotConfig:
    """Spotting parameters; durations in seconds, magnitudes in px of the motion crop."""

    reference_lag_s: float = _SPOT["reference_lag_s"]  # how far back the quiet-time reference trails the current frame
    window_s: float = _SPOT["window_s"]  # recent quiet history the thresholds are estimated from
    warmup_s: float = _SPOT["warmup_s"]  # quiet history needed before anything is spotted
    k_on: float = _SPOT["k_on"]  # start threshold: median + k_on robust sigmas ...
    k_off: float = _SPOT["k_off"]  # ... end threshold: median + k_off robust sigmas
    floor_on: float = _SPOT["floor_on"]  # ... but never closer than this to the median (px)
    floor_off: float = _SPOT["floor_off"]  # (px)
    hold_s: float = _SPOT["hold_s"]  # the signal must stay at or below ``off`` this long to end a movement
    smooth_s: float = _SPOT["smooth_s"]  # centred running median over this long (odd, >= 1 sample) before spotting
    min_duration_s: float = _SPOT["min_duration_s"]
    max_duration_s: float = _SPOT["max_duration_s"]  # micro-expressions last under half a second
    settle_s: float = _SPOT["settle_s"]  # after a too-long candidate, restart the reference at the latest after this

    def __post_init__(self) -> None:
        if self.hold_s < 0 or self.smooth_s < 0:
            raise ValueError(f"SpotConfig.hold_s and smooth_s must be >= 0, got {self.hold_s}, {self.smooth_s}")
        for name in ("reference_lag_s", "window_s", "max_duration_s", "settle_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SpotConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.min_duration_s < self.max_duration_s:
            raise ValueError("SpotConfig needs 0 <= min_duration_s < max_duration_s")
        if not (self.k_on >= self.k_off >= 0 and self.floor_on >= self.floor_off >= 0):
            raise ValueError("SpotConfig needs k_on >= k_off >= 0 and floor_on >= floor_off >= 0")


@dataclass(frozen=True)
class SpottedInterval:
    """One spotted movement: frame indices, capture times (s) and the signal's peak (px)."""

    onset: int
    apex: int
    offset: int
    onset_time: float
    apex_time: float
    offset_time: float
    magnitude: float  # the motion signal at the apex (px)
    threshold: float  # the start threshold in force when it was spotted (px)

    @property
    def duration(self) -> float:
        """Offset time - onset time (s)."""
        return self.offset_time - self.onset_time


def motion_magnitude(flow: np.ndarray, top_fraction: float = _MOTION["top_fraction"], cell: int = _MOTION["cell"],
                     remove_global: bool = True) -> float:
    """One motion number (px) from an H x W x 2 flow (px).

    The flow is averaged over ``cell`` x ``cell`` px blocks first (a facial movement is coherent
    over a block, flow noise is not and averages out), the median block vector is subtracted
    (``remove_global``: residual head translation; robust while the movement covers less than
    half the face), and the result is the mean magnitude of the ``top_fraction`` largest blocks
    (a micro-expression moves a small part of the face; a whole-face mean would drown it).
    """
    h, w = flow.shape[:2]
    c = max(1, int(cell))
    hh, ww = (h // c) * c, (w // c) * c
    blocks = flow[:hh, :ww].reshape(hh // c, c, ww // c, c, 2).mean(axis=(1, 3), dtype=np.float32)
    u = blocks[..., 0].ravel()
    v = blocks[..., 1].ravel()
    if remove_global:
        u = u - np.median(u)
        v = v - np.median(v)
    mag = u * u + v * v
    k = max(1, round(mag.size * top_fraction))
    top = np.partition(mag, mag.size - k)[mag.size - k :]
    return float(np.sqrt(top).mean())


class Spotter:
    """Online spotter: feed one motion sample per frame, get :class:`SpottedInterval` when one ends.

    Usage per frame ``i`` (capture time ``t`` s): ``r = spotter.reference_for(i)``; measure the
    motion between frame ``r`` and frame ``i``; ``interval = spotter.update(i, t, magnitude)``.
    ``reset()`` on a gap (no face): the candidate in progress is dropped, the reference restarts.
    """

    QUIET, ACTIVE, LONG = "quiet", "active", "long"

    def __init__(self, fps: float, config: SpotConfig | None = None) -> None:
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps}")
        self.fps = float(fps)
        self.config = config or SpotConfig()
        c = self.config
        self.lag = max(1, round(c.reference_lag_s * self.fps))
        n_window = max(8, math.ceil(c.window_s * self.fps))
        self.min_quiet = max(30, math.ceil(c.warmup_s * self.fps))
        # Longest look-back a caller must keep crops for (frames): lag, or a frozen onset reference.
        self.history_frames = self.lag + math.ceil((c.max_duration_s + c.hold_s + c.settle_s) * self.fps) + 2
        self._quiet: deque[float] = deque(maxlen=n_window)
        n_smooth = max(1, 2 * round((c.smooth_s * self.fps - 1) / 2) + 1)  # odd: a centred window
        self._raw: deque[tuple[int, float, float]] = deque(maxlen=n_smooth)
        self.delay = (n_smooth - 1) // 2  # frames the spotted indices lag the latest sample
        self._recent: deque[tuple[int, float, float]] = deque(maxlen=self.history_frames)
        self._on = self._off = math.inf
        self.reset()
        self._quiet.clear()

    # ----------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the candidate in progress and restart the reference at the next frame."""
        self.state = self.QUIET
        self._reset_index: int | None = None
        self._frozen: int | None = None
        self._candidate: list[tuple[int, float, float]] = []
        self._onset: tuple[int, float, float] | None = None
        self._quiet_start: tuple[int, float, float] | None = None
        self._long_since = 0.0
        self._recent.clear()
        if hasattr(self, "_raw"):
            self._raw.clear()

    def reference_for(self, index: int) -> int:
        """The frame index that frame ``index``'s motion must be measured against."""
        if self._reset_index is None:
            self._reset_index = index
        if self.state in (self.ACTIVE, self.LONG) and self._frozen is not None:
            return self._frozen
        return max(self._reset_index, index - self.lag)

    def thresholds(self) -> tuple[float, float]:
        """Current (on, off) thresholds in px, from the recent quiet samples."""
        c = self.config
        if not self._quiet:
            return math.inf, math.inf
        q = np.fromiter(self._quiet, dtype=np.float64, count=len(self._quiet))
        med = float(np.median(q))
        sigma = MAD_TO_SIGMA * float(np.median(np.abs(q - med)))
        return med + max(c.k_on * sigma, c.floor_on), med + max(c.k_off * sigma, c.floor_off)

    @property
    def last_thresholds(self) -> tuple[float, float]:
        """The (on, off) thresholds used for the latest sample (px; inf before the first)."""
        return self._on, self._off

    @property
    def warmed_up(self) -> bool:
        return len(self._quiet) >= self.min_quiet

    def update(self, index: int, timestamp: float, magnitude: float) -> SpottedInterval | None:
        """Add frame ``index``'s motion sample (px) taken at ``timestamp`` (s)."""
        c = self.config
        if self._reset_index is None:
            self._reset_index = index
        self._raw.append((int(index), float(timestamp), float(magnitude)))
        if len(self._raw) < (self._raw.maxlen or 1):
            return None
        mid = self._raw[-1 - self.delay]
        magnitude = float(np.median([s[2] for s in self._raw]))
        index, timestamp = mid[0], mid[1]
        sample = (index, timestamp, magnitude)
        on, off = self.thresholds()
        self._on, self._off = on, off
        out = None
        if self.state == self.QUIET:
            # the onset must be a quiet frame seen since the last reset (not so right after a gap)
            onset = None
            if self.warmed_up and magnitude > on:
                onset = self._find_onset(off)
            if onset is not None:
                self._onset = onset
                self._frozen = onset[0]
                self._candidate = [s for s in self._recent if s[0] > onset[0]] + [sample]
                self._on_at_start = on
                self._off_at_start = off
                self._first_moving = next(s[1] for s in self._candidate if s[2] > off)
                self.state = self.ACTIVE
            elif magnitude <= on:
                self._quiet.append(magnitude)
        elif self.state == self.ACTIVE:
            assert self._onset is not None
            # falling back: the offset once it stays quiet for hold_s; within the hold only a
            # rise past the middle of the two thresholds resumes the movement (a noise blip does not)
            resume = off if self._quiet_start is None else 0.5 * (on + off)
            if magnitude <= resume:
                if self._quiet_start is None:
                    self._quiet_start = sample
                    self._quiet_min = sample
                elif magnitude < self._quiet_min[2]:
                    self._quiet_min = sample
                if timestamp - self._quiet_start[1] >= c.hold_s - _TIME_EPS:
                    out = self._finish(self._quiet_min)
                    self._restart(index)
            elif timestamp - self._first_moving + 1.0 / self.fps > c.max_duration_s:
                self.state, self._long_since = self.LONG, timestamp
                self._candidate, self._quiet_start = [], None
            else:  # still moving (a dip shorter than hold_s is part of the movement)
                self._quiet_start = None
                self._candidate.append(sample)
        else:  # LONG: a macro-expression or a pose change; wait for it to end or settle
            if magnitude <= off or timestamp - self._long_since > c.settle_s:
                self._restart(index)
        self._recent.append(sample)
        return out

    # ----------------------------------------------------------------------------------------
    def _find_onset(self, off: float) -> tuple[int, float, float] | None:
        """The latest remembered sample at or below ``off``, moved further back while the signal
        keeps falling (the foot of the rise); None when no quiet sample is remembered."""
        recent = self._recent
        i = next((j for j in range(len(recent) - 1, -1, -1) if recent[j][2] <= off), None)
        if i is None:
            return None
        while i > 0 and recent[i - 1][2] < recent[i][2]:
            i -= 1
        return recent[i]

    def _restart(self, index: int) -> None:
        self.state = self.QUIET
        self._reset_index = index
        self._frozen = None
        self._onset = None
        self._quiet_start = None
        self._candidate = []

    def _finish(self, offset: tuple[int, float, float]) -> SpottedInterval | None:
        c = self.config
        assert self._onset is not None
        onset, inside = self._onset, self._candidate
        moving = [s for s in inside if s[2] > self._off_at_start]
        if len(moving) < 2:
            return None
        # the movement itself: from the first to the last sample above ``off`` (onset and offset
        # are the quiet frames around it, a little outside)
        duration = moving[-1][1] - moving[0][1] + 1.0 / self.fps
        if not c.min_duration_s <= duration <= c.max_duration_s:
            return None
        apex = max(inside, key=lambda s: s[2])
        return SpottedInterval(
            onset=onset[0], apex=apex[0], offset=offset[0],
            onset_time=onset[1], apex_time=apex[1], offset_time=offset[1],
            magnitude=apex[2], threshold=self._on_at_start,
        )


def spot_signal(
    magnitudes: Sequence[float] | np.ndarray,
    fps: float,
    config: SpotConfig | None = None,
    timestamps: Sequence[float] | np.ndarray | None = None,
) -> list[SpottedInterval]:
    """Spot a whole precomputed signal (one sample per frame, frame i at ``timestamps[i]`` or i / fps).

    Note the signal must already have been measured against :meth:`Spotter.reference_for`'s frames
    for the reference logic to hold; for synthetic curves this is the displacement from neutral.
    """
    spotter = Spotter(fps, config)
    ts = np.arange(len(magnitudes)) / fps if timestamps is None else np.asarray(timestamps, float)
    found = []
    for i, m in enumerate(np.asarray(magnitudes, dtype=np.float64)):
        spotter.reference_for(i)
        got = spotter.update(i, float(ts[i]), float(m))
        if got is not None:
            found.append(got)
    return found


# -------------------------------------------------------------------------------------------- scoring
def interval_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """IoU of two inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return inter / union


@dataclass(frozen=True)
class SpottingScore:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """F1 = 2 TP / (2 TP + FP + FN); 1.0 when there was nothing to find and nothing was found."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 1.0

    def __add__(self, other: SpottingScore) -> SpottingScore:
        return SpottingScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def score_spotting(
    spotted: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]], iou: float = 0.5
) -> SpottingScore:
    """MEGC rule: a spotted (onset, offset) is a true positive when its IoU with an unmatched true
    interval is >= ``iou``; each true interval matches at most one spotted one (greedy by IoU)."""
    pairs = sorted(
        ((interval_iou(s, t), i, j) for i, s in enumerate(spotted) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_s: set[int] = set()
    used_t: set[int] = set()
    for value, i, j in pairs:
        if value < iou:
            break
        if i not in used_s and j not in used_t:
            used_s.add(i)
            used_t.add(j)
    tp = len(used_s)
    return SpottingScore(tp=tp, fp=len(spotted) - tp, fn=len(truth) - tp)
