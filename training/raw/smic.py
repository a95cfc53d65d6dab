"""SMIC-HS reader: the emotion is the folder, ``s1/micro/{negative,positive,surprise}/s1_ne_01/``.

Layout (SMIC-HS as distributed, also the cropped ``SMIC_all_cropped/HS`` release):

    <root>/HS/s1/micro/negative/s1_ne_01/image046123.bmp ...   (cropped: reg_image046123.bmp)
    <root>/HS/s1/micro/positive/s1_po_01/...
    <root>/HS/s1/micro/surprise/s1_sur_01/...
    <root>/HS/s1/non_micro/...                                  (not micro-expressions: not read)

164 clips of 16 subjects. SMIC annotates no apex (and its clips run from onset to offset), so the
onset is the first frame, the offset the last and the apex is found at preparation (peak motion,
or the onset/offset midpoint on request). Subjects and clip ids are zero-padded as in the
composite (``s1`` -> ``s01``, ``s1_ne_01`` -> ``s01_ne_01``). Tolerated: the subject folders
directly under the root or under ``HS``/``SMIC-HS``/``SMIC_all_cropped/HS`` (down to
``coded.FRAME_SEARCH_DEPTH``); emotion folders with or without the ``micro/`` level; folder names
in any case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sofp.runtime.errors import UsageError
from sofp.training.raw.base import Clip, ReadReport, ReadResult, check_clip, require_dir
from sofp.training.raw.class_maps import canonical_emotion
from sofp.training.raw.coded import DatasetReader, find_frame_root

EMOTION_DIRS = ("negative", "positive", "surprise")
_SUBJECT = re.compile(r"s(\d+)", flags=re.IGNORECASE)


class SmicReader(DatasetReader):
    name = "smic"
    title = "SMIC-HS"

    def __init__(self, *, frames: str | Path | None = None, prefix: str | None = None,
                 sheet: str | Path | None = None) -> None:
        """``frames``: the folder holding s1, s2, ... (default: found); ``prefix``: only frame files
        starting with it. SMIC-HS has no coding sheet: ``sheet`` is refused."""
        if sheet is not None:
            raise UsageError("SMIC-HS is read from its folders (emotion = folder name); it takes no --sheet")
        self.frames = frames
        self.prefix = prefix

    def read(self, root: str | Path, *, warn: Callable[[str], None] | None = None) -> ReadResult:
        root = require_dir(root, self.title)
        frame_root = find_frame_root(root, ("HS", "SMIC-HS", "SMIC_HS"),
                                     lambda n: _SUBJECT.fullmatch(n) is not None, self.frames)
        report = ReadReport(self.name, warn)
        clips: list[Clip] = []
        subjects = sorted(((int(m.group(1)), p) for p in frame_root.iterdir()
                           if p.is_dir() and (m := _SUBJECT.fullmatch(p.name))), key=lambda t: t[0])
        if not subjects:
            report.skip(f"smic {frame_root}", "no subject folders s1, s2, ... found", "no subjects")
        for num, sdir in subjects:
            subject = f"s{num:02d}"
            base = sdir / "micro" if (sdir / "micro").is_dir() else sdir
            emo_dirs = {p.name.lower(): p for p in base.iterdir() if p.is_dir()}
            found = [e for e in EMOTION_DIRS if e in emo_dirs]
            if not found:
                report.skip(f"smic {subject}", f"no negative/positive/surprise folder in {base}", "no clips")
                continue
            for emo in found:
                for cdir in sorted(p for p in emo_dirs[emo].iterdir() if p.is_dir()):
                    report.rows += 1
                    sample = re.sub(r"^s0*\d+(?=_)", subject, cdir.name, flags=re.IGNORECASE)
                    clip = check_clip(report, dataset=self.name, subject=subject, sample=sample, folder=cdir,
                                      onset=None, apex=None, offset=None, emotion=canonical_emotion(emo),
                                      raw_emotion=emo, prefix=self.prefix, apex_annotated=False)
                    if clip is not None:
                        clips.append(clip)
        return ReadResult(clips, report)
