"""A hand-crafted second opinion beside SOFP: histograms of oriented optical flow (HOOF) and pooled flow,
read by a linear or RBF classifier, and its mix with SOFP's probabilities.

Asks whether a model with another inductive bias makes other mistakes than SOFP, enough for a mix to
clear the issue's accuracy target. Everything is chosen on the tuning split (``benchmarks/tuning.py``'s
subject groups): the classifier alone, and its mix with the SOFP tuning-split probabilities of a stored
``tuning_composite.jsonl`` line at each mixing weight. ``--loso-runs`` (run folders) or ``--loso-predictions``
(an accuracy benchmark's per-sample predictions) then checks one pre-chosen mix once under LOSO, against the
stored per-sample probabilities of LOSO runs.

    python benchmarks/handcrafted.py --data ../shared/data/composite
    python benchmarks/handcrafted.py --data ../shared/data/composite --loso-runs runs/accuracy/sofp-seed0 \\
        runs/accuracy/sofp-seed1 runs/accuracy/sofp-seed2 --classifier logreg --weight 0.25

Appends one line per configuration to benchmarks/results/tuning_composite.jsonl (held-out probabilities
included), like the tuning script.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sofp.runtime.features import features_to_input, mirror_features
from sofp.training.data.flowset import FlowSet, load_flowset
from sofp.training.loso import loso_folds, tuning_groups
from sofp.training.metrics import summarise

CLASSIFIERS = {
    "logreg": lambda: LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced"),
    # ensemble takes "auto" or a bool; the type inferred from its default is str
    "svm": lambda: CalibratedClassifierCV(SVC(C=1.0, class_weight="balanced"),
                                          ensemble=False),  # pyright: ignore[reportArgumentType]
}
WEIGHTS = (0.25, 0.5)


def hoof(uv: np.ndarray, cells: int = 4, bins: int = 8) -> np.ndarray:
    """Magnitude-weighted histograms of flow orientation on a cells x cells grid, L1-normalised per sample.
    uv: (N, 2, H, W) centred flow -> (N, cells * cells * bins)."""
    n, _, h, w = uv.shape
    mag = np.hypot(uv[:, 0], uv[:, 1])
    bin_of = ((np.arctan2(uv[:, 1], uv[:, 0]) + np.pi) / (2 * np.pi) * bins).astype(int) % bins
    ch, cw = h // cells, w // cells
    onehot = (bin_of[..., None] == np.arange(bins)) * mag[..., None]  # (N, H, W, bins)
    hist = onehot[:, : ch * cells, : cw * cells].reshape(n, cells, ch, cells, cw, bins).sum(axis=(2, 4))
    hist = hist.reshape(n, -1)
    return hist / (hist.sum(axis=1, keepdims=True) + 1e-6)


def features(data: FlowSet, normalise: str, mirrored: bool = False) -> np.ndarray:
    """HOOF (x 10) beside the 4 x 4-pooled centred u and v: (N, 128 + 98). ``normalise`` subtracts the mean
    flow image of each subject or dataset first (unlabelled statistics of the held-out subject, too);
    ``mirrored``: of each image's left-right mirror."""
    x = features_to_input(mirror_features(data.images) if mirrored else data.images)[:, :2].astype(np.float64)
    uv = x - x.mean(axis=(2, 3), keepdims=True)
    if normalise != "none":
        keys = data.subjects if normalise == "subject" else data.datasets
        for key in np.unique(keys):
            uv[keys == key] -= uv[keys == key].mean(axis=0, keepdims=True)
    pooled = uv.reshape(len(uv), 2, 7, 4, 7, 4).mean(axis=(3, 5)).reshape(len(uv), -1)
    return np.hstack([10 * hoof(uv), pooled])


def fit_predict(classifier: str, x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray,
                x_mirror: np.ndarray | None = None, augment: bool = False) -> np.ndarray:
    """Probabilities of ``test`` from the classifier fit on ``train``; with ``x_mirror`` (the features of each
    sample's mirror), the mean of the sample's and its mirror's, as the runtime averages them, and with
    ``augment`` also fit on the training samples' mirrors."""
    clf = make_pipeline(StandardScaler(), CLASSIFIERS[classifier]())
    if augment and x_mirror is not None:
        clf.fit(np.concatenate([x[train], x_mirror[train]]), np.concatenate([y[train], y[train]]))
    else:
        clf.fit(x[train], y[train])
    probs = clf.predict_proba(x[test])
    return probs if x_mirror is None else 0.5 * (probs + clf.predict_proba(x_mirror[test]))


