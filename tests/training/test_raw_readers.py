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
        ws.cell(2, 5).value = 200          # sub01/EP02_01f: apex outside the clip
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
    assert [c.name for c in result.clips] == ["casme2 sub01/EP03_02"]
    assert result.clips[0].apex is None
    expect = [
        "skipped casme2 sub01/EP02_01f: apex frame 200 is outside onset..offset 95..103",
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
    assert summary.startswith("casme2: 1 clips kept of 7 rows/folders; 6 skipped (")
    assert "2 notes" in summary


def test_missing_frames_inside_clip_and_onset_outside(trees, tmp_path):
    root = _copy(trees, "samm", tmp_path)
    folder = root / "SAMM" / "006" / "006_1_2"
    (folder / "006_05560.jpg").unlink()  # the onset frame
    for f in (root / "SAMM" / "006" / "006_2_2").iterdir():
        f.unlink()  # an empty clip folder
    lines: list[str] = []
    result = read_dataset("samm", root, warn=lines.append)
    assert [c.name for c in result.clips] == ["samm 007/007_1_2"]
    assert lines[0].startswith("skipped samm 006/006_1_2: onset frame 5560 is not among frames 5561..5568")
    assert lines[1].startswith("skipped samm 006/006_2_2: no frame images in")
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


def test_casme3_clip_outside_recording(trees, tmp_path):
    root = _copy(trees, "casme3", tmp_path)
    sheet = root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    _edit_sheet(sheet, lambda ws: ws.append(["spNO.2", "b", 5, 40, 60, "AU1", 1, "sad"]))
    lines: list[str] = []
    result = read_dataset("casme3", root, warn=lines.append)
    assert len(result.clips) == 3
    assert lines == [f"skipped casme3 spNO.2/b_5: offset frame 60 is not among frames 1..9 of "
                     f"{root / 'part_A/spNO.2/b/color'}"]


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
