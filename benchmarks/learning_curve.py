"""How the shipped recipe's UF1 grows with the number of training subjects (a learning curve).

For each K, the composite's subjects are dealt into K groups as the tuning split deals them into 4
(``tuning_groups(subjects, k=K)``); each group is held out in turn while the shipped members' recipe and the shipped
partner's recipe train on the other K - 1 groups (fixed schedule, final epoch). Scored on the pooled held-out
predictions, like ``benchmarks/tuning.py``: the members as a seed ensemble (their mean probability), the partner
per seed, and the two mixed at the shipped partner weight (mean over the partner's seeds). K = 4 is the tuning
split itself; with ``--loso-json`` the shipped model's LOSO figures (K = number of subjects) are added as the last
point.

    python benchmarks/learning_curve.py --data ../shared/data/composite --groups 2 3 4 8 --seeds 0 1 2 \
        --loso-json benchmarks/results/accuracy_composite.json

Writes ``--out`` .json (every held-out probability, per K, model and seed; a finished (K, model) is kept and not
trained again when the command is re-run), .md and .png. Needs the training extra (torch).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch

from sofp.runtime.features import features_to_input
from sofp.training.config import TrainConfig
from sofp.training.data.flowset import FlowSet, load_flowset
from sofp.training.loso import mix_probs, tuning_groups
from sofp.training.metrics import summarise
from sofp.training.trainer import train_groups

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RECIPES = {"members": TrainConfig().solo(), "partner": TrainConfig().partner_schedule()}


def train_split(data: FlowSet, x: torch.Tensor, cfg: TrainConfig, k: int, seeds: list[int]) -> dict:
    """Held-out probabilities (pooled in group order) of ``cfg`` trained on each K-fold split, per seed; ``x``: the
    data's model inputs."""
    evals = tuning_groups(data.subjects, k=k)
    pools = [np.setdiff1d(np.arange(len(data)), ev) for ev in evals]
    t0, probs = time.perf_counter(), []
    for seed in seeds:
        r = train_groups(cfg, x, data.labels, pools, evals, seed, len(data.label_names),
                         progress=f"K {k}, {cfg.model}, seed {seed}", datasets=data.datasets,
                         subjects=data.subjects)
        probs.append(np.concatenate([r.probs[-1, g, : len(ev)] for g, ev in enumerate(evals)]).round(4).tolist())
    train_subjects = [len(set(data.subjects[p].tolist())) for p in pools]
    return {"heldout_index": np.concatenate(evals).tolist(), "probs_per_seed": probs,
            "train_subjects_mean": float(np.mean(train_subjects)), "seconds": time.perf_counter() - t0}


def score(data: FlowSet, runs: dict, weight: float) -> dict:
    """UF1 (and SAMM UF1) of the members' seed ensemble, the partner per seed and their mix, from ``runs``."""
    order = np.asarray(runs["members"]["heldout_index"])
    y, samm = data.labels[order], data.datasets[order] == "samm"

    def uf1(p: np.ndarray, mask: np.ndarray | slice = slice(None)) -> float:
        return summarise(y[mask], p[mask].argmax(-1), data.label_names)["uf1"]

    members = np.mean(runs["members"]["probs_per_seed"], axis=0)
    partner = [np.asarray(p) for p in runs["partner"]["probs_per_seed"]]
    mixes = [mix_probs([members], p, weight) for p in partner]
    partner_uf1, mix_uf1 = [uf1(p) for p in partner], [uf1(m) for m in mixes]
    return {"members_ensemble": uf1(members), "partner_per_seed": partner_uf1, "partner": float(np.mean(partner_uf1)),
            "mix_per_seed": mix_uf1, "mix": float(np.mean(mix_uf1)),
            "mix_samm": float(np.mean([uf1(m, samm) for m in mixes]))}


def loso_point(path: Path, n_subjects: int) -> dict:
    """The shipped model's LOSO figures (mean over its seeds) as the curve's last point."""
    sofp = json.loads(path.read_text())["models"]["sofp"]
    return {"train_subjects_mean": n_subjects - 1, "members_ensemble": sofp["members_only"]["uf1_mean"],
            "partner": sofp["partner_alone"]["uf1_mean"], "mix": sofp["honest"]["uf1_mean"],
            "mix_samm": sofp["honest"]["per_dataset"]["samm"]["uf1_mean"]}