def scores(y: np.ndarray, probs: np.ndarray, datasets: np.ndarray, labels: tuple[str, ...]) -> dict:
    """UF1, UAR, and SAMM's UF1 (None without SAMM samples)."""
    overall = summarise(y, probs.argmax(-1), labels)
    samm = datasets == "samm"
    return {"uf1": overall["uf1"], "uar": overall["uar"],
            "samm_uf1": summarise(y[samm], probs[samm].argmax(-1), labels)["uf1"] if samm.any() else None}


def tuning_rows(data: FlowSet, x: np.ndarray, sofp_line: dict, classifier: str, normalise: str,
                weights: tuple[float, ...] = WEIGHTS, x_mirror: np.ndarray | None = None,
                partner: tuple[dict, float] | None = None, augment: bool = False, groups: int = 4) -> list[dict]:
    """The classifier on the tuning split (``groups`` subject groups), alone and mixed at each of ``weights`` with
    the stored SOFP line's seed-mean probabilities; with ``partner`` (a stored line, its weight), with each of that
    line's seeds mixed into the SOFP mean first (the shipped ensemble), the mix's scores being the mean over the
    partner's seeds."""
    evals = tuning_groups(data.subjects, k=groups)
    order = np.concatenate(evals)
    lines = [sofp_line] + ([partner[0]] if partner else [])
    for line in lines:
        if line["heldout_index"] != order.tolist():
            raise SystemExit(f"error: the stored line {line['name']!r} was not made on this tuning split")
    probs = np.concatenate([fit_predict(classifier, x, data.labels, np.setdiff1d(np.arange(len(data)), ev), ev,
                                        x_mirror, augment) for ev in evals])
    sofp = np.mean(sofp_line["final_probs_per_seed"], axis=0)
    ensembles = ([(1 - partner[1]) * sofp + partner[1] * np.asarray(p) for p in partner[0]["final_probs_per_seed"]]
                 if partner else [sofp])
    y, ds = data.labels[order], data.datasets[order]
    tag = ("-mirrored" if x_mirror is not None else "") + ("-augmented" if augment else "")
    rows = [{"name": f"handcrafted-{classifier}-{normalise}{tag}", "weight": 1.0, "groups": groups,
             **scores(y, probs, ds, data.label_names), "heldout_index": order.tolist(),
             "final_probs": probs.round(4).tolist()}]
    mixed_with = "+".join(line["name"] for line in lines)
    for w in weights:
        per = [scores(y, (1 - w) * ens + w * probs, ds, data.label_names) for ens in ensembles]
        rows.append({"name": f"handcrafted-{classifier}-{normalise}{tag}+{mixed_with}", "weight": w, "groups": groups,
                     **{k: (None if per[0][k] is None else float(np.mean([r[k] for r in per]))) for k in per[0]},
                     "uf1_per_partner_seed": [r["uf1"] for r in per]})
    return rows


def stored_runs(run_dirs: list[Path], predictions: Path | None, model: str) -> list[tuple[str, dict]]:
    """(name, {"index", "probs"}) of each stored LOSO run: a run folder's result.json, or each seed of ``model`` in
    an accuracy benchmark's ``*_predictions.json``."""
    runs = [(str(d), json.loads((d / "result.json").read_text())["predictions"]) for d in run_dirs]
    if predictions is not None:
        stored = json.loads(predictions.read_text())
        if model not in stored:
            raise SystemExit(f"error: {predictions} has no model {model!r} (it has {', '.join(stored)})")
        runs += [(f"{predictions.name} {model} seed {seed}", pred) for seed, pred in stored[model].items()]
    return runs


