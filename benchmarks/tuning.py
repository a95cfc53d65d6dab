"""How the training defaults were chosen: a subject-grouped 4-fold split of the composite.

Subjects are shuffled once (seed 123) into 4 groups; each group is held out in turn while a model
trains on the other three (the 4 folds train together as one vectorised model). The score is UF1
of the final epoch over all pooled predictions, mean over training seeds 0 and 1. This split is
not LOSO and its folds are not the LOSO folds, but its held-out subjects are, in the end, LOSO
test subjects too: the README says so next to the LOSO numbers.

    python benchmarks/tuning.py --data ../shared/data/composite --name bn --set '{"model_config": {"conv_norm": true}}'

``--groups K`` deals the subjects into K groups instead (K 8: each model trains on 7/8 of them, as close to LOSO's
67 as the learning curve shows; keep such lines in another file with ``--out``, e.g. tuning_k8.jsonl).

Appends one line per variant to benchmarks/results/tuning_composite.jsonl, with every held-out sample's
final probabilities per seed (the raw result). ``--posthoc`` also scores what can be changed after training
without retraining: the predictions averaged over the last 3, 5 or 10 epochs, test-time averaging over the
input shifted by one pixel in each direction, no mirror averaging, and batch-norm statistics recomputed for
the EMA weights on the training pool (mirrored too).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sofp.runtime.features import features_to_input
from sofp.training.data.augment import mirror
from sofp.training.data.flowset import load_flowset
from sofp.training.loso import tuning_groups
from sofp.training.metrics import summarise
from sofp.training.trainer import GroupResult, TrainConfig, padded_index, predict_groups, train_groups


def _shifted(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """(..., C, H, W) moved by whole pixels, the border replicated."""
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x.flatten(0, -4), (1, 1, 1, 1), mode="replicate")
    return padded[..., 1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w].reshape(x.shape)


def _recalibrated_buffers(r: GroupResult, x: torch.Tensor, pools: list[np.ndarray]) -> dict:
    """Batch-norm running statistics recomputed for the EMA weights: one pass over each group's training pool
    and its mirror as a single batch (momentum 1: the statistics are that batch's)."""
    xb = x[torch.from_numpy(padded_index(pools, mode="wrap"))]
    xb = torch.cat([xb, mirror(xb)], dim=1)
    buffers = {k: v.clone() for k, v in r.buffers.items()}
    norms = [m for m in r.base.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.momentum = 1.0
    r.base.train()
    with torch.no_grad():
        torch.vmap(lambda p, b, xi: torch.func.functional_call(r.base, (p, b), (xi,)), randomness="different")(
            r.params, buffers, xb)
    for m in norms:
        m.momentum = 0.1
    return buffers


def _posthoc(r: GroupResult, x: torch.Tensor, pools: list[np.ndarray], evals: list[np.ndarray]) -> dict:
    """Held-out probabilities (pooled in group order) of each after-training variant."""
    xe = x[torch.from_numpy(padded_index(evals))]

    def pooled(p: np.ndarray) -> np.ndarray:
        return np.concatenate([p[g, : len(ev)] for g, ev in enumerate(evals)])

    shifts = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    out = {f"last{k}": pooled(r.probs[-k:].mean(axis=0)) for k in (3, 5, 10)}
    out["shift5"] = pooled(np.mean([predict_groups(r.base, r.params, r.buffers, _shifted(xe, dx, dy), True).numpy()
                                    for dx, dy in shifts], axis=0))
    out["no_mirror_tta"] = pooled(predict_groups(r.base, r.params, r.buffers, xe, False).numpy())
    out["bn_recalibrated"] = pooled(
        predict_groups(r.base, r.params, _recalibrated_buffers(r, x, pools), xe, True).numpy())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--set", default="{}", help="TrainConfig fields as JSON")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--out", default="benchmarks/results/tuning_composite.jsonl")
    p.add_argument("--posthoc", action="store_true", help="also score the after-training variants (above)")
    p.add_argument("--groups", type=int, default=4,
                   help="subject groups of the split (4: the tuning split; 8 trains on 7/8 of the subjects)")
    args = p.parse_args(argv)
    if args.groups < 2:
        p.error("--groups must be at least 2")
    torch.set_num_threads(1)
    data = load_flowset(args.data)
    x = torch.from_numpy(features_to_input(data.images))
    evals = tuning_groups(data.subjects, k=args.groups)
    pools = [np.setdiff1d(np.arange(len(data)), ev) for ev in evals]
    cfg = TrainConfig(**json.loads(args.set))
    y = data.labels[np.concatenate(evals)]
    t0 = time.perf_counter()
    curves, finals, posthoc = [], [], []
    for seed in args.seeds:
        r = train_groups(cfg, x, data.labels, pools, evals, seed, len(data.label_names), progress=f"seed {seed}",
                         datasets=data.datasets, subjects=data.subjects)
        finals.append(np.concatenate([r.probs[-1, g, : len(ev)] for g, ev in enumerate(evals)]))
        if args.posthoc:
            posthoc.append(_posthoc(r, x, pools, evals))
        curves.append([
            summarise(y, np.concatenate([r.probs[e, g, : len(ev)].argmax(-1) for g, ev in enumerate(evals)]),
                      data.label_names)["uf1"]
            for e in range(r.probs.shape[0])
        ])
    curve = np.mean(curves, axis=0)
    ensemble = summarise(y, np.mean(finals, axis=0).argmax(-1), data.label_names)["uf1"]
    line = {"name": args.name, "set": json.loads(args.set), "groups": args.groups, "uf1_final": float(curve[-1]),
            "uf1_final_per_seed": [c[-1] for c in curves], "uf1_seed_ensemble": ensemble,
            "uf1_curve_every_5": curve[::5].round(3).tolist(),
            "heldout_index": np.concatenate(evals).tolist(),
            "final_probs_per_seed": [f.round(4).tolist() for f in finals],
            "seconds": time.perf_counter() - t0, "command": "python benchmarks/tuning.py " + " ".join(sys.argv[1:])}
    scored: dict[str, dict] = {}
    for variant in posthoc[0] if posthoc else []:
        probs = [ph[variant] for ph in posthoc]
        per_seed = [summarise(y, p.argmax(-1), data.label_names)["uf1"] for p in probs]
        scored[variant] = {
            "uf1_mean": float(np.mean(per_seed)), "uf1_per_seed": per_seed,
            "uf1_seed_ensemble": summarise(y, np.mean(probs, axis=0).argmax(-1), data.label_names)["uf1"],
            "probs_per_seed": [p.round(4).tolist() for p in probs]}
        print(f"  {variant}: UF1 {np.mean(per_seed):.3f} (per seed {[round(v, 3) for v in per_seed]})")
    if scored:
        line["posthoc"] = scored
    with Path(args.out).open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    print(f"{args.name}: UF1 {curve[-1]:.3f} (per seed {[round(c[-1], 3) for c in curves]}; "
          f"{len(finals)}-seed ensemble {ensemble:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
