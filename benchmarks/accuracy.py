"""Accuracy benchmark: 68-fold LOSO on the composite for SOFP and STSTNet (same seeds, same machine),
ablations of SOFP, and the logistic-regression floor. Resumable: every (variant, seed) run lives in
``--runs`` and finished fold chunks are skipped on restart.

    python benchmarks/accuracy.py --data ../shared/data/composite --seeds 0 1 2

Writes benchmarks/results/accuracy_composite.{json,md} and PNGs (confusion matrices, curves, scores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from sofp.runtime.errors import run_cli
from sofp.training.data.flowset import load_flowset
from sofp.training.linear_floor import loso_logistic
from sofp.training.loso import run_loso
from sofp.training.metrics import summarise
from sofp.training.plots import plot_confusion, plot_curves
from sofp.training.trainer import TrainConfig

MODELS = {"sofp": TrainConfig(model="sofp"), "ststnet": TrainConfig(model="ststnet")}
ABLATIONS = {
    "no_sym_loss": TrainConfig(model="sofp", sym_weight=0.0),
    "no_global_branch": TrainConfig(model="sofp", model_config={"use_global": False}),
    "no_self_attention": TrainConfig(model="sofp", model_config={"use_self_attention": False}),
    "no_cross_attention": TrainConfig(model="sofp", model_config={"use_cross_attention": False}),
    "no_mirror_aug": TrainConfig(model="sofp", mirror_aug=False),
}
PUBLISHED = [
    ("SOFP (paper)", 0.9284, 0.9293, "LOSO; per-subject epoch selection not stated (outline only available)"),
    ("HTNet (paper)", 0.8603, 0.8475, "LOSO; public script keeps each subject's best epoch"),
    ("STSTNet (paper)", 0.7353, 0.7605, "LOSO (MEGC 2019)"),
    ("STSTNet (PyTorch release)", 0.7209, 0.7250, "LOSO"),
]


def _aggregate(results: list[dict], key: str) -> dict:
    per_ds = {}
    for ds in results[0][key].get("per_dataset", {}):
        per_ds[ds] = {m: [r[key]["per_dataset"][ds][m] for r in results] for m in ("uf1", "uar")}
        per_ds[ds].update({f"{m}_mean": float(np.mean(per_ds[ds][m])) for m in ("uf1", "uar")})
    return {
        "uf1": [r[key]["uf1"] for r in results], "uar": [r[key]["uar"] for r in results],
        "uf1_mean": float(np.mean([r[key]["uf1"] for r in results])),
        "uar_mean": float(np.mean([r[key]["uar"] for r in results])),
        "accuracy_mean": float(np.mean([r[key]["accuracy"] for r in results])),
        "per_dataset": per_ds,
    }


def _ensemble(results: list[dict], labels: np.ndarray, datasets: np.ndarray, names) -> dict:
    """Average the seeds' class probabilities per sample (what a deployed 3-model ensemble would do)."""
    probs = []
    for r in results:
        order = np.argsort(r["predictions"]["index"])
        probs.append(np.asarray(r["predictions"]["probs"])[order])
    pred = np.mean(probs, axis=0).argmax(-1)
    return summarise(labels, pred, names, datasets)


def _one_run(job: tuple) -> dict:
    """One (variant, seed) LOSO in a worker process with one PyTorch thread."""
    data_path, cfg_dict, seed, run_dir, chunk = job
    torch.set_num_threads(1)
    data = load_flowset(data_path)
    cfg = TrainConfig(**cfg_dict)
    r = run_loso(data, cfg, seed, run_dir, chunk=chunk, progress=False)
    print(f"{run_dir.name}: UF1 {r['honest']['uf1']:.4f} UAR {r['honest']['uar']:.4f} ({r['seconds']:.0f} s)",
          flush=True)
    return r


