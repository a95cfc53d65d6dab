"""SOFP ablations under 68-fold LOSO, several seeds per row: does each component of the default configuration earn
its place? Every row is one ensemble member's schedule (``TrainConfig().solo()``) with one component changed,
compared with the unchanged member on the same seeds.

    python benchmarks/ablations.py --data ../shared/data/composite --seeds 0 1 2

Seed rows that ``benchmarks/accuracy.py`` already measured with the same settings are read from its report
(``--stored``: per-sample predictions, recomputed here) instead of being trained again; the rest train as
resumable runs in ``--runs`` (the same folders accuracy.py uses). Writes benchmarks/results/ablations_composite.
{json,md,png} and the new runs' per-sample predictions in ablations_composite_predictions.json.

Verdict rule (issue 9): a component earns its place when changing it away from the default lowers the mean UF1
by more than the spread: the seed-to-seed standard deviation of one LOSO run's UF1, pooled over every row (three
seeds give each row's own deviation too few degrees of freedom to be a yardstick on its own).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import ABLATIONS, MEMBER, loso_parser, one_run

from sofp.runtime.errors import UsageError, run_cli
from sofp.training.config import TrainConfig
from sofp.training.data.flowset import FlowSet, load_flowset
from sofp.training.loso import run_loso
from sofp.training.metrics import summarise

FULL = "full"  # the unchanged member: its runs are member 0 of the shipped ensemble's runs
CHANGE = {  # what each ablation does to the default, in words ("with_*" adds what the default leaves out)
    "no_sym_loss": "drops L_sym", "no_global_branch": "drops the global branch",
    "no_self_attention": "drops SRAF self-attention", "no_cross_attention": "drops SRAF cross-attention",
    "untied_mirror_encoders": "unties the mirrored region encoders", "no_mirror_aug": "drops mirror augmentation",
    "no_centering": "drops per-channel centring", "with_strain": "adds the strain channel",
}


@dataclass(frozen=True)
class SeedRow:
    """One (variant, seed) LOSO result: honest scores, per dataset, flow robustness where known, and its source."""

    seed: int
    uf1: float
    uar: float
    per_dataset: dict[str, dict[str, float]]
    label_kept: dict[str, float] | None
    source: str


def run_dir(runs: Path, name: str, seed: int) -> Path:
    """Where a variant's run lives (accuracy.py's layout: the unchanged member is member 0 of the shipped run)."""
    return runs / f"sofp-seed{seed}" / "member0" if name == FULL else runs / f"{name}-seed{seed}"


def row_from_scores(seed: int, scores: dict, label_kept: dict[str, float] | None, source: str) -> SeedRow:
    """A seed row from ``summarise`` output (with per_dataset)."""
    per_ds = {ds: {"uf1": m["uf1"], "uar": m["uar"]} for ds, m in scores["per_dataset"].items()}
    return SeedRow(seed, scores["uf1"], scores["uar"], per_ds, label_kept, source)


def stored_rows(report: dict, predictions: dict, data: FlowSet, variants: dict[str, TrainConfig],
                source: str) -> dict[tuple[str, int], SeedRow]:
    """The (variant, seed) rows an accuracy report already holds with exactly these settings. Ablation rows are
    recomputed from their per-sample predictions; the unchanged member's from the report's member-0 scores (the
    report keeps no per-sample table for members). A flow-robustness figure is kept only where the report's is
    one seed's (it stores means)."""
    rows = {}
    shipped = report.get("models", {}).get("sofp", {})
    member0 = shipped.get("member0")
    if FULL in variants and member0 and TrainConfig(**shipped["config"]).solo() == variants[FULL]:
        h = member0["honest"]
        for i, seed in enumerate(member0["seeds"]):  # member 0 trains with the ensemble's own seed
            per_ds = {ds: {"uf1": m["uf1"][i], "uar": m["uar"][i]} for ds, m in h["per_dataset"].items()}
            kept = member0["label_kept"] if len(member0["seeds"]) == 1 else None
            rows[FULL, seed] = SeedRow(seed, h["uf1"][i], h["uar"][i], per_ds, kept, f"{source} (member 0 scores)")
    for name, entry in report.get("ablations", {}).items():
        if name not in variants or entry["config"] != variants[name].to_dict():
            continue
        for seed in entry["seeds"]:
            p = predictions.get(name, {}).get(str(seed))
            if p is None:
                continue
            index = np.asarray(p["index"])
            if not np.array_equal(np.asarray(p["true"]), data.labels[index]):
                raise UsageError(f"{source}: {name} seed {seed} has other labels than --data; is it the same set?")
            scores = summarise(data.labels[index], np.asarray(p["pred"]), data.label_names, data.datasets[index])
            kept = entry["label_kept"] if len(entry["seeds"]) == 1 else None
            rows[name, seed] = row_from_scores(seed, scores, kept, f"{source} (per-sample predictions)")
    return rows


