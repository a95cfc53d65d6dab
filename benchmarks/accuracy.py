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
from dataclasses import replace
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
from sofp.training.loso import member_seed, run_loso, schedules
from sofp.training.metrics import summarise
from sofp.training.plots import plot_confusion, plot_curves
from sofp.training.trainer import TrainConfig

SHIPPED = TrainConfig()  # the defaults are the shipped configuration (README, "How the defaults were chosen")
MEMBER = SHIPPED.solo()  # one ensemble member: what the ablations change
MODELS = {"sofp": SHIPPED, "ststnet": TrainConfig(model="ststnet").solo()}


def _ablate(**model_config) -> TrainConfig:
    return replace(MEMBER, model_config={**MEMBER.model_config, **model_config})


ABLATIONS = {
    "no_sym_loss": replace(MEMBER, sym_weight=0.0),
    "no_global_branch": _ablate(use_global=False),
    "no_self_attention": _ablate(use_self_attention=False),
    "no_cross_attention": _ablate(use_cross_attention=False),
    "untied_mirror_encoders": _ablate(tie_mirror=False),
    "no_mirror_aug": replace(MEMBER, mirror_aug=False),
    "no_centering": _ablate(center=False),
    "with_strain": _ablate(use_strain=True),
}
PUBLISHED = [
    ("SOFP (paper)", 0.9284, 0.9293, "LOSO; per-subject epoch selection not stated (outline only available)"),
    ("HTNet (paper)", 0.8603, 0.8475, "LOSO; public script keeps each subject's best epoch"),
    ("STSTNet (paper)", 0.7353, 0.7605, "LOSO (MEGC 2019)"),
    ("STSTNet (PyTorch release)", 0.7209, 0.7250, "LOSO"),
]


def _aggregate(results: list[dict], key: str) -> dict | None:
    if any(r.get(key) is None for r in results):
        return None  # no per-subject oracle for an ensemble
    per_ds = {}
    for ds in results[0][key].get("per_dataset", {}):
        per_ds[ds] = {m: [r[key]["per_dataset"][ds][m] for r in results] for m in ("uf1", "uar")}
        per_ds[ds].update({f"{m}_mean": float(np.mean(per_ds[ds][m])) for m in ("uf1", "uar")})
    return {
        "uf1": [r[key]["uf1"] for r in results], "uar": [r[key]["uar"] for r in results],
        "uf1_mean": float(np.mean([r[key]["uf1"] for r in results])),
        "uf1_std": float(np.std([r[key]["uf1"] for r in results])),
        "uar_mean": float(np.mean([r[key]["uar"] for r in results])),
        "accuracy_mean": float(np.mean([r[key]["accuracy"] for r in results])),
        "per_dataset": per_ds,
    }


def _label_kept(results: list[dict]) -> dict[str, float]:
    """Mean over seeds of the fraction of held-out labels kept under each flow perturbation."""
    return {k: float(np.mean([r["label_kept"][k] for r in results])) for k in results[0]["label_kept"]}


def _ensemble(results: list[dict], labels: np.ndarray, datasets: np.ndarray, names) -> dict:
    """Average the seeds' class probabilities per sample (what a deployed 3-model ensemble would do)."""
    probs = []
    for r in results:
        order = np.argsort(r["predictions"]["index"])
        probs.append(np.asarray(r["predictions"]["probs"])[order])
    pred = np.mean(probs, axis=0).argmax(-1)
    return summarise(labels, pred, names, datasets)


def one_run(job: tuple) -> str:
    """One single-model LOSO (a model, an ablation or one ensemble member) in a worker with one thread."""
    data_path, cfg_dict, seed, run_dir, chunk = job
    torch.set_num_threads(1)
    data = load_flowset(data_path)
    r = run_loso(data, TrainConfig(**cfg_dict), seed, run_dir, chunk=chunk, progress=False)
    line = f"{run_dir}: UF1 {r['honest']['uf1']:.4f} UAR {r['honest']['uar']:.4f} ({r['seconds']:.0f} s)"
    print(line, flush=True)
    return line


def _jobs(variants: dict[str, TrainConfig], plan: dict[str, list[int]], args: argparse.Namespace) -> list[tuple]:
    """Single-model LOSO runs (a model, an ablation or one ensemble member or partner, in its ensemble's folder),
    in the order that gives whole rows soonest if the benchmark is stopped: first member 0 of every model and
    seed (so the single-model rows are complete), then the other members and partners, then the ablations
    seed-major."""
    jobs: list[tuple[int, int, tuple]] = []
    for name, cfg in variants.items():
        for rank, seed in enumerate(plan[name]):
            run_dir = Path(args.runs) / f"{name}-seed{seed}"
            if not cfg.ensemble:
                first, second = (0, 0) if name in MODELS else (2, rank)
                jobs.append((first, second, (args.data, cfg.to_dict(), seed, run_dir, args.chunk)))
            else:
                jobs += [(min(m, 1), 0, (args.data, schedule.to_dict(), run_seed,
                                         run_dir / (f"member{m}" if m < cfg.members else "partner"), args.chunk))
                         for m, (schedule, run_seed) in enumerate(schedules(cfg, seed))]
    return [job for *_, job in sorted(jobs, key=lambda j: j[:2])]  # a stable sort keeps the plan's order


