"""Faults injected into a running stream, each with fake sources or writers: the stream goes on or ends as
documented (README, "Runtime: faults"), and nothing already written is lost or corrupted.

Cases: a live source that stalls (waited out, window restarted; silent past the timeout: reconnected),
drops frames, changes resolution, delivers corrupt frames, disappears and comes back (backoff 0.5, 1, 2 s);
the events file's disk fills up (ENOSPC, /dev/full) or it becomes unwritable; SIGINT/SIGTERM while an
event is written; the model file replaced or deleted while running.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_pipeline import FakeBackend, FlakyLive  # tests/runtime/ is on sys.path under pytest

from sofp.runtime import events as events_mod
from sofp.runtime.errors import SofpError, UsageError, run_cli
from sofp.runtime.events import Event, JsonLinesWriter, event_problems, read_jsonl
from sofp.runtime.pipeline import Pipeline, PipelineConfig
from sofp.runtime.runner import ResilientSource, StreamConfig, run_stream
from sofp.runtime.sources.base import MIN_SIDE, BadFrame, Frame, FrameSource, ReadStatus, conform_image
from sofp.runtime.spotting import score_spotting

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clip():
    from sofp.runtime.demo_clip import make_demo_clip

    c = make_demo_clip(seed=0)
    return c, [c.frames[i] for i in range(len(c.frames))]


class ScriptedSource(FrameSource):
    """Plays ``items`` in order: an image -> a frame (index and timestamp from the item's position, plus
    ``t_shift`` from a ("stall", seconds) item on); "drop" skips an index; ("stall", s) shifts later
    timestamps by s (a pause of the stream); a callable is called (a signal, a file change) and skipped."""

    def __init__(self, items, fps=100.0, live=False) -> None:
        super().__init__()
        self.items, self._fps, self.live, self.name = list(items), fps, live, "scripted"
        self.i = self.index = 0
        self.t_shift = 0.0

    def read(self):
        while self.i < len(self.items):
            item = self.items[self.i]
            self.i += 1
            if isinstance(item, str) and item == "drop":
                self.index += 1
            elif isinstance(item, tuple) and item[0] == "stall":
                self.t_shift += item[1]
            elif callable(item):
                item()
            else:
                f = Frame(item, self.index, self.index / self._fps + self.t_shift)
                self.index += 1
                return ReadStatus.FRAME, f
        return ReadStatus.END, None


def _run(items, tmp_path, **kw):
    cfg = StreamConfig(source=ScriptedSource(items), pipeline=PipelineConfig(backend=FakeBackend(), flow="cpu-dis"),
                       events=str(tmp_path / "events.jsonl"), telemetry=str(tmp_path / "tel.jsonl"), quiet=True, **kw)
    code = run_cli(lambda: run_stream(cfg))
    tel = read_jsonl(tmp_path / "tel.jsonl")
    return code, read_jsonl(tmp_path / "events.jsonl"), tel


def _f1(events, truth, shift=0):
    return score_spotting([(e["onset_frame"], e["offset_frame"]) for e in events],
                          [(t.onset + shift, t.offset + shift) for t in truth]).f1


def _valid(events):
    return all(event_problems(e) == [] for e in events)


# --------------------------------------------------------------------------------------------- stalls
def test_stall_with_head_motion_restarts_the_window_and_spots_what_follows(clip):
    """A 3 s pause after which the head sits 5 px away: without the restart the movement 37 frames later was
    lost (the reference was a frame from before the pause)."""
    c, frames = clip
    moved = np.float32([[1, 0, 5.0], [0, 1, 2.5]])
    p = Pipeline(PipelineConfig(backend=FakeBackend(), flow="cpu-dis", fps=c.fps))
    evs = []
    for i, img in enumerate(frames):
        t = i / c.fps
        if i >= 250:
            img, t = cv2.warpAffine(img, moved, (640, 480), borderMode=cv2.BORDER_REFLECT), t + 3.0
        evs += p.feed(Frame(img, i, t))
    assert p.stalls == 1
    assert score_spotting([(e.onset_frame, e.offset_frame) for e in evs], [(t.onset, t.offset) for t in c.truth]).f1 \
        == 1.0


class SilentLive(FrameSource):
    """A live source: ``n`` frames, then NOT_READY for ``silent_reads`` reads (a stall), then frames again."""

    live = True

    def __init__(self, frames, n, silent_reads) -> None:
        super().__init__()
        self.frames, self.n, self.silent, self.i, self.name, self._fps = frames, n, silent_reads, 0, "camera 7", 100.0

    def read(self):
        if self.i == self.n and self.silent > 0:
            self.silent -= 1
            return ReadStatus.NOT_READY, None
        self.i += 1
        return ReadStatus.FRAME, Frame(self.frames[self.i % len(self.frames)], self.i - 1, self.i / 100.0)


def test_short_stall_is_waited_out_long_one_reconnects(clip, monkeypatch):
    _, frames = clip
    clock = [0.0]
    monkeypatch.setattr("sofp.runtime.runner.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("sofp.runtime.runner.time.sleep", lambda s: None)

    def drain(src, reads):
        got = []
        for _ in range(reads):
            clock[0] += 0.05  # each NOT_READY read waits 50 ms in a real live source
            status, f = src.read()
            if status is ReadStatus.FRAME:
                got.append(f.index)
        return got

    short = ResilientSource(SilentLive(frames, 3, silent_reads=100), lambda: pytest.fail("reopened"), retries=2,
                            backoff_s=0.5, log=lambda m: None, stall_timeout_s=10.0)
    assert drain(short, 110)[:4] == [0, 1, 2, 3] and short.reconnects == 0  # 5 s of silence: waited out

    logs: list[str] = []
    long = ResilientSource(SilentLive(frames, 3, silent_reads=10_000), lambda: SilentLive(frames, 5, 0), retries=2,
                           backoff_s=0.5, log=logs.append, stall_timeout_s=10.0)
    got = drain(long, 260)
    assert long.reconnects == 1 and any("no frame for 10.0 s (stalled)" in m for m in logs), logs
    assert got[:3] == [0, 1, 2] and got[3] == 3  # indices continue after the reconnect


# ---------------------------------------------------------------------------------- drops, resolution
def test_dropped_frames_are_counted_and_spotting_goes_on(clip, tmp_path):
    c, frames = clip
    items = ["drop" if i % 9 == 4 else img for i, img in enumerate(frames)]
    code, evs, tel = _run(items, tmp_path)
    assert code == 0 and tel[-1]["index_gaps"] == sum(1 for x in items if isinstance(x, str))
    assert _valid(evs) and _f1(evs, c.truth) == 1.0


def test_resolution_change_mid_stream(clip, tmp_path):
    """640 x 480, then 320 x 240 from frame 240 (between two movements): faces are found at both sizes, every
    movement is spotted, and the clean clip and the annotated recording keep every frame (resized to the first
    frame's size)."""
    c, frames = clip
    items = frames[:240] + [cv2.resize(f, (320, 240), interpolation=cv2.INTER_AREA) for f in frames[240:]]
    code, evs, tel = _run(items, tmp_path, save_clip=str(tmp_path / "clean.avi"), record=str(tmp_path / "rec.avi"))
    assert code == 0 and _valid(evs) and _f1(evs, c.truth) == 1.0
    assert tel[-1]["frames_with_face"] >= 0.95 * len(items) and tel[-1]["size_changes"] == 1
    for name in ("clean.avi", "rec.avi"):
        cap = cv2.VideoCapture(str(tmp_path / name))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(items) and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640
        cap.release()


# ------------------------------------------------------------------------------------- corrupt frames
@pytest.mark.parametrize("name, make, usable", [
    ("None", lambda f: None, False),
    ("float32", lambda f: f.astype(np.float32), False),
    ("int8", lambda f: f.astype(np.int8), False),
    ("2 channels", lambda f: f[..., :2].copy(), False),
    ("1 x 1", lambda f: f[:1, :1].copy(), False),
    ("empty", lambda f: f[:0], False),
    ("a list", lambda f: [[0, 1], [2, 3]], False),
    ("16-bit", lambda f: f.astype(np.uint16) << 8, True),
    ("grey", lambda f: f[..., 1].copy(), True),
    ("grey x 1", lambda f: f[..., 1:2].copy(), True),
    ("BGRA", lambda f: np.dstack([f, np.full(f.shape[:2], 255, np.uint8)]), True),
])
def test_corrupt_frame_is_skipped_or_repaired(clip, name, make, usable):
    _, frames = clip
    image = make(frames[0])
    if usable:
        out = conform_image(image)
        assert out.dtype == np.uint8 and out.shape == (480, 640, 3)
        if name in ("16-bit", "BGRA"):
            assert np.array_equal(out, frames[0])
        else:
            assert np.array_equal(out[..., 0], frames[0][..., 1]) and np.array_equal(out[..., 2], out[..., 0])
    else:
        with pytest.raises(BadFrame):
            conform_image(image)
    p = Pipeline(PipelineConfig(backend=FakeBackend(), flow="cpu-dis", fps=100.0))
    for i in range(40):
        p.feed(Frame(image if i == 20 else frames[i], i, i / 100.0))
        if i == 20:
            assert (p.telemetry.state == "bad-frame") is not usable
    assert p.bad_frames == (0 if usable else 1) and p.frames == 40 and p.frames_with_face == 40 - p.bad_frames


def test_corrupt_frames_in_a_stream_are_said_once_and_counted(clip, tmp_path, capsys):
    c, frames = clip
    bad = [None, np.zeros((1, 1, 3), np.uint8), frames[0].astype(np.float64)]
    items = [bad[(i // 50) % 3] if i % 50 == 25 else img for i, img in enumerate(frames)]
    cfg = StreamConfig(source=ScriptedSource(items), pipeline=PipelineConfig(backend=FakeBackend(), flow="cpu-dis"),
                       events=str(tmp_path / "e.jsonl"), telemetry=str(tmp_path / "t.jsonl"),
                       save_clip=str(tmp_path / "c.avi"))
    assert run_cli(lambda: run_stream(cfg)) == 0
    err = capsys.readouterr().err
    assert err.count("skipped: not an image: NoneType") == 1 and "8 unusable frames skipped" in err, err[-800:]
    tel = read_jsonl(tmp_path / "t.jsonl")
    assert tel[-1]["bad_frames"] == 8 and sum(r.get("state") == "bad-frame" for r in tel) == 8
    evs = read_jsonl(tmp_path / "e.jsonl")
    assert _valid(evs) and _f1(evs, c.truth) == 1.0


def test_min_side_matches_the_detector():
    assert conform_image(np.zeros((MIN_SIDE, MIN_SIDE, 3), np.uint8)).shape == (MIN_SIDE, MIN_SIDE, 3)
    with pytest.raises(BadFrame, match="smaller than"):
        conform_image(np.zeros((MIN_SIDE - 1, 640, 3), np.uint8))


# ------------------------------------------------------------------------------ disappears, comes back
def test_source_that_disappears_comes_back_after_backoff(clip, monkeypatch):
    _, frames = clip
    slept: list[float] = []
    monkeypatch.setattr("sofp.runtime.runner.time.sleep", slept.append)
    attempts = iter([SofpError("camera 9: connection refused"), SofpError("camera 9: connection refused"),
                     FlakyLive(frames, 4)])

    def reopen():
        x = next(attempts)
        if isinstance(x, Exception):
            raise x
        return x

    resets: list[int] = []
    src = ResilientSource(FlakyLive(frames, 3), reopen, retries=5, backoff_s=0.5, log=lambda m: None,
                          on_reconnect=lambda: resets.append(1))
    got = []
    while len(got) < 7:
        status, f = src.read()
        if status is ReadStatus.FRAME:
            got.append(f.index)
    assert slept == [0.5, 1.0, 2.0]  # 0.5 s doubling per try
    assert got == [0, 1, 2, 3, 4, 5, 6] and src.reconnects == 1 and resets == [1]


# ----------------------------------------------------------------------------- events file: disk full
def test_dev_full_is_one_line():
    w = JsonLinesWriter("/dev/full")
    with pytest.raises(SofpError, match=r"cannot write /dev/full \(No space left on device\) after 0 lines") as e:
        w.write({"type": "x"})
    w.close()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_writer_failure_mid_line_keeps_the_file_whole(tmp_path, monkeypatch, err):
    """Three lines go out; the fourth is half written (a short write) when the disk fills up or the file
    becomes unwritable: the half line is cut off, the three stay valid JSON Lines."""
    path = tmp_path / "events.jsonl"
    w = JsonLinesWriter(path)
    for k in range(3):
        w.write({"type": "x", "k": k})
    real_write = os.write
    calls = []

    def failing(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(events_mod.os, "write", failing)
    with pytest.raises(SofpError, match=r"after 3 lines; the 3 lines written are kept whole"):
        w.write({"type": "x", "k": 3, "pad": "y" * 100})
    w.close()
    assert [r["k"] for r in read_jsonl(path)] == [0, 1, 2] and path.read_bytes().endswith(b"}\n")


def test_unwritable_events_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write"):
        JsonLinesWriter("/dev/null/events.jsonl")


def test_disk_full_mid_stream_exits_1_with_events_kept(clip, tmp_path, monkeypatch, capsys):
    _c, frames = clip
    real_write = os.write
    n_event_writes = []

    def full_after_one_event(fd, data):
        if b'"type":"event"' in bytes(data[:20]):
            n_event_writes.append(1)
            if len(n_event_writes) >= 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(events_mod.os, "write", full_after_one_event)
    cfg = StreamConfig(source=ScriptedSource(frames), pipeline=PipelineConfig(backend=FakeBackend(), flow="cpu-dis"),
                       events=str(tmp_path / "events.jsonl"))
    assert run_cli(lambda: run_stream(cfg)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot write") and "No space left on device" in err[-1], err
    got = read_jsonl(tmp_path / "events.jsonl")
    assert len(got) == 1 and _valid(got)


def test_cli_telemetry_to_dev_full_exits_1(tmp_path):
    """The real device: the telemetry's first line (the start record) cannot be written."""
    video = tmp_path / "noise.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 100.0, (160, 120))
    for k in range(20):
        writer.write(np.full((120, 160, 3), 60 + k, np.uint8))
    writer.release()
    out = subprocess.run([sys.executable, "runtime/stream.py", "--video", str(video), "--telemetry", "/dev/full",
                          "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "Traceback" not in out.stderr


# ----------------------------------------------------------------------------- signals while writing
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_an_event_is_written(clip, tmp_path, monkeypatch, sig, code):
    """The signal lands inside the write of the first event: that line, and its frame's telemetry, are
    finished before the run ends; the summary counts exactly what is on disk."""
    _c, frames = clip
    real_write = os.write

    def signal_mid_event(fd, data):
        if b'"type":"event"' in bytes(data[:20]):
            os.kill(os.getpid(), sig)
            n = real_write(fd, bytes(data[:10]))  # part of the line, then the rest in the next call
            return n
        return real_write(fd, data)

    monkeypatch.setattr(events_mod.os, "write", signal_mid_event)
    # Python's own Ctrl-C handler (a shell starts background jobs with SIGINT ignored, and ignored it would stay)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code_got, evs, tel = _run(frames, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code_got == code
    assert len(evs) == 1 and _valid(evs)
    assert tel[-1]["type"] == "summary" and tel[-1]["events"] == 1 and tel[-1]["interrupted"]
    frame_recs = [r for r in tel if r["type"] == "frame"]
    assert frame_recs[-1]["events"] == 1 and tel[-1]["frames"] == len(frame_recs)
    assert evs[0]["offset_frame"] <= frame_recs[-1]["index"]


# --------------------------------------------------------------------------- the model file changes
@pytest.mark.parametrize("change", ["deleted", "replaced with garbage", "replaced with another model"])
def test_model_file_changed_while_running(clip, tmp_path, change):
    """The model is read once, at start: the stream goes on with it; the next start checks the file against
    its sidecar and refuses a foreign one with one line."""
    from sofp.runtime.infer.base import builtin_onnx

    c, frames = clip
    model = tmp_path / "m.onnx"
    shutil.copy(builtin_onnx(), model)
    shutil.copy(str(builtin_onnx()) + ".json", str(model) + ".json")

    def change_it():
        if change == "deleted":
            model.unlink()
        elif change == "replaced with garbage":
            model.write_bytes(b"\x00garbage" * 100)
        else:  # same graph, one weight changed: a model of other weights
            import onnx

            g = onnx.load(builtin_onnx())
            init = g.graph.initializer[0]
            arr = onnx.numpy_helper.to_array(init).copy()
            arr.flat[0] += 1.0
            init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
            onnx.save(g, model)

    items = [*frames[:150], change_it, *frames[150:]]
    cfg = StreamConfig(source=ScriptedSource(items), pipeline=PipelineConfig(backend="onnxruntime", flow="cpu-dis",
                                                                             model=str(model)),
                       events=str(tmp_path / "events.jsonl"), quiet=True)
    assert run_cli(lambda: run_stream(cfg)) == 0
    evs = read_jsonl(tmp_path / "events.jsonl")
    assert _valid(evs) and _f1(evs, c.truth) == 1.0
    from sofp.runtime.infer.onnxruntime import OnnxRuntimeBackend

    with pytest.raises(SofpError) as e:
        OnnxRuntimeBackend(model)
    assert "\n" not in str(e.value)
    assert ("not found" in str(e.value)) if change == "deleted" else ("does not match its sidecar" in str(e.value))


def test_event_lines_are_whole_json(tmp_path):
    """The writer's unit: each line a complete object, nothing buffered after write returns."""
    path = tmp_path / "e.jsonl"
    w = JsonLinesWriter(path)
    ev = Event(1, 2, 3, 0.01, 0.02, 0.03, "surprise", {"negative": 0.2, "positive": 0.3, "surprise": 0.5}, 0.4)
    w.write(ev)
    assert json.loads(path.read_text()) == ev.to_dict()  # on disk before close
    w.close()
