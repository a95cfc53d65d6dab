"""Raw dataset readers on synthetic trees laid out like each real dataset; every malformed case gives one line."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import raw_synth as rs

from sofp.runtime.errors import SofpError, UsageError
from sofp.training.raw import READERS, read_dataset
from sofp.training.raw.base import list_frames
from sofp.training.raw.class_maps import CLASS_MAPS, canonical_emotion, get_class_map
from sofp.training.raw.coded import FRAME_SEARCH_DEPTH
from sofp.training.raw.corrections import CORRECTIONS


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, tuple[Path, list]]:
    root = tmp_path_factory.mktemp("raw")
    return {
        "casme2": (root / "casme2", rs.make_casme2(root / "casme2", [
            (1, "EP02_01f", "happiness"), (1, "EP03_02", "disgust"), (2, "EP01_11f", "surprise")])),
        "samm": (root / "samm", rs.make_samm(root / "samm", [
            (6, 1, "Anger"), (6, 2, "Happiness"), (7, 1, "Surprise")])),
        "smic": (root / "smic", rs.make_smic(root / "smic", [
            (1, "negative", 1), (1, "positive", 1), (2, "surprise", 1)])),
        "casme3": (root / "casme3", rs.make_casme3(root / "casme3", [
            (1, "a", "happy"), (1, "a", "anger"), (2, "b", "surprise")])),
        "dfme": (root / "dfme", rs.make_dfme(root / "dfme", [("sub01", "c1", "happiness"), ("sub02", "c2", "fear")])),
    }


def _copy(trees, name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(trees[name][0], dst)
    return dst


@pytest.mark.parametrize("name", READERS.names())
def test_reader_yields_planned_clips(trees, name):
    root, plan = trees[name]
    lines: list[str] = []
    result = read_dataset(name, root, warn=lines.append)
    assert lines == [], lines
    got = {(c.subject, c.sample): c for c in result.clips}
    assert set(got) == {(p.subject, p.sample) for p in plan}
    for p in plan:
        c = got[(p.subject, p.sample)]
        assert (c.onset, c.apex, c.offset) == (p.onset, p.apex, p.offset)
        assert c.emotion == canonical_emotion(p.emotion)
        assert c.dataset == name
        assert list(c.numbers) == sorted(c.numbers) and len(c.frames) == rs.N
        assert c.frames[0] == c.path(c.onset) and c.frames[-1] == c.path(c.offset)
    assert result.summary().startswith(f"{name}: {len(plan)} clips kept of {len(plan)} rows/folders; 0 skipped")


# Where each release puts its folder of subject folders below the dataset's own root, as its archive unpacks.
NESTED = {"casme3": ("part_A", "part_A/data/part_A_split/part_A"),
          "casme2": ("CASME2_RAW_selected", "CASME2_RAW_selected/CASME2_RAW_selected"),
          "smic": ("HS", "SMIC_all_cropped/HS")}


@pytest.mark.parametrize("name", list(NESTED))
def test_dataset_root_as_distributed(trees, tmp_path, name):
    """Read from the dataset's own root with the release's nesting, and from a download folder around it."""
    made, nested = NESTED[name]
    root = _copy(trees, name, tmp_path / "download")
    (root / nested).parent.mkdir(parents=True, exist_ok=True)
    shutil.move(root / made, tmp_path / "frames")
    shutil.move(tmp_path / "frames", root / nested)
    depth = len(Path(nested).parts)
    for top in (root, root.parent):
        lines: list[str] = []
        assert len(read_dataset(name, top, warn=lines.append).clips) == len(trees[name][1])
        assert lines == []
    if name == "casme3":  # the deepest release, read from the download folder, is at the search's limit
        assert depth + 1 == FRAME_SEARCH_DEPTH
        (tmp_path / "wrap").mkdir()
        shutil.move(root.parent, tmp_path / "wrap")
        lines = []
        assert read_dataset(name, tmp_path / "wrap", warn=lines.append).clips == []
        assert lines[0].startswith("skipped casme3 spNO.1/a_1: frame folder") and "does not exist" in lines[0]


def test_frames_sorted_numerically_not_in_glob_order(trees):
    folder = trees["casme2"][0] / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    frames, numbers, problem = list_frames(folder)
    assert problem is None
    assert numbers == list(range(95, 104))  # img100.jpg sorts after img99.jpg
    assert [p.name for p in frames][4:6] == ["img99.jpg", "img100.jpg"]
    assert sorted(p.name for p in frames)[0] == "img100.jpg"  # what glob/lexical order would give


def test_smic_names_match_composite(trees):
    clips = read_dataset("smic", trees["smic"][0]).clips
    assert {c.subject for c in clips} == {"s01", "s02"}
    assert "s01_ne_01" in {c.sample for c in clips}
    assert all(c.apex is None for c in clips)


def _edit_sheet(path: Path, fn) -> None:
    book = openpyxl.load_workbook(path)
    fn(book.active)
    book.save(path)


def test_casme2_malformed_rows_each_give_one_line(trees, tmp_path):
    root = _copy(trees, "casme2", tmp_path)
    sheet = root / "CASME2-coding-20140508.xlsx"

    def edit(ws):
        ws.cell(2, 5).value = 200          # sub01/EP02_01f: apex outside the clip -> kept, apex estimated
        ws.cell(3, 5).value = "/"          # sub01/EP03_02: apex '/' -> kept, note, apex estimated
        ws.cell(4, 4).value = "abc"        # sub02/EP01_11f: onset not a number
        ws.append(["03", "EP09_01", None, 10, 12, 20, None, "4", "happiness"])   # no frame folder
        ws.append(["01", "EP03_02", None, 95, 99, 103, None, "4", "disgust"])    # duplicate row
        ws.append(["xx", "EP01_01", None, 1, 2, 3, None, "4", "happiness"])      # bad subject cell
        ws.append(["01", "EP04_01", None, 95, 99, 103, None, "4", None])        # empty emotion
    _edit_sheet(sheet, edit)
    (root / "CASME2_RAW_selected" / "sub01" / "EP03_02" / "img97.jpg").rename(
        root / "CASME2_RAW_selected" / "sub01" / "EP03_02" / "img97.txt")
    lines: list[str] = []
    result = read_dataset("casme2", root, warn=lines.append)
    assert [(c.name, c.apex, c.fixes) for c in result.clips] == [
        ("casme2 sub01/EP02_01f", None, ("apex_outside (apex 200)",)),
        ("casme2 sub01/EP03_02", None, ("apex_missing (not annotated)",))]
    expect = [
        "note casme2 sub01/EP02_01f: apex 200 is outside onset..offset 95..103: it will be the frame of peak motion",
        "note casme2 sub01/EP03_02: apex not annotated in the sheet: it will be the frame of peak motion",
        "note casme2 sub01/EP03_02: 1 frame(s) missing inside onset..offset (97); kept",
        "skipped casme2 sub02/EP01_11f: onset cell 'abc' is not a frame number",
        "skipped casme2 sub03/EP09_01: frame folder",
        "skipped casme2 sub01/EP03_02: duplicate clip",
        "skipped casme2 row 7 of CASME2-coding-20140508.xlsx: subject cell 'xx'",
        "skipped casme2 sub01/EP04_01: emotion cell is empty",
    ]
    assert len(lines) == len(expect), lines
    for line, start in zip(lines, expect, strict=True):
        assert line.startswith(start), (line, start)
        assert "\n" not in line
    summary = result.summary()
    assert summary.startswith("casme2: 2 clips kept of 7 rows/folders; 5 skipped (")
    assert "3 notes" in summary


def test_unusual_annotations_are_kept_and_reported(trees, tmp_path):
    """Public loaders keep these clips: nearest existing frames, apex estimated from motion."""
    root = _copy(trees, "samm", tmp_path)
    sheet = root / "SAMM_Micro_FACS_Codes_v2.xlsx"

    def edit(ws):
        ws.cell(15, 5).value = ws.cell(15, 4).value  # 006/006_1_2: apex = onset (5560)
        ws.cell(16, 5).value = -1                     # 006/006_2_2: apex -1, SAMM's "not annotated"
        ws.cell(17, 6).value = 5599                   # 007/007_1_2: offset past the last frame on disk (5588)
    _edit_sheet(sheet, edit)
    clip = root / "SAMM" / "007" / "007_1_2"
    for n in (5580, 5584):  # 007/007_1_2's onset and apex frames are missing on disk
        (clip / f"007_{n:05d}.jpg").unlink()
    lines: list[str] = []
    got = {c.sample: c for c in read_dataset("samm", root, warn=lines.append).clips}
    assert [(s, c.onset, c.apex, c.offset, c.fixes) for s, c in got.items()] == [
        ("006_1_2", 5560, None, 5568, ("apex_at_onset (apex 5560)",)),
        ("006_2_2", 5570, None, 5578, ("apex_missing (apex cell -1)",)),
        ("007_1_2", 5581, 5583, 5588, ("onset_nearest (5580 -> 5581)", "offset_nearest (5599 -> 5588)",
                                       "apex_nearest (5584 -> 5583)"))]
    assert lines[:2] == [
        "note samm 006/006_1_2: apex 5560 equals the onset: it will be the frame of peak motion",
        "note samm 006/006_2_2: apex cell -1 marks no apex: it will be the frame of peak motion"]
    assert lines[2] == (f"note samm 007/007_1_2: onset frame 5580 is not in {clip}: the nearest frame inside "
                        "the clip, 5581")
    assert len(lines) == 6 and lines[-1].endswith("1 frame(s) missing inside onset..offset (5584); kept")


def test_corrections_table_applied_and_reported(tmp_path):
    """SAMM's known bad cells (tvaranka/meb's rows 56, 125, 132, 133 below the header), as meb corrects them."""
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
              "Type", "Action Units", "Notes", "Estimated Emotion"]
    rows = [[99, f"099_{k}_1", 1, 10, 12, 20, 11, "Micro - 1/2", "R14", None, "Anger"] for k in range(134)]
    special = {56: (5730, 5735, 5793, 5739),   # offset 5793 past the frames: 5739 (meb)
               125: (1100, -1, 1110, 1110),    # apex -1: 1105 (meb)
               132: (5000, -1, 5010, 5010),    # apex -1, but meb's 4945 is not a frame of this clip: estimated
               133: (5125, 5130, 5135, 5135)}  # apex already given: the entry does not apply
    for k, (onset, apex, offset, last) in special.items():
        rows[k] = [6, f"006_{k}_1", 1, onset, apex, offset, 11, "Micro - 1/2", "R14", None, "Anger"]
        rs.tiny_frames(tmp_path / "SAMM" / "006" / f"006_{k}_1", list(range(onset, last + 1)), "006_{:05d}.jpg")
    rs.write_xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", [header, *rows], rs.SAMM_PRE)
    lines: list[str] = []
    got = {c.sample: c for c in read_dataset("samm", tmp_path, warn=lines.append).clips}
    meb = "tvaranka/meb meb/datasets/datasets.py, SAMM: "
    assert {s: (c.offset, c.apex, c.fixes) for s, c in got.items()} == {
        "006_56_1": (5739, 5735, (f"corrected (offset 5793 -> 5739; {meb}'Mistake in file, change offset')",)),
        "006_125_1": (1110, 1105, (f"corrected (apex -1 -> 1105; {meb}'Missing apex in file, change based on "
                                   "optical flow')",)),
        "006_132_1": (5010, None, ("apex_missing (apex cell -1)",)),
        "006_133_1": (5135, 5130, ())}
    notes = [x for x in lines if x.startswith("note")]
    assert notes[0] == (f"note samm 006/006_56_1: offset 5793 -> 5739 (sheet row 71; {meb}'Mistake in file, "
                        "change offset')")
    assert len(notes) == 3 and len(lines) == 3 + 130  # the filler rows have no frames: one line each


def test_correction_applies_only_to_a_bad_cell_and_a_fitting_value():
    casme2 = next(c for c in CORRECTIONS if c.dataset == "casme2")  # meb: row 60's offset is 91
    assert (casme2.row, casme2.column, casme2.value) == (60, "offset", 91)
    cells = {"onset": 50, "apex": 70, "offset": 110}
    assert casme2.applies(cells, range(50, 97))  # frame 110 is not on disk, 91 is
    assert not casme2.applies(cells, range(50, 111))  # the sheet's offset fits this release's frames
    assert not casme2.applies(cells, range(50, 90))  # 91 is not a frame of this clip either
    assert not casme2.applies({**cells, "onset": 95}, range(50, 97))  # 91 would be before the onset


def test_empty_folder_and_clip_beside_the_frames_are_skipped(trees, tmp_path):
    root = _copy(trees, "samm", tmp_path)
    for f in (root / "SAMM" / "006" / "006_2_2").iterdir():
        f.unlink()  # an empty clip folder
    _edit_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", lambda ws: ws.append(
        [6, "006_1_2x", 1, 5600, 5605, 5610, 10, "Micro - 1/2", "R14", None, "Anger"]))
    shutil.copytree(root / "SAMM" / "006" / "006_1_2", root / "SAMM" / "006" / "006_1_2x")  # frames 5560..5568
    lines: list[str] = []
    result = read_dataset("samm", root, warn=lines.append)
    assert [c.name for c in result.clips] == ["samm 006/006_1_2", "samm 007/007_1_2"]
    assert lines == [
        f"skipped samm 006/006_2_2: no frame images in {root / 'SAMM/006/006_2_2'}",
        f"skipped samm 006/006_1_2x: 0 frame(s) of onset..offset 5600..5610 in {root / 'SAMM/006/006_1_2x'} "
        "(it has frames 5560..5568)"]
    assert "2 skipped" in result.summary()


def test_old_xls_sheets_are_read(trees, tmp_path, monkeypatch):
    root = _copy(trees, "casme2", tmp_path)
    xlsx = root / "CASME2-coding-20140508.xlsx"
    rows = [list(r) for r in openpyxl.load_workbook(xlsx).active.iter_rows(values_only=True)]
    xlsx.unlink()
    rs.write_xls(root / "CASME2_label_Ver_2.xls", rows)
    want = read_dataset("casme2", trees["casme2"][0]).clips
    for sheet in (None, "CASME2_label_Ver_2.xls"):  # found by name, or given with --sheet
        got = read_dataset("casme2", root, sheet=sheet, warn=lambda line: pytest.fail(line)).clips
        assert [(c.name, c.onset, c.apex, c.offset, c.emotion) for c in got] == [
            (c.name, c.onset, c.apex, c.offset, c.emotion) for c in want]
    (root / "CASME2_label_Ver_2.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"broken" * 100)
    with pytest.raises(SofpError, match=r"is not a readable \.xls file \(") as err:
        read_dataset("casme2", root)
    assert "\n" not in str(err.value)
    monkeypatch.setitem(sys.modules, "xlrd", None)  # the xls extra not installed
    with pytest.raises(SofpError) as err:
        read_dataset("casme2", root)
    assert str(err.value) == (f"reading the .xls coding sheet {str(root / 'CASME2_label_Ver_2.xls')!r} needs xlrd: "
                              "pip install 'sofp-edge[xls]' (or save the sheet as .xlsx or .csv)")


def test_missing_column_is_one_line(trees, tmp_path):
    root = _copy(trees, "samm", tmp_path)
    _edit_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", lambda ws: setattr(ws.cell(14, 5), "value", "Peak"))
    with pytest.raises(SofpError) as err:
        read_dataset("samm", root)
    msg = str(err.value)
    assert "lacks column 'Apex Frame'" in msg and "\n" not in msg


def test_malformed_sheet_and_root_are_one_line(trees, tmp_path):
    root = _copy(trees, "casme2", tmp_path)
    (root / "CASME2-coding-20140508.xlsx").write_bytes(b"this is not a spreadsheet")
    with pytest.raises(SofpError, match=r"not a readable \.xlsx file") as err:
        read_dataset("casme2", root)
    assert "\n" not in str(err.value)
    with pytest.raises(SofpError, match="is not a directory"):
        read_dataset("casme2", tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SofpError, match="no CASME II coding sheet under"):
        read_dataset("casme2", empty)
    with pytest.raises(UsageError, match="unknown dataset 'casme9'; known: casme2, casme3, dfme, samm, smic"):
        read_dataset("casme9", root)


def test_smic_empty_clip_and_missing_emotion_folders(trees, tmp_path):
    root = _copy(trees, "smic", tmp_path)
    (root / "HS" / "s2" / "micro" / "surprise" / "s2_sur_02").mkdir()
    (root / "HS" / "s3" / "micro").mkdir(parents=True)
    lines: list[str] = []
    result = read_dataset("smic", root, warn=lines.append)
    assert len(result.clips) == 3
    assert lines == [
        f"skipped smic s02/s02_sur_02: no frame images in {root / 'HS/s2/micro/surprise/s2_sur_02'}",
        f"skipped smic s03: no negative/positive/surprise folder in {root / 'HS/s3/micro'}",
    ]


def test_casme3_clip_past_the_recording(trees, tmp_path):
    """A clip running past its recording keeps the frames there are (meb copies what exists)."""
    root = _copy(trees, "casme3", tmp_path)
    sheet = root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    _edit_sheet(sheet, lambda ws: ws.append(["spNO.2", "b", 5, 7, 60, "AU1", 1, "sad"]))
    lines: list[str] = []
    result = read_dataset("casme3", root, warn=lines.append)
    assert [(c.sample, c.onset, c.apex, c.offset, c.fixes) for c in result.clips][-1] == (
        "b_5", 5, 7, 9, ("offset_nearest (60 -> 9)",))
    assert lines == [f"note casme3 spNO.2/b_5: offset frame 60 is not in {root / 'part_A/spNO.2/b/color'}: "
                     "the nearest frame inside the clip, 9"]


def test_dfme_columns_and_template(trees, tmp_path):
    root = _copy(trees, "dfme", tmp_path)
    text = (root / "dfme_coding.csv").read_text().replace("Onset,", "StartFrame,", 1)
    (root / "dfme_coding.csv").write_text(text)
    with pytest.raises(SofpError, match="lacks column 'Onset'"):
        read_dataset("dfme", root)
    result = read_dataset("dfme", root, columns={"onset": "StartFrame"})
    assert len(result.clips) == 2
    nested = tmp_path / "nested"
    (nested / "frames").mkdir(parents=True)
    shutil.copy(root / "dfme_coding.csv", nested / "dfme_coding.csv")
    for s in ("sub01", "sub02"):
        shutil.copytree(root / s, nested / "frames" / s)
    result = read_dataset("dfme", nested, columns={"onset": "StartFrame"}, frames_template="frames/{subject}/{sample}")
    assert len(result.clips) == 2


def test_dfme_refuses_an_ambiguous_sheet(trees, tmp_path):
    root = _copy(trees, "dfme", tmp_path)
    (root / "sub01" / "notes.csv").write_text("unrelated\n")  # not DFME-named, not in the root: never a candidate
    assert len(read_dataset("dfme", root).clips) == 2
    shutil.copy(root / "dfme_coding.csv", root / "sub02" / "DFME_coding_old.csv")
    with pytest.raises(SofpError) as err:
        read_dataset("dfme", root)
    assert str(err.value) == (f"2 candidate DFME coding sheets under {str(root)!r}: dfme_coding.csv, "
                              "sub02/DFME_coding_old.csv; pass one with --sheet")
    assert len(read_dataset("dfme", root, sheet="dfme_coding.csv").clips) == 2
    (root / "sub02" / "DFME_coding_old.csv").unlink()
    (root / "dfme_coding.csv").rename(root / "coding.csv")  # no DFME name: the one sheet in the root
    assert len(read_dataset("dfme", root).clips) == 2
    (root / "labels.csv").write_text("x\n")
    with pytest.raises(SofpError, match=r"^2 candidate DFME coding sheets under .*: coding\.csv, labels\.csv; pass"):
        read_dataset("dfme", root)


def test_class_maps():
    comp = get_class_map("composite")
    assert comp.labels == ("negative", "positive", "surprise")
    for emo in ("anger", "Contempt", "disgust", "fear", "sadness", "sad", "repression", "negative"):
        assert comp.index(emo) == 0, emo
    assert comp.index("Happiness") == comp.index("happy") == comp.index("positive") == 1
    assert comp.index("surprise") == 2
    assert comp.index("others") is None and comp.index("Other") is None
    # MEGC 2019 takes only disgust and repression as CASME II's negative, and leaves two clips out
    assert comp.index("fear", "casme2") is None and comp.index("sadness", "casme2") is None
    assert comp.index("repression", "casme2") == comp.index("Fear", "samm") == 0
    assert comp.clip_index("casme2", "sub04", "EP12_01f", "disgust") is None
    assert comp.clip_index("casme2", "sub04", "EP12_02f", "disgust") == 0
    assert get_class_map("casme2-5").index("fear") is None
    assert get_class_map("samm-5").label("Other") == "others"
    assert get_class_map("casme3-4").label("sad") == "negative"
    assert get_class_map("casme3-7").num_classes == 7 and get_class_map("dfme-7").num_classes == 7
    assert get_class_map("smic-3").labels == comp.labels
    assert set(CLASS_MAPS) >= {"composite", "casme2-5", "samm-5", "casme3-4", "casme3-7", "dfme-7", "smic-3"}
    with pytest.raises(UsageError, match="unknown class map"):
        get_class_map("casme2-7")