def run(args: argparse.Namespace) -> int:
    data = load_flowset(args.data)
    runs = Path(args.runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = {**MODELS, **({} if args.no_ablations else ABLATIONS)}
    if args.epochs:
        variants = {k: replace(v, epochs=args.epochs) for k, v in variants.items()}
    plan = {name: args.seeds if name in MODELS else args.seeds[: args.ablation_seeds] for name in variants}
    jobs = _jobs(variants, plan, args)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        list(tqdm(pool.map(one_run, jobs), total=len(jobs), desc="LOSO runs", unit="run"))
    report: dict = {"models": {}, "ablations": {}, "loso_seconds": {}}
    all_results: dict[str, list[dict]] = {}
    for name, cfg in variants.items():  # every run is finished: this only reads and summarises them
        seeds = plan[name]
        results = [run_loso(data, cfg, seed, runs / f"{name}-seed{seed}", chunk=args.chunk, progress=False)
                   for seed in seeds]
        all_results[name] = results
        entry = {"honest": _aggregate(results, "honest"), "oracle": _aggregate(results, "oracle"),
                 "label_kept": _label_kept(results), "seeds": seeds, "config": cfg.to_dict()}
        if cfg.ensemble:
            members = [[run_loso(data, cfg.solo(), member_seed(seed, m),
                                 runs / f"{name}-seed{seed}" / f"member{m}", chunk=args.chunk, progress=False)
                        for seed in seeds] for m in range(cfg.members)]
            entry["member0"] = {"honest": _aggregate(members[0], "honest"), "oracle": _aggregate(members[0], "oracle"),
                                "label_kept": _label_kept(members[0]), "seeds": seeds}
            entry["members_honest_uf1"] = [[r["honest"]["uf1"] for r in per_member] for per_member in members]
            if cfg.partner:  # the members' mean alone and the partner alone: what each adds
                entry["members_only"] = _aggregate(
                    [{"honest": _ensemble([per_member[i] for per_member in members], data.labels, data.datasets,
                                          data.label_names)} for i in range(len(seeds))], "honest")
                entry["partner_alone"] = _aggregate(
                    [run_loso(data, cfg.partner_schedule(), member_seed(seed, cfg.members),
                              runs / f"{name}-seed{seed}" / "partner", chunk=args.chunk, progress=False)
                     for seed in seeds], "honest")
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
    predictions = {name: {str(r["seed"]): r["predictions"] for r in results} for name, results in all_results.items()}
    predictions["logistic_floor"] = {"index": idx.tolist(), "pred": pred.tolist()}
    (out / "accuracy_composite_predictions.json").write_text(json.dumps(predictions))
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

    def row(label: str, proto: str, h: dict) -> str:
        return (f"| {label} | {proto} | **{h['uf1_mean']:.4f}** ± {h['uf1_std']:.4f} | **{h['uar_mean']:.4f}** | "
                f"{fmt(h['uf1'])} | {fmt(h['uar'])} |")

    lines = ["# Accuracy on the MEGC2019 composite (442 samples, 68 subjects, 3 classes, LOSO)", "",
             f"Command: `{report['command']}`  ", f"Machine: {report['machine']}  ",
             f"Versions: {report['versions']}", "", f"Protocol: {report['protocol']}.", "",
             "| model | protocol | UF1 (mean ± sd over seeds) | UAR (mean) | UF1 per seed | UAR per seed |",
             "|---|---|---|---|---|---|"]
    for name, e in report["models"].items():
        c = e["config"]
        members, partner = c["members"], c.get("partner", "")
        if members > 1 or partner:
            label = (f"{name}, {members}-member ensemble"
                     + (f" + {partner} (weight {c['partner_weight']:g})" if partner else "") + " (shipped)")
        else:
            label = f"{name} (this run)"
        lines.append(row(label, "honest", e["honest"]))
        if "members_only" in e:
            lines.append(row(f"{name}, its {members} members alone (no {partner})", "honest", e["members_only"]))
            lines.append(row(f"{name}, its {partner} partner alone ({c['partner_config']})", "honest",
                             e["partner_alone"]))
        if "member0" in e:
            lines.append(row(f"{name}, one member (seeds {e['seeds']})", "honest", e["member0"]["honest"]))
        if "seed_ensemble_honest" in e and members == 1:
            en = e["seed_ensemble_honest"]
            lines.append(f"| {name} {len(e['seeds'])}-seed ensemble | honest | {en['uf1']:.4f} | {en['uar']:.4f} | | |")
        oracle = e["oracle"] or e.get("member0", {}).get("oracle")
        if oracle:
            who = name if e["oracle"] else f"{name}, one member"
            lines.append(f"| {who} | oracle: per-subject best epoch (optimistic) | {oracle['uf1_mean']:.4f} | "
                         f"{oracle['uar_mean']:.4f} | {fmt(oracle['uf1'])} | {fmt(oracle['uar'])} |")
    f = report["floor"]["honest"]
    lines.append(f"| logistic regression, raw pixels (floor) | honest | {f['uf1']:.4f} | {f['uar']:.4f} | | |")
    for name, uf1, uar, proto in PUBLISHED:
        lines.append(f"| {name} | published: {proto} | {uf1:.4f} | {uar:.4f} | | |")
    if report["ablations"]:
        base = report["models"]["sofp"].get("member0") or report["models"]["sofp"]
        lines += ["", "## SOFP ablations (honest protocol, one member; against the one-member row, same seeds)", "",
                  "| variant | seeds | UF1 (mean ± sd) | UAR (mean) | ΔUF1 vs one member, same seeds |",
                  "|---|---|---|---|---|"]
        lines.append(f"| one member (full) | {base['seeds']} | {base['honest']['uf1_mean']:.4f} ± "
                     f"{base['honest']['uf1_std']:.4f} | {base['honest']['uar_mean']:.4f} | |")
        for name, e in report["ablations"].items():
            h = e["honest"]
            delta = h["uf1_mean"] - float(np.mean(base["honest"]["uf1"][: len(e["seeds"])]))
            spread = f"± {h['uf1_std']:.4f}" if len(e["seeds"]) > 1 else "(one seed: no spread)"
            lines.append(f"| {name} | {e['seeds']} | {h['uf1_mean']:.4f} {spread} | {h['uar_mean']:.4f} | "
                         f"{delta:+.4f} |")
    kept = {**{k: v["label_kept"] for k, v in report["models"].items()},
            **{f"{k}, one member": v["member0"]["label_kept"] for k, v in report["models"].items() if "member0" in v},
            **{k: v["label_kept"] for k, v in report["ablations"].items()}}
    names = list(next(iter(kept.values())))
    lines += ["", "## Robustness to the flow: held-out labels kept under flow-like perturbations (mean over seeds)", "",
              "Each LOSO fold's final model labels its held-out samples again after a perturbation that models how "
              "two flow implementations differ (training/data/perturb.py): " + ", ".join(names) + ".", "",
              "| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k, v in kept.items():
        lines.append(f"| {k} | " + " | ".join(f"{v[n]:.3f}" for n in names) + " |")
    lines += ["", "## Per dataset (honest, mean over seeds)", "", "| model | dataset | UF1 | UAR |",
              "|---|---|---|---|"]
    for name, e in report["models"].items():
        for ds, m in e["honest"]["per_dataset"].items():
            lines.append(f"| {name} | {ds} | {m['uf1_mean']:.4f} | {m['uar_mean']:.4f} |")
    f_ds = report["floor"]["honest"].get("per_dataset", {})
    for ds, m in f_ds.items():
        lines.append(f"| logistic floor | {ds} | {m['uf1']:.4f} | {m['uar']:.4f} |")
    lines += ["", "LOSO compute per run (s, summed over fold chunks; an ensemble's is the sum of its members'): "
              + "; ".join(f"{k}: {', '.join(f'{s:.0f}' for s in v)}" for k, v in report["loso_seconds"].items()), ""]
    return "\n".join(lines)


def loso_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every LOSO benchmark takes: data, seeds, fold chunk, parallel runs, run folders, output."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the composite folder (labels.csv + flow/)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--chunk", type=int, default=17)
    p.add_argument("--jobs", type=int, default=2, help="LOSO runs in parallel, one PyTorch thread each")
    p.add_argument("--runs", default="runs/accuracy", help="resumable per-run folders (shared by the LOSO benchmarks)")
    p.add_argument("--out", default="benchmarks/results")
    return p


def main(argv: list[str] | None = None) -> int:
    p = loso_parser(__doc__)
    p.add_argument("--ablation-seeds", type=int, default=1, help="how many of --seeds each ablation runs")
    p.add_argument("--no-ablations", action="store_true")
    p.add_argument("--epochs", type=int, help="override the schedule's epochs (all variants alike)")
    args = p.parse_args(argv)
    args.argv = argv
    return run_cli(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
