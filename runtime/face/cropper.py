"""FaceCropper: frame -> square grey face crop, detecting every N frames and tracking in between.

Schedule (measured in benchmarks/results/latency.md by the pipeline): a Haar detection costs
~30 ms on a full 640 x 480 frame, far over a 5 ms frame budget, so it never runs full size:
* the detector runs on a frame downscaled to ``detect_width`` px (default 160: a 150 px face
  becomes ~40 px, above the cascade's 24 px window), and while a face is tracked only on a
  region of 2 x the face around it, only for sizes 0.7..1.45 x the tracked one, with a coarser
  scale step (1.15): ~1.5 ms instead of ~16 ms for the whole downscaled frame (measured here);
* it runs every ``detect_every`` frames (default 15) and whenever tracking is lost;
* pipelined (``detect_lag`` frames, default 2; 0: on the frame itself): a detection that falls due
  while a face is tracked runs on a worker thread on a copy of that frame k's downscaled image,
  the face is tracked on frames k..k+lag, and the detection is applied at frame k + lag (waiting
  for the worker there if needed), shifted by the tracked motion since frame k. The answer never
  depends on thread timing; the per-frame path never runs the detector while a face is tracked.
  The first search, and a search after tracking is lost (a pending detection is then dropped),
  stay on the frame;
* in between, the face is tracked by template matching (normalised cross-correlation of the
  last detected face, at the downscaled resolution, sub-pixel peak) inside a search window;
* the box is smoothed: the centre by an EMA towards each detection, the size by a slow EMA
  that ignores changes under 10 % (a scale jitter of 1 % is already ~0.5 px of radial motion at a
  112 px crop's border, as large as a micro-expression).
Remaining translation jitter is removed downstream by :class:`Stabiliser` (alignment to the
onset reference).

Crop size: 112 px by default. It is 4 x the model's 28 x 28 input, so the feature resize is an
exact 4 x 4 area average; a 150 px face loses little detail; cpu-dis runs in ~0.3 ms (ultrafast)
to ~5 ms (medium) on it and TV-L1 cost grows with the area.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import cv2
import numpy as np

from sofp.runtime.face.box import FaceBox, FaceCrop
from sofp.runtime.face.detector import HaarDetector
from sofp.runtime.shared_params import SHARED

_FACE = SHARED["face"]  # defaults shared with the native runtime (runtime/shared_params.json)
DEFAULT_CROP = int(_FACE["crop_size"])


def _subpixel_peak(res: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Parabolic refinement of a correlation peak at (x, y)."""
    def off(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if abs(d) < 1e-9 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))

    h, w = res.shape
    dx = off(res[y, x - 1], res[y, x], res[y, x + 1]) if 0 < x < w - 1 else 0.0
    dy = off(res[y - 1, x], res[y, x], res[y + 1, x]) if 0 < y < h - 1 else 0.0
    return x + dx, y + dy


@dataclass
class _Pending:
    """A detection running on the worker: its result, frames left until it is applied, and the box
    tracked on the frame it looks at (its result is moved by the tracked motion since then)."""

    result: Future[tuple[FaceBox | None, bool]]
    left: int
    track: FaceBox


