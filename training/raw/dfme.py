"""DFME reader: a configurable coding csv/xlsx, since no public description of DFME's layout was found.

DFME (7 emotions, 200-500 fps) is distributed on request; its folder layout and sheet columns
could not be confirmed. This reader therefore takes a coding sheet (csv or xlsx) with one row per
clip and a frame-folder template:

    <root>/dfme_coding.csv              # any .csv/.xlsx/.xls with "dfme" in its name (any case)
                                        # anywhere below the root, else the one sheet in the root;
                                        # several candidates are refused (pass one with --sheet).
                                        # Default columns (any of the listed spellings):
                                        # Subject|subject|Participant, Filename|clip|sample|Video,
                                        # Onset|OnsetFrame, Apex|ApexFrame, Offset|OffsetFrame,
                                        # Emotion|Estimated Emotion|label
    <root>/<subject>/<sample>/<N>.jpg   # default template "{subject}/{sample}"

``--sheet`` names the sheet, ``--frames-template`` changes the folder template (fields
``{subject}`` and ``{sample}``), and ``--columns onset=StartFrame,apex=PeakFrame`` renames columns.
Subjects are kept as written in the sheet; an empty apex cell becomes the frame of peak motion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sofp.runtime.errors import SofpError, UsageError
from sofp.training.raw.coded import SheetReader
from sofp.training.raw.sheets import SheetRow, text_cell

SHEETS = (".csv", ".xlsx", ".xls")
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("Subject", "Participant", "sub"),
    "filename": ("Filename", "clip", "sample", "Video", "Clip ID"),
    "onset": ("Onset", "OnsetFrame", "Onset Frame"),
    "apex": ("Apex", "ApexFrame", "Apex Frame"),
    "offset": ("Offset", "OffsetFrame", "Offset Frame"),
    "emotion": ("Emotion", "Estimated Emotion", "label"),
}


class DfmeReader(SheetReader):
    name = "dfme"
    title = "DFME"

    def __init__(self, *, sheet: str | Path | None = None, frames: str | Path | None = None,
                 prefix: str | None = None, worksheet: str | None = None,
                 frames_template: str = "{subject}/{sample}",
                 columns: Mapping[str, str | Sequence[str]] | None = None) -> None:
        """``frames_template``: frame folder below the frame root; ``columns``: canonical name ->
        the sheet's header (replaces the default spellings for that column)."""
        super().__init__(sheet=sheet, frames=frames, prefix=prefix, worksheet=worksheet)
        cols = dict(DEFAULT_COLUMNS)
        for key, spelling in (columns or {}).items():
            if key not in cols:
                raise UsageError(f"unknown DFME column {key!r}; known: {', '.join(cols)}")
            cols[key] = (spelling,) if isinstance(spelling, str) else tuple(spelling)
        self.required_columns = cols
        if "{sample}" not in frames_template and "{subject}" not in frames_template:
            raise UsageError(f"frames template {frames_template!r} uses neither {{subject}} nor {{sample}}")
        self.frames_template = frames_template

    def is_subject_dir(self, name: str) -> bool:
        return True

    def columns(self) -> tuple[Mapping[str, Sequence[str]], Mapping[str, Sequence[str]]]:
        return self.required_columns, self.optional

    def find_sheet(self, root: Path) -> Path:
        """``--sheet``; else the one sheet named like DFME's below ``root``, else the one sheet in ``root``.

        No public description of DFME's files exists, so a guess between two files is refused: one
        line lists the candidates.
        """
        if self.sheet is not None:
            return super().find_sheet(root)
        named = sorted(p for p in root.rglob("*[Dd][Ff][Mm][Ee]*") if p.is_file() and p.suffix.lower() in SHEETS)
        for hits in (named, sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in SHEETS)):
            if len(hits) > 1:
                raise SofpError(f"{len(hits)} candidate DFME coding sheets under {str(root)!r}: "
                                f"{', '.join(str(p.relative_to(root)) for p in hits)}; pass one with --sheet")
            if hits:
                return hits[0]
        raise SofpError(f"no DFME coding sheet under {str(root)!r} (looked for a .csv/.xlsx/.xls named *dfme* "
                        "below it, or one in it); pass it with --sheet")

    def subject(self, value: Any) -> str:
        text = text_cell(value)
        if not text:
            raise ValueError(repr(value))
        return text

    def folder(self, frame_root: Path, row: SheetRow, subject: str) -> Path:
        try:
            rel = self.frames_template.format(subject=subject, sample=text_cell(row["filename"]))
        except (KeyError, IndexError) as exc:
            raise UsageError(f"frames template {self.frames_template!r}: unknown field {exc}") from None
        return frame_root / rel
