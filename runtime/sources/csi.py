"""Jetson CSI cameras (``csi://0``) through an ``nvarguscamerasrc`` GStreamer pipeline built for the user."""

from __future__ import annotations

from sofp.runtime.errors import UsageError
from sofp.runtime.sources.network import GStreamerSource

CSI_DEFAULT = (1280, 720, 60.0)


def csi_pipeline(sensor_id: int = 0, width: int = 1280, height: int = 720, fps: float = 60.0,
                 flip: int = 0) -> str:
    """The nvarguscamerasrc -> nvvidconv -> BGR appsink pipeline for sensor ``sensor_id``.

    Capture happens in NVMM memory at ``width x height @ fps``; nvvidconv converts to BGRx on the
    VIC, videoconvert drops the x. ``appsink drop=true max-buffers=1`` keeps only the newest frame.
    """
    if sensor_id < 0 or width <= 0 or height <= 0 or fps <= 0 or flip not in range(8):
        raise UsageError(f"bad CSI camera settings: sensor {sensor_id}, {width}x{height} @ {fps} fps, "
                         f"flip {flip} (valid: sensor >= 0, positive size and rate, flip 0..7)")
    rate = f"{round(fps * 1000)}/1000" if fps != int(fps) else f"{int(fps)}/1"
    return (f"nvarguscamerasrc sensor-id={sensor_id} ! "
            f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, "
            f"format=(string)NV12, framerate=(fraction){rate} ! "
            f"nvvidconv flip-method={flip} ! video/x-raw, format=(string)BGRx ! "
            "videoconvert ! video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1")


def parse_csi_uri(uri: str) -> int:
    """``csi://0`` -> 0; anything else raises one line."""
    rest = uri[len("csi://"):] if uri.startswith("csi://") else ""
    if not rest.isdigit():
        raise UsageError(f"bad CSI camera URI {uri!r} (valid: csi://0, csi://1, ...)")
    return int(rest)


class CsiSource(GStreamerSource):
    """A Jetson CSI camera: ``csi://N`` with optional width/height/fps (default 1280x720 @ 60)."""

    def __init__(self, uri: str, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None) -> None:
        sensor = parse_csi_uri(uri)
        w, h, r = width or CSI_DEFAULT[0], height or CSI_DEFAULT[1], fps or CSI_DEFAULT[2]
        super().__init__(csi_pipeline(sensor, w, h, r), fps=r, name=f"csi camera {sensor}")