class FaceCropper:
    """Callable on a BGR (or grey) frame -> :class:`FaceCrop` (``size`` x ``size`` uint8) or None.

    size: crop side px. margin: the crop's side is the face box side x (1 + margin) (Haar boxes
    are tight: the brows sit near their top). detect_every: frames between detector runs while
    tracking. detect_lag: frames between the start of such a detection (on a worker thread) and
    its use (0: on the frame itself, no thread); 0 <= detect_lag < detect_every.
    detect_width: width of the downscaled frame the detector and tracker see.
    track_min_score: template-match correlation below which tracking is lost. max_misses:
    detector misses in a row (while tracking) before the face is given up. search_every: while
    no face is known, the whole frame is searched on every search_every-th frame only (a search
    costs ~5-15 ms; the frames between return None at once).
    No face: returns None (never raises on a valid image). ``close()`` (or ``with``) ends the worker
    thread; a dropped cropper's thread ends on its own.
    """

    def __init__(self, size: int = DEFAULT_CROP, margin: float = _FACE["margin"],
                 detect_every: int = _FACE["detect_every"], detect_lag: int = _FACE["detect_lag"],
                 detect_width: int = _FACE["detect_width"],
                 track_min_score: float = _FACE["track_min_score"], max_misses: int = _FACE["max_misses"],
                 center_alpha: float = _FACE["center_alpha"], size_deadband: float = _FACE["size_deadband"],
                 search_every: int = _FACE["search_every"], detector: HaarDetector | None = None) -> None:
        if size < 16 or detect_every < 1 or not 0 <= detect_lag < detect_every or detect_width < 64:
            raise ValueError(f"bad FaceCropper settings: size {size}, detect_every {detect_every}, detect_lag "
                             f"{detect_lag}, detect_width {detect_width} (valid: size >= 16, detect_every >= 1, "
                             "0 <= detect_lag < detect_every, width >= 64)")
        self.size, self.margin = size, margin
        self.detect_every, self.detect_lag, self.detect_width = detect_every, detect_lag, detect_width
        self.track_min_score, self.max_misses = track_min_score, max_misses
        self.center_alpha, self.size_deadband = center_alpha, size_deadband
        self.search_every = max(1, search_every)
        self.detector = detector if detector is not None else HaarDetector()
        self._worker: ThreadPoolExecutor | None = None  # started by the first pipelined detection
        self._pending: _Pending | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the face (the next frame runs the detector on the whole frame)."""
        self._drop_pending()
        self.box: FaceBox | None = None
        self._template: np.ndarray | None = None
        self._since_detect = 0
        self._misses = 0
        self._sizes: deque[float] = deque(maxlen=5)
        self._searches = 0
        self._idle = 0  # frames since the last whole-frame search while no face is known
        self.stats = {"frames": 0, "detections": 0, "tracked": 0, "lost": 0}

    def close(self) -> None:
        """End the worker thread (after the detection it runs, if any)."""
        self._drop_pending()
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None

    def __enter__(self) -> FaceCropper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- detection and tracking on the downscaled grey frame ------------------------------------
    def _detect(self, small: np.ndarray, k: float, near: FaceBox | None, search: int) -> tuple[FaceBox | None, bool]:
        """Detect in ``small`` (full frame / k) near the box ``near`` when given, else (or when nothing
        is there) in the whole of it; ``search``: that whole-frame search's number (its parity picks
        the padding). Returns the face and whether the whole frame was searched. Reads no state of
        the cropper: it also runs on the worker thread."""
        if near is not None:
            b = near.scaled(1.0 / k)
            x0 = int(max(0, b.cx - b.side)); y0 = int(max(0, b.cy - b.side))  # noqa: E702
            x1 = int(min(small.shape[1], b.cx + b.side)); y1 = int(min(small.shape[0], b.cy + b.side))  # noqa: E702
            roi = small[y0:y1, x0:x1]
            found = (self.detector.detect(roi, 0.7 * b.side, 1.45 * b.side, pad=0.0, scale_factor=1.15)
                     if min(roi.shape) > 24 else [])
            found = [FaceBox(f.x + x0, f.y + y0, f.w, f.h, f.score) for f in found]
            if found:
                best = max(found, key=lambda f: f.iou(b) + 1e-3 * f.w)
                return best.scaled(k), False
        # No face yet: the whole downscaled frame, alternating no padding (cheap, camera frames)
        # and the detector's padding (tight face crops need the margin; ~2 x the cost).
        # Of several candidates, the most confident (the cascade's stage weight), not the largest: a
        # false positive on clothing or background can be larger than the face (seen on compressed video).
        found = self.detector.detect(small, pad=0.0 if search % 2 else None)
        return (max(found, key=lambda f: f.score).scaled(k) if found else None), True

    def _launch(self, small: np.ndarray, k: float, near: FaceBox, track: FaceBox) -> None:
        """Start the due detection on the worker, on a copy of ``small`` (applied detect_lag frames later)."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sofp-face-detect")
        result = self._worker.submit(self._detect, small.copy(), k, near, self._searches + 1)
        self._pending = _Pending(result, self.detect_lag, track)

    def _apply(self, small: np.ndarray, k: float, box: FaceBox) -> tuple[FaceBox | None, bool]:
        """The pending detection applied to ``box`` (tracked on this frame) as a detection on this
        frame is, moved by the tracked motion since the frame it looked at: (box, tracked); box None
        when the face is given up (one miss too many)."""
        pending, self._pending = self._pending, None
        assert pending is not None
        det, searched = pending.result.result()
        self._searches += searched
        if det is None:
            self._misses += 1
            return (box if self._misses <= self.max_misses else None), True
        self._misses = 0
        self.stats["detections"] += 1
        dx, dy = box.cx - pending.track.cx, box.cy - pending.track.cy
        self.box = box
        box = self._smooth(FaceBox(det.x + dx, det.y + dy, det.w, det.h, det.score))
        self._grab_template(small, k, box)
        return box, False

    def _drop_pending(self) -> None:
        """Forget the pending detection, once the worker is done with it (it uses the detector)."""
        if self._pending is not None:
            wait([self._pending.result])
            self._pending = None

    def _grab_template(self, small: np.ndarray, k: float, box: FaceBox) -> None:
        b = box.scaled(1.0 / k)
        half = 0.4 * b.side  # the central 80 % of the face: little background
        x0, y0 = round(b.cx - half), round(b.cy - half)
        x1, y1 = round(b.cx + half), round(b.cy + half)
        if x0 < 0 or y0 < 0 or x1 > small.shape[1] or y1 > small.shape[0] or x1 - x0 < 8:
            self._template = None
            return
        self._template = small[y0:y1, x0:x1].copy()
        self._tpl_offset = (b.cx - x0, b.cy - y0)  # box centre relative to the template's corner

    def _track(self, small: np.ndarray, k: float, box: FaceBox) -> FaceBox | None:
        """``box`` (the current one) moved by template matching; None when the match is too weak (face lost)."""
        if self._template is None:
            return None
        th, tw = self._template.shape
        b = box.scaled(1.0 / k)
        ox, oy = self._tpl_offset
        reach = 0.35 * b.side
        x0 = int(max(0, b.cx - ox - reach)); y0 = int(max(0, b.cy - oy - reach))  # noqa: E702
        x1 = int(min(small.shape[1], b.cx - ox + tw + reach))
        y1 = int(min(small.shape[0], b.cy - oy + th + reach))
        if x1 - x0 <= tw or y1 - y0 <= th:
            return None
        res = cv2.matchTemplate(small[y0:y1, x0:x1], self._template, cv2.TM_CCOEFF_NORMED)
        _, score, _, (mx, my) = cv2.minMaxLoc(res)
        if score < self.track_min_score:
            return None
        px, py = _subpixel_peak(res, mx, my)
        cx, cy = (x0 + px + ox) * k, (y0 + py + oy) * k
        return FaceBox.square(cx, cy, box.side, float(score))

    def _smooth(self, det: FaceBox) -> FaceBox:
        """The current box with a detection blended in (centre EMA; size locked, see the module doc)."""
        if self.box is None or det.iou(self.box) < 0.3:
            self._sizes.clear()
            self._sizes.append(det.side)
            return FaceBox.square(det.cx, det.cy, det.side, det.score)
        self._sizes.append(det.side)
        a = self.center_alpha
        cx = (1 - a) * self.box.cx + a * det.cx
        cy = (1 - a) * self.box.cy + a * det.cy
        cur = self.box.side
        med = float(np.median(self._sizes))
        if len(self._sizes) == self._sizes.maxlen and abs(med - cur) > self.size_deadband * cur:
            cur = med
        return FaceBox.square(cx, cy, cur, det.score)

    # -- the crop --------------------------------------------------------------------------------
    def crop(self, gray: np.ndarray, box: FaceBox) -> np.ndarray:
        """The ``size`` x ``size`` uint8 crop of ``gray`` around ``box`` enlarged by ``margin``."""
        side = box.side * (1.0 + self.margin)
        x0, y0 = round(box.cx - side / 2), round(box.cy - side / 2)
        s = round(side)
        h, w = gray.shape
        if x0 >= 0 and y0 >= 0 and x0 + s <= w and y0 + s <= h:
            patch = gray[y0:y0 + s, x0:x0 + s]
        else:  # partly outside the frame: replicate the border
            pad = s
            padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            patch = padded[y0 + pad:y0 + pad + s, x0 + pad:x0 + pad + s]
        interp = cv2.INTER_AREA if s > self.size else cv2.INTER_LINEAR
        return cv2.resize(patch, (self.size, self.size), interpolation=interp)

    def __call__(self, frame: np.ndarray) -> FaceCrop | None:
        """frame: H x W x 3 uint8 BGR (or H x W grey) -> FaceCrop or None when no face is found."""
        if frame is None or frame.ndim not in (2, 3) or frame.dtype != np.uint8 or frame.size == 0:
            raise ValueError(f"FaceCropper needs an H x W (x 3) uint8 image, got "
                             f"{None if frame is None else (frame.shape, frame.dtype)}")
        self.stats["frames"] += 1
        if self.box is None:  # no face known: search the whole frame only every search_every frames
            self._idle += 1
            if self._searches > 0 and self._idle < self.search_every:
                return None
            self._idle = 0
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        k = max(1.0, gray.shape[1] / self.detect_width)
        small = gray if k == 1.0 else cv2.resize(
            gray, (round(gray.shape[1] / k), round(gray.shape[0] / k)), interpolation=cv2.INTER_AREA)
        k = gray.shape[1] / small.shape[1]
        known, box = self.box, None
        due = self._since_detect >= self.detect_every
        if known is not None and (not due or self.detect_lag > 0):
            box = self._track(small, k, known)
        tracked = box is not None
        if known is not None and box is not None:
            self.stats["tracked"] += 1
            if due:
                self._launch(small, k, known, box)
                self._since_detect = 0
            elif self._pending is not None:
                self._pending.left -= 1
                if self._pending.left == 0:
                    box, tracked = self._apply(small, k, box)
                    if box is None:
                        return self._lose()
        else:  # no face known, a detection due without a worker, or tracking lost: detect on this frame
            self._drop_pending()
            det, searched = self._detect(small, k, known, self._searches + 1)
            self._searches += searched
            self._since_detect = 0
            if det is None:
                self._misses += 1
                if known is not None and self._misses <= self.max_misses:
                    box = self._track(small, k, known)
                if box is None:
                    return self._lose()
                tracked = True
            else:
                self._misses = 0
                self.stats["detections"] += 1
                box = self._smooth(det)
                self._grab_template(small, k, box)
        self.box = box
        self._since_detect += 1
        return FaceCrop(self.crop(gray, box), box, tracked)

    def _lose(self) -> None:
        """Forget the face (counted as lost when there was one); the frame's answer: None."""
        if self.box is not None:
            self.stats["lost"] += 1
        self.box, self._template = None, None
