"""The tasks an executor runs (a local process pool or Ray, the same functions): probe a video, analyse a
chunk, turn a video's chunks into its outputs. Outputs travel back as bytes; only the driver writes files,
so Ray workers need to read the videos but never the output folder.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sofp.runtime.analysis.chunks import stitch
from sofp.runtime.analysis.report import render_report, thumbnail, timeline_png
from sofp.runtime.analysis.worker import ChunkJob, ChunkResult, analyse_chunk
from sofp.runtime.errors import SofpError
from sofp.runtime.events import JsonLinesWriter

HASH_BLOCK = 1 << 20
_progress: Callable[[int], None] = lambda n: None  # noqa: E731  (set per worker by the executor)
_should_stop: Callable[[], bool] = lambda: False  # noqa: E731
_ready = False


def setup_worker(progress: Callable[[int], None] | None = None, should_stop: Callable[[], bool] | None = None) -> None:
    """Make this process a single-threaded worker that leaves Ctrl-C and SIGTERM to the driver."""
    global _progress, _should_stop, _ready
    if progress is not None:
        _progress = progress
    if should_stop is not None:
        _should_stop = should_stop
    if _ready:
        return
    import cv2

    from sofp.runtime.sources.capture import quiet_library_logs

    cv2.setNumThreads(1)
    quiet_library_logs()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _ready = True


def warm_up() -> int:
    """Import what the tasks need (OpenCV, ONNX Runtime, Matplotlib) before the first video; this process's id."""
    setup_worker()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import onnxruntime  # noqa: F401

    return os.getpid()


@dataclass(frozen=True)
class Probe:
    """A video's content hash (BLAKE2b-128 of its bytes), rate (frames/s) and frame count (0: unknown)."""

    content: str
    fps: float
    frames: int


@dataclass
class VideoOutputs:
    """A finished video: its files (name -> bytes) and its summary numbers."""

    files: dict[str, bytes]
    stats: dict[str, Any] = field(default_factory=dict)


def content_hash(path: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def probe(path: str, fps: float | None) -> Probe:
    """Hash and open ``path``; a file that is not a readable video raises one line (SofpError)."""
    setup_worker()
    from sofp.runtime.analysis.video import SeekableVideo

    src = SeekableVideo(path, fps=fps)  # not found, not a video: one line
    rate, frames = float(src.fps), int(src.frame_count)
    src.close()
    try:
        return Probe(content_hash(path), rate, frames)
    except OSError as exc:
        raise SofpError(f"cannot read {path}: {exc.strerror or exc}") from None


def analyse(job: ChunkJob) -> ChunkResult:
    """One chunk (reports frames done to the run's progress counter)."""
    setup_worker()
    return analyse_chunk(job, _progress, _should_stop)


def analyse_video(job: ChunkJob, title: str, facts: Mapping[str, Any]) -> VideoOutputs:
    """A video that is not cut: analyse and finish in one task."""
    return finish(title, facts, [analyse(job)])


def finish(title: str, facts: Mapping[str, Any], results: list[ChunkResult]) -> VideoOutputs:
    """Stitch a video's chunks and render its events JSON Lines, timeline PNG and HTML report."""
    setup_worker()
    c0 = time.process_time()
    results = sorted(results, key=lambda r: r.chunk.index)
    pairs = stitch([(r.chunk, r.events) for r in results], lambda p: (p[0].onset_frame, p[0].offset_frame))
    events = [ev for ev, _ in pairs]
    times = np.concatenate([r.times for r in results])
    mags = np.concatenate([r.magnitude for r in results])
    thrs = np.concatenate([r.threshold for r in results])
    face = np.concatenate([r.face for r in results])
    labels = results[0].labels
    fps = results[0].fps
    frames = int(times.size)
    counts = {lab: sum(ev.label == lab for ev in events) for lab in labels}
    stats = {"duration_s": round(frames / fps, 3) if fps else None, "fps": round(fps, 3), "frames": frames,
             "frames_without_face": int(frames - face.sum()), "events": len(events),
             **{f"n_{lab}": n for lab, n in counts.items()}, "chunks": len(results),
             "busy_s": round(sum(r.busy_s for r in results), 3)}
    tl = timeline_png(times, mags, thrs, events,
                      f"{title}: {len(events)} micro-expressions in {stats['duration_s']} s, "
                      f"{stats['frames_without_face']} of {frames} frames without a face")
    thumbs = [(thumbnail(e.onset), thumbnail(e.apex), thumbnail(e.features)) for _, e in pairs]
    report_facts = {**facts, "duration": f"{stats['duration_s']} s ({frames} frames at {fps:.3f} frames/s)",
                    "frames without a face": stats["frames_without_face"],
                    "events": ", ".join(f"{n} {lab}" for lab, n in counts.items()) or "none",
                    "chunks": len(results)}
    page = render_report(title, report_facts, labels, events, thumbs, tl)
    jsonl = io.StringIO()
    with JsonLinesWriter(jsonl) as writer:  # the live runtime's writer: the same schema, byte for byte
        for ev in events:
            writer.write(ev)
    stats["cpu_s"] = round(sum(r.cpu_s for r in results) + time.process_time() - c0, 3)
    files = {"events.jsonl": jsonl.getvalue().encode(), "timeline.png": tl, "report.html": page.encode()}
    return VideoOutputs(files, stats)
