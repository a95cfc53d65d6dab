"""CAS(ME)^3 part A reader: ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` + ``part_A/spNO.1/a/color/N.jpg``.

Layout (CAS(ME)^3 part A as distributed; sheet columns confirmed against public readers):

    <root>/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   # Subject (spNO.1), Filename (a, b, ...),
                                                       # Onset, Apex, Offset, AU, Objective class,
                                                       # emotion (860 rows, 94 subjects)
    <root>/part_A/data/part_A_split/part_A/spNO.1/a/color/166.jpg ...   # as the archive unpacks
                                                       # (a depth/ folder beside color/ is not used)

One folder holds a whole recording and several micro-expressions can come from it, so the clip id
is ``<Filename>_<Onset>`` (``a_166``). Tolerated: the sheet found anywhere below the root (often
``annotation/``); a ``Subject`` cell of ``1`` or ``spNO.1``; frames directly in the recording
folder when it has no ``color/``; the frame root named ``part_A``, ``Part_A`` or the root itself, at
any depth up to :data:`~sofp.training.raw.coded.FRAME_SEARCH_DEPTH` (the release nests it 4 deep).
Not confirmed (no public copy of the frame tree was found): whether every release names the
frame files by plain numbers; any digits in the name work (the last run of digits is the number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from sofp.training.raw.coded import SheetReader
from sofp.training.raw.sheets import SheetRow, frame_cell, text_cell


class Casme3Reader(SheetReader):
    name = "casme3"
    title = "CAS(ME)^3"
    sheet_patterns = ("cas(me)3_part_A_ME_label*.xlsx", "cas(me)3*ME*label*.xlsx", "*part_A_ME_label*.xlsx",
                      "*part_A_ME_label*.csv")
    required: ClassVar[Mapping[str, Sequence[str]]] = {
        "subject": ("Subject",),
        "filename": ("Filename", "File name"),
        "onset": ("Onset", "Onset Frame", "OnsetFrame"),
        "apex": ("Apex", "Apex Frame", "ApexFrame"),
        "offset": ("Offset", "Offset Frame", "OffsetFrame"),
        "emotion": ("emotion", "Estimated Emotion"),
    }
    optional: ClassVar[Mapping[str, Sequence[str]]] = {
        "objective": ("Objective class", "Objective classes"), "aus": ("AU", "Action Units")}
    frame_dirs = ("part_A", "Part_A", "partA")

    def is_subject_dir(self, name: str) -> bool:
        return re.fullmatch(r"spNO\.\d+", name, flags=re.IGNORECASE) is not None

    def subject(self, value: Any) -> str:
        text = text_cell(value)
        m = re.fullmatch(r"(?:spNO\.)?(\d+)", text, flags=re.IGNORECASE)
        if not m:
            raise ValueError(repr(value))
        return f"spNO.{int(m.group(1))}"

    def sample(self, row: SheetRow, subject: str) -> str:
        try:
            onset = frame_cell(row["onset"])
        except ValueError:
            onset = None
        return f"{text_cell(row['filename'])}_{onset if onset is not None else text_cell(row['onset'])}"

    def folder(self, frame_root: Path, row: SheetRow, subject: str) -> Path:
        base = frame_root / subject / text_cell(row["filename"])
        return base / "color" if (base / "color").is_dir() else base
