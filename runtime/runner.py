"""``run_stream(StreamConfig)``: what ``python runtime/stream.py`` does, as one library call.

Opens the source, builds the pipeline once, prints the capability report, then streams:
events as JSON Lines (stdout or a file, flushed per event), optional per-frame telemetry, an
optional window (``show``) and annotated recording (``record``). A live source that fails is
reopened with backoff (0.5, 1, 2, 4, ... s) up to ``retries`` times, then the run ends with one
line and exit code 1; a live source that delivers no frame for ``stall_timeout_s`` (10 s) counts as
failed and is reconnected the same way (a shorter stall is waited out; the window restarts after it). A frame
the pipeline cannot use (None, smaller than 32 px, an unknown pixel format) is skipped, said once and
counted in the summary (``bad_frames``). Ctrl-C and SIGTERM end the run cleanly: outputs are closed (every event
already emitted is on disk, the recording is finalised and playable), the summary is printed, and
the exit code is 130 (Ctrl-C) or 143 (SIGTERM). The demo (``source="demo"``) also writes the
annotated video, the motion-trace PNG with the true intervals and the spotting score.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sofp.runtime.errors import SofpError, Terminated, deferred_interrupts, exit_code_for
from sofp.runtime.events import Event, FrameTelemetry, JsonLinesWriter
from sofp.runtime.face.absence import FaceAbsence
from sofp.runtime.pipeline import Pipeline, PipelineConfig
from sofp.runtime.sources.base import Frame, FrameSource, ReadStatus

DEMO_OUT = Path("runs/demo")


@dataclass(frozen=True)
class StreamConfig:
    """A stream run. ``source``: a URI for ``open_source`` (camera index, file, URL, pipeline,
    ``csi://N``, folder, ``demo``) or a ready FrameSource. ``events``: JSON Lines file (None:
    stdout). ``record``: the annotated frames (overlay drawn in); ``save_clip``: the clean frames as
    read, a clip that can be run again. ``out_dir``: where the demo writes its annotated video, trace
    and events (None: runs/demo)."""

    source: Any
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    events: str | None = None
    telemetry: str | None = None
    show: bool = False
    record: str | None = None
    save_clip: str | None = None
    out_dir: str | None = None
    max_frames: int | None = None
    retries: int = 5
    backoff_s: float = 0.5
    stall_timeout_s: float = 10.0  # a live source silent this long (s) is reconnected
    quiet: bool = False
    cv_threads: int | None = 1  # OpenCV worker threads (None: OpenCV's default)


def _log(config: StreamConfig, msg: str) -> None:
    if not config.quiet:
        print(msg, file=sys.stderr, flush=True)


def _open(config: StreamConfig) -> FrameSource:
    if not isinstance(config.source, (str, int)):
        return config.source
    from sofp.runtime.sources import open_source

    return open_source(config.source, width=config.width, height=config.height, fps=config.fps)


class ResilientSource:
    """A source that, when live and failing, is reopened with exponential backoff.

    Frame indices continue across reconnects (the pipeline sees a gap, never a restart);
    ``on_reconnect`` is called after each successful reopen (the pipeline forgets its window).
    """

    def __init__(self, source: FrameSource, reopen, retries: int, backoff_s: float, log, on_reconnect=None,
                 stall_timeout_s: float = 10.0) -> None:
        self.source = source
        self.stall_timeout_s = stall_timeout_s
        self._last_frame_at = time.monotonic()
        self._reopen = reopen
        self.retries, self.backoff_s = retries, backoff_s
        self._log, self._on_reconnect = log, on_reconnect
        self._offset = 0
        self._last = -1
        self.reconnects = 0
        self.dropped_before = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    @property
    def dropped(self) -> int:
        return self.dropped_before + int(getattr(self.source, "dropped", 0))

    def read(self) -> tuple[ReadStatus, Frame | None]:
        status, frame = self.source.read()
        live = getattr(self.source, "live", False)
        if status is ReadStatus.NOT_READY and live and time.monotonic() - self._last_frame_at > self.stall_timeout_s:
            status = ReadStatus.FAILED
            self.source.error = f"no frame for {self.stall_timeout_s:.1f} s (stalled)"
        if status is ReadStatus.FRAME and frame is not None:
            self._last_frame_at = time.monotonic()
            if self._offset:
                frame = Frame(frame.image, frame.index + self._offset, frame.timestamp)
            self._last = frame.index
            return status, frame
        if status is not ReadStatus.FAILED or not live:
            return status, frame
        error = getattr(self.source, "error", "") or "read failed"
        name = getattr(self.source, "name", "source")
        waited = 0.0
        for attempt in range(1, self.retries + 1):
            delay = self.backoff_s * 2 ** (attempt - 1)
            self._log(f"{name}: {error}; reconnecting in {delay:.1f} s (try {attempt}/{self.retries})")
            time.sleep(delay)
            waited += delay
            self.dropped_before += int(getattr(self.source, "dropped", 0))
            try:
                self.source.close()
                self.source = self._reopen()
            except SofpError as exc:
                error = str(exc)
                continue
            self._offset = self._last + 1
            self.reconnects += 1
            self._last_frame_at = time.monotonic()
            if self._on_reconnect is not None:
                self._on_reconnect()
            self._log(f"{name}: reconnected")
            return ReadStatus.NOT_READY, None
        raise SofpError(f"{name} dropped out ({error}) and did not come back after {self.retries} tries "
                        f"over {waited:.1f} s")

    def close(self) -> None:
        self.source.close()


def format_report(report: dict, source: Any) -> str:
    """The start-up capability report as text lines."""
    lines = ["capabilities:"]
    desc = source.describe() if hasattr(source, "describe") else {"name": getattr(source, "name", "?")}
    lines.append(f"  source     {desc.get('name')} ({desc.get('source', type(source).__name__)}), "
                 f"{desc.get('fps', 0):.1f} frames/s" + (" (live)" if desc.get("live") else ""))
    for key, title in (("flow", "flow"), ("inference", "inference")):
        part = report[key]
        avail = ", ".join(f"{n}{'' if ok else ' (no)'}" for n, (ok, _why) in part["available"].items())
        lines.append(f"  {title:<10s} chosen {part['chosen']}: {part['why']}")
        lines.append(f"  {'':<10s} here: {avail}")
    lines.append(f"  motion     {report['motion_flow']} on the face crop (signal only)")
    lines.append(f"  model      {report['inference']['model']}  labels {report['inference']['labels']}")
    return "\n".join(lines)


def _report_json(report: dict, source: Any) -> dict:
    desc = source.describe() if hasattr(source, "describe") else {}
    desc = {k: v for k, v in desc.items() if k != "truth"}
    return {"type": "start", "source": desc, "capabilities": report}


def run_stream(config: StreamConfig) -> int:
    """Run the stream described by ``config``; returns the exit code (0; 130 after Ctrl-C, 143 after SIGTERM).

    User-fixable failures raise :class:`SofpError` (one line; ``run_cli`` prints it)."""
    demo = isinstance(config.source, str) and config.source.strip().lower() in ("demo", "demo://")
    out_dir = Path(config.out_dir) if config.out_dir else (DEMO_OUT if demo else None)
    record = config.record or (str(out_dir / "demo_annotated.mp4") if demo and out_dir else None)
    events_path = config.events or (str(out_dir / "events.jsonl") if demo and out_dir else None)

    if config.cv_threads is not None:
        import cv2

        # the per-frame work is on 112 px crops: worker threads add wake-up latency and compete with
        # the capture thread more than they split the work (benchmarks/results/latency.md: 1 thread)
        cv2.setNumThreads(int(config.cv_threads))
    pipeline = Pipeline(config.pipeline)  # a bad model, backend or flow fails here, before any frame is read
    source: Any = None
    writers: list[Any] = []
    recorder = clip_writer = None
    stdout_events = config.events is None and not demo  # the demo prints one readable line per event
    interrupted: KeyboardInterrupt | None = None
    n_frames = 0
    # the demo's trace and events (its PNG and score); a live run keeps only counts, so memory stays flat for days
    trace: list[tuple[float, float | None, float | None]] = []
    events: list[Event] = []
    n_events = 0
    absence = FaceAbsence()
    try:
        source = _open(config)
        _log(config, format_report(pipeline.report, source))
        ev_writer = JsonLinesWriter(events_path) if events_path else None
        stdout_writer = JsonLinesWriter(sys.stdout) if stdout_events else None
        tel_writer = JsonLinesWriter(config.telemetry) if config.telemetry else None
        writers = [w for w in (ev_writer, tel_writer) if w is not None]
        if tel_writer is not None:
            tel_writer.write(_report_json(pipeline.report, source))

        overlay = None
        show = False
        if config.show:
            from sofp.runtime.overlay import display_available

            show, why = display_available()
            if not show:
                _log(config, f"--show: {why}; continuing without a window")
        if config.show or record:
            from sofp.runtime.overlay import Overlay, VideoRecorder

            overlay = Overlay(source.fps, pipeline.labels)
            if record:
                recorder = VideoRecorder(record, source.fps)
        if config.save_clip:
            from sofp.runtime.overlay import VideoRecorder

            clip_writer = VideoRecorder(config.save_clip, source.fps)

        stream = ResilientSource(source, lambda: _open(config), config.retries, config.backoff_s,
                                 lambda m: _log(config, m), on_reconnect=pipeline.reset,
                                 stall_timeout_s=config.stall_timeout_s)

        def on_frame(frame: Frame, tel: FrameTelemetry, evs: list[Event]) -> None:
            with deferred_interrupts():  # a signal lands between frames: the counts and the recording agree
                _write_frame(frame, tel, evs)

        def _write_frame(frame: Frame, tel: FrameTelemetry, evs: list[Event]) -> None:
            nonlocal n_frames, n_events
            n_frames += 1
            if tel.state == "bad-frame":
                if pipeline.bad_frames == 1:
                    _log(config, f"frame {frame.index} skipped: {pipeline.last_bad_frame} (further ones are "
                                 "counted in the summary)")
                if tel_writer is not None:
                    tel_writer.write(tel)
                return
            if clip_writer is not None:
                clip_writer.write(frame.image)
            if demo:
                trace.append((frame.timestamp, tel.magnitude, tel.threshold))
            note = absence.update(frame.timestamp, tel.face)
            if note is not None:
                _log(config, note)
            for ev in evs:
                n_events += 1
                if demo:
                    events.append(ev)
                if ev_writer is not None:
                    ev_writer.write(ev)
                if stdout_writer is not None:
                    stdout_writer.write(ev)
                elif not config.quiet:
                    print(ev.summary(), flush=True)
            if tel_writer is not None:
                tel_writer.write(tel)
            if overlay is not None:
                box = getattr(pipeline.face, "box", None) if tel.face else None  # a FaceCropper's, or a fake's
                box_t = (box.x, box.y, box.w, box.h) if box is not None else None
                img = overlay.draw(frame.image, tel, evs, box_t)
                if recorder is not None:
                    recorder.write(img)
                if show:
                    import cv2

                    cv2.imshow("sofp-edge", img)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        raise KeyboardInterrupt

        try:
            for _ in pipeline.run(stream, on_frame=on_frame, max_frames=config.max_frames):
                pass
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as errors.Terminated
            interrupted = exc
        source = stream.source
        dropped = stream.dropped
        summary = {"type": "summary", "frames": n_frames, "frames_with_face": pipeline.frames_with_face,
                   "dropped_by_source": dropped, "index_gaps": pipeline.gaps, "reconnects": stream.reconnects,
                   "bad_frames": pipeline.bad_frames, "stalls": pipeline.stalls,
                   "size_changes": pipeline.size_changes,
                   "events": n_events, "fps": pipeline.fps, "interrupted": interrupted is not None,
                   "terminated": isinstance(interrupted, Terminated), "longest_without_face_s": absence.longest_s}
        if tel_writer is not None:
            tel_writer.write(summary)
        no_face = n_frames - pipeline.frames_with_face
        ended = "terminated" if isinstance(interrupted, Terminated) else "interrupted" if interrupted else "done"
        _log(config, f"{ended}: {n_frames} frames "
                     f"({no_face} without a face), {dropped} dropped by the source"
                     f"{f', {pipeline.gaps} missing indices' if pipeline.gaps else ''}"
                     f"{f', {pipeline.bad_frames} unusable frames skipped' if pipeline.bad_frames else ''}"
                     f"{f', {pipeline.stalls} stalls' if pipeline.stalls else ''}, {n_events} events"
                     + (f" -> {events_path}" if events_path else ""))
        note = absence.summary(n_frames, pipeline.frames_with_face)
        if note is not None:
            _log(config, note)
        if demo and out_dir is not None and interrupted is None:
            _finish_demo(config, source, out_dir, trace, events, pipeline)
        if recorder is not None and recorder.frames:
            _log(config, f"annotated video (overlay drawn in): {recorder.path} ({recorder.frames} frames)")
        if clip_writer is not None and clip_writer.frames:
            _log(config, f"clean clip: {clip_writer.path} ({clip_writer.frames} frames)")
    finally:
        for video in (recorder, clip_writer):
            if video is not None:
                video.close()
        for w in writers:
            w.close()
        pipeline.close()
        if source is not None:
            source.close()
        if config.show:
            try:
                import cv2

                cv2.destroyAllWindows()
            except Exception:
                pass
    return 0 if interrupted is None else exit_code_for(interrupted)


def _finish_demo(config: StreamConfig, source: Any, out_dir: Path, trace: list, events: list[Event],
                 pipeline: Pipeline) -> None:
    """Demo extras: the motion-trace PNG with true and spotted intervals, and the spotting score."""
    from sofp.runtime.overlay import save_trace_png
    from sofp.runtime.spotting import score_spotting

    clip = getattr(source, "clip", None)
    truth = list(getattr(clip, "truth", []) or [])
    fps = pipeline.fps or source.fps
    score = score_spotting([(e.onset_frame, e.offset_frame) for e in events], [(t.onset, t.offset) for t in truth])
    times, mags, thrs = zip(*trace, strict=True) if trace else ((), (), ())
    png = save_trace_png(
        out_dir / "motion_trace.png", times, mags, thrs, events,
        truth=[(t.onset / fps, t.offset / fps, t.kind) for t in truth],
        title=f"demo: astronaut face, {len(truth)} injected micro-movements, {len(events)} spotted "
              f"(F1 at IoU>=0.5: {score.f1:.2f}); flow {pipeline.report['flow']['chosen']}, "
              f"backend {pipeline.report['inference']['chosen']}")
    from sofp.runtime.spotting import interval_iou

    matched = []
    for t in truth:
        best = max(events, key=lambda e: interval_iou((e.onset_frame, e.offset_frame), (t.onset, t.offset)),
                   default=None)
        iou = interval_iou((best.onset_frame, best.offset_frame), (t.onset, t.offset)) if best else 0.0
        matched.append({"kind": t.kind, "iou": round(iou, 3), "label": best.label if best and iou >= 0.5 else None,
                        "confidence": round(best.confidence, 4) if best and iou >= 0.5 else None})
    result = {"truth": [{"onset": t.onset, "apex": t.apex, "offset": t.offset, "kind": t.kind} for t in truth],
              "matched": matched,
              "spotted": [e.to_dict() for e in events],
              "spotting": {"tp": score.tp, "fp": score.fp, "fn": score.fn, "f1": score.f1, "iou": 0.5}}
    (out_dir / "demo_result.json").write_text(json.dumps(result, indent=2) + "\n")
    _log(config, "demo: " + "; ".join(
        f"{m['kind']} -> {m['label']} {m['confidence']:.2f}" if m["label"] else f"{m['kind']} -> not spotted"
        for m in matched))
    _log(config, f"demo: spotted {len(events)} of {len(truth)} injected movements, F1 (IoU >= 0.5) {score.f1:.2f}; "
                 f"trace {png}, result {out_dir / 'demo_result.json'}")
