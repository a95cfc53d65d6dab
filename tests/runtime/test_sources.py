"""Frame sources: URI parsing, files written here and read back, truncated/unreadable files, folders,
the latest-frame reader's drop counting, live-source failure, GStreamer/CSI string building."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.sources import SOURCES, open_source, source_kind
from sofp.runtime.sources.base import Frame, LatestFrameReader, RateMeter, ReadStatus
from sofp.runtime.sources.csi import csi_pipeline, parse_csi_uri
from sofp.runtime.sources.folder import numeric_sort_key
from sofp.runtime.sources.live import LiveCaptureSource


def _write_video(path: str, n: int = 40, fps: float = 120.0, fourcc: str = "MJPG") -> None:
    w = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (96, 64))
    assert w.isOpened()
    for i in range(n):
        img = np.full((64, 96, 3), (i * 6) % 256, np.uint8)
        cv2.putText(img, str(i), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        w.write(img)
    w.release()


def _read_all(src) -> tuple[list[Frame], ReadStatus]:
    frames = []
    while True:
        status, frame = src.read()
        if status is not ReadStatus.FRAME:
            return frames, status
        frames.append(frame)


@pytest.mark.parametrize(("uri", "kind"), [
    (0, "camera"), ("3", "camera"), ("/dev/video2", "camera"), ("v4l2:///dev/video1", "camera"),
    ("rtsp://cam.local:554/stream", "network"), ("http://host/video.mjpg", "network"),
    ("videotestsrc ! videoconvert ! appsink", "gstreamer"), ("csi://0", "csi"), ("demo", "demo"),
])
def test_source_kind_by_scheme(uri, kind):
    assert source_kind(uri)[0] == kind
    assert kind in SOURCES.names()


def test_source_kind_files_and_folders(tmp_path):
    f = tmp_path / "clip.avi"
    f.write_bytes(b"x")
    assert source_kind(str(f)) == ("video", str(f))
    assert source_kind(f"file://{f}") == ("video", str(f))
    assert source_kind(str(tmp_path)) == ("folder", str(tmp_path))
    with pytest.raises(UsageError, match="not found"):
        source_kind(str(tmp_path / "missing.mp4"))
    with pytest.raises(UsageError, match="unknown source scheme"):
        source_kind("ftp://x/y")
    with pytest.raises(UsageError):
        source_kind(-1)


def test_video_written_then_read_back_with_rate_and_timestamps(tmp_path):
    path = str(tmp_path / "clip.avi")
    _write_video(path, n=40, fps=120.0)
    with open_source(path) as src:
        assert src.fps == pytest.approx(120.0)
        assert not src.live
        frames, status = _read_all(src)
    assert status is ReadStatus.END and src.error == ""
    assert [f.index for f in frames] == list(range(40))
    stamps = np.array([f.timestamp for f in frames])
    np.testing.assert_allclose(stamps, np.arange(40) / 120.0, atol=1e-3)
    assert frames[0].image.shape == (64, 96, 3) and frames[0].image.dtype == np.uint8


def test_video_fps_override(tmp_path):
    path = str(tmp_path / "clip.avi")
    _write_video(path, n=10, fps=25.0)
    with open_source(path, fps=200.0) as src:
        frames, _ = _read_all(src)
    assert src.fps == 200.0
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(10) / 200.0)


def test_truncated_video_is_failed_not_end(tmp_path):
    path = str(tmp_path / "clip.avi")
    _write_video(path, n=50)
    data = Path(path).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with open_source(str(cut)) as src:
        frames, status = _read_all(src)
    assert status is ReadStatus.FAILED
    assert 0 < len(frames) < 50
    assert "truncated" in src.error and "\n" not in src.error


def test_unreadable_and_cut_mp4_give_one_line(tmp_path):
    bad = tmp_path / "notavideo.mp4"
    bad.write_bytes(os.urandom(2000))
    with pytest.raises(SofpError) as exc:
        open_source(str(bad))
    assert "cannot read video" in str(exc.value) and "\n" not in str(exc.value)
    path = str(tmp_path / "clip.mp4")
    _write_video(path, n=20, fourcc="mp4v")
    data = Path(path).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov atom) is at the end: gone
    with pytest.raises(SofpError, match="cannot read video"):
        open_source(str(cut))


def test_missing_camera_index_is_one_line():
    with pytest.raises(SofpError) as exc:
        open_source(97)
    msg = str(exc.value)
    assert "camera 97" in msg and "\n" not in msg


def test_folder_sorted_numerically(tmp_path):
    for i in (10, 2, 1, 33, 3):
        img = np.full((8, 8, 3), i, np.uint8)
        cv2.imwrite(str(tmp_path / f"img{i}.png"), img)
    (tmp_path / "notes.txt").write_text("not a frame")
    with open_source(str(tmp_path), fps=200) as src:
        frames, status = _read_all(src)
    assert status is ReadStatus.END
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 3, 10, 33]
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(5) / 200.0)
    assert sorted(["a10", "a9", "A1"], key=numeric_sort_key) == ["A1", "a9", "a10"]


def test_empty_folder_bad_frame_and_no_rate(tmp_path):
    with pytest.raises(UsageError, match="holds no images"):
        open_source(str(tmp_path), fps=30)
    (tmp_path / "1.png").write_bytes(b"broken")
    with pytest.raises(UsageError, match="give its frame rate with --fps"):
        open_source(str(tmp_path))
    with open_source(str(tmp_path), fps=30) as src:
        assert src.read() == (ReadStatus.FAILED, None)
        assert "could not be decoded" in src.error


def test_latest_frame_reader_counts_drops():
    produced = []

    def grab():
        time.sleep(0.002)
        produced.append(len(produced))
        if len(produced) > 60:
            return False, None, time.monotonic()
        return True, np.zeros((4, 4, 3), np.uint8), time.monotonic()

    reader = LatestFrameReader(grab, "fake")
    got = []
    while True:
        status, frame = reader.read(timeout=0.05)
        if status is ReadStatus.FAILED:
            break
        if status is ReadStatus.FRAME:
            got.append(frame.index)
            time.sleep(0.009)  # a consumer slower than the source
    reader.stop()
    assert got == sorted(got) and len(got) < 60
    # every captured frame is either delivered or counted as dropped (the last may be pending)
    assert len(got) + reader.dropped in (60, 59)
    assert reader.rate.fps() is not None and 5 < reader.rate.fps() <= 500  # a 2 ms producer, a busy CI


class _FakeCap:
    """Stands in for cv2.VideoCapture: delivers ``n`` frames, then the device is gone."""

    def __init__(self, n: int) -> None:
        self.n, self.i = n, 0
        self.lock = threading.Lock()

    def grab(self) -> bool:
        time.sleep(0.001)
        self.i += 1
        return self.i <= self.n

    def retrieve(self):
        return True, np.zeros((6, 8, 3), np.uint8)

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        pass


def test_live_source_that_drops_out_fails():
    src = LiveCaptureSource(_FakeCap(5), "fake camera")
    statuses = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        status, _ = src.read()
        statuses.append(status)
        if status is ReadStatus.FAILED:
            break
    src.close()
    assert ReadStatus.FRAME in statuses and statuses[-1] is ReadStatus.FAILED
    assert "stopped delivering" in src.error
    assert src.live


def test_rate_meter_measures_not_claims():
    m = RateMeter(min_frames=5)
    assert m.fps() is None
    for i in range(20):
        m.add(i / 47.0)
    assert m.fps() == pytest.approx(47.0)


def test_gstreamer_missing_is_one_line(monkeypatch):
    import sofp.runtime.sources.capture as capture

    monkeypatch.setattr(capture, "has_gstreamer", lambda: False)
    with pytest.raises(UsageError, match="GStreamer") as exc:
        open_source("videotestsrc ! appsink")
    assert "\n" not in str(exc.value)
    with pytest.raises(UsageError, match="GStreamer"):
        open_source("csi://0")


def test_csi_pipeline_string():
    s = csi_pipeline(1, 1920, 1080, 30)
    assert s.startswith("nvarguscamerasrc sensor-id=1 ! ")
    assert "width=(int)1920, height=(int)1080" in s and "framerate=(fraction)30/1" in s
    assert "nvvidconv flip-method=0" in s and s.endswith("appsink drop=true max-buffers=1")
    assert "framerate=(fraction)59940/1000" in csi_pipeline(0, 1280, 720, 59.94)
    assert parse_csi_uri("csi://2") == 2
    with pytest.raises(UsageError):
        parse_csi_uri("csi://front")
    with pytest.raises(UsageError):
        csi_pipeline(0, 0, 720, 30)


def test_demo_source_plays_clip():
    from sofp.runtime.demo_clip import make_demo_clip
    from sofp.runtime.sources.demo import DemoSource

    clip = make_demo_clip(seed=3, fps=50.0, duration_s=2.0)
    with DemoSource(clip=clip) as src:
        first = src.read()[1]
        assert first.image.shape == (480, 640, 3) and src.fps == 50.0
        n = 1 + sum(1 for _ in src)
    assert n == len(clip.frames) == 100
