"""Per-frame cost of the vision stages on 640 x 480 frames: face crop (detection frames vs tracked
frames), head-motion removal (each Stabiliser method), per-frame motion flow and the feature flow.

    python benchmarks/face_stages.py

Runs on the demo clip (the astronaut face with drift, noise and injected movements), one thread.
Writes benchmarks/results/face_stages.{json,md,png}: median / p95 / p99 / max in ms per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from sofp.runtime.demo_clip import make_demo_clip
from sofp.runtime.errors import SofpError, run_cli
from sofp.runtime.face import FaceCropper, Stabiliser
from sofp.runtime.face.stabilise import METHODS
from sofp.runtime.flow.dis import DisFlow

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class FaceStagesConfig:
    seeds: tuple[int, ...] = (0, 1)
    crop: int = 112
    detect_every: int = 15
    threads: int = 1
    out_dir: str = str(ROOT / "benchmarks" / "results")
    command: str = ""


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"n": int(a.size), "median": float(np.median(a)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "min": float(a.min())}


def run(cfg: FaceStagesConfig) -> dict:
    cv2.setNumThreads(cfg.threads)
    t: dict[str, list[float]] = {k: [] for k in ("crop_detect", "crop_tracked", "crop_all", "motion_flow_56px",
                                                  "feature_flow_cpu-dis")}
    for m in METHODS:
        t[f"align_{m}"] = []
    motion = DisFlow({"preset": "ultrafast"})
    feature = DisFlow()
    stabilisers = {m: Stabiliser(m) for m in METHODS}
    for seed in cfg.seeds:
        clip = make_demo_clip(seed=seed)
        frames = [clip.frames[i] for i in range(len(clip.frames))]  # rendered before timing
        cropper = FaceCropper(size=cfg.crop, detect_every=cfg.detect_every)
        ref = None
        for img in tqdm(frames, desc=f"clip {seed}", leave=False):
            t0 = time.perf_counter()
            c = cropper(img)
            dt = (time.perf_counter() - t0) * 1e3
            t["crop_all"].append(dt)
            if c is None:
                continue
            t["crop_tracked" if c.tracked else "crop_detect"].append(dt)
            if ref is None:
                ref = c.gray
            aligned = c.gray  # each stabiliser's output in turn; the last one feeds the motion flow
            for m, st in stabilisers.items():
                t0 = time.perf_counter()
                aligned = st.align(ref, c.gray)
                t[f"align_{m}"].append((time.perf_counter() - t0) * 1e3)
            small_ref = cv2.resize(ref, (56, 56), interpolation=cv2.INTER_AREA)
            t0 = time.perf_counter()
            motion.compute(small_ref, cv2.resize(aligned, (56, 56), interpolation=cv2.INTER_AREA))
            t["motion_flow_56px"].append((time.perf_counter() - t0) * 1e3)
        box = cropper.box
        if box is None:
            raise SofpError(f"no face found in demo clip {seed}")
        for e in clip.truth[:3]:  # the feature flow runs at spotted apexes only
            a, b = cropper.crop(cv2.cvtColor(frames[e.onset], cv2.COLOR_BGR2GRAY), box), \
                cropper.crop(cv2.cvtColor(frames[e.apex], cv2.COLOR_BGR2GRAY), box)
            for _ in range(10):
                t0 = time.perf_counter()
                feature.compute(a, b)
                t["feature_flow_cpu-dis"].append((time.perf_counter() - t0) * 1e3)
    record = {"benchmark": "face_stages", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "command": cfg.command, "config": asdict(cfg), "opencv": cv2.__version__,
              "cpu_count": os.cpu_count(), "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
              "frame": "640 x 480 BGR (demo clip)", "feature_flow_params": asdict(feature.params),
              "stages_ms": {k: stats(v) for k, v in t.items() if v}}
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "face_stages.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = ["# Vision stages: per-frame cost on 640 x 480 frames", "",
             f"Measured {record['date']}, OpenCV {record['opencv']}, {cfg.threads} thread, "
             f"{record['cpu_count']} cores, "
             f"load average {record['load_average_1_5_15min']} (a shared machine: tails are upper bounds).", "",
             f"Command: `{cfg.command}`", "",
             f"Face crop {cfg.crop} px, detector every {cfg.detect_every} frames (size-limited region search), "
             "tracking by template matching in between. align_*: Stabiliser methods on every crop "
             "(the pipeline uses one: robust). The feature flow runs only at spotted apexes.", "",
             "| stage | n | median ms | p95 | p99 | max |", "|---|---|---|---|---|---|"]
    for k, s in record["stages_ms"].items():
        lines.append(f"| {k} | {s['n']} | {s['median']:.3f} | {s['p95']:.3f} | {s['p99']:.3f} | {s['max']:.3f} |")
    (out / "face_stages.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(9, 4))
    keys = [k for k in record["stages_ms"] if k != "crop_all"]
    ax.boxplot([t[k] for k in keys], showfliers=True, whis=(1, 99))
    ax.set_xticks(range(1, len(keys) + 1), keys, rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per frame (whiskers: p1..p99)")
    ax.set_title("Vision stages on 640 x 480 frames, 1 thread")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "face_stages.png", dpi=120)
    plt.close(fig)
    return record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    ap.add_argument("--crop", type=int, default=112)
    ap.add_argument("--detect-every", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = ap.parse_args(argv)
    cmd = "python benchmarks/face_stages.py " + " ".join(argv if argv is not None else sys.argv[1:])
    r = run(FaceStagesConfig(tuple(a.seeds), a.crop, a.detect_every, a.threads, a.out, cmd.strip()))
    print((Path(a.out) / "face_stages.md").read_text())
    return 0 if r else 1


if __name__ == "__main__":
    sys.exit(run_cli(lambda: main()))