def loso_rows(data: FlowSet, x: np.ndarray, runs: list[tuple[str, dict]], classifier: str,
              weight: float, x_mirror: np.ndarray | None = None, augment: bool = False) -> list[dict]:
    """The classifier under LOSO, mixed at ``weight`` with each stored LOSO run's per-sample probabilities."""
    probs = np.zeros((len(data), len(data.label_names)))
    for fold in loso_folds(data.subjects):
        probs[fold.test] = fit_predict(classifier, x, data.labels, fold.train, fold.test, x_mirror, augment)
    tag = ("-mirrored" if x_mirror is not None else "") + ("-augmented" if augment else "")
    rows = [{"name": f"handcrafted-{classifier}-loso{tag}", "weight": 1.0,
             **scores(data.labels, probs, data.datasets, data.label_names)}]
    for run, pred in runs:
        idx, sofp = np.asarray(pred["index"]), np.asarray(pred["probs"])
        y, ds = data.labels[idx], data.datasets[idx]
        rows.append({"name": f"loso {run}", "weight": 0.0, **scores(y, sofp, ds, data.label_names)})
        rows.append({"name": f"loso {run} + handcrafted-{classifier}{tag}", "weight": weight,
                     **scores(y, (1 - weight) * sofp + weight * probs[idx], ds, data.label_names)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--sofp-line", default="full-rerun", help="name of the tuning_composite.jsonl line to mix with")
    p.add_argument("--classifier", choices=sorted(CLASSIFIERS), nargs="+", default=sorted(CLASSIFIERS))
    p.add_argument("--normalise", choices=("none", "subject", "dataset"), nargs="+", default=["none"],
                   help="subtract each subject's or dataset's mean flow image (tuning split only)")
    p.add_argument("--loso-runs", type=Path, nargs="*", default=[],
                   help="LOSO run folders (result.json): check the mix under LOSO instead of tuning")
    p.add_argument("--loso-predictions", type=Path,
                   help="an accuracy benchmark's *_predictions.json: check the mix with each seed of --loso-model")
    p.add_argument("--loso-model", default="sofp", help="the model of --loso-predictions to mix with")
    p.add_argument("--weight", type=float, default=0.25, help="mixing weight for the LOSO check")
    p.add_argument("--weights", type=float, nargs="+", default=list(WEIGHTS), help="mixing weights on the split")
    p.add_argument("--partner-line", help="a stored partner line mixed into --sofp-line first (the shipped ensemble)")
    p.add_argument("--partner-weight", type=float, default=0.4, help="the partner's weight in that ensemble")
    p.add_argument("--mirror-average", action="store_true",
                   help="the classifier's probability is the mean of the sample's and its mirror's (as the runtime)")
    p.add_argument("--mirror-augment", action="store_true",
                   help="with --mirror-average: also fit the classifier on the training samples' mirrors")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/tuning_composite.jsonl"))
    p.add_argument("--groups", type=int, default=4, help="the split's subject groups, as given to tuning.py")
    args = p.parse_args(argv)
    if args.mirror_augment and not args.mirror_average:
        p.error("--mirror-augment needs --mirror-average")
    if args.groups < 2:
        p.error("--groups must be at least 2")
    data = load_flowset(args.data)
    lines = [json.loads(line) for line in args.out.read_text().splitlines()]

    def line(name: str) -> dict:
        found = next((ln for ln in reversed(lines) if ln["name"] == name and "final_probs_per_seed" in ln), None)
        if found is None:
            raise SystemExit(f"error: no line named {name!r} with stored probabilities in {args.out}")
        return found

    partner = (line(args.partner_line), args.partner_weight) if args.partner_line else None
    command = "python benchmarks/handcrafted.py " + " ".join(sys.argv[1:])
    rows = []
    if args.loso_runs or args.loso_predictions:
        runs = stored_runs(args.loso_runs, args.loso_predictions, args.loso_model)
        x = features(data, "none")
        x_mirror = features(data, "none", mirrored=True) if args.mirror_average else None
        for clf in args.classifier:
            rows += loso_rows(data, x, runs, clf, args.weight, x_mirror, args.mirror_augment)
    else:
        sofp_line = line(args.sofp_line)
        for norm in args.normalise:
            x = features(data, norm)
            x_mirror = features(data, norm, mirrored=True) if args.mirror_average else None
            for clf in args.classifier:
                rows += tuning_rows(data, x, sofp_line, clf, norm, tuple(args.weights), x_mirror, partner,
                                    args.mirror_augment, args.groups)
    with args.out.open("a") as fh:
        for row in rows:
            fh.write(json.dumps({**row, "command": command}) + "\n")
            samm = "n/a" if row["samm_uf1"] is None else f"{row['samm_uf1']:.3f}"
            print(f"{row['name']} (w {row['weight']}): UF1 {row['uf1']:.3f} UAR {row['uar']:.3f} SAMM UF1 {samm}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
