"""Throughput of ``sofp-analyze``: 1 and 2 local worker processes and Ray on a local instance, on the same clips.

Clips: the runtime's demo clip (640 x 480, 100 frames/s, the astronaut face with three injected micro-movements,
head drift and sensor noise), ``--clips`` seeds of ``--seconds`` s each, written once as MJPG .avi into
``--clip-dir`` (reused when present). Each round runs every configuration once, in turn, side by side; medians
over ``--rounds``. Per run, from its run.json: ``work_s`` (first task submitted to last video written) and
``start_s`` (starting the worker processes or the Ray instance). Throughput = video-seconds (and frames) per
wall-second of ``work_s``; scaling efficiency at 2 workers = throughput(2) / (2 x throughput(1)); Ray's
per-video overhead = (work_s(Ray, 2 CPUs) - work_s(local, 2 workers)) / videos. Writes
benchmarks/results/analyze.{json,md,png} and, with ``--screenshot``, a headless-Chromium screenshot of one
report (analyze_report.png).

    python benchmarks/analyze.py [--clips 6] [--seconds 6] [--rounds 3] [--screenshot]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sofp.runtime.analysis.run import AnalyzeConfig, run_analysis

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = (("local, 1 worker", 1, None), ("local, 2 workers", 2, None), ("Ray local instance, 2 CPUs", 2, ""))


def make_clips(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` demo clips (seeds 0..n-1) of ``seconds`` s, rendered once."""
    from sofp.runtime.demo_clip import make_demo_clip
    from sofp.runtime.overlay import VideoRecorder

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(n):
        path = folder / f"clip{seed:02d}.avi"
        if not path.exists():
            clip = make_demo_clip(seed=seed, fps=100.0, duration_s=seconds)
            tmp = folder / f".{path.name}"
            rec = VideoRecorder(tmp, clip.fps)
            for frame in clip.frames:
                rec.write(frame)
            rec.close()
            tmp.rename(path)
        paths.append(path)
    return paths


def run_once(clips: list[Path], workers: int, ray: str | None, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    code = run_analysis(AnalyzeConfig(tuple(map(str, clips)), out=str(out), workers=workers, ray=ray, chunk_s=0,
                                      quiet=True))
    total = time.perf_counter() - t0
    record = json.loads((out / "run.json").read_text())
    if code != 0 or record["counts"]["done"] != len(clips):
        raise SystemExit(f"run failed (exit {code}): {record['counts']}")
    work = record["timing_s"]["work_s"]
    return {"work_s": work, "start_s": record["timing_s"]["start_s"], "total_s": round(total, 3),
            "video_s": record["video_s"], "frames": record["frames"],
            "video_s_per_s": record["video_s"] / work, "frames_per_s": record["frames"] / work,
            "cpu_s": record["cpu_s"], "frames_per_cpu_s": record["frames"] / record["cpu_s"],
            "cpu_share": record["cpu_s"] / (work * workers)}


def _versions() -> dict:
    import cv2
    import onnxruntime

    try:
        import ray

        ray_version = ray.__version__
    except ImportError:
        ray_version = None
    return {"python": platform.python_version(), "opencv": cv2.__version__, "onnxruntime": onnxruntime.__version__,
            "ray": ray_version}


def _machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform()}