def mix_fit(points: list[dict]) -> dict:
    """The mix's UF1 as a line in log2(training subjects): its slope per doubling, and where it meets 0.75."""
    slope, intercept = np.polyfit(np.log2([p["train_subjects_mean"] for p in points]), [p["mix"] for p in points], 1)
    at = 2 ** ((0.75 - intercept) / slope) if slope > 0 else float("inf")
    return {"per_doubling": float(slope), "intercept": float(intercept), "subjects_at_075": float(at)}


def write_outputs(out: Path, result: dict) -> None:
    """The .md table and the .png curve beside the .json."""
    points = [(f"K = {k}", p) for k, p in sorted(result["scores"].items(), key=lambda kv: int(kv[0]))]
    if "loso" in result:
        points.append(("LOSO (shipped model, `accuracy_composite.md`)", result["loso"]))
    lines = [
        "# Learning curve: UF1 against the number of training subjects (composite)", "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; versions: {result['versions']}", "",
        "Each split deals the 68 subjects into K groups (seed 123, as the tuning split deals them into 4) and holds "
        "each group out in turn; shipped members' and partner's recipes, fixed schedule, final epoch; pooled "
        f"held-out UF1. Members: their {len(result['seeds'])}-seed ensemble; partner: mean over its seeds; mix: the "
        f"members' ensemble with each partner seed at w {result['weight']:g}, mean over partner seeds "
        f"(seeds {result['seeds']}).", "",
        "| split | training subjects (mean) | members | partner | mix | mix, SAMM |",
        "|---|---|---|---|---|---|",
    ]
    for label, p in points:
        lines.append(f"| {label} | {p['train_subjects_mean']:.1f} | {p['members_ensemble']:.3f} | "
                     f"{p['partner']:.3f} | {p['mix']:.3f} | {p['mix_samm']:.3f} |")
    fit = result["mix_fit"]
    lines += ["", "A least-squares line through the mix's points in log2(training subjects): "
              f"{fit['per_doubling']:+.3f} UF1 per doubling of the subjects; on that line the mix reaches 0.75 at "
              f"about {fit['subjects_at_075']:.0f} training subjects (an extrapolation, not a measurement)."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [p["train_subjects_mean"] for _, p in points]
    for key, style in [("members_ensemble", "o-"), ("partner", "s-"), ("mix", "^-")]:
        ax.plot(xs, [p[key] for _, p in points], style, label=key.replace("_", " "))
    ax.axhline(0.75, color="grey", ls="--", lw=1, label="issue 9 target (0.75)")
    ax.set_xlabel("training subjects per model (mean)")
    ax.set_ylabel("UF1 (pooled held-out)")
    ax.set_title("Composite UF1 against training subjects")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--groups", type=int, nargs="+", default=[2, 3, 4, 8])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--loso-json", type=Path, help="accuracy_composite.json of the shipped model (the last point)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/learning_curve.json"))
    args = p.parse_args(argv)
    if any(k < 2 for k in args.groups):
        p.error("--groups: each K must be at least 2")
    if args.out.exists():
        result = json.loads(args.out.read_text())
        if result["seeds"] != args.seeds:
            p.error(f"--seeds {args.seeds} differ from the seeds of {args.out} ({result['seeds']}): use another --out")
    else:
        result = {"seeds": args.seeds, "runs": {}}
    torch.set_num_threads(1)
    data = load_flowset(args.data)
    x = torch.from_numpy(features_to_input(data.images))
    result.update(command="python benchmarks/learning_curve.py " + " ".join(sys.argv[1:] if argv is None else argv),
                  machine=f"{platform.machine()} {os.cpu_count()} cores, CPU only, {torch.get_num_threads()} "
                          "PyTorch thread",
                  versions={"torch": torch.__version__, "numpy": np.__version__},
                  weight=TrainConfig().partner_weight)
    for k in args.groups:
        runs = result["runs"].setdefault(str(k), {})
        for name, cfg in RECIPES.items():
            if name not in runs:
                runs[name] = train_split(data, x, cfg, k, args.seeds)
                args.out.write_text(json.dumps(result))  # kept as it goes: a re-run resumes here
        print(f"K {k}: " + ", ".join(f"{n} {runs[n]['seconds']:.0f} s" for n in RECIPES), flush=True)
    result["scores"] = {k: {"train_subjects_mean": runs["members"]["train_subjects_mean"],
                            **score(data, runs, result["weight"])} for k, runs in result["runs"].items()}
    if args.loso_json:
        result["loso"] = loso_point(args.loso_json, len(set(data.subjects.tolist())))
    result["mix_fit"] = mix_fit([*result["scores"].values(), *([result["loso"]] if "loso" in result else [])])
    args.out.write_text(json.dumps(result))
    write_outputs(args.out, result)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
