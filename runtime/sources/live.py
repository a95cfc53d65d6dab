"""Base of the live OpenCV sources (camera, network stream, GStreamer, CSI): threaded latest-frame reading."""

from __future__ import annotations

import cv2

from sofp.runtime.sources.base import Frame, FrameSource, LatestFrameReader, ReadStatus
from sofp.runtime.sources.capture import grabber, reported_fps


class LiveCaptureSource(FrameSource):
    """An opened ``cv2.VideoCapture`` read on a thread; keeps only the newest frame.

    ``read()`` waits up to ``wait_s`` for a new frame, then answers NOT_READY. ``fps`` is the rate
    measured from capture timestamps once 10 frames have arrived, before that the driver's claim
    (or the requested rate). A device that stops delivering answers FAILED with ``error`` set.
    """

    live = True

    def __init__(self, cap: cv2.VideoCapture, name: str, requested_fps: float | None = None,
                 wait_s: float = 0.05) -> None:
        super().__init__()
        self.name = name
        self._cap = cap
        self.wait_s = wait_s
        self.reported_fps = reported_fps(cap)
        self.requested_fps = float(requested_fps or 0.0)
        self._reader: LatestFrameReader | None = LatestFrameReader(grabber(cap), name)

    @property
    def fps(self) -> float:
        measured = self._reader.rate.fps() if self._reader is not None else None
        return measured or self.reported_fps or self.requested_fps or 30.0

    @property
    def fps_measured(self) -> float | None:
        """Frames/s measured from timestamps (None until enough frames arrived)."""
        return self._reader.rate.fps() if self._reader is not None else None

    def read(self) -> tuple[ReadStatus, Frame | None]:
        if self._reader is None:
            return ReadStatus.END, None
        status, frame = self._reader.read(self.wait_s)
        self.dropped = self._reader.dropped
        if status is ReadStatus.FAILED:
            self.error = f"{self.name} stopped delivering frames after {self._reader._count} (disconnected?)"
        return status, frame

    def describe(self) -> dict:
        d = super().describe()
        d.update(reported_fps=self.reported_fps, requested_fps=self.requested_fps or None,
                 measured_fps=self.fps_measured)
        return d

    def close(self) -> None:
        if self._reader is not None:
            self._reader.stop()
            self._reader = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None
