"""The tuning split's results as one picture: every trained configuration of ``tuning_composite.jsonl``, its
seeds' UF1 as dots and their mean as a bar, against the shipped configuration's seed range.

    python benchmarks/tuning_chart.py

Reads benchmarks/results/tuning_composite.jsonl, writes benchmarks/results/tuning_composite.png. A name that
occurs more than once is drawn as its last line (the jsonl keeps every line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"
BASELINE = "full-rerun"  # the shipped configuration, re-run with the same seeds as the other rows


def trained_rows(lines: list[dict]) -> dict[str, list[float]]:
    """Configuration name -> per-seed final UF1, for the lines that trained a model (last line per name)."""
    return {ln["name"]: ln["uf1_final_per_seed"] for ln in lines if "uf1_final_per_seed" in ln}


def chart(rows: dict[str, list[float]], out: Path, baseline: str = BASELINE) -> None:
    names = sorted(rows, key=lambda n: sum(rows[n]) / len(rows[n]))
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(names) + 1.4))
    if baseline in rows:
        ax.axvspan(min(rows[baseline]), max(rows[baseline]), color="tab:green", alpha=0.15,
                   label=f"{baseline}: its seeds' range")
    for i, name in enumerate(names):
        seeds = rows[name]
        colour = "tab:green" if name == baseline else "tab:blue"
        ax.plot([min(seeds), max(seeds)], [i, i], color=colour, lw=1)
        ax.plot(seeds, [i] * len(seeds), ".", color=colour, ms=5)
        ax.plot(sum(seeds) / len(seeds), i, "|", color="k", ms=10, mew=2)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    lows = [min(v) for v in rows.values()]
    ax.set_xlim(min(lows) - 0.02, max(max(v) for v in rows.values()) + 0.01)
    ax.set_xlabel("UF1 on the tuning split (dots: each seed; black tick: their mean)")
    ax.set_title("Tuning split, every trained configuration (tuning_composite.jsonl; each row's --set is\n"
                 "relative to the defaults of its day, tuning_composite.md)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jsonl", type=Path, default=RESULTS / "tuning_composite.jsonl")
    p.add_argument("--out", type=Path, default=RESULTS / "tuning_composite.png")
    args = p.parse_args(argv)
    if not args.jsonl.is_file():
        raise SystemExit(f"error: no tuning results at {args.jsonl}")
    rows = trained_rows([json.loads(line) for line in args.jsonl.read_text().splitlines() if line.strip()])
    if not rows:
        raise SystemExit(f"error: {args.jsonl} holds no trained configuration")
    chart(rows, args.out)
    print(f"wrote {args.out} ({len(rows)} configurations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
