"""Video files (``clip.mp4``, ``file://clip.avi``): rate and timestamps from the container."""

from __future__ import annotations

import os

import cv2

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.sources.base import Frame, FrameSource, ReadStatus
from sofp.runtime.sources.capture import reported_fps


class VideoSource(FrameSource):
    """A video file decoded with OpenCV (FFmpeg), frame by frame, never dropping.

    ``fps`` comes from the container (``fps`` argument overrides it: for files whose header is
    wrong). Timestamps are the decoder's presentation time in seconds (index / fps when the
    container gives none). Reaching the container's frame count is END; the decoder giving up
    earlier (a truncated or corrupt file) is FAILED with ``error`` saying where.
    An unreadable file raises one :class:`SofpError` line when opened.
    """

    def __init__(self, uri: str, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None) -> None:
        super().__init__()
        path = uri[len("file://"):] if uri.startswith("file://") else uri
        self.name = f"video {path}"
        if not os.path.isfile(path):
            raise UsageError(f"video {path!r} not found")
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SofpError(f"cannot read video {path!r}: not a video OpenCV/FFmpeg can decode "
                            "(truncated, corrupt or unsupported codec; valid: mp4, avi, mkv, mov, ...)")
        container_fps = reported_fps(cap)
        self._fps = float(fps) if fps else container_fps
        if self._fps <= 0:
            cap.release()
            raise SofpError(f"video {path!r} does not say its frame rate; pass it with --fps")
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._cap = cap
        self._index = 0
        self._last_t = -1.0
        self._path = path
        self._override = bool(fps) and abs(float(fps) - container_fps) > 1e-6

    def read(self) -> tuple[ReadStatus, Frame | None]:
        if self._cap is None:
            return ReadStatus.END, None
        ok, image = self._cap.read()
        if not ok or image is None:
            if self._index == 0:
                self.error = f"cannot read video {self._path!r}: no frame could be decoded"
                return ReadStatus.FAILED, None
            # Frame counts of some containers are estimates: allow a couple of frames of slack.
            if self.frame_count > 0 and self._index < self.frame_count - 2:
                self.error = (f"video {self._path!r} ended at frame {self._index} of {self.frame_count} "
                              "(file truncated or corrupt)")
                return ReadStatus.FAILED, None
            return ReadStatus.END, None
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        t = self._index / self._fps
        if not self._override:
            pos = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if pos > self._last_t or (self._index == 0 and pos >= 0):
                t = pos
        self._last_t = t
        frame = Frame(image, self._index, t)
        self._index += 1
        return ReadStatus.FRAME, frame

    def describe(self) -> dict:
        d = super().describe()
        d["frame_count"] = self.frame_count
        return d

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
