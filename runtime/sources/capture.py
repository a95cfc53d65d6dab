"""Small OpenCV VideoCapture helpers shared by the camera, network, GStreamer and CSI sources."""

from __future__ import annotations

import os
import re
import time

import cv2
import numpy as np

from sofp.runtime.errors import UsageError


def quiet_library_logs() -> None:
    """Keep FFmpeg's and OpenCV's own log lines (``moov atom not found``, ``[ WARN ...]``) off the terminal:
    the CLI reports each failure in one line of its own. ``OPENCV_FFMPEG_LOGLEVEL`` / ``OPENCV_LOG_LEVEL``
    set in the environment win. FFmpeg reads its level when the first capture opens."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def build_info_flag(name: str) -> bool:
    """Whether OpenCV's build information lists the Video I/O backend ``name`` as YES."""
    m = re.search(rf"^\s*{re.escape(name)}:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    return bool(m) and m.group(1).upper().startswith("YES")


def has_gstreamer() -> bool:
    """True when this OpenCV build can open GStreamer pipelines (cv2.CAP_GSTREAMER)."""
    return build_info_flag("GStreamer")


def require_gstreamer(what: str) -> None:
    """One clear line when a GStreamer pipeline is asked of an OpenCV built without GStreamer."""
    if not has_gstreamer():
        raise UsageError(
            f"{what} needs an OpenCV built with GStreamer, and this one ({cv2.__version__}) has none; "
            "use the OpenCV of JetPack or a source build with -DWITH_GSTREAMER=ON, "
            "or pass a file/camera instead")


def request_format(cap: cv2.VideoCapture, width: int | None, height: int | None, fps: float | None) -> None:
    """Ask the driver for a resolution and rate (it may ignore the request; the rate is measured anyway)."""
    if width:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(width))
    if height:
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(height))
    if fps:
        cap.set(cv2.CAP_PROP_FPS, float(fps))


def reported_fps(cap: cv2.VideoCapture) -> float:
    """The rate the driver or container claims (0.0 when it claims nothing usable)."""
    v = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    return v if np.isfinite(v) and 0.5 < v < 10000 else 0.0


def grabber(cap: cv2.VideoCapture):
    """A ``grab() -> (ok, image BGR uint8, monotonic timestamp s)`` closure for LatestFrameReader.

    The timestamp is taken right after ``grab`` returns (the frame's arrival), before decoding.
    """

    def grab() -> tuple[bool, np.ndarray | None, float]:
        ok = cap.grab()
        stamp = time.monotonic()
        if not ok:
            return False, None, stamp
        ok, image = cap.retrieve()
        if ok and image is not None and image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return bool(ok and image is not None), image, stamp

    return grab
