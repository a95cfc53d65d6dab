"""SAMM reader: ``SAMM_Micro_FACS_Codes_v2.xlsx`` plus ``SAMM/006/006_1_2/006_05562.jpg``.

Layout (SAMM as distributed; the sheet's header row sits below about 13 rows of title and notes,
which public readers skip with ``header=13``):

    <root>/SAMM_Micro_FACS_Codes_v2.xlsx   # ... text rows ..., then: Subject, Filename,
                                           # Inducement Code, Onset Frame, Apex Frame, Offset Frame,
                                           # Duration, Type, Action Units, Notes, Estimated Emotion
                                           # (159 rows, 29 subjects)
    <root>/SAMM/006/006_1_2/006_05562.jpg ...

Tolerated: the header row is searched for in the first 40 rows (not a fixed offset); column
spellings with or without spaces; the Subject cell as ``6`` or ``006``; the frame root named
``SAMM``, ``SAMM_CROP`` or the root itself. Frame numbers are the digits after the last
underscore (``006_05562`` -> 5562), the numbers the sheet uses. An apex of -1 (three rows) means
"not annotated": the corrections table (``corrections.py``) puts public loaders' values there, or
the apex is estimated from motion; the one known wrong offset is corrected the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from sofp.training.raw.coded import SheetReader
from sofp.training.raw.sheets import SheetRow, text_cell


class SammReader(SheetReader):
    name = "samm"
    title = "SAMM"
    sheet_patterns = ("SAMM_Micro_FACS_Codes*.xlsx", "SAMM*FACS*.xlsx", "SAMM*FACS*.xls", "SAMM*Codes*.csv")
    required: ClassVar[Mapping[str, Sequence[str]]] = {
        "subject": ("Subject",),
        "filename": ("Filename", "File name"),
        "onset": ("Onset Frame", "OnsetFrame", "Onset"),
        "apex": ("Apex Frame", "ApexFrame", "Apex"),
        "offset": ("Offset Frame", "OffsetFrame", "Offset"),
        "emotion": ("Estimated Emotion", "Emotion"),
    }
    optional: ClassVar[Mapping[str, Sequence[str]]] = {
        "objective": ("Objective Classes", "Objective Class"), "aus": ("Action Units",)}
    frame_dirs = ("SAMM", "SAMM_CROP", "SAMM_cropped")

    def is_subject_dir(self, name: str) -> bool:
        return re.fullmatch(r"\d{3}", name) is not None

    def subject(self, value: Any) -> str:
        text = text_cell(value)
        if not re.fullmatch(r"\d+", text):
            raise ValueError(repr(value))
        return f"{int(text):03d}"

    def folder(self, frame_root: Path, row: SheetRow, subject: str) -> Path:
        return frame_root / subject / text_cell(row["filename"])