def seed_spread(rows: dict[str, list[SeedRow]]) -> float | None:
    """The seed-to-seed standard deviation of one LOSO run's UF1, pooled over every row with two or more seeds
    (each row's sample variance weighted by its degrees of freedom); None without such a row."""
    pairs = [(float(np.var([r.uf1 for r in seed_rows], ddof=1)), len(seed_rows) - 1)
             for seed_rows in rows.values() if len(seed_rows) > 1]
    dof = sum(d for _, d in pairs)
    return float(np.sqrt(sum(v * d for v, d in pairs) / dof)) if dof else None


def kept_means(rows: dict[str, list[SeedRow]], stored: dict | None, seeds: list[int]) -> dict[str, dict[str, float]]:
    """Mean over the seeds of the held-out labels kept under each flow perturbation, per variant whose every seed
    row has them; the unchanged member's from the accuracy report's member-0 mean when it covers these seeds."""
    out = {}
    for name, seed_rows in rows.items():
        kept = [r.label_kept for r in seed_rows]
        if all(kept):
            out[name] = {k: float(np.mean([d[k] for d in kept if d])) for k in kept[0] or {}}
    member0 = ((stored or {}).get("models", {}).get("sofp", {}) or {}).get("member0")
    if FULL not in out and member0 and sorted(member0["seeds"]) == sorted(seeds):
        out[FULL] = member0["label_kept"]
    return out


def verdicts(rows: dict[str, list[SeedRow]]) -> dict[str, dict]:
    """Per ablation: mean and sd of UF1 and UAR, ΔUF1 against the unchanged member seed by seed, the spread
    (``seed_spread``, the same for every row) and the verdict. Only seeds both rows have are compared."""
    full = {r.seed: r for r in rows[FULL]}
    spread = seed_spread(rows)
    out = {}
    for name, seed_rows in rows.items():
        if name == FULL:
            continue
        paired = [r for r in seed_rows if r.seed in full]
        a = np.array([r.uf1 for r in paired])
        f = np.array([full[r.seed].uf1 for r in paired])
        delta = a - f
        mean = float(delta.mean()) if len(paired) else None
        if spread is None or mean is None or len(paired) < 2:
            verdict = "not decided: fewer than 2 seeds"
        elif name.startswith("with_"):  # an addition: the default leaves it out unless it gains beyond the spread
            verdict = ("the default should add it" if mean > spread else
                       "left out by default: adding it does not raise UF1 beyond the spread")
        else:
            verdict = ("earns its place" if mean < -spread else
                       "does not earn its place: removing it does not lower UF1 by more than the spread")
        out[name] = {
            "change": CHANGE.get(name, name), "seeds": [r.seed for r in paired],
            "uf1": a.tolist(), "uf1_mean": float(a.mean()) if len(a) else None,
            "uf1_sd": float(a.std(ddof=1)) if len(a) > 1 else None,
            "uar_mean": float(np.mean([r.uar for r in paired])) if paired else None,
            "full_uf1": f.tolist(), "delta_uf1": delta.tolist(), "delta_uf1_mean": mean, "spread": spread,
            "verdict": verdict,
        }
    return out


