"""Relabel a prepared dataset under another class map, and merge prepared datasets into a composite.

Preparation keeps every clip's canonical emotion in ``clips.csv``, so changing the class map
needs no new flow: :func:`relabel` writes a labels file for another map beside the images, and
:func:`merge` gathers several prepared datasets (SMIC + CASME II + SAMM = the MEGC 2019 composite)
into one folder of the composite's format, with subjects unique per dataset (``casme2/sub01``).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sofp.runtime.errors import SofpError, UsageError
from sofp.training.raw.class_maps import ClassMap, get_class_map
from sofp.training.raw.prepare import CLIP_COLUMNS, LABEL_COLUMNS, _write_csv, label_rows, record_class


def read_clips(prepared: str | Path) -> list[dict]:
    """Rows of ``<prepared>/clips.csv`` (written by prepare); one line on a missing/foreign file."""
    path = Path(prepared) / "clips.csv"
    if not path.is_file():
        raise UsageError(f"{prepared} is not a prepared dataset: no clips.csv (run `prepare` first)")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("file", "dataset", "subject", "sample", "emotion") if c not in (reader.fieldnames or [])]
        if missing:
            raise SofpError(f"{path} lacks column(s) {', '.join(missing)}; was it written by prepare?")
        return list(reader)


def relabel(prepared: str | Path, class_map: str | ClassMap,
            out_csv: str | Path | None = None) -> tuple[Path, int, Counter]:
    """Write labels for ``class_map`` from ``clips.csv`` -> (csv path, rows, excluded emotions).

    Default path: ``<prepared>/labels-<map>.csv`` (images stay in ``<prepared>/flow``).
    """
    cmap = get_class_map(class_map)
    rows, excluded = label_rows(read_clips(prepared), cmap)
    if not rows:
        raise SofpError(f"no clip of {prepared} falls in class map {cmap.name} ({cmap.doc})")
    path = Path(out_csv) if out_csv else Path(prepared) / f"labels-{cmap.name}.csv"
    _write_csv(path, LABEL_COLUMNS, rows)
    return path, len(rows), excluded


@dataclass
class MergeResult:
    out: Path
    per_dataset: dict[str, Counter]
    excluded: Counter

    def summary(self) -> str:
        parts = [f"{d}: {sum(c.values())} ({', '.join(f'{n} {k}' for k, n in sorted(c.items()))})"
                 for d, c in self.per_dataset.items()]
        excl = ", ".join(f"{n} {e}" for e, n in self.excluded.most_common()) or "none"
        total = sum(sum(c.values()) for c in self.per_dataset.values())
        return f"merged {total} samples into {self.out}: {'; '.join(parts)}; not in the class map: {excl}"


def merge(inputs: Sequence[str | Path], out: str | Path, class_map: str | ClassMap = "composite", *,
          warn: Callable[[str], None] | None = None) -> MergeResult:
    """Merge prepared datasets into ``out`` (flow/ + labels.csv + clips.csv) under ``class_map``.

    Subjects become ``<dataset>/<subject>``; a file name used by two inputs gets its dataset as a
    prefix. Images are hard-linked where possible, else copied. Two inputs of the same dataset
    are refused (their subjects would collide).
    """
    say = warn or (lambda line: print(line, file=sys.stderr, flush=True))
    cmap = get_class_map(class_map)
    if not inputs:
        raise UsageError("merge needs at least one prepared dataset")
    out = Path(out)
    flow_out = out / "flow"
    flow_out.mkdir(parents=True, exist_ok=True)
    all_rows: list[dict] = []
    seen_datasets: dict[str, Path] = {}
    used: set[str] = set()
    per_dataset: dict[str, Counter] = {}
    excluded: Counter = Counter()
    for src in map(Path, inputs):
        clips = read_clips(src)
        for ds in {c["dataset"] for c in clips}:
            if ds in seen_datasets:
                raise UsageError(f"dataset {ds} is in both {seen_datasets[ds]} and {src}; merge each dataset once")
            seen_datasets[ds] = src
        for c in clips:
            idx, reason = record_class(c, cmap)
            if idx is None:
                excluded[f"{c['dataset']} {reason}"] += 1
                continue
            name = c["file"] if c["file"] not in used else f"{c['dataset']}_{c['file']}"
            used.add(name)
            _link(src / "flow" / c["file"], flow_out / name)
            row = dict(c)
            row["file"] = name
            if "/" not in row["subject"]:
                row["subject"] = f"{row['dataset']}/{row['subject']}"
            all_rows.append(row)
    rows, _ = label_rows(all_rows, cmap)
    for r in rows:
        per_dataset.setdefault(r["dataset"], Counter())[r["emotion"]] += 1
    _write_csv(out / "labels.csv", LABEL_COLUMNS, rows)
    _write_csv(out / "clips.csv", CLIP_COLUMNS, all_rows)
    meta = {"class_map": cmap.name, "labels": list(cmap.labels), "inputs": [str(p) for p in inputs],
            "per_dataset": {d: dict(c) for d, c in per_dataset.items()}, "excluded": dict(excluded)}
    (out / "merge.json").write_text(json.dumps(meta, indent=1))
    result = MergeResult(out, per_dataset, excluded)
    say(result.summary())
    return result


def _link(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise SofpError(f"prepared image {src} is missing; rerun prepare on {src.parent.parent}")
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
