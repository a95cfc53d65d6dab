"""Annotated frames (``--show``, ``--record``) and the motion-trace PNG of a run.

The overlay draws the face box, the recent motion signal with its start threshold (a strip at
the bottom), the spotted intervals on it, and the class bars of the latest event. Drawing is
kept off the pipeline's hot path: it runs only when a window or a recording is asked for.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from sofp.runtime.errors import SofpError
from sofp.runtime.events import Event, FrameTelemetry

GREEN, ORANGE, WHITE, GREY, RED = (80, 200, 80), (0, 160, 255), (255, 255, 255), (140, 140, 140), (60, 60, 230)


class Overlay:
    """Draws on a copy of each frame. ``trace_s``: seconds of motion signal shown."""

    def __init__(self, fps: float, labels: Sequence[str], trace_s: float = 3.0, event_hold_s: float = 1.5) -> None:
        self.fps = fps if fps and fps > 0 else 30.0
        self.labels = list(labels)
        n = max(10, round(trace_s * self.fps))
        self.mags: deque[float] = deque(maxlen=n)
        self.thrs: deque[float] = deque(maxlen=n)
        self.marks: deque[int] = deque(maxlen=n)  # 1 where an event's interval covers the sample
        self.last_event: Event | None = None
        self.event_hold_s = event_hold_s

    def draw(self, image: np.ndarray, tel: FrameTelemetry | None, events: Sequence[Event],
             face_box: tuple[float, float, float, float] | None) -> np.ndarray:
        """A BGR copy of ``image`` with the overlay."""
        out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        h, w = out.shape[:2]
        mag = tel.magnitude if tel is not None and tel.magnitude is not None else 0.0
        thr = tel.threshold if tel is not None and tel.threshold is not None else np.nan
        self.mags.append(mag)
        self.thrs.append(thr)
        self.marks.append(0)
        for ev in events:
            self.last_event = ev
            now = tel.index if tel is not None else ev.offset_frame
            for back in range(max(0, now - ev.offset_frame), now - ev.onset_frame + 1):
                if back < len(self.marks):
                    self.marks[-1 - back] = 1
        if face_box is not None:
            x, y, bw, bh = (round(v) for v in face_box)
            cv2.rectangle(out, (x, y), (x + bw, y + bh), GREEN, 2)
        elif tel is not None and not tel.face:
            cv2.putText(out, "no face", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, RED, 2, cv2.LINE_AA)
        self._trace(out, w, h)
        ev = self.last_event
        if ev is not None and tel is not None and tel.timestamp - ev.offset_time <= self.event_hold_s:
            self._bars(out, ev)
        if tel is not None:
            cv2.putText(out, f"frame {tel.index}  {tel.total_ms:.1f} ms", (w - 210, 22), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, WHITE, 1, cv2.LINE_AA)
        return out

    def _trace(self, out: np.ndarray, w: int, h: int) -> None:
        ph, pw = 70, min(w - 20, 360)
        x0, y0 = 10, h - ph - 10
        roi = out[y0:y0 + ph, x0:x0 + pw]
        roi[:] = (roi.astype(np.uint16) // 3).astype(np.uint8)  # darken the panel
        mags = np.asarray(self.mags, np.float32)
        thrs = np.asarray(self.thrs, np.float32)
        finite = thrs[np.isfinite(thrs)]
        top = max(float(mags.max(initial=0.0)), float(finite.max(initial=0.0)) * 1.5, 0.1)
        n = self.mags.maxlen or len(mags)
        xs = x0 + (np.arange(len(mags)) + (n - len(mags))) * (pw - 1) / max(n - 1, 1)
        for i, m in enumerate(self.marks):
            if m:
                cv2.line(out, (int(xs[i]), y0), (int(xs[i]), y0 + ph - 1), (40, 90, 160), 1)
        ys = y0 + ph - 1 - mags / top * (ph - 4)
        pts = np.stack([xs, ys], 1).astype(np.int32)
        cv2.polylines(out, [pts], False, GREEN, 1, cv2.LINE_AA)
        if finite.size:
            yt = int(y0 + ph - 1 - finite[-1] / top * (ph - 4))
            cv2.line(out, (x0, yt), (x0 + pw - 1, yt), ORANGE, 1)
        cv2.putText(out, f"motion (px)  max {top:.2f}", (x0 + 4, y0 + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, WHITE, 1,
                    cv2.LINE_AA)

    def _bars(self, out: np.ndarray, ev: Event) -> None:
        x0, y0, bw = 10, 40, 150
        cv2.putText(out, f"{ev.label}  {ev.confidence:.2f}", (x0, y0 - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.7, ORANGE, 2,
                    cv2.LINE_AA)
        for i, lab in enumerate(self.labels):
            p = float(ev.probabilities.get(lab, 0.0))
            y = y0 + i * 20
            cv2.rectangle(out, (x0, y), (x0 + bw, y + 14), GREY, 1)
            cv2.rectangle(out, (x0, y), (x0 + round(bw * p), y + 14), ORANGE if lab == ev.label else GREY, -1)
            cv2.putText(out, f"{lab} {p:.2f}", (x0 + bw + 6, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, WHITE, 1,
                        cv2.LINE_AA)


def display_available() -> tuple[bool, str]:
    """Whether ``cv2.imshow`` can open a window here, and why not."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no $DISPLAY (headless machine)"
    try:
        cv2.namedWindow("sofp-edge", cv2.WINDOW_NORMAL)
    except cv2.error:
        return False, f"OpenCV {cv2.__version__} has no GUI (headless build)"
    return True, ""


