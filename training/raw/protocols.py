"""Evaluation protocols on prepared datasets: which data, which class map, which folds.

Leave-one-subject-out is the protocol of the MEGC challenges and of the single-dataset tables of
SOFP/HTNet. Official train/test splits: none of CASME II, SAMM, SMIC-HS or CAS(ME)^3 part A
defines one in its release (their papers and MEGC use LOSO). The DFME paper (Zhao et al., IEEE
TAC 2024) evaluates with 10-fold subject-independent cross-validation; its fold assignment is
not published with the paper, so ``dfme-7`` deals subjects into 10 folds deterministically
(sorted subject ids, round robin) and ``dfme-7-loso`` is plain LOSO. A fixed split of your own
is ``sofp-train split --test-subjects ...`` on the same prepared folder.

=================  ===========================  ==========  =============================================
protocol           datasets                     class map   folds
=================  ===========================  ==========  =============================================
composite          smic + casme2 + samm         composite   LOSO, 68 subjects (16 + 24 + 28), 3 classes
casme2-5           casme2                       casme2-5    LOSO over CASME II subjects, 5 classes
samm-5             samm                         samm-5      LOSO over SAMM subjects, 5 classes
smic-3             smic                         smic-3      LOSO over SMIC-HS subjects (16), 3 classes
casme3-7/-4/-3     casme3                       casme3-N    LOSO over CAS(ME)^3 part A subjects
dfme-7             dfme                         dfme-7      10-fold subject-independent CV, 7 classes
dfme-7-loso        dfme                         dfme-7      LOSO over DFME subjects, 7 classes
=================  ===========================  ==========  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sofp.runtime.errors import UsageError
from sofp.training.raw.class_maps import ClassMap, get_class_map


@dataclass(frozen=True)
class Protocol:
    """A named evaluation: the datasets it needs, its class map, and how folds are made."""

    name: str
    datasets: tuple[str, ...]
    class_map: str
    folds: str  # "loso", or "kfold<K>": subject-independent K-fold (subjects dealt round robin)
    doc: str

    @property
    def cmap(self) -> ClassMap:
        return get_class_map(self.class_map)


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("composite", ("smic", "casme2", "samm"), "composite", "loso",
             "MEGC 2019 composite: SMIC-HS + CASME II + SAMM, 3 classes, LOSO over all subjects"),
    Protocol("casme2-5", ("casme2",), "casme2-5", "loso", "CASME II, 5 classes, LOSO"),
    Protocol("samm-5", ("samm",), "samm-5", "loso", "SAMM, 5 classes, LOSO"),
    Protocol("smic-3", ("smic",), "smic-3", "loso", "SMIC-HS, 3 classes, LOSO"),
    Protocol("casme3-7", ("casme3",), "casme3-7", "loso", "CAS(ME)^3 part A, 7 classes, LOSO"),
    Protocol("casme3-4", ("casme3",), "casme3-4", "loso", "CAS(ME)^3 part A, 4 classes, LOSO"),
    Protocol("casme3-3", ("casme3",), "casme3-3", "loso", "CAS(ME)^3 part A, 3 classes (no others), LOSO"),
    Protocol("dfme-7", ("dfme",), "dfme-7", "kfold10",
             "DFME, 7 classes, 10-fold subject-independent cross-validation (the DFME paper's protocol)"),
    Protocol("dfme-7-loso", ("dfme",), "dfme-7", "loso", "DFME, 7 classes, LOSO"),
)}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UsageError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}") from None


def fold_groups(protocol: str | Protocol, subjects: np.ndarray) -> np.ndarray:
    """The held-out group of every sample: its subject (LOSO) or ``fold<i>`` (subject-independent K-fold).

    K-fold deals the sorted subject ids round robin into K folds, so every subject's samples stay
    in one fold. Running LOSO over these groups is the K-fold cross-validation.
    """
    p = protocol if isinstance(protocol, Protocol) else get_protocol(protocol)
    subjects = np.asarray(subjects)
    if p.folds == "loso":
        return subjects
    if not p.folds.startswith("kfold"):  # pragma: no cover - every protocol is one of the two
        raise UsageError(f"protocol {p.name}: fold scheme {p.folds!r} not supported")
    k = int(p.folds[5:])
    order = sorted(set(subjects.tolist()))
    if len(order) < k:
        raise UsageError(f"protocol {p.name} needs at least {k} subjects, the data has {len(order)}")
    fold = {s: f"fold{i % k:02d}" for i, s in enumerate(order)}
    return np.asarray([fold[s] for s in subjects.tolist()])


def protocol_folds(protocol: str | Protocol, subjects: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(held-out group, train indices, test indices) per fold of ``protocol`` over ``subjects``."""
    groups = fold_groups(protocol, subjects)
    return [(g, np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in sorted(set(groups.tolist()))]


def protocol_data(protocol: str | Protocol, prepared: list[str | Path], work: str | Path) -> tuple[Path, Path]:
    """Labels for ``protocol`` from prepared dataset folder(s) -> (image root, labels csv).

    One prepared folder: its ``clips.csv`` is relabelled to ``labels-<map>.csv`` beside the images.
    Several (the composite): they are merged into ``<work>/data``. Checks that the prepared
    folders hold exactly the protocol's datasets.
    """
    from sofp.training.raw.merge import merge, read_clips, relabel

    p = protocol if isinstance(protocol, Protocol) else get_protocol(protocol)
    have: dict[str, Path] = {}
    for d in map(Path, prepared):
        for ds in {c["dataset"] for c in read_clips(d)}:
            have[ds] = d
    missing = [ds for ds in p.datasets if ds not in have]
    extra = sorted(set(have) - set(p.datasets))
    if missing or extra:
        raise UsageError(f"protocol {p.name} needs prepared {', '.join(p.datasets)}; "
                         f"given {', '.join(sorted(have)) or 'nothing'}"
                         + (f" (missing {', '.join(missing)})" if missing else "")
                         + (f" (not part of it: {', '.join(extra)})" if extra else ""))
    if len(prepared) == 1:
        csv_path, _, _ = relabel(prepared[0], p.cmap)
        return Path(prepared[0]), csv_path
    out = Path(work) / "data"
    merge([have[ds] for ds in p.datasets], out, p.cmap)
    return out, out / "labels.csv"
