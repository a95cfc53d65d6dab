"""``run_analysis(AnalyzeConfig)``: what ``sofp-analyze`` does, as one library call.

Per video: probe (content hash, rate, length) -> skip it when ``videos/<name>/result.json`` records the same
content and settings hashes -> one task, or one task per chunk and a task that stitches them -> the driver
writes the video's folder (events.jsonl, timeline.png, report.html, result.json) atomically. The run's
summary.csv and index.html are rewritten (atomically) as videos finish, and once more at the end, so an
interrupted run leaves every finished video complete and a valid summary in which the unfinished videos
say "interrupted". A video that cannot be read, or whose worker dies twice, is a "failed" row with its
one-line reason; the run goes on. Exit code: 0, 1 when a video failed, 130/143 when interrupted.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sofp.runtime.analysis import tasks
from sofp.runtime.analysis.chunks import Chunk, chunk_margins, plan_chunks, restart_frames
from sofp.runtime.analysis.executors import LocalExecutor, RayExecutor, TaskCrashed
from sofp.runtime.analysis.inputs import collect_inputs
from sofp.runtime.analysis.report import render_index
from sofp.runtime.analysis.worker import Cancelled, ChunkJob, ChunkResult
from sofp.runtime.errors import SofpError, deferred_interrupts, exit_code_for
from sofp.runtime.pipeline import Pipeline, PipelineConfig
from sofp.runtime.shared_params import SHARED

FORMAT = "sofp-analyze/1"
SUMMARY_EVERY_S = 1.0
BASE_COLUMNS = ("video", "name", "status", "reason", "duration_s", "fps", "frames", "frames_without_face", "events")
TAIL_COLUMNS = ("chunks", "busy_s", "cpu_s", "wall_s", "report", "content_hash")


@dataclass(frozen=True)
class AnalyzeConfig:
    """A batch run. ``inputs``: files, folders, globs, manifest CSVs. ``workers``: local processes (None: the
    machine's cores) or Ray CPUs of a local instance. ``ray``: None (local pool), "" (a local Ray instance)
    or a cluster address. ``chunk_s``: videos longer than this are cut into chunks (0: never)."""

    inputs: tuple[str, ...]
    out: str = "runs/analyze"
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    fps: float | None = None
    workers: int | None = None
    ray: str | None = None
    chunk_s: float = 300.0
    force: bool = False
    quiet: bool = False


@dataclass
class _Video:
    index: int
    path: str
    name: str
    extra: dict[str, str]
    status: str = "pending"
    reason: str = ""
    probe: tasks.Probe | None = None
    chunks: list[Chunk] = field(default_factory=list)
    results: dict[int, ChunkResult] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    wall_s: float | None = None


@dataclass
class _Task:
    kind: str
    video: _Video
    fn: Callable
    args: tuple
    attempt: int = 1


def settings_of(config: AnalyzeConfig, pipeline: Pipeline) -> dict[str, Any]:
    """Everything that changes what an analysis finds: model bytes, resolved flow and backend, every
    pipeline and spotting parameter, the shared parameters, the chunk length and the package version."""
    from importlib.metadata import PackageNotFoundError, version

    from sofp.runtime.infer.base import resolve_model
    from sofp.runtime.sidecar import file_sha256

    c = config.pipeline
    builtin = "checkpoint" if pipeline.report["inference"]["chosen"] == "torch" else "onnx"
    model = resolve_model(c.model, builtin=builtin)
    try:
        sofp_version = version("sofp-edge")
    except PackageNotFoundError:
        sofp_version = "unknown"
    fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)
              if f.name not in ("face", "aligner", "threads", "backend", "flow", "spot")}
    return {"format": FORMAT, "sofp_edge": sofp_version, "model": model.name, "model_sha256": file_sha256(model),
            "backend": pipeline.report["inference"]["chosen"], "flow": pipeline.report["flow"]["chosen"],
            "motion_flow": pipeline.report["motion_flow"], "spot": dataclasses.asdict(c.spot),
            "pipeline": json.loads(json.dumps(fields, default=str)), "shared": SHARED,
            "fps": config.fps, "chunk_s": config.chunk_s}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def output_names(paths: list[str]) -> list[str]:
    """A folder name per video: its file stem, with a hash of its path where two stems collide."""
    stems = [Path(p).stem for p in paths]
    def tag(p: str) -> str:
        return hashlib.blake2b(os.path.realpath(p).encode(), digest_size=4).hexdigest()

    return [s if stems.count(s) == 1 else f"{s}-{tag(p)}" for s, p in zip(stems, paths, strict=True)]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class _Run:
    def __init__(self, config: AnalyzeConfig) -> None:
        self.config = config
        self.out = Path(config.out)
        self.log = (lambda msg: None) if config.quiet else self._write
        self.bar: Any = None

    def _write(self, msg: str) -> None:
        from tqdm import tqdm

        tqdm.write(msg, file=sys.stderr)

    # ------------------------------------------------------------------------------ set-up
    def prepare(self) -> None:
        c = self.config
        self.columns_fixed = set(BASE_COLUMNS) | set(TAIL_COLUMNS)
        inputs, self.extra_columns = collect_inputs(c.inputs, reserved=self.columns_fixed)
        if not inputs:
            raise SofpError("nothing to analyse", exit_code=2)
        pipeline = Pipeline(c.pipeline)  # a bad model, backend or flow fails here, before any worker starts
        try:
            self.labels = list(pipeline.labels)
            self.settings = settings_of(c, pipeline)
        finally:
            pipeline.close()
        self.settings_hash = _hash(self.settings)
        names = output_names([v.path for v in inputs])
        self.videos = [_Video(i, v.path, n, v.extra) for i, (v, n) in enumerate(zip(inputs, names, strict=True))]
        self.label_columns = [f"n_{lab}" for lab in self.labels]
        self.columns = [BASE_COLUMNS[0], *self.extra_columns, *BASE_COLUMNS[1:], *self.label_columns, *TAIL_COLUMNS]
        (self.out / "videos").mkdir(parents=True, exist_ok=True)
        self.facts = {"model": f"{self.settings['model']} (sha256 {self.settings['model_sha256'][:12]})",
                      "backend": self.settings["backend"], "flow": self.settings["flow"],
                      "settings hash": self.settings_hash, "sofp-edge": self.settings["sofp_edge"]}

    # ------------------------------------------------------------------------------ rows and files
    def row(self, v: _Video) -> dict[str, Any]:
        report = f"videos/{v.name}/report.html" if v.status in ("done", "skipped") else ""
        r: dict[str, Any] = {"video": v.path, **v.extra, "name": v.name, "status": v.status, "reason": v.reason,
                             **{k: v.stats.get(k) for k in (*BASE_COLUMNS[4:], *self.label_columns, "chunks",
                                                            "busy_s", "cpu_s")},
                             "wall_s": None if v.wall_s is None else round(v.wall_s, 3), "report": report,
                             "content_hash": v.probe.content if v.probe else ""}
        return r

    def write_summary(self) -> None:
        rows = [self.row(v) for v in self.videos]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r.get(k) for k in self.columns})
        _atomic_write(self.out / "summary.csv", buf.getvalue().encode())
        shown = [c for c in self.columns if c not in ("name", "busy_s", "cpu_s", "content_hash", "fps")]
        counts = self.counts()
        title = f"sofp-analyze: {len(self.videos)} videos ({', '.join(f'{n} {k}' for k, n in counts.items() if n)})"
        _atomic_write(self.out / "index.html", render_index(title, rows, shown).encode())
        self.summary_at = time.monotonic()

    def write_record(self, workers: int, interrupted: KeyboardInterrupt | None) -> None:
        """run.json: what ran where, with which settings, how long (s), and what came of it."""
        c = self.config
        record = {"format": FORMAT, "inputs": list(c.inputs), "executor": "local" if c.ray is None else "ray",
                  "ray_address": c.ray or None, "workers": workers, "chunk_s": c.chunk_s,
                  "settings_hash": self.settings_hash, "settings": self.settings, "counts": self.counts(),
                  "interrupted": interrupted is not None,
                  "timing_s": {k: round(v, 4) for k, v in self.timing.items()},
                  "video_s": round(sum(float(v.stats.get("duration_s") or 0) for v in self.videos
                                       if v.status == "done"), 3),
                  "frames": sum(int(v.stats.get("frames") or 0) for v in self.videos if v.status == "done"),
                  "cpu_s": round(sum(float(v.stats.get("cpu_s") or 0) for v in self.videos if v.status == "done"), 3),
                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        _atomic_write(self.out / "run.json", (json.dumps(record, indent=1) + "\n").encode())

    def counts(self) -> dict[str, int]:
        keys = ("done", "skipped", "failed", "interrupted", "pending")
        return {k: sum(v.status == k for v in self.videos) for k in keys}

    def write_video(self, v: _Video, outputs: tasks.VideoOutputs) -> None:
        """The video's folder, complete or not at all (written aside, then renamed into place)."""
        base = self.out / "videos"
        final, tmp, old = base / v.name, base / f".{v.name}.partial", base / f".{v.name}.old"
        with deferred_interrupts():
            for p in (tmp, old):
                shutil.rmtree(p, ignore_errors=True)
            tmp.mkdir(parents=True)
            for name, data in outputs.files.items():
                (tmp / name).write_bytes(data)
            v.status, v.stats = "done", outputs.stats
            v.wall_s = time.monotonic() - v.started
            record = {"format": FORMAT, "video": v.path, "extra": v.extra,
                      "key": {"content": v.probe.content if v.probe else "", "settings": self.settings_hash},
                      "row": self.row(v), "settings": self.settings,
                      "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            (tmp / "result.json").write_text(json.dumps(record, indent=1) + "\n")
            if final.exists():
                final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)

    def previous(self, v: _Video) -> dict[str, Any] | None:
        """The earlier result of this video, when it was made from the same bytes with the same settings."""
        if self.config.force or v.probe is None:
            return None
        path = self.out / "videos" / v.name / "result.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if record.get("key") == {"content": v.probe.content, "settings": self.settings_hash}:
            return record
        return None

    # ------------------------------------------------------------------------------ the loop
    def execute(self) -> int:
        from tqdm import tqdm

        c = self.config
        workers = c.workers or os.cpu_count() or 1
        todo = [v for v in self.videos if v.status == "pending"]
        where = (f"{workers} local single-threaded worker processes" if c.ray is None else
                 f"Ray ({'a local instance, ' + str(workers) + ' CPUs' if c.ray == '' else c.ray})")
        self.log(f"sofp-analyze: {len(todo)} videos on {where}; outputs in {self.out}")
        self.write_summary()
        t0 = time.perf_counter()
        executor = LocalExecutor(workers) if c.ray is None else RayExecutor(c.ray or None, workers)
        self.executor = executor
        self.timing = {"start_s": time.perf_counter() - t0}
        t1 = time.perf_counter()
        self.bar = tqdm(total=0, unit="frame", desc=f"videos 0/{len(self.videos)}", disable=c.quiet,
                        file=sys.stderr, dynamic_ncols=True)
        self.pending: dict[Any, _Task] = {}
        interrupted: KeyboardInterrupt | None = None
        stale = False  # videos finished since the summary was last written
        try:
            for v in todo:
                v.started = time.monotonic()
                self.submit(_Task("probe", v, tasks.probe, (v.path, c.fps)))
            while self.pending:
                done = executor.wait(list(self.pending), 0.2)
                self.bar.update(executor.frames() - self.bar.n)
                for handle in done:
                    self.handle(handle, self.pending.pop(handle))
                finished = sum(v.status in ("done", "skipped", "failed") for v in self.videos)
                self.bar.set_description(f"videos {finished}/{len(self.videos)}", refresh=False)
                stale = stale or bool(done)
                if stale and time.monotonic() - self.summary_at >= SUMMARY_EVERY_S:
                    self.write_summary()
                    stale = False
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as errors.Terminated
            interrupted = exc
        finally:
            for v in self.videos:
                if v.status == "pending":
                    v.status, v.reason = "interrupted", "the run was stopped before this video finished"
            self.timing["work_s"] = time.perf_counter() - t1
            executor.close(interrupted=interrupted is not None)
            self.bar.close()
            self.write_summary()
            self.write_record(workers, interrupted)
        counts = self.counts()
        events = sum(int(v.stats.get("events") or 0) for v in self.videos)
        ended = "terminated" if interrupted is not None and exit_code_for(interrupted) == 143 else \
            "interrupted" if interrupted is not None else "done"
        self.log(f"{ended}: {len(self.videos)} videos ({', '.join(f'{n} {k}' for k, n in counts.items() if n)}), "
                 f"{events} events; summary {self.out / 'summary.csv'}, index {self.out / 'index.html'}")
        if interrupted is not None:
            return exit_code_for(interrupted)
        return 1 if counts["failed"] else 0

    def submit(self, task: _Task) -> None:
        self.pending[self.executor.submit(task.fn, *task.args)] = task

    def fail(self, v: _Video, reason: str) -> None:
        v.status, v.reason = "failed", reason
        v.wall_s = time.monotonic() - v.started
        for handle, task in list(self.pending.items()):
            if task.video is v:
                self.executor.cancel(handle)
                self.pending.pop(handle)
        self.log(f"failed: {v.path}: {reason}")

    def handle(self, handle: Any, task: _Task) -> None:
        v = task.video
        if v.status != "pending":
            return
        try:
            value = self.executor.result(handle)
        except TaskCrashed as exc:
            if task.attempt < 2:
                self.submit(dataclasses.replace(task, attempt=task.attempt + 1))
            else:
                self.fail(v, f"{exc} (twice)")
            return
        except Cancelled:
            self.fail(v, "cancelled")
            return
        except SofpError as exc:
            self.fail(v, str(exc))
            return
        except Exception as exc:  # a bug: the video fails with its one line, the traceback goes to stderr
            if not self.config.quiet:
                self._write("".join(traceback.format_exception(exc)).rstrip())
            self.fail(v, f"internal error: {type(exc).__name__}: {exc}")
            return
        if task.kind == "probe":
            self.planned(v, value)
        elif task.kind == "chunk":
            v.results[value.chunk.index] = value
            if len(v.results) == len(v.chunks):
                results = [v.results[i] for i in sorted(v.results)]
                v.results = {}
                self.submit(_Task("finish", v, tasks.finish, (Path(v.path).name, self.video_facts(v), results)))
        else:
            self.write_video(v, value)

    def video_facts(self, v: _Video) -> dict[str, Any]:
        return {"video": v.path, **v.extra, **self.facts,
                "content hash": v.probe.content if v.probe else "",
                "analysed": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def planned(self, v: _Video, probe: tasks.Probe) -> None:
        v.probe = probe
        record = self.previous(v)
        if record is not None:
            v.status, v.reason = "skipped", "analysed before with the same content and settings"
            row = record.get("row", {})
            v.stats = {k: row.get(k) for k in (*BASE_COLUMNS[4:], *self.label_columns, "chunks", "busy_s", "cpu_s")}
            v.wall_s = row.get("wall_s")
            return
        c = self.config
        margins = chunk_margins(probe.fps, c.pipeline.spot)
        chunk_frames = round(c.chunk_s * probe.fps) if c.chunk_s else None
        v.chunks = plan_chunks(probe.frames, chunk_frames, margins)
        restarts = restart_frames(v.chunks)
        jobs = [ChunkJob(v.path, ch, restarts, c.pipeline, c.fps) for ch in v.chunks]
        self.bar.total += sum((ch.stop if ch.stop is not None else probe.frames) - ch.start for ch in v.chunks)
        self.bar.refresh()
        if len(jobs) == 1:
            self.submit(_Task("video", v, tasks.analyse_video, (jobs[0], Path(v.path).name, self.video_facts(v))))
        else:
            for job in jobs:
                self.submit(_Task("chunk", v, tasks.analyse, (job,)))


def run_analysis(config: AnalyzeConfig) -> int:
    """Analyse every video of ``config``; returns the exit code (0; 1 when a video failed; 130/143 when
    interrupted). Bad usage raises :class:`SofpError` (one line) before any worker starts."""
    run = _Run(config)
    run.prepare()
    return run.execute()