FOURCC_BY_SUFFIX = {".avi": "MJPG", ".mkv": "FFV1"}  # anything else (.mp4, .mov): mp4v


class VideoRecorder:
    """Writes BGR frames to a video file opened at the first frame; the codec follows the suffix:
    ``.avi`` MJPG (OpenCV's default quality 95), ``.mkv`` FFV1 (lossless), else mp4v (MPEG-4 part 2,
    small files but lossy enough to hide some micro-movements: benchmarks/results/compression.md). The video
    keeps the first frame's size: a stream that changes resolution mid-way is resized to it (a writer drops
    frames of another size without a word)."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps if fps and fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None
        self._size = (0, 0)  # (width, height) px, set by the first frame
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter.fourcc(*FOURCC_BY_SUFFIX.get(self.path.suffix.lower(), "mp4v"))
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), fourcc, float(self.fps), (w, h))
            if not self._writer.isOpened():
                raise SofpError(f"cannot write video {self.path}: OpenCV has no encoder for it; try an .avi file")
            self._size = (w, h)
        if image.shape[1::-1] != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def save_trace_png(path: str | Path, times: Sequence[float], magnitudes: Sequence[float | None],
                   thresholds: Sequence[float | None], events: Sequence[Event],
                   truth: Sequence[tuple[float, float, str]] = (), title: str = "") -> Path:
    """Motion signal (px) over time (s) with its start threshold, the spotted intervals (orange,
    labelled) and, when known, the true intervals (green band below). Returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(times, float)
    m = np.asarray([np.nan if v is None else v for v in magnitudes], float)
    th = np.asarray([np.nan if v is None or not np.isfinite(v) else v for v in thresholds], float)
    fig, ax = plt.subplots(figsize=(11, 3.6), dpi=110)
    ax.plot(t, m, color="#2a7", lw=1.0, label="motion vs onset reference (px)")
    ax.plot(t, th, color="#e80", lw=0.8, ls="--", label="start threshold (median + k MAD)")
    top = np.nanmax(m) if np.isfinite(m).any() else 1.0
    for ev in events:
        ax.axvspan(ev.onset_time, ev.offset_time, color="#f90", alpha=0.25)
        ax.annotate(f"{ev.label} {ev.confidence:.2f}", (ev.apex_time, top * 1.1), ha="center", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#f90", "alpha": 0.9})
    for i, (on, off, kind) in enumerate(truth):
        ax.axvspan(on, off, ymin=0.0, ymax=0.06, color="#090", alpha=0.8,
                   label="true interval" if i == 0 else None)
        ax.annotate(kind, ((on + off) / 2, -0.08 * top), ha="center", fontsize=7, color="#060")
    if events:
        ax.plot([], [], color="#f90", alpha=0.4, lw=6, label="spotted interval")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("px")
    ax.set_ylim(-0.14 * top, top * 1.45)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
