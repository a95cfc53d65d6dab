"""Mixes of two stored tuning-split configurations: the members' seed-mean probability (a 3-member ensemble)
and one partner model, at each mixing weight, on the tuning split (``benchmarks/tuning.py``'s subject
groups) only. This is how the shipped partner and its weight were chosen (README, "How the defaults were
chosen"); the LOSO figure of the chosen mix comes from ``benchmarks/accuracy.py``, which trains it anew.

    python benchmarks/tuning_mix.py --data ../shared/data/composite --members full-rerun \\
        --partners ststnet3 ststnet-nostrain ststnet-nostrain-center

Each partner seed is mixed with the members' seed-mean probability; the row's UF1 is the mean over the
partner's seeds (what one shipped ensemble with one partner scores). A partner named ``A+B+C`` is an ensemble
of partners: its k-th instance is the mean of the k-th seed of lines A, B and C (lines with as many seeds).
Members named ``A+B`` are every seed of both lines (a larger members ensemble).
Appends one line per (partner, weight) to benchmarks/results/tuning_composite.jsonl and prints it.
``--every-member-line`` takes, as the members, each stored SOFP line with at least three seeds in turn (its first
three seeds): which member recipe mixes best with a given partner. The best of many lines is biased upwards; a
winner needs new seeds before it counts.
``--class-bias`` instead asks whether a post-hoc per-class offset on the mix's log-probabilities would help:
chosen on the whole split (optimistic) and cross-validated over the split's four subject groups.

``--loso-members``/``--loso-partners`` instead mix stored LOSO runs (pairs: an ensemble folder with
``member<m>/result.json``, a single run's folder with ``result.json``) at ``--weight``: how a candidate that
was not shipped, or a look taken before a choice, was scored (README, tuning_composite.md):

    python benchmarks/tuning_mix.py --data ../shared/data/composite --weight 0.4 \
        --loso-members runs/accuracy/sofp-seed{0,1,2} --loso-partners runs/accuracy/ststnet-seed{0,1,2}
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from sofp.training.data.flowset import load_flowset
from sofp.training.loso import mix_probs, tuning_groups
from sofp.training.metrics import summarise

WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
BIAS_GRID = np.round(np.arange(-1.0, 1.01, 0.1), 2)  # per-class log-probability offsets tried by --class-bias


def _line(lines: list[dict], name: str, order: list[int]) -> dict:
    line = next((ln for ln in reversed(lines) if ln["name"] == name and "final_probs_per_seed" in ln), None)
    if line is None:
        raise SystemExit(f"error: no line named {name!r} with stored probabilities")
    if line["heldout_index"] != order:
        raise SystemExit(f"error: the line {name!r} was not made on this tuning split")
    return line


def _sofp_lines(lines: list[dict], order: list[int]) -> list[str]:
    """Names of the stored SOFP lines of this split with at least three seeds of probabilities (last one wins)."""
    names = {ln["name"]: ln for ln in lines if "final_probs_per_seed" in ln and ln["heldout_index"] == order}
    return [n for n, ln in names.items()
            if ln.get("set", {}).get("model", "sofp") == "sofp" and len(ln["final_probs_per_seed"]) >= 3]


def _member_probs(lines: list[dict], name: str, order: list[int]) -> np.ndarray:
    """Per-seed probabilities of a members line, or of ``A+B+...`` (every seed of the lines: a larger ensemble)."""
    return np.concatenate([np.asarray(_line(lines, part, order)["final_probs_per_seed"]) for part in name.split("+")])


def _partner_probs(lines: list[dict], name: str, order: list[int]) -> np.ndarray:
    """Per-seed probabilities of a partner line, or of ``A+B+...`` (the k-th seeds of the lines averaged)."""
    parts = [np.asarray(_line(lines, part, order)["final_probs_per_seed"]) for part in name.split("+")]
    if len({len(part) for part in parts}) > 1:
        raise SystemExit(f"error: the lines of {name!r} do not have the same number of seeds")
    return np.mean(parts, axis=0)


def _loso_probs(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A stored LOSO run's held-out probabilities and perturbed probabilities, in sample order."""
    result = path / "result.json"
    if not result.is_file():
        raise SystemExit(f"error: no LOSO result at {result}")
    r = json.loads(result.read_text())
    order = np.argsort(r["predictions"]["index"])
    return (np.asarray(r["predictions"]["probs"])[order],
            {k: np.asarray(v)[order] for k, v in r["perturbed_probs"].items()})


