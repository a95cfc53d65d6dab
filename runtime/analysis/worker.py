"""The work of one chunk of one video, in a worker process: frames -> pipeline -> events with their evidence.

Each worker is single-threaded (OpenCV, ONNX Runtime and BLAS on one thread, as benchmarked) and keeps
its inference backend between chunks. Besides the events, a chunk returns the motion trace of the
frames it owns and, per event, what the model was given: the onset face crop, the apex crop aligned to
it, and the feature image of the flow between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sofp.runtime.analysis.chunks import Chunk
from sofp.runtime.analysis.video import SeekableVideo
from sofp.runtime.errors import SofpError
from sofp.runtime.events import Event
from sofp.runtime.features import flow_to_features
from sofp.runtime.pipeline import Pipeline, PipelineConfig
from sofp.runtime.sources.base import ReadStatus

PROGRESS_EVERY = 50  # frames between progress reports and stop checks


class Cancelled(Exception):
    """The run was interrupted while this chunk was being analysed."""


@dataclass(frozen=True)
class ChunkJob:
    """One chunk of one video: ``restarts`` are the frames where the face tracker restarts."""

    video: str
    chunk: Chunk
    restarts: tuple[int, ...]
    pipeline: PipelineConfig
    fps: float | None = None


@dataclass(frozen=True)
class Evidence:
    """What an event was classified from: onset crop, aligned apex crop (S x S uint8 grey), features
    (28 x 28 x 3 uint8: u, v, strain, each min-max scaled)."""

    onset: np.ndarray
    apex: np.ndarray
    features: np.ndarray


@dataclass
class ChunkResult:
    """A chunk's events (with evidence) and the trace of the frames it owns: capture time (s), motion
    and start threshold (px; NaN where none), face found; wall and CPU seconds it took."""

    chunk: Chunk
    fps: float
    labels: list[str]
    events: list[tuple[Event, Evidence]] = field(default_factory=list)
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    magnitude: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    threshold: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    face: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    decoded: int = 0
    busy_s: float = 0.0
    cpu_s: float = 0.0


class _KeepLastPair:
    """Wraps the feature flow: remembers the last (onset crop, aligned apex crop, flow) it computed."""

    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.name = getattr(flow, "name", type(flow).__name__)
        self.last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        return True, "wraps a ready flow"

    def take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last pair and its flow (once: forgotten afterwards)."""
        if self.last is None:
            raise RuntimeError("an event was classified without the feature flow")
        last, self.last = self.last, None
        return last

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        out = self.flow.compute(prev, curr)
        self.last = (prev, curr, out)
        return out


_BACKENDS: dict[tuple, Any] = {}


def build_pipeline(config: PipelineConfig) -> Pipeline:
    """A fresh pipeline (per chunk: no state carried over) on this process's cached inference backend."""
    if isinstance(config.backend, str):
        key = (config.backend, config.model, config.threads)
        if key not in _BACKENDS:
            from sofp.runtime.infer import create_backend

            _BACKENDS[key] = create_backend(config.backend, config.model, threads=config.threads)
        config = replace(config, backend=_BACKENDS[key])
    return Pipeline(config)


def analyse_chunk(job: ChunkJob, progress: Callable[[int], None] = lambda n: None,
                  should_stop: Callable[[], bool] = lambda: False) -> ChunkResult:
    """Run the pipeline over ``job``'s frames; a video that fails to decode raises one line (SofpError)."""
    t0, c0 = time.perf_counter(), time.process_time()
    chunk = job.chunk
    pipe = build_pipeline(job.pipeline)
    keep = _KeepLastPair(pipe.flow)
    pipe.flow = keep
    restarts = set(job.restarts)
    times, mags, thrs, faces = [], [], [], []
    events: list[tuple[Event, Evidence]] = []
    decoded = pending = 0
    src = SeekableVideo(job.video, fps=job.fps)
    try:
        src.seek(chunk.start)
        pipe.set_fps(src.fps)
        while chunk.stop is None or chunk.start + decoded < chunk.stop:
            status, frame = src.read()
            if status is ReadStatus.END:
                break
            if status is ReadStatus.FAILED or frame is None:
                raise SofpError(src.error or f"{src.name}: read failed")
            decoded += 1
            if frame.index in restarts and frame.index != chunk.start:
                getattr(pipe.face, "reset", lambda: None)()
            for ev in pipe.feed(frame):
                onset, apex, flow = keep.take()
                events.append((ev, Evidence(onset.copy(), np.asarray(apex, np.uint8).copy(), flow_to_features(flow))))
            tel = pipe.telemetry
            if chunk.owns(frame.index) and tel is not None:
                times.append(frame.timestamp)
                mags.append(np.nan if tel.magnitude is None else tel.magnitude)
                thr = tel.threshold
                thrs.append(np.nan if thr is None or not np.isfinite(thr) else thr)
                faces.append(tel.face)
            pending += 1
            if pending >= PROGRESS_EVERY:
                progress(pending)
                pending = 0
                if should_stop():
                    raise Cancelled()
        fps = float(src.fps)
    finally:
        src.close()
    progress(pending)
    return ChunkResult(chunk, fps, list(pipe.labels), events, np.asarray(times, np.float64),
                       np.asarray(mags, np.float32), np.asarray(thrs, np.float32), np.asarray(faces, bool),
                       decoded, time.perf_counter() - t0, time.process_time() - c0)
