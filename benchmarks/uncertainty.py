"""How sure the accuracy table's figures are: a subject-level bootstrap of the stored LOSO predictions.

The LOSO figures are pooled over 442 samples from 68 subjects, and subjects differ more than samples: a held-out
subject's samples succeed or fail together. This resamples the subjects with replacement (a cluster bootstrap),
pools the drawn subjects' stored predictions, and recomputes each figure of ``benchmarks/accuracy.py``'s table
(a model's UF1 and UAR as the mean over its seeds, SAMM's UF1) and the paired differences the issue's targets are
about (the shipped model minus STSTNet, and minus the logistic floor): the same subjects are drawn
for every model, so a difference keeps what the two models share. Percentile intervals; nothing is trained.

    python benchmarks/uncertainty.py --predictions benchmarks/results/accuracy_composite_predictions.json

Writes ``--out`` .json (every interval, and the seed spread beside it), .md and .png (the bootstrap distributions
of the shipped UF1 and of its differences, with the issue's targets).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import matplotlib
import numpy as np
from tqdm import tqdm

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SHIPPED = "sofp"
# the targets: levels for the shipped model's figures, and margins of its UF1 over two baselines
LEVELS = {"uf1": 0.75, "uar": 0.75, "samm_uf1": 0.65}
MARGINS = {"ststnet": 0.02, "logistic_floor": 0.04}


def target_of(key: str) -> float | None:
    """The issue's target for a figure's key ("sofp uf1", "sofp - ststnet uf1", ...), None for the others."""
    model, _, metric = key.rpartition(" ")
    if model == SHIPPED:
        return LEVELS.get(metric)
    return MARGINS.get(model.removeprefix(f"{SHIPPED} - ")) if model.startswith(f"{SHIPPED} - ") else None


def macro_scores(true: np.ndarray, pred: np.ndarray, classes: int) -> tuple[float, float]:
    """(UF1, UAR) of pooled predictions: macro F1 and macro recall over every class (an absent class scores 0, as
    ``training.metrics.summarise`` scores it; that function, on scikit-learn, is too slow for thousands of draws,
    and the tests hold the two equal)."""
    conf = np.bincount(true * classes + pred, minlength=classes * classes).reshape(classes, classes)
    tp, support, predicted = np.diag(conf), conf.sum(axis=1), conf.sum(axis=0)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros(classes), where=denom > 0)
    recall = np.divide(tp, support, out=np.zeros(classes), where=support > 0)
    return float(f1.mean()), float(recall.mean())


def load_runs(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The samples (subject, dataset, true label; in sample-index order) and each model's predicted labels per
    seed, (seeds, samples), from an accuracy benchmark's ``*_predictions.json``."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"error: cannot read predictions {path}: {err}") from None
    if not isinstance(stored, dict) or SHIPPED not in stored:
        raise SystemExit(f"error: {path} has no {SHIPPED!r} predictions (not an accuracy benchmark's output)")
    try:
        return _aligned(path, stored)
    except (KeyError, TypeError, ValueError, IndexError, StopIteration) as err:
        raise SystemExit(f"error: {path} is not an accuracy benchmark's predictions ({type(err).__name__}: {err})"
                         ) from None


def _aligned(path: Path, stored: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """``load_runs``'s result from the parsed file (a missing field raises KeyError or TypeError)."""
    first = next(iter(stored[SHIPPED].values()))
    order = np.argsort(first["index"])
    samples = {key: np.asarray(first[key])[order] for key in ("subject", "dataset", "true")}
    preds = {}
    for model, runs in stored.items():
        per_seed = [runs] if "pred" in runs else list(runs.values())  # the floor stores one run, not seeds
        aligned = []
        for run in per_seed:
            index = np.asarray(run["index"])
            if sorted(index.tolist()) != list(range(len(order))):
                raise SystemExit(f"error: {path}: a run of {model!r} does not hold each of the {len(order)} samples "
                                 "once")
            pred = np.empty(len(order), np.int64)
            pred[index] = run["pred"]
            aligned.append(pred)
        preds[model] = np.stack(aligned)
    return samples, preds


def figures(samples: dict, preds: dict[str, np.ndarray], rows: np.ndarray, classes: int) -> dict[str, float]:
    """Every figure on the samples ``rows`` (with repeats): per model UF1 and UAR (mean over seeds) and SAMM UF1,
    and the shipped model's UF1 minus that of each baseline of ``MARGINS``."""
    true, samm = samples["true"][rows], samples["dataset"][rows] == "samm"
    out = {}
    for model, per_seed in preds.items():
        scores = np.array([macro_scores(true, p[rows], classes) for p in per_seed])
        out[f"{model} uf1"], out[f"{model} uar"] = scores.mean(axis=0)
        if samm.any():
            out[f"{model} samm_uf1"] = float(np.mean([macro_scores(true[samm], p[rows][samm], classes)[0]
                                                      for p in per_seed]))
    for model in MARGINS:
        if model in preds:
            out[f"{SHIPPED} - {model} uf1"] = out[f"{SHIPPED} uf1"] - out[f"{model} uf1"]
    return out