def loso_rows(data, members: list[Path], partners: list[Path], weight: float, command: str) -> list[dict]:
    """One row per (ensemble, partner) pair of stored LOSO runs: the members' mean mixed with the partner."""
    rows = []
    for ens, partner in zip(members, partners, strict=True):
        runs = [_loso_probs(d) for d in sorted(ens.glob("member*"))]
        if not runs:
            raise SystemExit(f"error: no member*/result.json under {ens}")
        other, other_perturbed = _loso_probs(partner)
        pred = mix_probs([p for p, _ in runs], other, weight).argmax(-1)
        overall = summarise(data.labels, pred, data.label_names, data.datasets)
        kept = {name: float((mix_probs([q[name] for _, q in runs], other_perturbed[name], weight).argmax(-1)
                             == pred).mean()) for name in other_perturbed}
        rows.append({"name": f"loso {ens} + {partner}", "members": str(ens), "partner": str(partner),
                     "weight": weight, "uf1": overall["uf1"], "uar": overall["uar"],
                     "samm_uf1": overall.get("per_dataset", {}).get("samm", {}).get("uf1"), "label_kept": kept,
                     "command": command})
    return rows


def best_bias(probs: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, float]:
    """The offset b (class 0's fixed at 0, the others on ``BIAS_GRID``) whose argmax(log p + b) scores the highest
    UF1 on (probs, y), and that UF1 (the first such b in grid order on ties)."""
    logp = np.log(probs + 1e-9)
    best, best_uf1 = np.zeros(probs.shape[1]), -1.0
    for rest in itertools.product(BIAS_GRID, repeat=probs.shape[1] - 1):
        b = np.array((0.0, *rest))
        score = summarise(y, (logp + b).argmax(-1), names)["uf1"]
        if score > best_uf1:
            best, best_uf1 = b, score
    return best, best_uf1


def cross_validated_bias(probs: np.ndarray, y: np.ndarray, groups: np.ndarray, names: tuple[str, ...]) -> float:
    """UF1 of the pooled predictions when each group's offset is the one ``best_bias`` picks on the other groups."""
    pred = np.empty(len(y), np.int64)
    for g in np.unique(groups):
        rest = groups != g
        b, _ = best_bias(probs[rest], y[rest], names)
        pred[~rest] = (np.log(probs[~rest] + 1e-9) + b).argmax(-1)
    return summarise(y, pred, names)["uf1"]


