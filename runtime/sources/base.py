"""Frame, read status and the FrameSource base every source (camera, file, stream, folder, demo) implements.

A source answers ``read()`` with one of three different things [JU]: a frame, "no frame yet"
(``NOT_READY``, a live source whose next frame has not arrived), "end of stream" (``END``, a file
or folder played to its end) or "failed" (``FAILED``, a camera that dropped out or a file cut short;
``error`` then holds one line saying what happened). The pipeline retries ``FAILED`` live sources
with backoff and stops on ``END``.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from sofp.runtime.errors import SofpError


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    image: H x W x 3 uint8 BGR. index: 0-based position in the stream (gaps mean dropped frames).
    timestamp: capture time in seconds (monotonic clock for live sources, media time for files).
    """

    image: np.ndarray
    index: int
    timestamp: float


MIN_SIDE = 32  # px: a frame smaller than this cannot hold a face the detector finds


class BadFrame(ValueError):
    """A frame the pipeline cannot use (None, not an image, too small, an unknown pixel format); one line."""


def conform_image(image: object) -> np.ndarray:
    """``image`` as H x W x 3 uint8 BGR, or :class:`BadFrame` saying why not.

    Repaired (documented): grey (H x W or H x W x 1) and BGRA (H x W x 4) are converted to BGR; 16-bit
    (uint16) frames keep their high byte (``>> 8``: a 16-bit camera's full range; a 10- or 12-bit sensor
    packed low in 16 bits comes out dark). Refused: None, a non-array, fewer than ``MIN_SIDE`` px on a side,
    2 or more than 4 channels, any other dtype (float, int8: their range is unknown).
    """
    if not isinstance(image, np.ndarray):
        raise BadFrame(f"not an image: {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise BadFrame(f"shape {image.shape}: need H x W, H x W x 1, 3 or 4")
    if min(image.shape[:2]) < MIN_SIDE:
        raise BadFrame(f"{image.shape[1]} x {image.shape[0]} px: smaller than {MIN_SIDE} px")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise BadFrame(f"pixel type {image.dtype}: need uint8 (or uint16)")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class ReadStatus(enum.Enum):
    """What ``FrameSource.read`` returned: a frame, none yet, end of stream, or failure."""

    FRAME = "frame"
    NOT_READY = "not-ready"
    END = "end"
    FAILED = "failed"


class FrameSource:
    """Base of every frame source; a context manager (``close`` on exit).

    Attributes: ``name`` (what is being read, for logs), ``fps`` (the stream's real rate in
    frames/s: measured from timestamps where the driver's claim cannot be trusted), ``dropped``
    (frames lost because the consumer was slower than the source), ``live`` (a camera or network
    stream: retried on failure; files and folders are not), ``error`` (one line, set on FAILED).
    """

    name: str = "source"
    live: bool = False

    def __init__(self) -> None:
        self.dropped = 0
        self.error = ""
        self._fps = 0.0

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> tuple[ReadStatus, Frame | None]:
        """The next frame: ``(FRAME, frame)``, or ``(NOT_READY | END | FAILED, None)``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    def describe(self) -> dict:
        """What the capability report prints about this source."""
        return {"source": type(self).__name__, "name": self.name, "fps": round(self.fps, 3),
                "live": self.live, "dropped": self.dropped}

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        """Frames until END or FAILED (busy sources: waits politely on NOT_READY)."""
        while True:
            status, frame = self.read()
            if status is ReadStatus.FRAME:
                if frame is None:  # a source's bug: said FRAME and gave none
                    raise SofpError(f"{self.name}: read() returned FRAME without a frame")
                yield frame
            elif status is ReadStatus.NOT_READY:
                time.sleep(0.0005)
            else:
                return


class RateMeter:
    """The real frame rate from capture timestamps: median interval over the last ``window`` frames.

    Drivers often report a rate they do not deliver (a "200 fps" camera giving 30 in low light);
    durations in frames must use what arrives.
    """

    def __init__(self, window: int = 120, min_frames: int = 10) -> None:
        self._stamps: deque[float] = deque(maxlen=window)
        self.min_frames = min_frames

    def add(self, timestamp: float) -> None:
        self._stamps.append(timestamp)

    def fps(self) -> float | None:
        """Measured frames/s, or None until ``min_frames`` timestamps have arrived."""
        if len(self._stamps) < self.min_frames:
            return None
        dt = np.diff(np.asarray(self._stamps, dtype=np.float64))
        dt = dt[dt > 0]
        if dt.size == 0:
            return None
        return float(1.0 / np.median(dt))


class LatestFrameReader:
    """Reads a blocking ``grab`` function on a thread and keeps only the newest frame.

    A slow consumer never builds up latency: an unread frame overwritten by a newer one counts as
    dropped. ``grab() -> (ok, image, timestamp)``; ``ok`` False means the device failed.
    """

    def __init__(self, grab, name: str) -> None:
        self._grab = grab
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float] | None = None
        self._count = 0          # frames captured so far
        self._delivered = -1     # index of the last frame handed out
        self.dropped = 0
        self.failed = False
        self._stop = False
        self.rate = RateMeter()
        self._thread = threading.Thread(target=self._run, name=f"reader-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            ok, image, stamp = self._grab()
            with self._cond:
                if not ok:
                    self.failed = True
                    self._cond.notify_all()
                    return
                if self._latest is not None and self._delivered < self._count - 1:
                    self.dropped += 1
                self._latest = (image, stamp)
                self._count += 1
                self.rate.add(stamp)
                self._cond.notify_all()

    def read(self, timeout: float = 0.0) -> tuple[ReadStatus, Frame | None]:
        """The newest frame not yet delivered; waits up to ``timeout`` s for one."""
        with self._cond:
            if self._delivered >= self._count - 1 and not self.failed and timeout > 0:
                self._cond.wait(timeout)
            if self._delivered < self._count - 1 and self._latest is not None:
                self._delivered = self._count - 1
                image, stamp = self._latest
                return ReadStatus.FRAME, Frame(image, self._delivered, stamp)
            if self.failed:
                return ReadStatus.FAILED, None
            return ReadStatus.NOT_READY, None

    def stop(self, join_timeout: float = 2.0) -> None:
        self._stop = True
        self._thread.join(join_timeout)