def bootstrap(samples: dict, preds: dict[str, np.ndarray], resamples: int, seed: int,
              classes: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The figures on the stored predictions, and their values over ``resamples`` draws of the subjects with
    replacement (each draw pools every sample of the drawn subjects)."""
    subjects = np.unique(samples["subject"])
    rows_of = {s: np.flatnonzero(samples["subject"] == s) for s in subjects}
    point = figures(samples, preds, np.arange(len(samples["true"])), classes)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in tqdm(range(resamples), desc="bootstrap over subjects", unit="draw"):
        rows = np.concatenate([rows_of[s] for s in rng.choice(subjects, len(subjects))])
        for key, value in figures(samples, preds, rows, classes).items():
            draws[key].append(value)
    return point, {k: np.asarray(v) for k, v in draws.items()}


def intervals(point: dict[str, float], draws: dict[str, np.ndarray], preds: dict[str, np.ndarray],
              samples: dict, level: float, classes: int) -> dict[str, dict]:
    """Per figure: the value, the bootstrap sd and percentile interval, and, for per-model figures with seeds, the
    sample sd over seeds (ddof 1; the accuracy table's ± is the ddof-0 sd) for comparison."""
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {}
    for key, value in point.items():
        d = draws[key]
        entry = {"value": value, "bootstrap_sd": float(d.std(ddof=1)),
                 "interval": [float(np.percentile(d, lo)), float(np.percentile(d, hi))]}
        model, _, metric = key.rpartition(" ")
        if model in preds and len(preds[model]) > 1 and metric in ("uf1", "uar"):
            seed_scores = [macro_scores(samples["true"], p, classes)[metric == "uar"] for p in preds[model]]
            entry["seed_sd"] = float(np.std(seed_scores, ddof=1))
        target = target_of(key)
        if target is not None:
            entry["target"] = target
            entry["draws_at_or_above_target"] = float(np.mean(d >= target))
        out[key] = entry
    return out


def table(result: dict) -> str:
    """The markdown report."""
    lines = [f"# How sure the LOSO figures are: a bootstrap over subjects ({result['subjects']} subjects, "
             f"{result['samples']} samples)", "",
             f"Command: `{result['command']}`  ", f"Machine: {result['machine']}  ",
             f"Versions: {result['versions']}", "",
             f"Source: `{result['predictions']}` (the stored per-sample predictions of the accuracy benchmark; "
             f"nothing retrained). Each draw takes {result['subjects']} subjects with replacement and pools all "
             "their samples; every model is scored on the same draw, so a difference is paired. A model's figure "
             f"is the mean over its seeds, as in the accuracy table. {result['resamples']} draws, seed "
             f"{result['seed']}; "
             f"{result['level']:.0%} percentile intervals. 'seed sd' is the spread over training seeds (the "
             "sample sd, ddof 1; the accuracy table's ± is its ddof-0 sd), 'bootstrap sd' the spread over which "
             "subjects were drawn. The share of draws at or above a target says how often another draw of subjects "
             "like these would put the figure there; it is not the probability that the model meets the target.", "",
             "| figure | value | bootstrap sd | interval | seed sd | target | share of draws at or above the target |",
             "|---|---|---|---|---|---|---|"]
    for key, e in result["figures"].items():
        seed_sd = f"{e['seed_sd']:.4f}" if "seed_sd" in e else ""
        target = (f"{e['target']:g}", f"{e['draws_at_or_above_target']:.1%}") if "target" in e else ("", "")
        lines.append(f"| {key} | {e['value']:.4f} | {e['bootstrap_sd']:.4f} | "
                     f"{e['interval'][0]:.4f} to {e['interval'][1]:.4f} | {seed_sd} | {target[0]} | {target[1]} |")
    return "\n".join(lines) + "\n"


def picture(point: dict[str, float], draws: dict[str, np.ndarray], path: Path) -> None:
    """Histograms of the shipped UF1, UAR and SAMM UF1 and of its UF1 differences, each with its target."""
    keys = [k for k in (f"{SHIPPED} uf1", f"{SHIPPED} uar", f"{SHIPPED} samm_uf1",
                        f"{SHIPPED} - ststnet uf1", f"{SHIPPED} - logistic_floor uf1") if k in draws]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.2))
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        ax.hist(draws[key], bins=40, color="#7a9cc6")
        ax.axvline(point[key], color="black", label="measured")
        target = target_of(key)
        if target is not None:
            ax.axvline(target, color="#c0392b", linestyle="--", label="target")
        ax.set_title(key, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Bootstrap over subjects of the stored LOSO predictions", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--predictions", type=Path, required=True, help="an accuracy benchmark's *_predictions.json")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--level", type=float, default=0.95, help="coverage of the percentile intervals")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/uncertainty_composite"),
                   help="output stem: .json, .md and .png are written")
    args = p.parse_args(argv)
    if args.resamples < 100:
        p.error("--resamples must be at least 100")
    if not 0.5 <= args.level < 1:
        p.error("--level must be in [0.5, 1)")
    samples, preds = load_runs(args.predictions)
    classes = int(max(samples["true"].max(), max(int(p.max()) for p in preds.values()))) + 1
    point, draws = bootstrap(samples, preds, args.resamples, args.seed, classes)
    result = {"command": "python benchmarks/uncertainty.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "machine": f"{platform.machine()} {os.cpu_count()} cores, CPU only",
              "versions": {"python": platform.python_version(), "numpy": np.__version__},
              "predictions": str(args.predictions), "resamples": args.resamples, "seed": args.seed,
              "level": args.level, "subjects": len(np.unique(samples["subject"])),
              "samples": len(samples["true"]),
              "figures": intervals(point, draws, preds, samples, args.level, classes)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(table(result))
    picture(point, draws, args.out.with_suffix(".png"))
    shipped = result["figures"][f"{SHIPPED} uf1"]
    print(f"{SHIPPED} UF1 {shipped['value']:.4f}, {args.level:.0%} interval {shipped['interval'][0]:.4f} to "
          f"{shipped['interval'][1]:.4f}; wrote {args.out}.json, .md and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