def screenshot(report: Path, png: Path) -> None:
    """Headless Chromium (Debian's chromium) renders ``report`` into ``png``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("--screenshot needs Chromium: apt-get install chromium")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,1400", f"--screenshot={png}", report.as_uri()],
                   check=True, capture_output=True, timeout=120)


def plot(summary: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.8), dpi=110)
    names = [s["config"] for s in summary]
    med = [s["frames_per_s"]["median"] for s in summary]
    lo = [m - s["frames_per_s"]["min"] for m, s in zip(med, summary, strict=True)]
    hi = [s["frames_per_s"]["max"] - m for m, s in zip(med, summary, strict=True)]
    bars = ax.bar(names, med, yerr=[lo, hi], capsize=5, color=["#6a9", "#2a7", "#e80"])
    for bar, s in zip(bars, summary, strict=True):
        ax.annotate(f"{s['frames_per_s']['median']:.0f} frames/s\n{s['video_s_per_s']['median']:.2f} video-s/s",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 6), textcoords="offset points")
    ax.set_ylabel("frames/s (median, min-max)")
    ax.set_ylim(0, max(med) * 1.35)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clip-dir", type=Path, default=Path(tempfile.gettempdir()) / "sofp-analyze-bench")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--screenshot", action="store_true", help="also write analyze_report.png (headless Chromium)")
    a = p.parse_args(argv)
    clips = make_clips(a.clip_dir, a.clips, a.seconds)
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for name, workers, ray in CONFIGS:
                res = run_once(clips, workers, ray, Path(tmp) / f"r{r}-{workers}-{ray is not None}")
                runs.append({"round": r, "config": name, "workers": workers, "ray": ray is not None, **res})
                print(f"round {r}: {name}: {res['frames_per_s']:.0f} frames/s, work {res['work_s']:.2f} s, "
                      f"start {res['start_s']:.2f} s", file=sys.stderr, flush=True)
        load_after = os.getloadavg()
        if a.screenshot:
            report = next(Path(tmp).glob("r0-1-False/videos/clip00/report.html"))
            screenshot(report, a.out / "analyze_report.png")
    summary = []
    for name, workers, ray in CONFIGS:
        mine = [x for x in runs if x["config"] == name]
        keys = ("video_s_per_s", "frames_per_s", "work_s", "start_s", "frames_per_cpu_s", "cpu_share")
        stats = {k: {"median": statistics.median(x[k] for x in mine), "min": min(x[k] for x in mine),
                     "max": max(x[k] for x in mine)} for k in keys}
        summary.append({"config": name, "workers": workers, "ray": ray is not None, **stats})
    one, two, on_ray = summary
    efficiency = two["video_s_per_s"]["median"] / (2 * one["video_s_per_s"]["median"])
    per_round_eff = [
        next(x for x in runs if x["round"] == r and x["config"] == two["config"])["video_s_per_s"]
        / (2 * next(x for x in runs if x["round"] == r and x["config"] == one["config"])["video_s_per_s"])
        for r in range(a.rounds)]
    cpu_efficiency = two["frames_per_cpu_s"]["median"] / one["frames_per_cpu_s"]["median"]
    overhead_ms = 1000 * (on_ray["work_s"]["median"] - two["work_s"]["median"]) / len(clips)
    per_core = one["video_s_per_s"]["median"]  # video-seconds per wall-second per single-threaded worker
    paper = [{"machines": n, "cores": c, "video_hours_per_hour": round(per_core * c * n * efficiency, 1)}
             for c in (2, 16, 64) for n in (1, 10, 100)]
    result = {"command": "python benchmarks/analyze.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": _machine(), "versions": _versions(), "load_average": {"before": load_before,
                                                                              "after": load_after},
              "clips": {"n": len(clips), "seconds": a.seconds, "fps": 100.0, "size": [640, 480], "codec": "MJPG",
                        "movements_per_clip": 3},
              "runs": runs, "summary": summary, "scaling_efficiency_2": efficiency,
              "scaling_efficiency_2_per_round": per_round_eff, "cpu_time_efficiency_2": cpu_efficiency,
              "ray_overhead_ms_per_video": overhead_ms,
              "ray_start_s": on_ray["start_s"]["median"], "local_start_s": two["start_s"]["median"],
              "per_core_video_s_per_s": per_core, "on_paper": paper}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "analyze.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(summary, a.out / "analyze.png",
         f"sofp-analyze on {len(clips)} clips x {a.seconds:g} s (640 x 480, 100 frames/s), {os.cpu_count()} cores: "
         f"scaling efficiency at 2 workers {efficiency:.0%}")
    rows = "\n".join(
        f"| {s['config']} | {s['video_s_per_s']['median']:.2f} ({s['video_s_per_s']['min']:.2f}-"
        f"{s['video_s_per_s']['max']:.2f}) | {s['frames_per_s']['median']:.0f} ({s['frames_per_s']['min']:.0f}-"
        f"{s['frames_per_s']['max']:.0f}) | {s['work_s']['median']:.2f} | {s['start_s']['median']:.2f} | "
        f"{s['frames_per_cpu_s']['median']:.0f} | {s['cpu_share']['median']:.0%} |"
        for s in summary)
    paper_rows = "\n".join(f"| {x['machines']} | {x['cores']} | {x['video_hours_per_hour']:,} |" for x in paper)
    md = f"""# sofp-analyze throughput

Machine: {result['machine']['cpu']}, {os.cpu_count()} cores, {result['machine']['platform']}; Python
{result['versions']['python']}, OpenCV {result['versions']['opencv']}, ONNX Runtime {result['versions']['onnxruntime']},
Ray {result['versions']['ray']}. Load average before {[round(x, 2) for x in load_before]}, after
{[round(x, 2) for x in load_after]} (a shared machine).

Command: `{result['command']}`

Clips: {len(clips)} demo clips x {a.seconds:g} s (640 x 480, 100 frames/s, MJPG, 3 injected micro-movements each,
head drift and noise), the built-in model on ONNX Runtime, flow cpu-dis; every worker single-threaded. {a.rounds}
rounds, each running the three configurations in turn; medians (min-max). Wall time = first task submitted to
last video's outputs written (`work_s` of run.json); starting the workers is apart (`start`).

| configuration | video-s per wall-s | frames/s | work s | start s | frames per worker CPU-s | worker CPU share |
|---|---|---|---|---|---|---|
{rows}

- **Scaling efficiency at 2 workers: {efficiency:.1%}** (throughput of 2 workers / twice that of 1; per round
  {', '.join(f'{x:.1%}' for x in per_round_eff)}). Per CPU-second the two workers do {cpu_efficiency:.1%} of
  the single worker's frames; the worker CPU share (their CPU time / (work s x workers)) says how much of the
  wall time they were running: below 100 % they waited for a core (other jobs of this shared machine) or I/O.
- **Ray's per-video overhead: {overhead_ms:.0f} ms of wall time per video** over the local pool at the same 2
  workers ((work s Ray - work s local) / {len(clips)} videos); starting the local Ray instance takes
  {on_ray['start_s']['median']:.1f} s (the local pool: {two['start_s']['median']:.1f} s).

On paper, at the measured per-core rate ({per_core:.2f} video-seconds per second per single-threaded worker, i.e.
{per_core:.2f} video-hours per hour per core) and the measured 2-worker efficiency, assuming it holds at every
core count (not measured beyond 2 cores):

| machines | cores each | video-hours per hour |
|---|---|---|
{paper_rows}

![throughput](analyze.png)
"""
    (a.out / "analyze.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
