"""USB / V4L2 cameras by index (``0``) or device path (``/dev/video0``)."""

from __future__ import annotations

import glob
import os
import sys

import cv2

from sofp.runtime.errors import SofpError
from sofp.runtime.sources.capture import request_format
from sofp.runtime.sources.live import LiveCaptureSource


def list_video_devices() -> list[str]:
    """``/dev/video*`` nodes present (Linux; empty elsewhere)."""
    return sorted(glob.glob("/dev/video*"), key=lambda p: int("".join(c for c in p if c.isdigit()) or 0))


class CameraSource(LiveCaptureSource):
    """A local camera through ``cv2.VideoCapture``; ``width``/``height``/``fps`` are requests.

    The driver may ignore them: the real rate is measured from capture timestamps (``fps``).
    A missing device raises one :class:`SofpError` line listing the devices that exist.
    """

    def __init__(self, uri: int | str, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None) -> None:
        target: int | str = int(uri) if isinstance(uri, int) or str(uri).isdigit() else str(uri)
        name = f"camera {target}"
        if sys.platform.startswith("linux"):
            path = f"/dev/video{target}" if isinstance(target, int) else target
            if not os.path.exists(path):
                found = ", ".join(list_video_devices()) or "none"
                raise SofpError(f"camera {uri!r} not found: {path} does not exist "
                                f"(video devices here: {found})")
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = cv2.VideoCapture(target, api)
        if not cap.isOpened():
            cap.release()
            found = ", ".join(list_video_devices()) or "none"
            raise SofpError(f"camera {uri!r} could not be opened (busy or not a capture device; "
                            f"video devices here: {found})")
        request_format(cap, width, height, fps)
        super().__init__(cap, name, requested_fps=fps)
