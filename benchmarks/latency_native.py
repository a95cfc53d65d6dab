"""Native runtime (libsofp) beside the Python runtime, on the same frames in the same run.

    python benchmarks/latency_native.py --lib build/native/libsofp.so
    python benchmarks/latency_native.py --lib build/native/libsofp.so --passes 5 --model m.onnx

The demo clip (640 x 480 frames of the astronaut face with head drift, sensor noise and three
injected micro-movements, 100 frames/s) is played forwards and backwards (so the stream never
jumps), as benchmarks/latency.py plays it. Every frame goes through both pipelines in turn (the
order alternates frame by frame, so a load spike on this shared machine hits both alike): the
Python pipeline (cpu-dis, ONNX Runtime, one thread) and libsofp through its C API (cpu-dis,
OpenVINO, one thread), both on one OpenCV thread. After a warm-up pass it records, per pipeline,
the call's wall time (Python: ``Pipeline.feed``; native: the ctypes call of ``sofp_push_frame``
plus polling, so it includes the binding's overhead) and its CPU time (the calling thread's: both
pipelines run OpenCV and the model on one thread; on a loaded machine wall time mostly measures waiting
for a core), the pipeline's own total and per-stage times (telemetry), p50 / p95 / p99 / max, and
frames/s at the median; then the native-to-Python ratios.
Both pipelines must report the same events (they are the same pipeline).

Writes benchmarks/results/latency_native.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")  # libsofp's OpenCV: one thread, as the CLI runs it

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(ROOT / "native" / "python"))
from latency import machine  # noqa: E402  (benchmarks/ is on sys.path: this script's folder)
from sofp_native import NativePipeline, load_library  # noqa: E402

from sofp.runtime.errors import SofpError  # noqa: E402
from sofp.runtime.events import STAGES  # noqa: E402


def pct(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=np.float64)
    return {"n": int(a.size), "mean": float(a.mean()), "p50": float(np.median(a)),
            "p95": float(np.percentile(a, 95)), "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def pingpong(n: int, passes: int) -> list[int]:
    seq = list(range(n)) + list(range(n - 2, 0, -1))
    out: list[int] = []
    while len(out) < passes * n:
        out.extend(seq)
    return out[: passes * n]


def run(lib_path: str, model: str, passes: int, seed: int) -> dict:
    from sofp.runtime.demo_clip import make_demo_clip
    from sofp.runtime.pipeline import Pipeline, PipelineConfig
    from sofp.runtime.sources.base import Frame

    cv2.setNumThreads(1)
    clip = make_demo_clip(seed=seed)
    frames = [clip.frames[i] for i in range(len(clip.frames))]
    fps = clip.fps
    n = len(frames)
    lib = load_library(lib_path)
    rec = {name: {"call": [], "cpu": [], "total": [], "stages": {s: [] for s in STAGES}, "events": []}
           for name in ("python", "native")}
    load_before = os.getloadavg()
    with Pipeline(PipelineConfig(flow="cpu-dis", backend="onnxruntime", model=model, threads=1, fps=fps)) as py, \
            NativePipeline(lib, model, fps=fps, threads=1) as nat:
        for k, i in enumerate(pingpong(n, passes)):
            image, t = frames[i], k / fps

            def py_step(image=image, k=k, t=t) -> tuple[float, float, list, dict]:
                c0, t0 = time.thread_time(), time.perf_counter()
                evs = py.feed(Frame(image, k, t))
                wall, cpu = 1000 * (time.perf_counter() - t0), 1000 * (time.thread_time() - c0)
                tel = py.telemetry
                if tel is None:  # feed() records it for every frame
                    raise SofpError(f"frame {k}: the Python pipeline recorded no telemetry")
                return wall, cpu, [e.to_dict() for e in evs], {"total": tel.total_ms, **tel.stages_ms}

            def nat_step(image=image, k=k, t=t) -> tuple[float, float, list, dict]:
                c0, t0 = time.thread_time(), time.perf_counter()
                evs = nat.feed(image, k, t)
                wall, cpu = 1000 * (time.perf_counter() - t0), 1000 * (time.thread_time() - c0)
                info = nat.frame_info()
                return wall, cpu, evs, {"total": info["total_ms"], **info["stages_ms"]}

            order = [("python", py_step), ("native", nat_step)]
            if k % 2:
                order.reverse()
            for name, step in order:
                wall, cpu, evs, tel = step()
                if k < n:  # warm-up pass
                    continue
                r = rec[name]
                r["call"].append(wall)
                r["cpu"].append(cpu)
                r["total"].append(tel["total"])
                for s in STAGES:
                    r["stages"][s].append(tel[s])
                r["events"] += [(e["onset_frame"], e["apex_frame"], e["offset_frame"], e["label"]) for e in evs]
        description = nat.description
    out = {"machine": machine(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
           "versions": {"cv2 (Python)": cv2.__version__, "libsofp": lib.sofp_version().decode(),
                        "native backend": description, "numpy": np.__version__},
           "model": model, "clip": {"frames": n, "fps": fps, "seed": seed, "size": list(frames[0].shape)},
           "passes": passes, "timed_frames": len(rec["python"]["call"]), "pipelines": {}}
    for name, r in rec.items():
        call, cpu = pct(r["call"]), pct(r["cpu"])
        out["pipelines"][name] = {"call_ms": call, "cpu_ms": cpu, "fps_at_cpu_median": 1000 / cpu["p50"],
                                  "total_ms": pct(r["total"]),
                                  "stages_ms": {s: pct(v) for s, v in r["stages"].items()},
                                  "fps_at_median": 1000 / call["p50"], "fps_mean": 1000 / call["mean"],
                                  "events": len(r["events"])}
    p, q = out["pipelines"]["python"], out["pipelines"]["native"]
    out["ratio_fps_at_median"] = q["fps_at_median"] / p["fps_at_median"]
    out["ratio_fps_mean"] = q["fps_mean"] / p["fps_mean"]
    out["ratio_fps_at_cpu_median"] = q["fps_at_cpu_median"] / p["fps_at_cpu_median"]
    out["same_events"] = rec["python"]["events"] == rec["native"]["events"]
    return out


def markdown(d: dict, command: str) -> str:
    p, q = d["pipelines"]["python"], d["pipelines"]["native"]
    lines = ["# Native runtime beside the Python runtime (latency)", "",
             f"Command: `{command}`  ", f"Machine: {d['machine']['cpu']}, {d['machine']['cores']} cores, load average "
             f"{d['loadavg_before'][0]:.2f} before / {d['loadavg_after'][0]:.2f} after (a shared machine: read the "
             "ratio, measured on the same frames interleaved, more than the absolute times)  ",
             f"Versions: {d['versions']}  ",
             f"Clip: demo seed {d['clip']['seed']}, {d['clip']['frames']} frames of {d['clip']['size'][1]} x "
             f"{d['clip']['size'][0]} px at {d['clip']['fps']:.0f} frames/s, played forwards and backwards, "
             f"{d['passes']} passes (the first is warm-up): {d['timed_frames']} timed frames per pipeline  ",
             f"Model: `{d['model']}`; same events from both: {d['same_events']} ({p['events']} / {q['events']})", "",
             "| per frame (ms) | Python p50 | Python p99 | native p50 | native p99 |", "|---|---|---|---|---|"]
    rows = [("call (wall, whole feed)", "call_ms"), ("call (CPU time of the thread)", "cpu_ms"),
            ("pipeline total (telemetry, wall)", "total_ms")]
    for title, key in rows:
        a, b = p[key], q[key]
        lines.append(f"| {title} | {a['p50']:.3f} | {a['p99']:.3f} | {b['p50']:.3f} | {b['p99']:.3f} |")
    for s in STAGES:
        a, b = p["stages_ms"][s], q["stages_ms"][s]
        lines.append(f"| stage {s} | {a['p50']:.3f} | {a['p99']:.3f} | {b['p50']:.3f} | {b['p99']:.3f} |")
    lines += ["", f"Frames/s at the median call: Python {p['fps_at_median']:.0f}, native {q['fps_at_median']:.0f} "
                  f"(**{d['ratio_fps_at_median']:.2f} x**); from the mean call: Python {p['fps_mean']:.0f}, native "
                  f"{q['fps_mean']:.0f} ({d['ratio_fps_mean']:.2f} x); at the median CPU time: Python "
                  f"{p['fps_at_cpu_median']:.0f}, native {q['fps_at_cpu_median']:.0f} "
                  f"({d['ratio_fps_at_cpu_median']:.2f} x).",
              f"Native p99 of the call: {q['call_ms']['p99']:.2f} ms wall, {q['cpu_ms']['p99']:.2f} ms CPU "
              f"(target <= 2 ms); Python {p['call_ms']['p99']:.2f} ms wall, {p['cpu_ms']['p99']:.2f} ms CPU.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--lib", default=str(ROOT / "build" / "native" / "libsofp.so"), help="libsofp shared library")
    ap.add_argument("--model", default=str(ROOT / "runtime" / "builtin" / "sofp_composite.onnx"),
                    help="exported .onnx with its sidecar (both pipelines use it)")
    ap.add_argument("--passes", type=int, default=3, help="passes over the clip; the first is warm-up (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="demo clip seed")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="results folder")
    a = ap.parse_args(argv)
    if a.passes < 2:
        print("error: --passes must be >= 2 (the first pass is warm-up)", file=sys.stderr)
        return 2
    for what, path in (("--lib", a.lib), ("--model", a.model)):
        if not Path(path).is_file():
            print(f"error: {what} {path} not found (build: cmake -S . -B build && cmake --build build)",
                  file=sys.stderr)
            return 2
    d = run(a.lib, a.model, a.passes, a.seed)
    command = "python benchmarks/latency_native.py " + " ".join(argv if argv is not None else sys.argv[1:])
    d["command"] = command.strip()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency_native.json").write_text(json.dumps(d, indent=2) + "\n")
    md = markdown(d, d["command"])
    (out / "latency_native.md").write_text(md)
    print(md)
    return 0 if d["same_events"] else 1


if __name__ == "__main__":
    sys.exit(main())