def _markdown(report: dict) -> str:
    full = report["rows"][FULL]
    uf1 = np.array([r["uf1"] for r in full])
    full_sd = f" ± {uf1.std(ddof=1):.4f}" if len(uf1) > 1 else ""
    lines = ["# SOFP ablations under LOSO (composite, 442 samples, 68 subjects, honest protocol)", "",
             f"Command: `{report['command']}`  ", f"Machine: {report['machine']}  ", f"Versions: {report['versions']}",
             "", report["about"], "", f"Rule: {report['rule']}", "",
             f"Spread (pooled seed-to-seed sd of one run's UF1): **{report['spread']:.4f}**" if report["spread"]
             else "Spread: not known (fewer than 2 seeds per row)", "",
             "| variant | what it changes | seeds | UF1 (mean ± sd) | UAR (mean) | ΔUF1 per seed | ΔUF1 mean "
             "| verdict |", "|---|---|---|---|---|---|---|---|",
             f"| one member (full, the default) | nothing | {[r['seed'] for r in full]} | {uf1.mean():.4f}{full_sd} | "
             f"{np.mean([r['uar'] for r in full]):.4f} | | | |"]
    for name, v in report["ablations"].items():
        if v["uf1_mean"] is None:
            lines.append(f"| {name} | {v['change']} | [] | | | | | {v['verdict']} |")
            continue
        delta = "" if v["delta_uf1_mean"] is None else f"{v['delta_uf1_mean']:+.4f}"
        sd = "" if v["uf1_sd"] is None else f" ± {v['uf1_sd']:.4f}"
        lines.append(f"| {name} | {v['change']} | {v['seeds']} | {v['uf1_mean']:.4f}{sd} | "
                     f"{v['uar_mean']:.4f} | {', '.join(f'{d:+.4f}' for d in v['delta_uf1'])} | {delta} | "
                     f"{v['verdict']} |")
    datasets = sorted(full[0]["per_dataset"])
    lines += ["", "## Per dataset (UF1, mean over the seeds)", "",
              "| variant | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    for name, seed_rows in report["rows"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{np.mean([r['per_dataset'][ds]['uf1'] for r in seed_rows]):.4f}" for ds in datasets) + " |")
    kept = report["label_kept"]
    if kept:
        names = list(next(iter(kept.values())))
        lines += ["", "## Flow robustness: held-out labels kept under flow-like perturbations (seed mean)", "",
                  "| variant | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        lines += [f"| {k} | " + " | ".join(f"{v[n]:.3f}" for n in names) + " |" for k, v in kept.items()]
    lines += ["", "## Where each seed row comes from", ""]
    for name, seed_rows in report["rows"].items():
        lines.append(f"- {name}: " + "; ".join(f"seed {r['seed']}: {r['source']}" for r in seed_rows))
    return "\n".join(lines) + "\n"


def _picture(report: dict, path: Path) -> None:
    names = list(report["ablations"])
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for i, name in enumerate(names):
        v = report["ablations"][name]
        if not v["delta_uf1"]:
            continue
        ax.bar(i, v["delta_uf1_mean"], 0.6, color="tab:blue" if v["delta_uf1_mean"] < 0 else "tab:orange")
        ax.plot([i] * len(v["delta_uf1"]), v["delta_uf1"], "k.", ms=5)
        if v["spread"] is not None:
            ax.errorbar(i, v["delta_uf1_mean"], yerr=v["spread"], color="k", capsize=4, lw=1)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ΔUF1 vs the full member (same seeds)")
    ax.set_title("SOFP ablations under LOSO: mean Δ (bar), each seed (dot), spread (whisker)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    data = load_flowset(args.data)
    runs, out = Path(args.runs), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = args.only or list(ABLATIONS)
    unknown = sorted(set(chosen) - set(ABLATIONS))
    if unknown:
        raise UsageError(f"unknown ablation(s) {', '.join(unknown)}; choose from {', '.join(ABLATIONS)}")
    variants = {FULL: MEMBER, **{name: ABLATIONS[name] for name in chosen}}
    stored: dict[tuple[str, int], SeedRow] = {}
    accuracy_report: dict | None = None
    if args.stored:
        report_path = Path(args.stored)
        pred_path = report_path.with_name(report_path.stem + "_predictions.json")
        try:
            loaded, predictions = json.loads(report_path.read_text()), json.loads(pred_path.read_text())
        except (OSError, ValueError) as e:
            raise UsageError(f"--stored: cannot read {report_path} and {pred_path.name} beside it ({e})") from e
        stored = stored_rows(loaded, predictions, data, variants, str(report_path))
        accuracy_report = loaded
    todo = [(name, seed) for seed in args.seeds for name in variants if (name, seed) not in stored]
    jobs = [(args.data, variants[name].to_dict(), seed, run_dir(runs, name, seed), args.chunk) for name, seed in todo]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        list(tqdm(pool.map(one_run, jobs), total=len(jobs), desc="ablation LOSO runs", unit="run"))
    rows: dict[str, list[SeedRow]] = {name: [] for name in variants}
    new_predictions: dict[str, dict[str, dict]] = {}
    for name in variants:
        for seed in args.seeds:
            if (name, seed) in stored:
                rows[name].append(stored[name, seed])
                continue
            where = run_dir(runs, name, seed)
            r = run_loso(data, variants[name], seed, where, chunk=args.chunk, progress=False)
            rows[name].append(row_from_scores(seed, r["honest"], r["label_kept"], f"LOSO run {where}"))
            new_predictions.setdefault(name, {})[str(seed)] = r["predictions"]
    report_out = {
        "command": "python benchmarks/ablations.py " + " ".join(args.argv if args.argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, CPU only, {args.jobs} LOSO runs in parallel with "
                   "1 PyTorch thread each",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
        "about": ("Each row is one ensemble member's schedule (the shipped configuration's members, "
                  "`TrainConfig().solo()`) with one component changed; honest protocol: fixed schedule, final-epoch "
                  "EMA weights with mirror test-time averaging. ΔUF1 is against the unchanged member with the same "
                  "seed. Standard deviations are over seeds (sample, ddof 1). Rows read from the stored accuracy "
                  "report were measured where and when that report says (the same code and settings; another "
                  "machine's CPU may round differently), the rest on the machine named here."),
        "rule": ("a component earns its place when changing it away from the default lowers the mean UF1 by more "
                 "than the spread, the seed-to-seed standard deviation of one LOSO run's UF1 pooled over every row "
                 "(sample variances weighted by their degrees of freedom); three seeds give a row's own deviation "
                 "too few degrees of freedom to be the yardstick"),
        "rows": {name: [r.__dict__ for r in seed_rows] for name, seed_rows in rows.items()},
        "spread": seed_spread(rows),
        "ablations": verdicts(rows),
        "label_kept": kept_means(rows, accuracy_report, args.seeds),
        "configs": {name: cfg.to_dict() for name, cfg in variants.items()},
    }
    (out / "ablations_composite.json").write_text(json.dumps(report_out, indent=1))
    (out / "ablations_composite_predictions.json").write_text(json.dumps(new_predictions))
    _picture(report_out, out / "ablations_composite.png")
    (out / "ablations_composite.md").write_text(_markdown(report_out))
    print((out / "ablations_composite.md").read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = loso_parser(__doc__)
    p.add_argument("--only", nargs="+", metavar="ABLATION", help=f"a subset of: {', '.join(ABLATIONS)}")
    p.add_argument("--stored", default="benchmarks/results/accuracy_composite.json",
                   help="an accuracy.py report whose same-settings seed rows are reused ('' to train everything)")
    args = p.parse_args(argv)
    args.argv = argv
    return run_cli(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
