"""Which samples no trained model gets right: per sample, the share of stored models that label it correctly,
over every tuning-split run kept in ``tuning_composite.jsonl`` (each seed of each configuration) and every stored
LOSO run (``*_predictions.json``). A sample that almost no configuration of any architecture gets right bounds
what another recipe can gain; the list names them for a look at their labels and flows.

    python benchmarks/hard_samples.py --data ../shared/data/composite

Writes benchmarks/results/hard_samples.{json,md,png}. Nothing is trained; the data folder gives the labels.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sofp.training.data.flowset import load_flowset
from sofp.training.loso import tuning_groups
from sofp.training.metrics import summarise

RESULTS = Path(__file__).resolve().parent / "results"
LOSO_FILES = ("accuracy_composite_predictions.json", "ablations_composite_predictions.json")
RARELY = 0.1  # "rarely right": by fewer than this share of the models


def split_predictions(lines: list[dict], order: list[int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every stored seed of every tuning-split line made on ``order``: names, labels (M, N) in sample order,
    and the mean probability over all of them (N, C)."""
    names, preds, probs = [], [], []
    inverse = np.argsort(order)
    for line in lines:
        if line.get("heldout_index") != order or "final_probs_per_seed" not in line:
            continue
        for s, p in enumerate(line["final_probs_per_seed"]):
            p = np.asarray(p)[inverse]
            names.append(f"{line['name']}#{s}")
            preds.append(p.argmax(-1))
            probs.append(p)
    if not names:
        raise SystemExit("error: no tuning-split line with stored probabilities on this split")
    return names, np.stack(preds), np.mean(probs, axis=0)


def loso_predictions(stored: dict[str, dict], n: int) -> tuple[list[str], np.ndarray]:
    """Every run of a stored ``*_predictions.json`` (row -> seed -> {index, pred}, or row -> {index, pred}):
    names and labels (M, N) in sample order."""
    names, preds = [], []
    for row, runs in stored.items():
        for seed, run in ({"-": runs}.items() if "pred" in runs else runs.items()):
            pred = np.full(n, -1)
            pred[np.asarray(run["index"])] = run["pred"]
            if (pred < 0).any():
                raise SystemExit(f"error: the stored run {row} seed {seed} does not cover every sample")
            names.append(f"{row}#{seed}")
            preds.append(pred)
    return names, np.stack(preds)


