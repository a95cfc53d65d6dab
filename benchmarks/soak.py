"""Soak: the whole live pipeline on a looping video for a given time, with its resources sampled.

    python benchmarks/soak.py --minutes 60                          # the committed result
    python benchmarks/soak.py --minutes 2 --out /tmp/soak           # the 2-minute check

The demo clip (runtime/demo_clip.py: 4 s at 100 frames/s of the astronaut face with head drift, sensor
noise and three injected micro-movements) is written to an MJPG .avi and played in a loop through the
runtime's ``VideoSource`` (reopened at each end; frame indices and capture timestamps continue), by
``run_stream`` exactly as ``python runtime/stream.py`` runs: cpu-dis flow, ONNX Runtime, the built-in
model, events to a JSON Lines file, at full speed (no pacing). Every ``--interval-s`` (10 s) a sampler
thread records the process's RSS, open file descriptors and threads (/proc), frames so far, process
CPU time and the load average. After the warm-up (default: the first 10 %, at least 30 s):

- memory: RSS at the end within 2 % of RSS at the end of warm-up (median of 3 samples each);
- no growth of open file descriptors or threads (max after warm-up = value at the end of warm-up);
- frames/s drift: median frames/s of the last quarter of the windows within 5 % of the first quarter's
  (wall clock; the same per CPU second is reported beside it, the figure a shared machine cannot move);
- every event line is complete and valid (``runtime.events.event_problems``), and the spotted intervals
  of every loop are scored against the injected ones (F1 at IoU >= 0.5).

Writes benchmarks/results/soak.{json,md,png} (``--out``). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sofp.runtime.errors import SofpError, UsageError, run_cli
from sofp.runtime.sources.base import Frame, FrameSource, ReadStatus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from latency import _versions, machine  # noqa: E402  (benchmarks/ is on sys.path: this script's folder)

LIMITS = {"rss_growth": 0.02, "fps_drift": 0.05}


@dataclass(frozen=True)
class SoakConfig:
    seconds: float = 3600.0
    interval_s: float = 10.0
    warmup_s: float | None = None  # None: 10 % of the run, at least 30 s (or 1/3 of a run shorter than 90 s)
    seed: int = 0
    clip_seconds: float = 4.0  # the demo clip's length (s) at 100 frames/s
    out_dir: str = str(ROOT / "benchmarks" / "results")
    cpus: tuple[int, ...] = ()  # () : the process's own affinity; else pin the soak to these CPUs
    command: str = ""


class LoopingVideo(FrameSource):
    """A video file played in a loop until ``deadline`` (monotonic s): the runtime's VideoSource, reopened
    at each END; indices and timestamps continue (loop k adds k x the clip's frames and duration)."""

    def __init__(self, path: Path, deadline: float) -> None:
        super().__init__()
        from sofp.runtime.sources.video import VideoSource

        self._open = lambda: VideoSource(str(path))
        self._src = self._open()
        self.name = f"looping video {path.name}"
        self._fps = self._src.fps
        self.deadline = deadline
        self.loops = 0
        self.frames = 0
        self.clip_frames = 0
        self._offset = 0

    def read(self) -> tuple[ReadStatus, Frame | None]:
        if time.monotonic() >= self.deadline:
            return ReadStatus.END, None
        status, frame = self._src.read()
        if status is ReadStatus.END:
            self.clip_frames = self._src._index
            self._src.close()
            self._src = self._open()
            self.loops += 1
            self._offset = self.loops * self.clip_frames
            status, frame = self._src.read()
        if status is not ReadStatus.FRAME or frame is None:
            self.error = self._src.error
            return status, frame
        self.frames += 1
        return ReadStatus.FRAME, Frame(frame.image, frame.index + self._offset,
                                       frame.timestamp + self._offset / self._fps)

    def close(self) -> None:
        self._src.close()


def _proc_sample() -> dict:
    """RSS (MiB), open fds and threads of this process, from /proc."""
    with open("/proc/self/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return {"rss_mib": rss_kb / 1024.0, "fds": len(os.listdir("/proc/self/fd")),
            "threads": len(os.listdir("/proc/self/task"))}


class Sampler:
    """Samples the process every ``interval_s`` on a thread (started before the run, so it is counted
    from the first sample on): time since start (s), /proc figures, frames read, CPU time (s), load."""

    def __init__(self, source: LoopingVideo, interval_s: float, seconds: float) -> None:
        self.source, self.interval_s = source, interval_s
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._bar = tqdm(total=round(seconds), unit="s", desc="soak", mininterval=interval_s, file=sys.stderr)
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def sample(self) -> None:
        t = os.times()
        s = {"t_s": round(time.monotonic() - self._t0, 3), **_proc_sample(), "frames": self.source.frames,
             "cpu_s": round(t.user + t.system, 3), "loadavg_1m": os.getloadavg()[0]}
        self.samples.append(s)
        self._bar.update(max(0, min(round(s["t_s"]), self._bar.total) - self._bar.n))
        self._bar.set_postfix(rss=f"{s['rss_mib']:.0f}MiB", frames=s["frames"], refresh=False)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def _stop_thread(self) -> None:
        self._stop.set()
        self._thread.join()

    def finish(self) -> None:
        """Stop the sampling thread, then take the last sample unless the thread's last one is under half an
        interval old (two samples at the same moment would make a zero-length window)."""
        self._stop_thread()
        if time.monotonic() - self._t0 - self.samples[-1]["t_s"] >= self.interval_s / 2:
            self.sample()

    def __exit__(self, *exc: object) -> None:
        self._stop_thread()
        self._bar.close()


def analyse(samples: list[dict], warmup_s: float) -> dict:
    """The soak criteria from the samples: RSS growth, fd and thread growth, frames/s drift (wall and CPU)."""
    post = [s for s in samples if s["t_s"] >= warmup_s]
    if len(post) < 4:
        raise SofpError(f"only {len(post)} samples after the {warmup_s:.0f} s warm-up; run longer or sample "
                        "more often (need >= 4)")
    rss = np.array([s["rss_mib"] for s in post])
    rss0, rss1 = float(np.median(rss[:3])), float(np.median(rss[-3:]))
    windows = []
    for a, b in itertools.pairwise(post):
        frames = b["frames"] - a["frames"]
        windows.append({"fps": frames / (b["t_s"] - a["t_s"]),
                        "fps_per_cpu_s": frames / max(b["cpu_s"] - a["cpu_s"], 1e-9)})
    q = max(1, len(windows) // 4)

    def drift(key: str) -> tuple[float, float, float]:
        first = float(np.median([w[key] for w in windows[:q]]))
        last = float(np.median([w[key] for w in windows[-q:]]))
        return first, last, (last - first) / first

    fps0, fps1, fps_drift = drift("fps")
    cfps0, cfps1, cfps_drift = drift("fps_per_cpu_s")
    fds0, thr0 = post[0]["fds"], post[0]["threads"]
    load = [s["loadavg_1m"] for s in samples]
    result = {
        "warmup_s": warmup_s, "samples_after_warmup": len(post),
        "rss_mib": {"at_warmup_end": rss0, "at_end": rss1, "max": float(rss.max()),
                    "growth": (rss1 - rss0) / rss0, "max_growth": (float(rss.max()) - rss0) / rss0},
        "fds": {"at_warmup_end": fds0, "max_after": max(s["fds"] for s in post),
                "growth": max(s["fds"] for s in post) - fds0},
        "threads": {"at_warmup_end": thr0, "max_after": max(s["threads"] for s in post),
                    "growth": max(s["threads"] for s in post) - thr0},
        "fps": {"first_quarter": fps0, "last_quarter": fps1, "drift": fps_drift,
                "min_window": min(w["fps"] for w in windows), "max_window": max(w["fps"] for w in windows)},
        "fps_per_cpu_s": {"first_quarter": cfps0, "last_quarter": cfps1, "drift": cfps_drift},
        "loadavg_1m": {"min": min(load), "median": float(np.median(load)), "max": max(load)},
    }
    result["criteria"] = {
        "rss_growth <= 2 %": abs(result["rss_mib"]["growth"]) <= LIMITS["rss_growth"],
        "no fd growth": result["fds"]["growth"] <= 0,
        "no thread growth": result["threads"]["growth"] <= 0,
        "fps drift <= 5 % (wall)": abs(fps_drift) <= LIMITS["fps_drift"],
    }
    return result


def check_events(path: Path, truth: list, clip_frames: int, loops: int, frames: int) -> dict:
    """Every line of the events file parsed and validated; the spotting of each whole loop scored against
    the injected movements shifted by the loop."""
    from sofp.runtime.events import event_problems
    from sofp.runtime.spotting import score_spotting

    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    bad: list[str] = []
    events = []
    for i, line in enumerate(lines, 1):
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(f"line {i}: not JSON ({exc})")
            continue
        problems = event_problems(d)
        if not problems and not 0 <= d["onset_frame"] <= d["offset_frame"] < frames:
            problems = [f"interval {d['onset_frame']}-{d['offset_frame']} outside the stream's {frames} frames"]
        bad += [f"line {i}: {p}" for p in problems]
        if not problems:
            events.append(d)
    ordered = all(a["offset_frame"] <= b["onset_frame"] for a, b in itertools.pairwise(events))
    whole = loops  # loops 0 .. loops-1 were played to their end, the last one was cut by the deadline
    spotted = [(e["onset_frame"], e["offset_frame"]) for e in events if e["offset_frame"] < whole * clip_frames]
    true = [(t.onset + k * clip_frames, t.offset + k * clip_frames) for k in range(whole) for t in truth]
    score = score_spotting(spotted, true) if true else None
    labels: dict[str, int] = {}
    for e in events:
        labels[e["label"]] = labels.get(e["label"], 0) + 1
    return {"lines": len(lines), "valid": len(events), "invalid": len(bad), "problems": bad[:20],
            "ordered": ordered, "labels": labels,
            "spotting_whole_loops": None if score is None else
            {"loops": whole, "truth": len(true), "tp": score.tp, "fp": score.fp, "fn": score.fn, "f1": score.f1}}


def _png(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = doc["samples"]
    t = np.array([x["t_s"] for x in s]) / 60.0
    fig, ax = plt.subplots(4, 1, figsize=(9, 9), sharex=True)
    ax[0].plot(t, [x["rss_mib"] for x in s], ".-")
    ax[0].set_ylabel("RSS (MiB)")
    ax[1].plot(t, [x["fds"] for x in s], ".-", label="open fds")
    ax[1].plot(t, [x["threads"] for x in s], ".-", label="threads")
    ax[1].set_ylabel("count")
    ax[1].legend(loc="center right")
    tm = t[1:]
    dt = np.diff([x["t_s"] for x in s])
    df = np.diff([x["frames"] for x in s])
    dc = np.maximum(np.diff([x["cpu_s"] for x in s]), 1e-9)
    ax[2].plot(tm, df / dt, ".-", label="frames/s (wall)")
    ax[2].plot(tm, df / dc, ".-", label="frames per CPU second")
    ax[2].set_ylabel("frames/s")
    ax[2].legend(loc="lower right")
    ax[3].plot(t, [x["loadavg_1m"] for x in s], ".-")
    ax[3].set_ylabel("load avg (1 min)")
    ax[3].set_xlabel("time (min)")
    for a in ax:
        a.axvline(doc["analysis"]["warmup_s"] / 60.0, color="grey", ls=":", lw=1)
        a.grid(alpha=0.3)
    ok = all(doc["analysis"]["criteria"].values()) and doc["events"]["invalid"] == 0
    fig.suptitle(f"soak: {doc['minutes']:.1f} min, {doc['frames']} frames, {doc['events']['valid']} events "
                 f"({'all criteria met' if ok else 'NOT all criteria met'}); dotted: end of warm-up", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _md(doc: dict) -> str:
    a, e, m = doc["analysis"], doc["events"], doc["machine"]
    yes = {True: "met", False: "**NOT met**"}
    c = a["criteria"]
    sp = e["spotting_whole_loops"]
    lines = [
        "# Soak: the whole pipeline on a looping clip", "",
        f"Command: `{doc['command']}`", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}; "
        f"versions {', '.join(f'{k} {v}' for k, v in doc['versions'].items())}. "
        f"Started {doc['started_utc']} UTC. Load average (1 min) over the run: min {a['loadavg_1m']['min']:.2f}, "
        f"median {a['loadavg_1m']['median']:.2f}, max {a['loadavg_1m']['max']:.2f} "
        f"({'shared machine: other jobs ran beside it' if a['loadavg_1m']['max'] > 1.5 else 'quiet machine'}). "
        f"CPU affinity of the soak: {_cpus(doc)}.", "",
        f"Pipeline: {doc['pipeline']}; {doc['frames']} frames in {doc['seconds']:.0f} s ({doc['loops']} loops of "
        f"{doc['clip_frames']} frames), exit code {doc['exit_code']}; samples every {doc['interval_s']:.0f} s, "
        f"warm-up {a['warmup_s']:.0f} s.", "",
        "| criterion | measured | limit | |",
        "|---|---|---|---|",
        f"| RSS growth after warm-up | {a['rss_mib']['at_warmup_end']:.1f} -> {a['rss_mib']['at_end']:.1f} MiB "
        f"({100 * a['rss_mib']['growth']:+.2f} %; max {a['rss_mib']['max']:.1f} MiB, "
        f"{100 * a['rss_mib']['max_growth']:+.2f} %) | 2 % | {yes[c['rss_growth <= 2 %']]} |",
        f"| open file descriptors | {a['fds']['at_warmup_end']} at warm-up end, max {a['fds']['max_after']} after "
        f"| no growth | {yes[c['no fd growth']]} |",
        f"| threads | {a['threads']['at_warmup_end']} at warm-up end, max {a['threads']['max_after']} after "
        f"| no growth | {yes[c['no thread growth']]} |",
        f"| frames/s (wall), median of first vs last quarter | {a['fps']['first_quarter']:.1f} -> "
        f"{a['fps']['last_quarter']:.1f} ({100 * a['fps']['drift']:+.2f} %; windows "
        f"{a['fps']['min_window']:.1f}-{a['fps']['max_window']:.1f}) | 5 % | {yes[c['fps drift <= 5 % (wall)']]} |",
        f"| frames per CPU second, same quarters | {a['fps_per_cpu_s']['first_quarter']:.1f} -> "
        f"{a['fps_per_cpu_s']['last_quarter']:.1f} ({100 * a['fps_per_cpu_s']['drift']:+.2f} %) | (reported) | |",
        f"| event lines complete and valid | {e['valid']} of {e['lines']} valid, ordered: {e['ordered']} "
        f"| all | {yes[e['invalid'] == 0 and e['ordered']]} |",
    ]
    if sp:
        lines.append(f"| spotting over the {sp['loops']} whole loops (IoU >= 0.5) | F1 {sp['f1']:.3f} "
                     f"(TP {sp['tp']}, FP {sp['fp']}, FN {sp['fn']} of {sp['truth']}) | (reported) | |")
    lines += ["", f"Labels: {e['labels']}.", "",
              "The fps drift is measured on wall clock, so jobs of other users sharing the cores move it; the "
              "frames per CPU second beside it are what the process itself did. "
              "Resources over time: `soak.png`; every sample: `soak.json`.", ""]
    if e["problems"]:
        lines += ["Invalid event lines (first 20):", "", *[f"- {p}" for p in e["problems"]], ""]
    return "\n".join(lines)


def _cpus(doc: dict) -> str:
    """The soak's CPUs in words (older result files did not record them)."""
    cpus = doc.get("cpu_affinity")
    if cpus is None:
        return "not recorded"
    pinned = len(cpus) < doc["machine"]["cores"]
    return f"CPU{'s' if len(cpus) > 1 else ''} {', '.join(map(str, cpus))}" + (
        f" of {doc['machine']['cores']} (pinned with --cpus; other work kept off them)" if pinned else " (all)")


def write_clip(path: Path, seed: int, seconds: float = 4.0) -> tuple[list, int]:
    """The demo clip as MJPG .avi (what ``--save-clip x.avi`` writes); returns (truth, frames)."""
    from sofp.runtime.demo_clip import make_demo_clip
    from sofp.runtime.overlay import VideoRecorder

    clip = make_demo_clip(seed=seed, duration_s=seconds)
    rec = VideoRecorder(path, clip.fps)
    try:
        for i in range(len(clip.frames)):
            rec.write(clip.frames[i])
    finally:
        rec.close()
    return list(clip.truth), len(clip.frames)


def run_soak(cfg: SoakConfig) -> dict:
    """Run the soak and write soak.{json,md,png} into ``cfg.out_dir``; returns the document."""
    from sofp.runtime.pipeline import PipelineConfig
    from sofp.runtime.runner import StreamConfig, run_stream

    if not os.path.isdir("/proc/self/fd"):
        raise UsageError("the soak samples /proc/self: it runs on Linux only")
    if cfg.cpus:
        try:
            os.sched_setaffinity(0, set(cfg.cpus))  # before any pipeline thread starts: they inherit it
        except OSError as e:
            raise UsageError(f"--cpus {' '.join(map(str, cfg.cpus))}: cannot pin the soak there ({e})") from None
    cpus = sorted(os.sched_getaffinity(0))
    warmup = cfg.warmup_s if cfg.warmup_s is not None else (
        max(30.0, 0.1 * cfg.seconds) if cfg.seconds >= 90 else cfg.seconds / 3)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tqdm.monitor_interval = 0  # no tqdm monitor thread: the thread count is the pipeline's
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="sofp-soak-") as tmp:
        clip_path = Path(tmp) / "demo.avi"
        truth, clip_frames = write_clip(clip_path, cfg.seed, cfg.clip_seconds)
        events_path = Path(tmp) / "events.jsonl"
        pipeline = PipelineConfig(flow="cpu-dis", backend="onnxruntime")
        source = LoopingVideo(clip_path, deadline=time.monotonic() + cfg.seconds)
        t0 = time.monotonic()
        with Sampler(source, cfg.interval_s, cfg.seconds) as sampler:
            code = run_stream(StreamConfig(source=source, pipeline=pipeline, events=str(events_path), quiet=True))
            sampler.finish()
        seconds = time.monotonic() - t0
        events = check_events(events_path, truth, clip_frames, source.loops, source.frames)
    doc = {"command": cfg.command, "started_utc": started, "machine": machine(), "versions": _versions(),
           "config": asdict(cfg), "cpu_affinity": cpus,
           "pipeline": "run_stream: LoopingVideo(MJPG demo clip) -> cpu-dis flow -> ONNX Runtime, built-in model, "
           "events to a JSON Lines file", "minutes": seconds / 60.0,
           "seconds": seconds, "interval_s": cfg.interval_s, "exit_code": code, "frames": source.frames,
           "loops": source.loops, "clip_frames": clip_frames, "analysis": analyse(sampler.samples, warmup),
           "events": events, "samples": sampler.samples}
    doc["passed"] = all(doc["analysis"]["criteria"].values()) and events["invalid"] == 0 and events["ordered"] \
        and code == 0
    (out / "soak.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "soak.md").write_text(_md(doc))
    _png(doc, out / "soak.png")
    print(f"soak: {'all criteria met' if doc['passed'] else 'NOT all criteria met'}; wrote {out / 'soak.json'}, "
          f"{out / 'soak.md'}, {out / 'soak.png'}", file=sys.stderr)
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/soak.py", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0, help="how long to run (default 60)")
    p.add_argument("--interval-s", type=float, default=10.0, help="seconds between samples (default 10)")
    p.add_argument("--warmup-s", type=float, help="warm-up excluded from the criteria (default 10 %%, >= 30 s)")
    p.add_argument("--seed", type=int, default=0, help="demo clip seed")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="results folder")
    p.add_argument("--cpus", type=int, nargs="+", default=[], metavar="N",
                   help="pin the soak to these CPUs (e.g. 0), so work kept on the others does not move its frames/s")
    a = p.parse_args(argv)
    if not a.minutes > 0 or not a.interval_s > 0 or (a.warmup_s is not None and a.warmup_s < 0):
        raise UsageError(f"--minutes {a.minutes}, --interval-s {a.interval_s}, --warmup-s {a.warmup_s}: "
                         "need positive durations (warm-up >= 0)")
    if a.minutes * 60 < 4 * a.interval_s:
        raise UsageError(f"--minutes {a.minutes}: need at least 4 sample intervals ({4 * a.interval_s:.0f} s)")
    command = "python benchmarks/soak.py " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = run_soak(SoakConfig(seconds=a.minutes * 60, interval_s=a.interval_s, warmup_s=a.warmup_s, seed=a.seed,
                              out_dir=a.out, cpus=tuple(a.cpus), command=command.strip()))
    return 0 if doc["passed"] else 1


if __name__ == "__main__":
    sys.exit(run_cli(lambda: main()))
