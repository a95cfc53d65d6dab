"""CASME II reader: ``CASME2-coding-*.xlsx`` plus ``CASME2_RAW_selected/subNN/EPxx_yy/imgN.jpg``.

Layout (CASME II as distributed; confirmed against public readers of the sheet):

    <root>/CASME2-coding-20140508.xlsx        # Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
                                              # Action Units, Estimated Emotion (255 rows, 26 subjects)
    <root>/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg ...
    (or the cropped set: <root>/Cropped/sub01/EP02_01f/reg_img46.jpg)

Tolerated: any ``CASME2-coding*.xlsx`` (or csv) name; the old ``CASME2_label_Ver_2.xls`` release
(read with xlrd, the ``xls`` extra); extra or unnamed columns (releases differ);
``Onset Frame``/``OnsetFrame`` spellings; the Subject cell as ``1``, ``01`` or ``sub01``; the frame root
at any of ``CASME2_RAW_selected``, ``CASME2_RAW``, ``Cropped`` or the root itself, down to
``coded.FRAME_SEARCH_DEPTH`` (archives often unpack to
``CASME2_RAW_selected/CASME2_RAW_selected``). Apex cells that are empty or not a number
(``sub04/EP12_01f`` has ``/``), or equal to the onset, keep the clip with a note: its apex becomes
the frame of peak motion; a wrong offset is corrected from the corrections table or snapped to the
nearest frame on disk (see ``base.check_clip``). Frame numbers are the digits of the file name
(img46 -> 46), the numbers the sheet uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from sofp.training.raw.coded import SheetReader
from sofp.training.raw.sheets import SheetRow, text_cell


class Casme2Reader(SheetReader):
    name = "casme2"
    title = "CASME II"
    sheet_patterns = ("CASME2-coding*.xlsx", "CASME2*coding*.xlsx", "CASME2_label*.xls", "CASME2*.xls",
                      "CASME2-coding*.csv")
    required: ClassVar[Mapping[str, Sequence[str]]] = {
        "subject": ("Subject",),
        "filename": ("Filename", "File name", "Video"),
        "onset": ("OnsetFrame", "Onset Frame", "Onset"),
        "apex": ("ApexFrame", "Apex Frame", "Apex"),
        "offset": ("OffsetFrame", "Offset Frame", "Offset"),
        "emotion": ("Estimated Emotion", "Emotion", "Estimated_Emotion"),
    }
    optional: ClassVar[Mapping[str, Sequence[str]]] = {"aus": ("Action Units", "AU", "AUs")}
    frame_dirs = ("CASME2_RAW_selected", "CASME2-RAW-selected", "CASME2_RAW", "Cropped", "CASME2_Cropped")

    def is_subject_dir(self, name: str) -> bool:
        return re.fullmatch(r"sub\d+", name) is not None

    def subject(self, value: Any) -> str:
        text = text_cell(value)
        m = re.fullmatch(r"(?:sub)?0*(\d+)", text, flags=re.IGNORECASE)
        if not m:
            raise ValueError(repr(value))
        return f"sub{int(m.group(1)):02d}"

    def folder(self, frame_root: Path, row: SheetRow, subject: str) -> Path:
        return frame_root / subject / text_cell(row["filename"])