def right_share(preds: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per sample, the share of models (rows of ``preds``) whose label is the true one."""
    return (preds == labels[None]).mean(axis=0)


def breakdown(share: dict[str, np.ndarray], labels: np.ndarray, datasets: np.ndarray,
              label_names: list[str]) -> list[dict]:
    """Per dataset and class: the count, and how many samples each model pool rarely gets right."""
    rows = []
    for ds in [*sorted(set(datasets)), "all"]:
        for c, cname in [*enumerate(label_names), (-1, "all")]:
            m = (datasets == ds if ds != "all" else np.ones(len(labels), bool)) & (labels == c if c >= 0 else True)
            rare = {k: int((v[m] < RARELY).sum()) for k, v in share.items()}
            both = int(np.logical_and.reduce([v[m] < RARELY for v in share.values()]).sum())
            rows.append({"dataset": ds, "class": cname, "n": int(m.sum()), "rarely_right": rare,
                         "rarely_right_all": both})
    return rows


def _picture(share: dict[str, np.ndarray], datasets: np.ndarray, out: Path) -> None:
    fig, axes = plt.subplots(1, len(share), figsize=(5 * len(share), 3.4), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, (pool, v) in zip(axes[0], share.items(), strict=True):
        names = sorted(set(datasets))
        ax.hist([v[datasets == d] for d in names], bins=bins, stacked=True, label=names)
        ax.axvline(RARELY, color="k", lw=0.8, ls="--")
        ax.set_xlabel(f"share of {pool} models that label the sample right")
        ax.set_ylabel("samples")
        ax.legend(fontsize=8)
    fig.suptitle("Per sample: how many trained models get it right (left of the dashed line: rarely right)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--jsonl", type=Path, default=RESULTS / "tuning_composite.jsonl")
    p.add_argument("--loso", type=Path, nargs="*", default=[RESULTS / f for f in LOSO_FILES])
    p.add_argument("--out", type=Path, default=RESULTS / "hard_samples")
    args = p.parse_args(argv)
    data = load_flowset(args.data)
    labels, datasets = np.asarray(data.labels), np.asarray(data.datasets)
    order = np.concatenate(tuning_groups(data.subjects)).tolist()
    lines = [json.loads(ln) for ln in args.jsonl.read_text().splitlines()]
    split_names, split_preds, split_mean = split_predictions(lines, order)
    loso_names, loso_preds = [], np.zeros((0, len(labels)), int)
    for path in args.loso:
        names, preds = loso_predictions(json.loads(path.read_text()), len(labels))
        loso_names += [f"{path.stem}:{n}" for n in names]
        loso_preds = np.concatenate([loso_preds, preds])
    share = {"tuning-split": right_share(split_preds, labels)}
    if len(loso_names):
        share["LOSO"] = right_share(loso_preds, labels)
    reachable = np.where(share["tuning-split"] >= RARELY, labels, split_mean.argmax(-1))
    summary = {
        "tuning_split_models": len(split_names), "loso_runs": len(loso_names),
        "uf1_mean_of_all_split_models": summarise(labels, split_mean.argmax(-1), data.label_names)["uf1"],
        "uf1_if_every_sample_some_split_models_get_right_were_right": summarise(
            labels, reachable, data.label_names)["uf1"],
    }
    rows = breakdown(share, labels, datasets, list(data.label_names))
    rare_all = np.logical_and.reduce([v < RARELY for v in share.values()])
    shipped = [i for i, n in enumerate(loso_names) if n.startswith(f"{Path(LOSO_FILES[0]).stem}:sofp#")]
    wrong = [loso_preds[i] != labels for i in shipped]
    summary["shipped_loso_errors_per_seed"] = [int(w.sum()) for w in wrong]
    summary["of_them_rarely_right_everywhere"] = [int((w & rare_all).sum()) for w in wrong]
    samples = [{"file": str(data.files[i]), "dataset": str(datasets[i]), "subject": str(data.subjects[i]),
                "label": data.label_names[labels[i]], **{f"right_share_{k}": round(float(v[i]), 3)
                                                          for k, v in share.items()}}
               for i in range(len(labels))]
    command = "python benchmarks/hard_samples.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command, "machine": platform.platform(), "rarely": RARELY, "summary": summary,
              "breakdown": rows, "split_models": split_names, "loso_runs": loso_names,
              "rarely_right_everywhere": [s["file"] for s, r in zip(samples, rare_all, strict=True) if r],
              "samples": samples}
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    _picture(share, datasets, args.out.with_suffix(".png"))
    pools = list(share)
    md = [
        "# Samples that (almost) no trained model gets right", "",
        f"Command: `{command}`  ", f"Machine: {platform.platform()} (nothing trained: stored predictions only)", "",
        f"Models: {len(split_names)} tuning-split models (every seed of every configuration in "
        f"`tuning_composite.jsonl` on this split: SOFP variants, STSTNet variants, partners) and {len(loso_names)} "
        "stored LOSO runs (`" + "`, `".join(p.name for p in args.loso) + "`). A sample is *rarely right* when fewer "
        f"than {RARELY:.0%} of a pool's models label it correctly.", "",
        f"- Mean probability of all {len(split_names)} tuning-split models: UF1 "
        f"{summary['uf1_mean_of_all_split_models']:.3f}.",
        "- If every sample that at least " f"{RARELY:.0%} of them get right were right (and the rest as their mean "
        f"says): UF1 {summary['uf1_if_every_sample_some_split_models_get_right_were_right']:.3f}.",
        f"- Rarely right in every pool: {int(rare_all.sum())} of {len(labels)} samples (listed in the json).",
        f"- The shipped model's LOSO errors (`sofp` rows, per seed): {summary['shipped_loso_errors_per_seed']}; of "
        f"them rarely right in every pool: {summary['of_them_rarely_right_everywhere']}.", "",
        "| dataset | class | samples | " + " | ".join(f"rarely right ({k})" for k in pools) + " | in every pool |",
        "|---|---|---|" + "---|" * len(pools) + "---|",
        *[f"| {r['dataset']} | {r['class']} | {r['n']} | " + " | ".join(str(r["rarely_right"][k]) for k in pools)
          + f" | {r['rarely_right_all']} |" for r in rows],
        "", f"Picture: `{args.out.with_suffix('.png').name}`.", ""]
    args.out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md[6:11]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
