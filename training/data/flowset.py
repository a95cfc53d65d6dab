"""Flow-image datasets: a folder of 28 x 28 u/v/strain PNGs with a ``labels.csv``, or with labels in the
file names. Loading validates everything and stops at the first problem with one line naming it."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import FEATURE_SIZE

LABEL_COLUMNS = ("file", "dataset", "subject", "sample", "label", "emotion")
COMPOSITE_LABELS = ("negative", "positive", "surprise")

# Subject id from a file name, per dataset (CASME II subNN, SAMM NNN, SMIC sNN, CAS(ME)^3 spNO.N, DFME).
SUBJECT_PATTERNS: dict[str, str] = {
    "casme2": r"^(sub\d+)",
    "samm": r"^(\d{3})",
    "smic": r"^(s\d+)",
    "casme3": r"^(spNO\.\d+)",
    "dfme": r"^([A-Za-z]*\d+)",
}


@dataclass(frozen=True)
class FlowSet:
    """Samples as arrays. images: (N, 28, 28, 3) uint8 in channel order (u, v, strain)."""

    images: np.ndarray
    labels: np.ndarray  # (N,) int64 class ids
    subjects: np.ndarray  # (N,) str, unique across datasets ("casme2/sub01")
    datasets: np.ndarray  # (N,) str
    files: tuple[str, ...]
    label_names: tuple[str, ...]  # index = class id

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> FlowSet:
        return FlowSet(self.images[idx], self.labels[idx], self.subjects[idx], self.datasets[idx],
                       tuple(self.files[i] for i in idx), self.label_names)


def read_flow_image(path: Path) -> np.ndarray:
    """One flow PNG -> (28, 28, 3) uint8 in (u, v, strain) order (PNG RGB order; OpenCV reads BGR)."""
    if not path.is_file():
        raise SofpError(f"missing image {path}")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SofpError(f"unreadable image {path}: not a PNG/JPEG OpenCV can decode")
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise SofpError(f"image {path} has shape {img.shape} {img.dtype}; expected 28 x 28 x 3 uint8 (u, v, strain)")
    if img.shape[:2] != (FEATURE_SIZE, FEATURE_SIZE):
        raise SofpError(f"image {path} is {img.shape[1]} x {img.shape[0]}; expected {FEATURE_SIZE} x {FEATURE_SIZE}")
    return np.ascontiguousarray(img[:, :, ::-1])


def load_labels_csv(root: str | Path, labels_csv: str | Path | None = None) -> FlowSet:
    """``root/labels.csv`` (columns file,dataset,subject,sample,label,emotion) + ``root/flow/<file>``."""
    root = Path(root)
    csv_path = Path(labels_csv) if labels_csv else root / "labels.csv"
    if not csv_path.is_file():
        raise UsageError(f"no label file at {csv_path}; expected a CSV with columns {','.join(LABEL_COLUMNS)}")
    flow_dir = root / "flow" if (root / "flow").is_dir() else root
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UsageError(f"{csv_path} lacks column(s) {', '.join(missing)}; "
                                 f"has {','.join(map(str, reader.fieldnames or []))[:200]}; "
                                 f"expected {','.join(LABEL_COLUMNS)}")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{csv_path} is not a readable UTF-8 CSV file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:120]})") from None
    if not rows:
        raise UsageError(f"{csv_path} has no rows")
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    images, labels = [], []
    for line, row in enumerate(rows, start=2):
        short = [c for c in LABEL_COLUMNS if row.get(c) is None]
        if short:
            raise SofpError(f"{csv_path} line {line}: too few fields (no {', '.join(short)}); expected "
                            f"{','.join(LABEL_COLUMNS)}")
        file = row["file"]
        if file in seen:
            raise SofpError(f"{csv_path} line {line}: duplicate file {file!r} (first on line {seen[file]})")
        seen[file] = line
        try:
            label = int(row["label"])
        except ValueError:
            raise SofpError(f"{csv_path} line {line}: label {row['label']!r} is not an integer") from None
        if label < 0:
            raise SofpError(f"{csv_path} line {line}: label {label} is negative")
        if names.setdefault(label, row["emotion"]) != row["emotion"]:
            raise SofpError(f"{csv_path} line {line}: label {label} is {row['emotion']!r} here but "
                            f"{names[label]!r} earlier")
        if not row["subject"]:
            raise SofpError(f"{csv_path} line {line}: empty subject for {file!r}")
        images.append(read_flow_image(flow_dir / file))
        labels.append(label)
    n_classes = max(names) + 1
    if sorted(names) != list(range(n_classes)):
        gaps = sorted(set(range(n_classes)) - set(names))
        raise SofpError(f"{csv_path}: labels must be 0..{n_classes - 1} with every class present; missing {gaps}")
    return FlowSet(
        images=np.stack(images),
        labels=np.asarray(labels, np.int64),
        subjects=np.asarray([r["subject"] for r in rows]),
        datasets=np.asarray([r["dataset"] for r in rows]),
        files=tuple(r["file"] for r in rows),
        label_names=tuple(names[i] for i in range(n_classes)),
    )


_LABEL_SUFFIX = re.compile(r"_(\d+)$")


def load_named_folder(root: str | Path, dataset: str, label_names: tuple[str, ...] = COMPOSITE_LABELS) -> FlowSet:
    """A folder of ``<name>_<label>.png`` flow images (``sub01_EP02_01f_1.png``) from one dataset.

    The subject is read from the name with :data:`SUBJECT_PATTERNS` for ``dataset``.
    """
    root = Path(root)
    if dataset not in SUBJECT_PATTERNS:
        raise UsageError(f"unknown dataset {dataset!r}; known: {', '.join(SUBJECT_PATTERNS)}")
    if not root.is_dir():
        raise UsageError(f"no folder at {root}")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise UsageError(f"no .png/.jpg flow images in {root}")
    images, labels, subjects = [], [], []
    for path in files:
        m = _LABEL_SUFFIX.search(path.stem)
        if not m:
            raise SofpError(f"{path.name}: no trailing _<label> in the file name (e.g. sub01_EP02_01f_1.png)")
        label = int(m.group(1))
        if label >= len(label_names):
            raise SofpError(f"{path.name}: label {label} out of range 0..{len(label_names) - 1}")
        s = re.match(SUBJECT_PATTERNS[dataset], path.stem)
        if not s:
            raise SofpError(f"{path.name}: no {dataset} subject id at the start of the name "
                            f"(pattern {SUBJECT_PATTERNS[dataset]})")
        images.append(read_flow_image(path))
        labels.append(label)
        subjects.append(f"{dataset}/{s.group(1)}")
    return FlowSet(np.stack(images), np.asarray(labels, np.int64), np.asarray(subjects),
                   np.asarray([dataset] * len(files)), tuple(p.name for p in files), tuple(label_names))


def load_flowset(path: str | Path, dataset: str | None = None) -> FlowSet:
    """A ``labels.csv`` dataset when ``path`` holds one (or is one), else a labelled-name folder."""
    path = Path(path)
    if path.suffix == ".csv":
        return load_labels_csv(path.parent, path)
    if (path / "labels.csv").is_file():
        return load_labels_csv(path)
    if dataset is None:
        raise UsageError(f"{path} has no labels.csv; for a folder of <name>_<label>.png files give --dataset "
                         f"({', '.join(SUBJECT_PATTERNS)})")
    return load_named_folder(path, dataset)
