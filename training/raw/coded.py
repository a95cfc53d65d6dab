"""The shared shape of a sheet-driven reader (CASME II, SAMM, CAS(ME)^3, DFME).

A reader finds its coding sheet and its frame root under the dataset root, reads the sheet's rows,
and turns each row into a checked :class:`~sofp.training.raw.base.Clip`. Per dataset only the
column spellings, the sheet's file name and how a row names its subject, clip id and frame folder
differ; subclasses say exactly that.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from sofp.training.raw.base import (
    Clip,
    ReadReport,
    ReadResult,
    check_clip,
    find_file,
    list_frames,
    require_dir,
)
from sofp.training.raw.class_maps import canonical_emotion
from sofp.training.raw.corrections import corrections_for
from sofp.training.raw.sheets import SheetRow, frame_cell, read_table, text_cell


class DatasetReader:
    """Base of the dataset readers: ``read(root, ...) -> ReadResult``."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def read(self, root: str | Path, *, warn: Callable[[str], None] | None = None) -> ReadResult:
        raise NotImplementedError


# How far below the dataset root the folder of subject folders may sit, the deepest as distributed:
#   CAS(ME)^3  <root>/part_A/data/part_A_split/part_A/spNO.1   (4 levels: the release's own archive)
#   CASME II   <root>/CASME2_RAW_selected/CASME2_RAW_selected/sub01   (2: the archive unpacked into itself)
#   SMIC-HS    <root>/SMIC_all_cropped/HS/s1   (2)
#   SAMM       <root>/SAMM/006   (1)
# One level is kept in hand for a download folder wrapped around any of these.
FRAME_SEARCH_DEPTH = 5


def find_frame_root(root: Path, preferred: Sequence[str], looks_like_subject: Callable[[str], bool],
                    given: str | Path | None = None, depth: int = FRAME_SEARCH_DEPTH) -> Path:
    """The folder whose children are the subject folders.

    ``given`` (relative to ``root`` or absolute) wins. Otherwise the search goes down one level at
    a time, ``root`` itself first, to ``depth`` levels below ``root``; at the first level with a
    folder holding a subject-like folder, the first of ``preferred`` (folder names) among them
    wins, else the first such folder in sorted order. Falls back to ``root`` (every clip then
    reports its missing folder).
    """
    if given is not None:
        path = Path(given).expanduser()
        return path if path.is_absolute() else root / path

    def has_subjects(p: Path) -> bool:
        try:
            return any(c.is_dir() and looks_like_subject(c.name) for c in p.iterdir())
        except OSError:
            return False

    rank = {n.lower(): i for i, n in enumerate(preferred)}
    level = [root]
    for _ in range(depth + 1):
        found = [p for p in level if has_subjects(p)]
        if found:
            return min(found, key=lambda p: rank.get(p.name.lower(), len(rank)))
        nxt = []
        for p in level:
            try:
                nxt.extend(sorted(c for c in p.iterdir() if c.is_dir()))
            except OSError:
                continue
        level = nxt
    return root


