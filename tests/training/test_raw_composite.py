"""The composite from raw coding sheets: exactly MEGC 2019's 442 samples, labels and file names.

The sheets are synthetic but carry the real releases' rows per emotion, with their spellings:
CASME II (255 rows: disgust 63, repression 27, happiness 32, surprise 25, others 99, sadness 7,
fear 2), SAMM (159 rows: Anger 57, Contempt 12, Disgust 9, Fear 8, Sadness 6, Happiness 26,
Surprise 15, Other 26) and SMIC-HS's folders (negative 70, positive 51, surprise 43). The
composite (../shared/data/composite/labels.csv) has CASME II 145 (88 negative, 32 positive,
25 surprise), SAMM 133 (92, 26, 15), SMIC-HS 164 (70, 51, 43): 442 samples, files named
``<subject>_<sample>.png`` with subjects ``casme2/sub01``, ``samm/006``, ``smic/s01``.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import raw_synth as rs

from sofp.training.raw import read_dataset
from sofp.training.raw.prepare import CLIP_COLUMNS, _write_csv, clip_file
from sofp.training.raw.protocols import protocol_data

CASME2_ROWS = {"disgust": 63, "repression": 27, "happiness": 32, "surprise": 25, "others": 99, "sadness": 7,
               "fear": 2}
SAMM_ROWS = {"Anger": 57, "Contempt": 12, "Disgust": 9, "Fear": 8, "Sadness": 6, "Happiness": 26, "Surprise": 15,
             "Other": 26}
SMIC_FOLDERS = {"negative": 70, "positive": 51, "surprise": 43}
COMPOSITE = {"casme2": {"negative": 88, "positive": 32, "surprise": 25},
             "samm": {"negative": 92, "positive": 26, "surprise": 15},
             "smic": {"negative": 70, "positive": 51, "surprise": 43}}
# The composite's naming, one file of each dataset as its labels.csv writes it.
NAMED = {("casme2", "sub01_EP02_01f.png", "casme2/sub01", "EP02_01f", "positive"),
         ("samm", "006_006_1_2.png", "samm/006", "006_1_2", "negative"),
         ("smic", "s01_s01_ne_01.png", "smic/s01", "s01_ne_01", "negative")}
FILE_RULES = {"casme2": r"sub\d\d_EP\w+\.png", "samm": r"(\d{3})_\1_\d+_\d+\.png",
              "smic": r"(s\d\d)_\1_(ne|po|sur)_\d\d\.png"}


def _emotions(counts: dict[str, int], first: list[str]) -> list[str]:
    """Sheet emotions in row order: ``first`` as given, then the rest of ``counts``."""
    left = Counter(counts)
    left.subtract(first)
    return first + [e for e, n in left.items() for _ in range(n)]


def _casme2(root: Path) -> None:
    named = [(1, "EP02_01f", "happiness"), (4, "EP12_01f", "disgust"), (24, "EP02_07", "repression")]
    rows = [["Subject", "Filename", "Unnamed: 2", "OnsetFrame", "ApexFrame", "OffsetFrame", "Unnamed: 6",
             "Action Units", "Estimated Emotion"]]
    emotions = _emotions(CASME2_ROWS, [e for _, _, e in named])
    clips = named + [(k % 26 + 1, f"EP{k:03d}_01", e) for k, e in enumerate(emotions[len(named):])]
    for s, name, emotion in clips:
        rs.tiny_frames(root / "CASME2_RAW_selected" / f"sub{s:02d}" / name, [46, 47, 48], "img{}.jpg")
        rows.append([s, name, None, 46, 47, 48, None, "4", emotion])
    rs.write_xlsx(root / "CASME2-coding-20140508.xlsx", rows)


def _samm(root: Path) -> None:
    rows = [["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
             "Type", "Action Units", "Notes", "Estimated Emotion"]]
    subjects = list(range(6, 35))
    for k, emotion in enumerate(_emotions(SAMM_ROWS, ["Anger"])):
        s = subjects[k % 29]
        name = f"{s:03d}_{k // 29 + 1}_2"
        rs.tiny_frames(root / "SAMM" / f"{s:03d}" / name, [5562, 5563, 5564], f"{s:03d}_{{:05d}}.jpg")
        rows.append([s, name, 1, 5562, 5563, 5564, 3, "Micro - 1/2", "R14", None, emotion])
    rs.write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", rows, rs.SAMM_PRE)


def _smic(root: Path) -> None:
    subjects = [1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 18, 19, 20]
    short = {"negative": "ne", "positive": "po", "surprise": "sur"}
    for emotion, n in SMIC_FOLDERS.items():
        for k in range(n):
            s = subjects[k % 16]
            folder = root / "HS" / f"s{s}" / "micro" / emotion / f"s{s}_{short[emotion]}_{k // 16 + 1:02d}"
            rs.tiny_frames(folder, [46120, 46121, 46122], "image{:06d}.bmp")


def _prepared(name: str, raw: Path, out: Path) -> Path:
    """A prepared folder as ``prepare`` leaves it (clips.csv + one image per clip), without the flow."""
    clips = read_dataset(name, raw, warn=lambda line: None).clips
    (out / "flow").mkdir(parents=True)
    for c in clips:
        (out / "flow" / clip_file(c)).write_bytes(b"")
    _write_csv(out / "clips.csv", CLIP_COLUMNS, [
        {"file": clip_file(c), "dataset": c.dataset, "subject": c.subject, "sample": c.sample, "emotion": c.emotion,
         "raw_emotion": c.raw_emotion} for c in clips])
    return out


@pytest.fixture(scope="module")
def composite(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("composite")
    for name, make in (("casme2", _casme2), ("samm", _samm), ("smic", _smic)):
        make(tmp / "raw" / name)
    prepared = [_prepared(n, tmp / "raw" / n, tmp / "prepared" / n) for n in ("smic", "casme2", "samm")]
    _, labels = protocol_data("composite", prepared, tmp / "run")
    with labels.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_composite_counts_and_labels(composite):
    assert len(composite) == 442
    counts: dict[str, Counter] = {}
    for r in composite:
        counts.setdefault(r["dataset"], Counter())[r["emotion"]] += 1
        assert int(r["label"]) == ("negative", "positive", "surprise").index(r["emotion"])
    assert {d: dict(c) for d, c in counts.items()} == COMPOSITE
    casme2 = {r["sample"] for r in composite if r["dataset"] == "casme2"}
    assert "EP12_01f" not in casme2 and "EP02_07" not in casme2


def test_composite_names(composite):
    assert {(r["dataset"], r["file"], r["subject"], r["sample"], r["emotion"]) for r in composite} >= NAMED
    for r in composite:
        assert re.fullmatch(FILE_RULES[r["dataset"]], r["file"]), r["file"]
        dataset, subject = r["subject"].split("/")
        assert dataset == r["dataset"] and r["file"] == f"{subject}_{r['sample']}.png"
    assert len({r["file"] for r in composite}) == 442
