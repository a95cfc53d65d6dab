"""prepare -> labels/subjects/counts, the composite's image format, resume, merge, protocols, bad input lines.

Synthetic trees (tests/training/raw_synth.py): the astronaut face warped with known symmetric
movements (negative: brows lowered, positive: lip corners out and up, surprise: brows raised).
Flow is the default torch-tvl1 on small crops (48 px) to stay fast.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import raw_synth as rs

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import mirror_features
from sofp.training.raw.merge import merge, relabel
from sofp.training.raw.prepare import LABEL_COLUMNS, PrepareConfig, prepare

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

CROP = 48
PLANS = {
    "casme2": lambda r: rs.make_casme2(r, [(1, "EP02_01f", "happiness"), (1, "EP03_02", "disgust"),
                                           (2, "EP01_11f", "surprise"), (2, "EP05_03", "others")]),
    "samm": lambda r: rs.make_samm(r, [(6, 1, "Anger"), (6, 2, "Happiness"), (7, 1, "Surprise")]),
    "smic": lambda r: rs.make_smic(r, [(1, "negative", 1), (1, "positive", 1), (2, "surprise", 1)]),
    "casme3": lambda r: rs.make_casme3(r, [(1, "a", "happy"), (1, "a", "anger"), (2, "b", "surprise")]),
    "dfme": lambda r: rs.make_dfme(r, [("sub01", "c1", "happiness"), ("sub02", "c2", "fear"),
                                       ("sub02", "c3", "surprise")]),
}


def _cfg(ds: str, root: Path, out: Path, **kw) -> PrepareConfig:
    base = {"class_map": "composite", "crop_size": CROP, "progress": False}
    base.update(kw)
    return PrepareConfig(dataset=ds, root=str(root), out=str(out), **base)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    raw = tmp_path_factory.mktemp("raw")
    out = tmp_path_factory.mktemp("prepared")
    made = {}
    for ds, make in PLANS.items():
        plan = make(raw / ds)
        lines: list[str] = []
        res = prepare(_cfg(ds, raw / ds, out / ds), warn=lines.append)
        made[ds] = {"raw": raw / ds, "out": out / ds, "plan": plan, "result": res, "lines": lines}
    return made


def _labels(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == LABEL_COLUMNS
        return list(reader)


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))  # PIL: RGB order, as the composite README reads it


@pytest.mark.parametrize("ds", list(PLANS))
def test_labels_subjects_counts(prepared, ds):
    p = prepared[ds]
    rows = _labels(p["out"] / "labels.csv")
    kept = [q for q in p["plan"] if q.emotion != "others"]
    assert len(rows) == len(kept) == 3
    names = ("negative", "positive", "surprise")
    by_sample = {r["sample"]: r for r in rows}
    for q in kept:
        r = by_sample[q.sample]
        assert r["subject"] == f"{ds}/{q.subject}" and r["dataset"] == ds
        assert r["file"] == f"{q.subject}_{q.sample}.png"
        assert names[int(r["label"])] == r["emotion"] == q.kind
    meta = json.loads((p["out"] / "prepare.json").read_text())
    assert meta["counts"]["prepared"] == len(p["plan"]) and meta["counts"]["labelled"] == 3
    assert meta["labels"] == list(names)
    if ds == "casme2":  # 'others' is prepared (for other class maps) but not in the composite's labels
        assert meta["counts"]["excluded"] == {"others": 1}
        assert "not in the class map: 1 others" in next(x for x in p["lines"] if x.startswith("prepared "))


@pytest.mark.parametrize("ds", list(PLANS))
def test_images_have_the_composite_format(prepared, ds):
    p = prepared[ds]
    strains = []
    for r in _labels(p["out"] / "labels.csv"):
        img = _rgb(p["out"] / "flow" / r["file"])
        assert img.dtype == np.uint8 and img.shape == (28, 28, 3)
        for c in range(3):  # per-image per-channel min-max: every channel spans 0..255
            assert img[..., c].min() == 0 and img[..., c].max() == 255, (r["file"], c)
        u, v, strain = (img[..., c].astype(float) for c in range(3))
        top, bottom = v[:12].mean(), v[16:].mean()  # brow rows, mouth rows
        if r["emotion"] == "surprise":  # brows move up (image y down): v (channel 1, G) low in the top rows
            assert top < bottom - 15
        if r["emotion"] == "negative":  # brows move down
            assert top > bottom + 15
        if r["emotion"] == "positive":  # lip corners move up
            assert bottom < top - 15
        if r["emotion"] != "surprise":  # horizontal motion present: u is anti-symmetric under a mirror
            assert np.corrcoef(u.ravel(), u[:, ::-1].ravel())[0, 1] < -0.6
        assert np.corrcoef(v.ravel(), v[:, ::-1].ravel())[0, 1] > 0.6  # v is symmetric
        m = mirror_features(img)
        assert np.array_equal(m[..., 0], 255 - img[:, ::-1, 0]) and np.array_equal(m[..., 1:], img[:, ::-1, 1:])
        strains.append(strain)
    # strain is symmetric too; like the composite README, checked on the mean image (single images at a
    # 48 px crop are noisy where the motion is weak)
    mean = np.mean(strains, axis=0)
    assert np.corrcoef(mean.ravel(), mean[:, ::-1].ravel())[0, 1] > 0.5


def test_smic_apex_is_the_peak_motion_frame(prepared):
    with (prepared["smic"]["out"] / "clips.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        assert r["apex_source"] == "peak"
        assert int(r["apex"]) == int(r["onset"]) + rs.APEX_AT
        assert r["face"] == "detected" and r["flow"] == "torch-tvl1"


def test_midpoint_apex_and_parallel_workers(prepared, tmp_path):
    res = prepare(_cfg("smic", prepared["smic"]["raw"], tmp_path / "mid", apex="midpoint", flow="cpu-dis",
                       workers=2), warn=lambda line: None)
    assert len(res.records) == 3
    for r in res.records:
        assert r["apex_source"] == "midpoint" and r["apex"] == r["onset"] + (rs.N - 1) // 2


def test_resume_after_interruption(prepared, tmp_path):
    src = prepared["samm"]
    out = tmp_path / "samm"
    shutil.copytree(src["out"], out)
    journal = (out / "journal.jsonl").read_text().splitlines()
    (out / "journal.jsonl").write_text("\n".join(journal[:-1]) + "\n" + journal[-1][:20])  # cut mid-line
    (out / "flow" / "006_006_1_2.png").write_bytes(b"partial")  # a broken image is redone
    (out / "labels.csv").unlink()
    lines: list[str] = []
    res = prepare(_cfg("samm", src["raw"], out), warn=lines.append)
    assert res.resumed == 1 and len(res.records) == 3
    assert (out / "labels.csv").read_text() == (src["out"] / "labels.csv").read_text()
    with pytest.raises(UsageError, match="prepared with other settings"):
        prepare(_cfg("samm", src["raw"], out, flow="cpu-dis"))


def test_merge_relabel_and_train(prepared, tmp_path):
    from sofp.training.data.flowset import load_labels_csv
    from sofp.training.loso import run_loso
    from sofp.training.trainer import TrainConfig

    lines: list[str] = []
    merged = merge([prepared[d]["out"] for d in ("smic", "casme2", "samm")], tmp_path / "composite",
                   warn=lines.append)
    assert {d: sum(c.values()) for d, c in merged.per_dataset.items()} == {"smic": 3, "casme2": 3, "samm": 3}
    assert lines[0].startswith("merged 9 samples")
    data = load_labels_csv(tmp_path / "composite")
    assert data.label_names == ("negative", "positive", "surprise")
    assert sorted(set(data.subjects.tolist())) == ["casme2/sub01", "casme2/sub02", "samm/006", "samm/007",
                                                   "smic/s01", "smic/s02"]
    assert np.bincount(data.labels).tolist() == [3, 3, 3]
    res = run_loso(data, TrainConfig(epochs=2, batch_size=8).solo(), 0, tmp_path / "loso", chunk=6, progress=False)
    assert sorted(res["predictions"]["index"]) == list(range(9))  # every sample predicted once, by its own fold
    assert len(res["curves"]["train_loss"]) == 2 and set(res["honest"]["per_dataset"]) == {"smic", "casme2", "samm"}

    path, n, excluded = relabel(prepared["casme2"]["out"], "casme2-5")
    rows = _labels(path)
    assert n == 4 and not excluded
    assert sorted(r["emotion"] for r in rows) == ["disgust", "happiness", "others", "surprise"]
    with pytest.raises(UsageError, match="dataset smic is in both"):
        merge([prepared["smic"]["out"], prepared["smic"]["out"]], tmp_path / "twice")


def test_protocol_command(prepared, tmp_path, capsys):
    from sofp.training.cli import main

    code = main(["protocol", "smic-3", "--data", str(prepared["smic"]["out"]), "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--device", "cpu", "--set", "batch_size=4"])
    assert code == 0
    assert "smic-3" in capsys.readouterr().out
    assert (tmp_path / "run" / "loso" / "result.json").is_file()
    code = main(["protocol", "composite", "--data", str(prepared["smic"]["out"]), "--out", str(tmp_path / "c")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: protocol composite needs prepared smic, casme2, samm; given smic (missing casme2, samm)"]


def test_bad_input_gives_one_line(prepared, tmp_path, capsys):
    from sofp.training.cli import main

    raw = tmp_path / "casme2"
    shutil.copytree(prepared["casme2"]["raw"], raw)
    (raw / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img99.jpg").write_bytes(b"not a jpeg")
    blank = raw / "CASME2_RAW_selected" / "sub02" / "EP01_11f"
    for f in blank.iterdir():
        Image.fromarray(np.full((rs.FRAME, rs.FRAME, 3), 128, np.uint8)).save(f, format="JPEG")
    lines: list[str] = []
    res = prepare(_cfg("casme2", raw, tmp_path / "out", flow="cpu-dis", face="detect"), warn=lines.append)
    skipped = [x for x in lines if x.startswith("skipped")]
    assert skipped == [
        f"skipped casme2 sub01/EP02_01f: frame {raw / 'CASME2_RAW_selected/sub01/EP02_01f/img99.jpg'} "
        "is not a readable image",
        "skipped casme2 sub02/EP01_11f: no face found on the onset frame (use --face auto or full for "
        "face-cropped releases)",
    ]
    assert len(res.records) == 2 and "2 while preparing" in next(x for x in lines if x.startswith("prepared "))
    assert lines[-1].startswith("warning: class(es) positive, surprise of class map composite have no clip")
    res = prepare(_cfg("casme2", raw, tmp_path / "auto", flow="cpu-dis"), warn=lambda line: None)
    assert {r["sample"]: r["face"] for r in res.records}["EP01_11f"] == "full"

    assert main(["prepare", "samm", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --root {tmp_path / 'nowhere'}: no such folder; give the folder that holds the dataset"]
    with pytest.raises(SofpError, match="no usable smic clips"):
        empty = tmp_path / "empty_smic" / "HS" / "s1" / "micro" / "negative"
        empty.mkdir(parents=True)
        prepare(_cfg("smic", tmp_path / "empty_smic", tmp_path / "o2"), warn=lambda line: None)


def test_annotation_decisions_listed_per_clip_and_counted(prepared, tmp_path):
    import openpyxl

    raw = tmp_path / "casme2"
    shutil.copytree(prepared["casme2"]["raw"], raw)
    book = openpyxl.load_workbook(raw / "CASME2-coding-20140508.xlsx")
    book.active.cell(2, 5).value = book.active.cell(2, 4).value  # sub01/EP02_01f: apex = onset
    book.active.cell(3, 5).value = -1                             # sub01/EP03_02: apex -1
    book.save(raw / "CASME2-coding-20140508.xlsx")
    (raw / "CASME2_RAW_selected" / "sub02" / "EP01_11f" / "img95.jpg").unlink()  # its onset frame
    prepare(_cfg("casme2", raw, tmp_path / "out", flow="cpu-dis"), warn=lambda line: None)
    with (tmp_path / "out" / "clips.csv").open(newline="") as fh:
        rows = {r["sample"]: r for r in csv.DictReader(fh)}
    assert {s: (r["apex_source"], r["fixes"]) for s, r in rows.items()} == {
        "EP02_01f": ("peak", "apex_at_onset (apex 95)"), "EP03_02": ("peak", "apex_missing (apex cell -1)"),
        "EP01_11f": ("sheet", "onset_nearest (95 -> 96)"), "EP05_03": ("sheet", "")}
    assert int(rows["EP01_11f"]["onset"]) == 96
    counts = json.loads((tmp_path / "out" / "prepare.json").read_text())["counts"]
    assert counts["fixes"] == {"apex_at_onset": 1, "apex_missing": 1, "onset_nearest": 1}
    assert counts["apex_estimated"] == 2


def test_protocol_definitions():
    from sofp.training.raw.protocols import PROTOCOLS, fold_groups, protocol_folds

    assert PROTOCOLS["composite"].datasets == ("smic", "casme2", "samm")
    assert all(p.cmap.name == p.class_map for p in PROTOCOLS.values())
    subjects = np.asarray([f"dfme/{i:03d}" for i in range(23) for _ in range(3)])
    groups = fold_groups("dfme-7", subjects)
    assert len(set(groups.tolist())) == 10
    for s in set(subjects.tolist()):  # subject-independent: a subject's samples share one fold
        assert len(set(groups[subjects == s].tolist())) == 1
    folds = protocol_folds("dfme-7", subjects)
    assert sorted(np.concatenate([t for _, _, t in folds]).tolist()) == list(range(len(subjects)))
    assert all(not set(subjects[tr]) & set(subjects[te]) for _, tr, te in folds)
    assert np.array_equal(fold_groups("casme2-5", subjects), subjects)
    with pytest.raises(UsageError, match="needs at least 10 subjects"):
        fold_groups("dfme-7", subjects[:9])


def test_prepared_flow_matches_the_known_motion(prepared):
    """The prepared u and v channels follow the injected displacement field (mapped into the face crop)."""
    import cv2

    from sofp.runtime.face import FaceCropper
    from sofp.runtime.features import flow_to_features

    p = prepared["casme2"]
    for q in p["plan"]:
        onset = cv2.imread(str(p["raw"] / "CASME2_RAW_selected" / q.subject / q.sample / f"img{q.onset}.jpg"),
                           cv2.IMREAD_GRAYSCALE)
        cropper = FaceCropper(size=CROP)
        box = cropper(onset).box
        side = box.side * (1.0 + cropper.margin)
        s = CROP / side
        m = np.float32([[s, 0, -(box.cx - side / 2) * s], [0, s, -(box.cy - side / 2) * s]])
        truth = cv2.warpAffine(rs.motion_field(q.kind) * (rs.APEX_PX * s), m, (CROP, CROP), flags=cv2.INTER_LINEAR)
        want = flow_to_features(truth).astype(float)
        got = _rgb(p["out"] / "flow" / f"{q.subject}_{q.sample}.png").astype(float)
        for c in (0, 1) if q.kind != "surprise" else (1,):  # surprise has no horizontal motion
            r = np.corrcoef(want[..., c].ravel(), got[..., c].ravel())[0, 1]
            assert r > 0.8, (q.sample, c, r)