class SheetReader(DatasetReader):
    """A dataset whose clips are rows of a coding sheet (xlsx or csv).

    Subclasses set ``sheet_patterns``, ``required``/``optional`` column spellings, ``frame_dirs``
    (preferred names of the frame root) and implement ``subject``, ``sample`` and ``folder``.
    """

    sheet_patterns: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[Mapping[str, Sequence[str]]] = {}
    optional: ClassVar[Mapping[str, Sequence[str]]] = {}
    frame_dirs: ClassVar[tuple[str, ...]] = ()
    apex_annotated: ClassVar[bool] = True

    def __init__(self, *, sheet: str | Path | None = None, frames: str | Path | None = None,
                 prefix: str | None = None, worksheet: str | None = None) -> None:
        """``sheet``: the coding sheet (default: found under the root); ``frames``: the frame root
        (default: found); ``prefix``: only frame files starting with it; ``worksheet``: xlsx sheet name."""
        self.sheet = sheet
        self.frames = frames
        self.prefix = prefix
        self.worksheet = worksheet

    # -- per dataset ---------------------------------------------------------------------------
    def is_subject_dir(self, name: str) -> bool:
        raise NotImplementedError

    def subject(self, value: Any) -> str:
        raise NotImplementedError

    def sample(self, row: SheetRow, subject: str) -> str:
        return text_cell(row["filename"])

    def folder(self, frame_root: Path, row: SheetRow, subject: str) -> Path:
        raise NotImplementedError

    def columns(self) -> tuple[Mapping[str, Sequence[str]], Mapping[str, Sequence[str]]]:
        """(required, optional): canonical column name -> accepted header spellings of the coding sheet."""
        return self.required, self.optional

    def find_sheet(self, root: Path) -> Path:
        """The coding sheet: ``--sheet``, else the first match of ``sheet_patterns`` under ``root``."""
        return find_file(root, self.sheet_patterns, f"{self.title} coding sheet", self.sheet)

    # -- shared --------------------------------------------------------------------------------
    def read(self, root: str | Path, *, warn: Callable[[str], None] | None = None) -> ReadResult:
        """Read every row of the coding sheet; unusable rows become skip lines in the report."""
        root = require_dir(root, self.title or self.name)
        sheet = self.find_sheet(root)
        rows = read_table(sheet, *self.columns(), sheet=self.worksheet)
        frame_root = find_frame_root(root, self.frame_dirs, self.is_subject_dir, self.frames)
        report = ReadReport(self.name, warn)
        lister = functools.lru_cache(maxsize=64)(list_frames)
        clips: list[Clip] = []
        seen: set[tuple[str, str]] = set()
        for row in rows:
            report.rows += 1
            clip = self._row_clip(row, frame_root, report, lister, sheet, seen)
            if clip is not None:
                clips.append(clip)
        return ReadResult(clips, report)

    def _row_clip(self, row: SheetRow, frame_root: Path, report: ReadReport,
                  lister: Callable, sheet: Path, seen: set[tuple[str, str]]) -> Clip | None:
        where = f"{self.name} row {row.line} of {sheet.name}"
        try:
            subject = self.subject(row["subject"])
        except ValueError as exc:
            report.skip(where, f"subject cell {exc}", "bad cell")
            return None
        sample = self.sample(row, subject)
        if not subject or not sample:
            report.skip(where, f"empty subject or filename cell ({subject!r}, {sample!r})", "bad cell")
            return None
        name = f"{self.name} {subject}/{sample}"
        if (subject, sample) in seen:
            report.skip(name, f"duplicate clip (sheet row {row.line})", "duplicate")
            return None
        seen.add((subject, sample))
        folder = self.folder(frame_root, row, subject)
        cells: dict[str, int | None] = {}
        fixes: list[str] = []
        for key in ("onset", "apex", "offset"):
            try:
                cells[key] = frame_cell(row[key])
            except ValueError as exc:
                if key != "apex":
                    report.skip(name, f"{key} cell {exc} is not a frame number (sheet row {row.line})", "bad cell")
                    return None
                cells[key] = None  # CASME II has a '/' apex: estimated instead
                report.decide(name, fixes, "apex_missing",
                              f"apex cell {exc} is not a frame number: it will be the frame of peak motion",
                              f"apex cell {exc}")
        _, numbers, _ = lister(folder, self.prefix)
        for fix in corrections_for(self.name, row.index):
            if fix.applies(cells, numbers):
                report.decide(name, fixes, "corrected",
                              f"{fix.column} {cells[fix.column]} -> {fix.value} (sheet row {row.line}; {fix.source})",
                              f"{fix.column} {cells[fix.column]} -> {fix.value}; {fix.source}")
                cells[fix.column] = fix.value
        if cells["apex"] is not None and cells["apex"] < 0:
            report.decide(name, fixes, "apex_missing",
                          f"apex cell {cells['apex']} marks no apex: it will be the frame of peak motion",
                          f"apex cell {cells['apex']}")
            cells["apex"] = None
        if cells["onset"] is None:
            report.skip(name, f"onset cell is empty (sheet row {row.line})", "bad cell")
            return None
        for key in ("onset", "offset"):
            if (cells[key] or 0) < 0:
                report.skip(name, f"{key} cell {cells[key]} is not a frame number (sheet row {row.line})", "bad cell")
                return None
        raw = text_cell(row["emotion"])
        if not raw:
            report.skip(name, f"emotion cell is empty (sheet row {row.line})", "bad cell")
            return None
        return check_clip(
            report, dataset=self.name, subject=subject, sample=sample, folder=folder, onset=cells["onset"],
            apex=cells["apex"], offset=cells["offset"], emotion=canonical_emotion(raw), raw_emotion=raw,
            prefix=self.prefix, lister=lister, fixes=fixes,
            apex_annotated=self.apex_annotated and not any(f.startswith("apex_missing") for f in fixes),
        )
