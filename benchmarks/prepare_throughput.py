"""Raw-dataset preparation throughput: seconds per clip and clips/s of ``sofp-train prepare``.

Synthetic trees laid out like CASME II (annotated apex: one onset->apex flow per clip) and SMIC-HS
(no apex: the peak-motion search runs the apex flow on every frame, then one onset->apex flow),
frames of the real astronaut face warped with known motion (tests/training/raw_synth.py); and the
accuracy of the peak-motion apex on the runtime's 640 x 480 demo clips with known apex frames.
Default face crop (112 px), pinned flow settings. Writes benchmarks/results/prepare_throughput.json,
.md and .png.

    python benchmarks/prepare_throughput.py [--clips 12] [--smic-frames 30] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "training"))

import raw_synth as rs  # noqa: E402

from sofp.training.raw.prepare import PrepareConfig, prepare  # noqa: E402

EMOS = ("happiness", "disgust", "surprise")
SMIC_EMOS = ("positive", "negative", "surprise")


def _run(name: str, ds: str, raw: Path, work: Path, **kw) -> dict:
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    res = prepare(PrepareConfig(dataset=ds, root=str(raw), out=str(out), class_map="composite", progress=False,
                                **kw), warn=lambda line: None)
    wall = time.perf_counter() - t0
    per = [r["seconds"] for r in res.records]
    return {"run": name, "dataset": ds, "settings": kw, "clips": len(res.records), "wall_s": round(wall, 2),
            "clips_per_s": round(len(res.records) / wall, 3), "clip_s_median": round(statistics.median(per), 4),
            "clip_s_p90": round(sorted(per)[int(0.9 * (len(per) - 1))], 4), "skipped": len(res.skipped)}


def apex_accuracy(work: Path, seeds: int) -> dict:
    """Peak-motion apex vs the true apex on runtime demo clips (640 x 480, 100 fps, head drift, noise).

    Each injected event (onset..offset frames) becomes one SMIC-like clip without an apex.
    """
    from sofp.runtime.demo_clip import make_demo_clip

    short = {"brow_raise": ("surprise", "sur"), "lip_corner_pull": ("positive", "po"), "brow_lower": ("negative", "ne")}
    raw, truth = work / "demo_smic", {}
    for seed in range(seeds):
        clip = make_demo_clip(seed=seed)
        for k, ev in enumerate(clip.truth):
            emo, tag = short[ev.kind]
            nums = list(range(ev.onset, ev.offset + 1))
            rs.write_frames(raw / "HS" / f"s{seed + 1}" / "micro" / emo / f"s{seed + 1}_{tag}_{k + 1:02d}",
                            [clip.frames[i] for i in nums], [100000 + i for i in nums], "image{:06d}.bmp")
            truth[f"s{seed + 1:02d}_{tag}_{k + 1:02d}"] = 100000 + ev.apex
    res = prepare(PrepareConfig(dataset="smic", root=str(raw), out=str(work / "demo_out"), progress=False),
                  warn=lambda line: None)
    err = [r["apex"] - truth[r["sample"]] for r in res.records]
    return {"clips": len(err), "abs_error_frames_mean": round(float(sum(map(abs, err)) / len(err)), 3),
            "abs_error_frames_max": max(map(abs, err)), "errors_frames": err,
            "clip_s_median": round(statistics.median(r["seconds"] for r in res.records), 4),
            "setup": f"runtime.demo_clip.make_demo_clip seeds 0..{seeds - 1}, 100 fps, 640 x 480; apex search "
                     "cpu-dis, onset->apex torch-tvl1, crop 112"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=12, help="clips per synthetic dataset (default 12)")
    ap.add_argument("--frames", type=int, default=9, help="frames per CASME II-like clip (default 9)")
    ap.add_argument("--smic-frames", type=int, default=30, help="frames per SMIC-like clip (default 30)")
    ap.add_argument("--demo-seeds", type=int, default=4, help="demo clips for the apex accuracy (3 events each)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        casme = [(1 + k // 3, f"EP{k:02d}_01", EMOS[k % 3]) for k in range(args.clips)]
        rs.make_casme2(tmp / "casme2", casme, n=args.frames, apex_at=args.frames // 2)
        smic = [(1 + k // 3, SMIC_EMOS[k % 3], 1 + k) for k in range(args.clips)]
        rs.make_smic(tmp / "smic", smic, apex_at=args.smic_frames // 3, n=args.smic_frames)
        runs = [
            _run("casme2 torch-tvl1 w1", "casme2", tmp / "casme2", tmp, flow="torch-tvl1", workers=1),
            _run("casme2 torch-tvl1 w2", "casme2", tmp / "casme2", tmp, flow="torch-tvl1", workers=2),
            _run("casme2 cpu-dis w1", "casme2", tmp / "casme2", tmp, flow="cpu-dis", workers=1),
            _run("smic torch-tvl1 peak w1", "smic", tmp / "smic", tmp, flow="torch-tvl1", workers=1),
            _run("smic torch-tvl1 midpoint w1", "smic", tmp / "smic", tmp, flow="torch-tvl1", apex="midpoint",
                 workers=1),
        ]
        apex = apex_accuracy(tmp, args.demo_seeds)
    import cv2
    import numpy as np
    import torch

    result = {
        "runs": runs,
        "apex_search": apex,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "load_average_at_start": [round(x, 2) for x in load],
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "opencv": cv2.__version__,
                     "numpy": np.__version__},
        "notes": "PyTorch/OpenCV threads: 1 per process (prepare's default --threads 1); w1 = clips in this "
                 "process, w2 = two worker processes (spawned; their start-up is in the wall time). Face crop "
                 "112 px (runtime default); frames 128 x 128 px synthetic; SMIC-like clips "
                 f"{args.smic_frames} frames (apex search with cpu-dis on every frame). Per-clip seconds are "
                 "measured inside each clip's processing (read, crop, apex search, align, flow, features).",
        "command": "python benchmarks/prepare_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "prepare_throughput.json").write_text(json.dumps(result, indent=1))
    lines = ["# Raw-dataset preparation throughput", "",
             f"Machine: {result['machine']}; load average at start {result['load_average_at_start']} "
             "(a shared machine: other jobs ran at the same time).", "",
             f"Command: `{result['command']}`", "",
             "| run | clips | wall s | clips/s | median s/clip | p90 s/clip |", "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['run']} | {r['clips']} | {r['wall_s']} | {r['clips_per_s']} | {r['clip_s_median']} | "
                     f"{r['clip_s_p90']} |")
    lines += ["", result["notes"], "",
              "## Peak-motion apex (clips without an annotated apex)", "",
              f"{apex['setup']}: {apex['clips']} clips, |found - true apex| mean {apex['abs_error_frames_mean']} "
              f"frames, max {apex['abs_error_frames_max']} frames (errors: {apex['errors_frames']}); median "
              f"{apex['clip_s_median']} s per clip.", ""]
    (out / "prepare_throughput.md").write_text("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh([r["run"] for r in runs], [r["clip_s_median"] for r in runs], color="tab:blue")
    ax.set_xlabel("median seconds per clip (per-clip compute, one process)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out / "prepare_throughput.png", dpi=120)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
