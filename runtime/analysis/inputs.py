"""What to analyse: video files, folders (searched recursively), glob patterns, or a manifest CSV whose
``path`` column names the videos and whose other columns (subject, session, ...) go to the summary."""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sofp.runtime.errors import UsageError

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                            ".ts", ".mts", ".mjpeg", ".ogv", ".3gp"})
PATH_COLUMNS = ("path", "video", "file")


@dataclass(frozen=True)
class VideoInput:
    """A video to analyse and the manifest columns that travel with it (empty for files on the command line)."""

    path: str
    extra: dict[str, str] = field(default_factory=dict)


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def read_manifest(path: Path, reserved: Collection[str]) -> tuple[list[VideoInput], list[str]]:
    """The videos a manifest CSV lists (relative paths are relative to the manifest) and its extra columns."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"manifest {path}: cannot read it as CSV ({exc})") from None
    key = next((c for c in PATH_COLUMNS if c in columns), None)
    if key is None:
        raise UsageError(f"manifest {path} has no column naming the videos (columns: "
                         f"{', '.join(columns) or 'none'}; valid: {', '.join(PATH_COLUMNS)})")
    extra = [c for c in columns if c != key]
    clash = sorted(set(extra) & set(reserved))
    if clash:
        raise UsageError(f"manifest {path}: column(s) {', '.join(clash)} would overwrite the summary's own; "
                         "rename them")
    out = []
    for i, row in enumerate(rows, 2):
        value = (row.get(key) or "").strip()
        if not value:
            raise UsageError(f"manifest {path} line {i}: empty {key!r}")
        p = Path(os.path.expanduser(value))
        out.append(VideoInput(str(p if p.is_absolute() else path.parent / p),
                              {c: (row.get(c) or "").strip() for c in extra}))
    return out, extra


def collect_inputs(items: Sequence[str], reserved: Collection[str] = ()) -> tuple[list[VideoInput], list[str]]:
    """Every video named by ``items`` (files, folders, globs, manifest .csv files) once, in the order given,
    and the manifests' extra column names. A command-line item that matches nothing is a usage error; a
    manifest row whose file is missing stays in (it becomes a failed row of the summary)."""
    found: list[VideoInput] = []
    columns: list[str] = []
    for item in items:
        p = Path(os.path.expanduser(item))
        if p.is_file() and p.suffix.lower() == ".csv":
            rows, extra = read_manifest(p, reserved)
            found += rows
            columns += [c for c in extra if c not in columns]
        elif p.is_dir():
            videos = _videos_in(p)
            if not videos:
                raise UsageError(f"folder {item} holds no video ({', '.join(sorted(VIDEO_SUFFIXES))})")
            found += [VideoInput(str(v)) for v in videos]
        elif p.is_file():
            found.append(VideoInput(str(p)))
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(item), recursive=True))
            videos = [m for m in matches if m.is_file() and m.suffix.lower() in VIDEO_SUFFIXES]
            if not videos:
                raise UsageError(f"pattern {item!r} matches no video file")
            found += [VideoInput(str(v)) for v in videos]
        else:
            raise UsageError(f"input {item!r} not found: give video files, folders, glob patterns or a manifest .csv")
    seen: set[str] = set()
    unique = []
    for v in found:
        key = os.path.realpath(v.path)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique, columns
