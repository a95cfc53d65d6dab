"""The pipeline on the demo clip (real face, injected micro-movements), with a fake inference backend:
spotting finds the injected intervals, frames without a face do not crash, an interrupted run keeps
every event emitted before, a failing live source is retried then ends with one line."""

from __future__ import annotations

import numpy as np
import pytest

from sofp.runtime.errors import SofpError
from sofp.runtime.events import Event, read_jsonl
from sofp.runtime.pipeline import Pipeline, PipelineConfig
from sofp.runtime.runner import ResilientSource, StreamConfig, run_stream
from sofp.runtime.sources.base import Frame, FrameSource, ReadStatus
from sofp.runtime.spotting import score_spotting

LABELS = ["negative", "positive", "surprise"]


class FakeBackend:
    """Deterministic stand-in for a model: probabilities from the input's channel means."""

    name = "fake"
    labels = LABELS
    description = "fake model"

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert x.dtype == np.float32 and x.shape[1:] == (3, 28, 28)
        assert x.min() >= 0.0 and x.max() <= 1.0
        self.calls += 1
        z = x.mean(axis=(2, 3)) * 4
        e = np.exp(z - z.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True)).astype(np.float32)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def clip():
    from sofp.runtime.demo_clip import make_demo_clip

    c = make_demo_clip(seed=0)
    frames = [c.frames[i] for i in range(len(c.frames))]  # render once for every test here
    return c, frames


def _config(**kw) -> PipelineConfig:
    return PipelineConfig(backend=FakeBackend(), flow="cpu-dis", **kw)


class ListSource(FrameSource):
    """Frames from a list; ``interrupt_at``: raise KeyboardInterrupt there (a Ctrl-C mid-stream)."""

    def __init__(self, frames, fps, interrupt_at=None, truth=()) -> None:
        super().__init__()
        self.frames, self._fps, self.i, self.interrupt_at = frames, fps, 0, interrupt_at
        self.name = "list"

    def read(self):
        if self.interrupt_at is not None and self.i == self.interrupt_at:
            raise KeyboardInterrupt
        if self.i >= len(self.frames):
            return ReadStatus.END, None
        f = Frame(self.frames[self.i], self.i, self.i / self._fps)
        self.i += 1
        return ReadStatus.FRAME, f


def test_demo_clip_spotting_finds_every_injected_movement(clip):
    c, frames = clip
    with Pipeline(_config(fps=c.fps)) as p:
        events = list(p.run(ListSource(frames, c.fps)))
        tel = p.telemetry
    truth = [(t.onset, t.offset) for t in c.truth]
    score = score_spotting([(e.onset_frame, e.offset_frame) for e in events], truth)
    assert score.f1 == 1.0, (events, truth)
    for ev, t in zip(events, c.truth, strict=True):
        assert isinstance(ev, Event) and ev.label in LABELS
        assert sum(ev.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert ev.onset_time == pytest.approx(ev.onset_frame / c.fps)
        assert abs(ev.apex_frame - t.apex) <= 0.05 * c.fps  # apex within 50 ms
        assert ev.duration < 0.55 and ev.magnitude > 0
        assert ev.face_box is not None
    assert set(tel.stages_ms) == {"face", "align", "flow", "spot", "infer"}
    assert p.frames == len(frames) and p.frames_with_face == len(frames)


def test_frames_without_a_face_do_not_crash(clip):
    c, frames = clip
    blank = np.full_like(frames[0], 128)
    stream = [blank] * 20 + frames[:60] + [blank] * 10 + frames[60:120]
    p = Pipeline(_config(fps=c.fps))
    out = [p.feed(Frame(img, i, i / c.fps)) for i, img in enumerate(stream)]
    assert all(isinstance(x, list) for x in out)
    assert p.frames_with_face < len(stream)
    p.feed(Frame(blank, len(stream), len(stream) / c.fps))
    assert p.telemetry.face is False and p.telemetry.state == "no-face"


def test_fps_is_measured_from_timestamps_when_unknown(clip):
    _c, frames = clip
    p = Pipeline(_config())
    for i in range(12):
        p.feed(Frame(frames[i], i, 0.005 * i))  # 200 frames/s
    assert p.fps == pytest.approx(200.0)
    assert p.spotter is not None and p.spotter.lag == round(0.3 * 200)


def test_index_gaps_are_counted(clip):
    c, frames = clip
    p = Pipeline(_config(fps=c.fps))
    for i in (0, 1, 2, 5, 6, 10):
        p.feed(Frame(frames[i], i, i / c.fps))
    assert p.gaps == 5


def test_interrupted_run_keeps_every_event_emitted_before(clip, tmp_path):
    c, frames = clip
    cut = c.truth[1].offset + 20  # after two movements have been reported
    events_file = tmp_path / "events.jsonl"
    tel_file = tmp_path / "telemetry.jsonl"
    config = StreamConfig(source=ListSource(frames, c.fps, interrupt_at=cut), pipeline=_config(),
                          events=str(events_file), telemetry=str(tel_file), quiet=True)
    assert run_stream(config) == 130
    got = read_jsonl(events_file)
    assert len(got) == 2 and all(r["type"] == "event" for r in got)
    assert got[0]["label"] in LABELS and set(got[0]["probabilities"]) == set(LABELS)
    tel = read_jsonl(tel_file)
    assert tel[0]["type"] == "start" and tel[-1]["type"] == "summary"
    assert tel[-1]["interrupted"] is True and tel[-1]["frames"] == cut and tel[-1]["events"] == 2
    frames_rec = [r for r in tel if r["type"] == "frame"]
    assert len(frames_rec) == cut and set(frames_rec[-1]["stages_ms"]) == {"face", "align", "flow", "spot", "infer"}


class FlakyLive(FrameSource):
    """A live source that delivers ``n`` frames then fails."""

    live = True

    def __init__(self, frames, n) -> None:
        super().__init__()
        self.frames, self.n, self.i, self.name, self._fps = frames, n, 0, "camera 9", 100.0

    def read(self):
        if self.i >= self.n:
            self.error = "stopped delivering frames"
            return ReadStatus.FAILED, None
        self.i += 1
        return ReadStatus.FRAME, Frame(self.frames[self.i - 1], self.i - 1, self.i / 100.0)


def test_live_source_reconnects_then_gives_up_with_one_line(clip):
    _, frames = clip
    opened = []

    def reopen():
        if len(opened) >= 1:
            raise SofpError("camera 9 not found")
        opened.append(1)
        return FlakyLive(frames, 3)

    logs: list[str] = []
    src = ResilientSource(FlakyLive(frames, 5), reopen, retries=3, backoff_s=0.001, log=logs.append)
    indices = []
    with pytest.raises(SofpError, match=r"camera 9 dropped out \(camera 9 not found\) and did not come back "
                                         r"after 3 tries") as exc:
        while True:
            status, f = src.read()
            if status is ReadStatus.FRAME:
                indices.append(f.index)
    assert "\n" not in str(exc.value)
    assert indices == [0, 1, 2, 3, 4, 5, 6, 7]  # indices continue across the reconnect
    assert src.reconnects == 1 and any("reconnected" in m for m in logs)
