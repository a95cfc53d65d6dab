"""Small synthetic dataset trees laid out like CASME II, SAMM, SMIC-HS, CAS(ME)^3 and DFME.

Frames are the real public-domain astronaut face (scikit-image) warped with known, left-right
symmetric motion (runtime.demo_clip.warp_by_flow): per class a different movement that rises
from onset to apex and falls back by offset. Coding sheets are written with openpyxl in each
dataset's format (SAMM with its text rows above the header). Helpers for the raw-dataset tests.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import openpyxl

from sofp.runtime.demo_clip import face_frame, warp_by_flow

FRAME = 128  # synthetic frame side (px): the face is about half of it, with margin for the detector
# Landmarks relative to the Haar face box of the photograph (from runtime.demo_clip's measurements).
_BROWS = ((0.27, 0.28), (0.75, 0.29))
_MOUTH = ((0.29, 0.80), (0.72, 0.80))
APEX_PX = 2.0  # peak displacement at a bump centre (px, in the FRAME-sized frame)


@cache
def base_frame() -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """FRAME x FRAME BGR frame of the astronaut's face with margin, and its face box (x, y, w, h) px."""
    img, _, (x, y, w, h) = face_frame()
    side = 2.0 * w
    cx, cy = x + w / 2, y + h / 2
    s = FRAME / side
    m = np.float32([[s, 0, FRAME / 2 - s * cx], [0, s, FRAME / 2 - s * cy]])
    out = cv2.warpAffine(img, m, (FRAME, FRAME), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return out, (FRAME / 2 - s * w / 2, FRAME / 2 - s * h / 2, s * w, s * h)


@cache
def motion_field(kind: str) -> np.ndarray:
    """Unit-amplitude, left-right symmetric displacement field (FRAME x FRAME x 2, px) of a class.

    negative: brows lowered and drawn together; positive: lip corners pulled out and up;
    surprise: brows raised.
    """
    _, (bx, by, bw, bh) = base_frame()
    ys, xs = np.mgrid[0:FRAME, 0:FRAME].astype(np.float32)
    flow = np.zeros((FRAME, FRAME, 2), np.float32)
    sigma = 0.12 * bw
    if kind == "negative":
        pts, vec = _BROWS, [(+0.5, 1.0), (-0.5, 1.0)]
    elif kind == "positive":
        pts, vec = _MOUTH, [(-0.8, -0.6), (0.8, -0.6)]
    elif kind == "surprise":
        pts, vec = _BROWS, [(0.0, -1.0), (0.0, -1.0)]
    else:
        raise ValueError(kind)
    for (rx, ry), (du, dv) in zip(pts, vec, strict=True):
        cx, cy = bx + rx * bw, by + ry * bh
        g = np.exp(-0.5 * (((xs - cx) / sigma) ** 2 + ((ys - cy) / sigma) ** 2))
        flow[..., 0] += du * g
        flow[..., 1] += dv * g
    return flow


def clip_frames(kind: str, n: int, apex_index: int, seed: int = 0) -> list[np.ndarray]:
    """n BGR frames: the movement of ``kind`` rising linearly to APEX_PX at ``apex_index``, then falling."""
    base, _ = base_frame()
    rng = np.random.default_rng(seed)
    field = motion_field(kind)
    frames = []
    for i in range(n):
        a = i / apex_index if i <= apex_index else max(0.0, 1.0 - (i - apex_index) / max(1, n - 1 - apex_index))
        img = warp_by_flow(base, (APEX_PX * a) * field) if a > 0 else base.copy()
        noise = rng.normal(0, 0.6, img.shape[:2]).astype(np.float32)[..., None]
        frames.append(np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8))
    return frames


def write_frames(folder: Path, frames: list[np.ndarray], numbers: list[int], name: str) -> None:
    """Write frames as ``name.format(n)`` files (jpg quality 95, or bmp/png by extension)."""
    folder.mkdir(parents=True, exist_ok=True)
    for img, n in zip(frames, numbers, strict=True):
        path = folder / name.format(n)
        params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix == ".jpg" else []
        assert cv2.imwrite(str(path), img, params)


def write_xlsx(path: Path, rows: list[list], pre_rows: list[list] | None = None) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for r in (pre_rows or []) + rows:
        sheet.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


@dataclass(frozen=True)
class Planned:
    """A clip the tree holds: subject, sample, emotion as in the sheet, class in the composite."""

    subject: str
    sample: str
    emotion: str
    kind: str
    onset: int
    apex: int | None
    offset: int


N = 9  # frames per clip
APEX_AT = 4  # apex index within the clip
KIND = {"happiness": "positive", "disgust": "negative", "surprise": "surprise", "repression": "negative",
        "others": "surprise", "Anger": "negative", "Contempt": "negative", "Happiness": "positive",
        "Surprise": "surprise", "Other": "negative", "happy": "positive", "anger": "negative", "sad": "negative",
        "fear": "negative", "negative": "negative", "positive": "positive", "sadness": "negative"}


def make_casme2(root: Path, clips: list[tuple[int, str, str]], start: int = 95, n: int = N,
                apex_at: int = APEX_AT) -> list[Planned]:
    """CASME II: ``CASME2-coding-20140508.xlsx`` + ``CASME2_RAW_selected/subNN/EP../imgN.jpg``.

    clips: (subject number, filename, emotion). Frame numbers start at ``start`` (95: crosses 99/100).
    """
    header = ["Subject", "Filename", "Unnamed: 2", "OnsetFrame", "ApexFrame", "OffsetFrame", "Unnamed: 6",
              "Action Units", "Estimated Emotion"]
    rows, plan = [header], []
    for k, (s, fname, emo) in enumerate(clips):
        nums = list(range(start, start + n))
        write_frames(root / "CASME2_RAW_selected" / f"sub{s:02d}" / fname,
                     clip_frames(KIND[emo], n, apex_at, seed=k), nums, "img{}.jpg")
        rows.append([f"{s:02d}", fname, None, nums[0], nums[apex_at], nums[-1], None, "4", emo])
        plan.append(Planned(f"sub{s:02d}", fname, emo, KIND[emo], nums[0], nums[apex_at], nums[-1]))
    write_xlsx(root / "CASME2-coding-20140508.xlsx", rows)
    return plan


