"""Network streams (``rtsp://``, ``http://``, ...) through FFmpeg and GStreamer pipeline strings."""

from __future__ import annotations

import cv2

from sofp.runtime.errors import SofpError
from sofp.runtime.sources.capture import require_gstreamer
from sofp.runtime.sources.live import LiveCaptureSource

NETWORK_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def _redact(uri: str) -> str:
    """``rtsp://user:pass@host`` -> ``rtsp://***@host`` for logs."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


class NetworkSource(LiveCaptureSource):
    """An IP camera or stream URL opened with OpenCV's FFmpeg backend (GStreamer if FFmpeg is absent)."""

    def __init__(self, uri: str, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None) -> None:
        cap = cv2.VideoCapture(uri, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SofpError(f"stream {_redact(uri)} could not be opened (unreachable, wrong path or codec "
                            "FFmpeg cannot decode); check it with: ffprobe <url>")
        super().__init__(cap, f"stream {_redact(uri)}", requested_fps=fps)


class GStreamerSource(LiveCaptureSource):
    """A GStreamer pipeline string ending in ``appsink``, opened with ``cv2.CAP_GSTREAMER``."""

    def __init__(self, pipeline: str, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None, name: str | None = None) -> None:
        require_gstreamer(f"GStreamer pipeline {pipeline[:60]!r}")
        if "appsink" not in pipeline:
            pipeline += " ! videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=2"
        cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)
        if not cap.isOpened():
            cap.release()
            raise SofpError(f"GStreamer pipeline could not be started: {pipeline!r} "
                            "(try it with gst-launch-1.0, replacing appsink by fakesink)")
        super().__init__(cap, name or f"gstreamer {pipeline[:40]}", requested_fps=fps)