def bias_rows(mixes: list[np.ndarray], y: np.ndarray, groups: np.ndarray, names: tuple[str, ...]) -> dict:
    """A post-hoc class offset on each mix (one per partner seed): chosen and scored on the whole split (in
    sample, optimistic), and cross-validated over the split's subject groups (chosen on three, scored on the
    fourth)."""
    chosen = [best_bias(m, y, names) for m in mixes]
    return {"uf1_plain": [summarise(y, m.argmax(-1), names)["uf1"] for m in mixes],
            "bias_in_sample": [b.tolist() for b, _ in chosen], "uf1_in_sample": [u for _, u in chosen],
            "uf1_cross_validated": [cross_validated_bias(m, y, groups, names) for m in mixes]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--members", default="full-rerun",
                   help="the jsonl line whose seeds are the ensemble's members (A+B: every seed of both lines)")
    p.add_argument("--every-member-line", action="store_true",
                   help="mix each stored SOFP line with >= 3 seeds in turn as the members (a sweep)")
    p.add_argument("--partners", nargs="+", default=[], help="jsonl lines of partner candidates")
    p.add_argument("--weights", type=float, nargs="+", default=list(WEIGHTS))
    p.add_argument("--loso-members", type=Path, nargs="+", default=[], help="stored LOSO ensemble folders")
    p.add_argument("--loso-partners", type=Path, nargs="+", default=[], help="stored LOSO partner runs, one each")
    p.add_argument("--weight", type=float, default=0.4, help="the partner's weight for --loso-members")
    p.add_argument("--class-bias", action="store_true",
                   help="for each partner at --weights: a post-hoc per-class offset, in sample and cross-validated")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/tuning_composite.jsonl"))
    p.add_argument("--groups", type=int, default=4, help="the split's subject groups, as given to tuning.py")
    args = p.parse_args(argv)
    if len(args.loso_members) != len(args.loso_partners) or not (args.partners or args.loso_members):
        p.error("give --partners, or as many --loso-partners as --loso-members")
    data = load_flowset(args.data)
    command = "python benchmarks/tuning_mix.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.loso_members:
        rows = loso_rows(data, args.loso_members, args.loso_partners, args.weight, command)
        with args.out.open("a") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")
                samm = "n/a" if row["samm_uf1"] is None else f"{row['samm_uf1']:.4f}"
                print(f"{row['name']} (w {row['weight']:g}): UF1 {row['uf1']:.4f} UAR {row['uar']:.4f} "
                      f"SAMM UF1 {samm}; label kept "
                      + ", ".join(f"{k} {v:.3f}" for k, v in row["label_kept"].items()))
        return 0
    order = np.concatenate(tuning_groups(data.subjects, k=args.groups))
    y, samm = data.labels[order], data.datasets[order] == "samm"
    lines = [json.loads(line) for line in args.out.read_text().splitlines()]
    member_names = _sofp_lines(lines, order.tolist()) if args.every_member_line else [args.members]

    def uf1(probs: np.ndarray, mask: np.ndarray | slice = slice(None)) -> float:
        return summarise(y[mask], probs[mask].argmax(-1), data.label_names)["uf1"]

    rows = []
    if args.class_bias:
        members = np.mean(_member_probs(lines, args.members, order.tolist()), axis=0)
        groups = np.concatenate([np.full(len(g), k) for k, g in enumerate(tuning_groups(data.subjects, k=args.groups))])
        for name in args.partners:
            partner = _partner_probs(lines, name, order.tolist())
            for w in args.weights:
                res = bias_rows([mix_probs([members], seed_probs, w) for seed_probs in partner], y, groups,
                                data.label_names)
                row = {"name": f"{args.members}+{name} class bias", "weight": w, **res, "command": command}
                with args.out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"{row['name']} (w {w:g}): UF1 plain {np.mean(res['uf1_plain']):.3f}, offset chosen in sample "
                      f"{np.mean(res['uf1_in_sample']):.3f}, cross-validated "
                      f"{np.mean(res['uf1_cross_validated']):.3f} (per partner seed "
                      + ", ".join(f"{u:.3f}" for u in res["uf1_cross_validated"]) + ")")
        return 0
    for members_name, name in itertools.product(member_names, args.partners):
        seeds = _member_probs(lines, members_name, order.tolist())
        members = np.mean(seeds[:3] if args.every_member_line else seeds, axis=0)
        partner = _partner_probs(lines, name, order.tolist())
        for w in [0.0, *args.weights, 1.0]:
            mixes = [mix_probs([members], seed_probs, w) for seed_probs in partner]
            per_seed = [uf1(m) for m in mixes]
            rows.append({"name": f"{members_name}+{name}", "members": members_name, "partner": name, "weight": w,
                         "uf1_final": float(np.mean(per_seed)), "uf1_per_partner_seed": per_seed,
                         "samm_uf1": float(np.mean([uf1(m, samm) for m in mixes])), "command": command})
    with args.out.open("a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
            print(f"{row['name']} (w {row['weight']:g}): UF1 {row['uf1_final']:.3f} "
                  f"(per partner seed {', '.join(f'{u:.3f}' for u in row['uf1_per_partner_seed'])}), "
                  f"SAMM UF1 {row['samm_uf1']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
