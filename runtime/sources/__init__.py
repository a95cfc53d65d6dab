"""Frame sources: cameras, files, network streams, GStreamer/CSI pipelines, folders and the demo clip.

``open_source(uri)`` normalises the shorthand and picks the class from the scheme [JU]:

=====================================  ==========
``0``, ``"0"``, ``/dev/video0``         camera
``rtsp://``, ``http(s)://``, ...        network
a string with `` ! `` (GStreamer)       gstreamer
``csi://0``                             csi
a folder of images                      folder
``clip.mp4``, ``file://clip.mp4``       video
``demo``                                demo
=====================================  ==========
"""

from __future__ import annotations

import os
import re

from sofp.runtime.errors import UsageError
from sofp.runtime.registry import Registry
from sofp.runtime.sources.base import Frame, FrameSource, ReadStatus

SOURCES: Registry[FrameSource] = Registry("source")
SOURCES.add("camera", "sofp.runtime.sources.camera:CameraSource")
SOURCES.add("video", "sofp.runtime.sources.video:VideoSource")
SOURCES.add("network", "sofp.runtime.sources.network:NetworkSource")
SOURCES.add("gstreamer", "sofp.runtime.sources.network:GStreamerSource")
SOURCES.add("csi", "sofp.runtime.sources.csi:CsiSource")
SOURCES.add("folder", "sofp.runtime.sources.folder:FolderSource")
SOURCES.add("demo", "sofp.runtime.sources.demo:DemoSource")

_NETWORK = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
_VALID = ("valid: a camera index (0), /dev/videoN, rtsp://..., http://..., a video file, "
          "a folder of frames, a GStreamer pipeline (... ! appsink), csi://N, demo")


def source_kind(uri: str | int) -> tuple[str, str | int]:
    """``(registry name, normalised uri)`` for a source URI or shorthand; bad input raises one line."""
    if isinstance(uri, bool):
        raise UsageError(f"bad source {uri!r}; {_VALID}")
    if isinstance(uri, int):
        if uri < 0:
            raise UsageError(f"bad camera index {uri}; {_VALID}")
        return "camera", uri
    s = str(uri).strip()
    if not s:
        raise UsageError(f"empty source; {_VALID}")
    low = s.lower()
    if s.isdigit():
        return "camera", int(s)
    if re.fullmatch(r"/dev/video\d+", s) or low.startswith("v4l2://"):
        return "camera", s if s.startswith("/dev/") else "/dev/video" + s[len("v4l2://"):].lstrip("/")
    if low in ("demo", "demo://"):
        return "demo", "demo"
    if low.startswith("csi://"):
        return "csi", s
    if low.startswith(_NETWORK):
        return "network", s
    if " ! " in s or low.startswith(("gst://", "gst:")):
        return "gstreamer", re.sub(r"^gst:(//)?", "", s, flags=re.IGNORECASE)
    path = s[len("file://"):] if low.startswith("file://") else s
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        return "folder", path
    if os.path.isfile(path):
        return "video", path
    if "://" in s:
        raise UsageError(f"unknown source scheme in {s!r}; {_VALID}")
    raise UsageError(f"source {s!r} not found: no such file or folder ({_VALID})")


def open_source(uri: str | int, *, width: int | None = None, height: int | None = None,
                fps: float | None = None) -> FrameSource:
    """Open the frame source ``uri`` names; ``width``/``height``/``fps`` are requests (cameras) or
    overrides (``fps`` for folders and files whose container lies). Errors: one line (SofpError)."""
    kind, target = source_kind(uri)
    return SOURCES.create(kind, target, width=width, height=height, fps=fps)


__all__ = ["SOURCES", "Frame", "FrameSource", "ReadStatus", "open_source", "source_kind"]
