"""DFME reader: a configurable coding csv/xlsx, since no public description of DFME's layout was found.

DFME (7 emotions, 200-500 fps) is distributed on request; its folder layout and sheet columns
could not be confirmed. This reader therefore takes a coding sheet (csv or xlsx) with one row per
clip and a frame-folder template:

    <root>/dfme_coding.csv              # default columns (any of the listed spellings):
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

from sofp.runtime.errors import UsageError
from sofp.training.raw.coded import SheetReader
from sofp.training.raw.sheets import SheetRow, text_cell

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
    sheet_patterns = ("*DFME*.csv", "*DFME*.xlsx", "*dfme*.csv", "*dfme*.xlsx", "*.csv", "*.xlsx")

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
        self.required = cols
        if "{sample}" not in frames_template and "{subject}" not in frames_template:
            raise UsageError(f"frames template {frames_template!r} uses neither {{subject}} nor {{sample}}")
        self.frames_template = frames_template

    def is_subject_dir(self, name: str) -> bool:
        return True

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
