"""How the training defaults were chosen: a subject-grouped 4-fold split of the composite.

Subjects are shuffled once (seed 123) into 4 groups; each group is held out in turn while a model
trains on the other three (the 4 folds train together as one vectorised model). The score is UF1
of the final epoch over all pooled predictions, mean over training seeds 0 and 1. This split is
not LOSO and its folds are not the LOSO folds, but its held-out subjects are, in the end, LOSO
test subjects too: the README says so next to the LOSO numbers.

    python benchmarks/tuning.py --data ../shared/data/composite --name bn --set '{"model_config": {"conv_norm": true}}'

Appends one line per variant to benchmarks/results/tuning_composite.jsonl, with every held-out sample's
final probabilities per seed (the raw result).
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
from sofp.training.data.flowset import load_flowset
from sofp.training.metrics import summarise
from sofp.training.trainer import TrainConfig, train_groups


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--set", default="{}", help="TrainConfig fields as JSON")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--out", default="benchmarks/results/tuning_composite.jsonl")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = load_flowset(args.data)
    x = torch.from_numpy(features_to_input(data.images))
    subjects = np.array(sorted(set(data.subjects.tolist())))
    perm = np.random.default_rng(123).permutation(len(subjects))
    groups = [subjects[perm[i::4]] for i in range(4)]
    evals = [np.flatnonzero(np.isin(data.subjects, g)) for g in groups]
    pools = [np.flatnonzero(~np.isin(data.subjects, g)) for g in groups]
    cfg = TrainConfig(**json.loads(args.set))
    y = data.labels[np.concatenate(evals)]
    t0 = time.perf_counter()
    curves, finals = [], []
    for seed in args.seeds:
        r = train_groups(cfg, x, data.labels, pools, evals, seed, len(data.label_names), progress=f"seed {seed}")
        finals.append(np.concatenate([r.probs[-1, g, : len(ev)] for g, ev in enumerate(evals)]))
        curves.append([
            summarise(y, np.concatenate([r.probs[e, g, : len(ev)].argmax(-1) for g, ev in enumerate(evals)]),
                      data.label_names)["uf1"]
            for e in range(r.probs.shape[0])
        ])
    curve = np.mean(curves, axis=0)
    ensemble = summarise(y, np.mean(finals, axis=0).argmax(-1), data.label_names)["uf1"]
    line = {"name": args.name, "set": json.loads(args.set), "uf1_final": float(curve[-1]),
            "uf1_final_per_seed": [c[-1] for c in curves], "uf1_seed_ensemble": ensemble,
            "uf1_curve_every_5": curve[::5].round(3).tolist(),
            "heldout_index": np.concatenate(evals).tolist(),
            "final_probs_per_seed": [f.round(4).tolist() for f in finals],
            "seconds": time.perf_counter() - t0, "command": "python benchmarks/tuning.py " + " ".join(sys.argv[1:])}
    with Path(args.out).open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    print(f"{args.name}: UF1 {curve[-1]:.3f} (per seed {[round(c[-1], 3) for c in curves]}; "
          f"{len(finals)}-seed ensemble {ensemble:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