SAMM_PRE = [["SAMM Micro-Movement FACS Codes"], ["Version 2"], [], ["Notes:"],
            ["Inducement code refers to the stimulus."], [], ["Onset, apex and offset are frame numbers."],
            [], [], ["Copyright Manchester Metropolitan University"], [], [], []]


def make_samm(root: Path, clips: list[tuple[int, int, str]], start: int = 5560) -> list[Planned]:
    """SAMM: 13 text rows + header in ``SAMM_Micro_FACS_Codes_v2.xlsx``; ``SAMM/006/006_1_2/006_05562.jpg``.

    clips: (subject number, clip number, emotion).
    """
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
              "Duration", "Type", "Action Units", "Notes", "Estimated Emotion"]
    rows, plan = [header], []
    for k, (s, c, emo) in enumerate(clips):
        subj, fname = f"{s:03d}", f"{s:03d}_{c}_2"
        nums = list(range(start + 10 * k, start + 10 * k + N))
        write_frames(root / "SAMM" / subj / fname, clip_frames(KIND[emo], N, APEX_AT, seed=k), nums,
                     subj + "_{:05d}.jpg")
        rows.append([s, fname, 1, nums[0], nums[APEX_AT], nums[-1], N, "Micro - 1/2", "R14", None, emo])
        plan.append(Planned(subj, fname, emo, KIND[emo], nums[0], nums[APEX_AT], nums[-1]))
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", rows, SAMM_PRE)
    return plan


def make_smic(root: Path, clips: list[tuple[int, str, int]], apex_at: int = APEX_AT, n: int = N) -> list[Planned]:
    """SMIC-HS: ``HS/s1/micro/negative/s1_ne_01/image0NNNNN.bmp`` (no sheet, no apex).

    clips: (subject number, emotion folder, clip number).
    """
    short = {"negative": "ne", "positive": "po", "surprise": "sur"}
    plan = []
    for k, (s, emo, c) in enumerate(clips):
        name = f"s{s}_{short[emo]}_{c:02d}"
        nums = list(range(46120 + 100 * k, 46120 + 100 * k + n))
        write_frames(root / "HS" / f"s{s}" / "micro" / emo / name, clip_frames(emo, n, apex_at, seed=k), nums,
                     "image{:06d}.bmp")
        plan.append(Planned(f"s{s:02d}", f"s{s:02d}_{short[emo]}_{c:02d}", emo, emo, nums[0], None, nums[-1]))
    return plan


def make_casme3(root: Path, clips: list[tuple[int, str, str]]) -> list[Planned]:
    """CAS(ME)^3 part A: ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` + ``part_A/spNO.1/a/color/N.jpg``.

    clips: (subject number, recording letter, emotion); two clips of one recording share its folder.
    """
    header = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
    rows, plan = [header], []
    by_folder: dict[tuple[int, str], list[np.ndarray]] = {}
    for k, (s, rec, emo) in enumerate(clips):
        frames = by_folder.setdefault((s, rec), [])
        start = len(frames) + 1
        frames.extend(clip_frames(KIND[emo], N, APEX_AT, seed=k))
        nums = list(range(start, start + N))
        rows.append([f"spNO.{s}", rec, nums[0], nums[APEX_AT], nums[-1], "AU4", 1, emo])
        plan.append(Planned(f"spNO.{s}", f"{rec}_{nums[0]}", emo, KIND[emo], nums[0], nums[APEX_AT], nums[-1]))
    for (s, rec), frames in by_folder.items():
        write_frames(root / "part_A" / f"spNO.{s}" / rec / "color", frames, list(range(1, len(frames) + 1)),
                     "{}.jpg")
    write_xlsx(root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", rows)
    return plan


def make_dfme(root: Path, clips: list[tuple[str, str, str]]) -> list[Planned]:
    """DFME (configurable reader): ``dfme_coding.csv`` + ``<subject>/<clip>/<N>.jpg``."""
    plan = []
    root.mkdir(parents=True, exist_ok=True)
    with (root / "dfme_coding.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Subject", "Filename", "Onset", "Apex", "Offset", "Emotion"])
        for k, (subj, clip, emo) in enumerate(clips):
            nums = list(range(1, N + 1))
            write_frames(root / subj / clip, clip_frames(KIND[emo], N, APEX_AT, seed=k), nums, "{}.jpg")
            w.writerow([subj, clip, nums[0], nums[APEX_AT], nums[-1], emo])
            plan.append(Planned(subj, clip, emo, KIND[emo], nums[0], nums[APEX_AT], nums[-1]))
    return plan


def tiny_frames(folder: Path, numbers: list[int], name: str) -> None:
    """Write 4 x 4 grey frames named ``name.format(n)``: enough for a reader, not for flow."""
    write_frames(folder, [np.full((4, 4, 3), 128, np.uint8)] * len(numbers), numbers, name)


def write_xls(path: Path, rows: list[list], pre_rows: list[list] | None = None) -> None:
    """An old-format (BIFF, Excel 97-2003) .xls coding sheet, as CASME2_label_Ver_2.xls is distributed."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    for i, row in enumerate((pre_rows or []) + rows):
        for j, value in enumerate(row):
            if value is not None:
                sheet.write(i, j, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(str(path))