def run(args: argparse.Namespace) -> int:
    data = load_flowset(args.data)
    runs = Path(args.runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = {**MODELS, **({} if args.no_ablations else ABLATIONS)}
    if args.epochs:
        variants = {k: TrainConfig(**{**v.to_dict(), "epochs": args.epochs}) for k, v in variants.items()}
    plan = {name: args.seeds if name in MODELS else args.seeds[: args.ablation_seeds] for name in variants}
    jobs = [(args.data, variants[name].to_dict(), seed, runs / f"{name}-seed{seed}", args.chunk)
            for name in variants for seed in plan[name]]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        done = list(tqdm(pool.map(_one_run, jobs), total=len(jobs), desc="LOSO runs", unit="run"))
    by_job = {(job[3].name): r for job, r in zip(jobs, done, strict=True)}
    report: dict = {"models": {}, "ablations": {}, "loso_seconds": {}}
    all_results: dict[str, list[dict]] = {}
    for name, cfg in variants.items():
        seeds = plan[name]
        results = [by_job[f"{name}-seed{seed}"] for seed in seeds]
        all_results[name] = results
        entry = {"honest": _aggregate(results, "honest"), "oracle": _aggregate(results, "oracle"),
                 "seeds": seeds, "config": cfg.to_dict()}
        if name in MODELS and len(seeds) > 1:
            entry["seed_ensemble_honest"] = _ensemble(results, data.labels, data.datasets, data.label_names)
        (report["models"] if name in MODELS else report["ablations"])[name] = entry
        report["loso_seconds"][name] = [r["seconds"] for r in results]
    t0 = time.perf_counter()
    idx, pred = loso_logistic(data)
    floor = summarise(data.labels[idx], pred, data.label_names, data.datasets[idx])
    report["floor"] = {"name": "logistic regression on raw pixels (standardised, class-balanced, C=1)",
                       "honest": floor, "seconds": time.perf_counter() - t0}
    report["machine"] = (f"{platform.machine()} {os.cpu_count()} cores, CPU only, {args.jobs} LOSO runs in parallel "
                         "with 1 PyTorch thread each (a shared machine: wall times are noisy)")
    report["versions"] = {"python": platform.python_version(), "torch": torch.__version__,
                          "numpy": np.__version__}
    report["command"] = "python benchmarks/accuracy.py " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    report["protocol"] = ("68-fold leave-one-subject-out on the 442-sample composite; honest = fixed schedule, "
                          "final-epoch EMA weights with mirror test-time averaging; oracle = per held-out subject the "
                          "epoch that scored best on that subject (optimistic, for comparison with published scripts)")
    (out / "accuracy_composite.json").write_text(json.dumps(report, indent=1))
    _pictures(all_results, report, data.label_names, out)
    (out / "accuracy_composite.md").write_text(_markdown(report))
    print((out / "accuracy_composite.md").read_text())
    return 0


def _pictures(all_results: dict[str, list[dict]], report: dict, names, out: Path) -> None:
    for model in ("sofp", "ststnet"):
        if model in all_results:
            r = all_results[model][0]
            plot_confusion(r["honest"]["confusion"], names,
                           f"{model} LOSO seed {r['seed']} (honest): UF1 {r['honest']['uf1']:.3f}",
                           out / f"accuracy_composite_confusion_{model}.png")
            plot_curves(r["curves"], f"{model} LOSO seed {r['seed']}", out / f"accuracy_composite_curves_{model}.png")
    rows = [(k, v["honest"]) for k, v in {**report["models"], **report["ablations"]}.items()]
    rows.append(("logistic floor", {"uf1_mean": report["floor"]["honest"]["uf1"],
                                    "uar_mean": report["floor"]["honest"]["uar"]}))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r[1]["uf1_mean"] for r in rows], 0.4, label="UF1")
    ax.bar(x + 0.2, [r[1]["uar_mean"] for r in rows], 0.4, label="UAR")
    ax.set_xticks(x, [r[0] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("honest LOSO score (mean over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_composite_scores.png", dpi=120)
    plt.close(fig)


def _markdown(report: dict) -> str:
    def fmt(v: list[float]) -> str:
        return ", ".join(f"{x:.4f}" for x in v)

    lines = ["# Accuracy on the MEGC2019 composite (442 samples, 68 subjects, 3 classes, LOSO)", "",
             f"Command: `{report['command']}`  ", f"Machine: {report['machine']}  ",
             f"Versions: {report['versions']}", "", f"Protocol: {report['protocol']}.", "",
             "| model | protocol | UF1 (mean) | UAR (mean) | UF1 per seed | UAR per seed |",
             "|---|---|---|---|---|---|"]
    for name, e in report["models"].items():
        h, o = e["honest"], e["oracle"]
        lines.append(f"| {name} (this run) | honest | **{h['uf1_mean']:.4f}** | **{h['uar_mean']:.4f}** | "
                     f"{fmt(h['uf1'])} | {fmt(h['uar'])} |")
        if "seed_ensemble_honest" in e:
            en = e["seed_ensemble_honest"]
            lines.append(f"| {name} {len(e['seeds'])}-seed ensemble | honest | {en['uf1']:.4f} | {en['uar']:.4f} | | |")
        lines.append(f"| {name} (this run) | oracle: per-subject best epoch (optimistic) | {o['uf1_mean']:.4f} | "
                     f"{o['uar_mean']:.4f} | {fmt(o['uf1'])} | {fmt(o['uar'])} |")
    f = report["floor"]["honest"]
    lines.append(f"| logistic regression, raw pixels (floor) | honest | {f['uf1']:.4f} | {f['uar']:.4f} | | |")
    for name, uf1, uar, proto in PUBLISHED:
        lines.append(f"| {name} | published: {proto} | {uf1:.4f} | {uar:.4f} | | |")
    if report["ablations"]:
        lines += ["", "## SOFP ablations (honest protocol)", "",
                  "| variant | seeds | UF1 (mean) | UAR (mean) | ΔUF1 vs full SOFP, same seeds |",
                  "|---|---|---|---|---|"]
        full = report["models"].get("sofp")
        for name, e in report["ablations"].items():
            h = e["honest"]
            delta = ""
            if full:
                base = np.mean(full["honest"]["uf1"][: len(e["seeds"])])
                delta = f"{h['uf1_mean'] - base:+.4f}"
            lines.append(f"| {name} | {e['seeds']} | {h['uf1_mean']:.4f} | {h['uar_mean']:.4f} | {delta} |")
    lines += ["", "## Per dataset (honest, mean over seeds)", "", "| model | dataset | UF1 | UAR |",
              "|---|---|---|---|"]
    for name, e in report["models"].items():
        for ds, m in e["honest"]["per_dataset"].items():
            lines.append(f"| {name} | {ds} | {m['uf1_mean']:.4f} | {m['uar_mean']:.4f} |")
    lines += ["", "LOSO wall time per run (s): " + "; ".join(
        f"{k}: {', '.join(f'{s:.0f}' for s in v)}" for k, v in report["loso_seconds"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the composite folder (labels.csv + flow/)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ablation-seeds", type=int, default=1, help="how many of --seeds each ablation runs")
    p.add_argument("--no-ablations", action="store_true")
    p.add_argument("--epochs", type=int, help="override the schedule's epochs (all variants alike)")
    p.add_argument("--chunk", type=int, default=17)
    p.add_argument("--jobs", type=int, default=2, help="LOSO runs in parallel, one PyTorch thread each")
    p.add_argument("--runs", default="runs/accuracy", help="resumable per-run folders")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    args.argv = argv
    return run_cli(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
