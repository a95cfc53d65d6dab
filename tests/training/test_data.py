import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from sofp.runtime.errors import SofpError, UsageError
from sofp.training.data.flowset import load_flowset, load_labels_csv, load_named_folder


def write_set(root: Path, rows: list[dict], size: int = 28, columns=None) -> Path:
    (root / "flow").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for r in rows:
        cv2.imwrite(str(root / "flow" / r["file"]), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    with (root / "labels.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns or ["file", "dataset", "subject", "sample", "label", "emotion"],
                           extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return root


def rows(n=6):
    names = ["negative", "positive", "surprise"]
    return [{"file": f"a{i}.png", "dataset": "casme2", "subject": f"casme2/sub0{i % 2}", "sample": f"a{i}",
             "label": i % 3, "emotion": names[i % 3]} for i in range(n)]


def test_loads_and_reads_rgb_order(tmp_path):
    root = write_set(tmp_path, rows())
    data = load_flowset(root)
    assert data.images.shape == (6, 28, 28, 3) and data.label_names == ("negative", "positive", "surprise")
    bgr = cv2.imread(str(root / "flow" / "a0.png"))
    assert np.array_equal(data.images[0], bgr[:, :, ::-1])  # channel 0 = u = PNG red


def test_missing_column(tmp_path):
    write_set(tmp_path, rows(), columns=["file", "dataset", "subject", "sample", "label"])
    with pytest.raises(UsageError, match=r"lacks column.*emotion"):
        load_labels_csv(tmp_path)


def test_missing_file(tmp_path):
    write_set(tmp_path, rows())
    (tmp_path / "flow" / "a3.png").unlink()
    with pytest.raises(SofpError, match=r"missing image .*a3.png"):
        load_labels_csv(tmp_path)


def test_unreadable_file(tmp_path):
    write_set(tmp_path, rows())
    (tmp_path / "flow" / "a2.png").write_bytes(b"not an image")
    with pytest.raises(SofpError, match=r"unreadable image .*a2.png"):
        load_labels_csv(tmp_path)


def test_wrong_size(tmp_path):
    write_set(tmp_path, rows())
    cv2.imwrite(str(tmp_path / "flow" / "a1.png"), np.zeros((32, 28, 3), np.uint8))
    with pytest.raises(SofpError, match=r"a1.png is 28 x 32; expected 28 x 28"):
        load_labels_csv(tmp_path)


def test_label_out_of_range_and_not_integer(tmp_path):
    r = rows()
    r[4]["label"] = 7
    r[4]["emotion"] = "other"
    write_set(tmp_path, r)
    with pytest.raises(SofpError, match=r"labels must be 0..7 with every class present"):
        load_labels_csv(tmp_path)
    r[4]["label"] = "x"
    write_set(tmp_path, r)
    with pytest.raises(SofpError, match=r"line 6: label 'x' is not an integer"):
        load_labels_csv(tmp_path)


def test_duplicate(tmp_path):
    r = rows()
    r[5]["file"] = "a0.png"
    r[5]["label"], r[5]["emotion"] = 0, "negative"
    write_set(tmp_path, r)
    with pytest.raises(SofpError, match=r"line 7: duplicate file 'a0.png' \(first on line 2\)"):
        load_labels_csv(tmp_path)


def test_no_label_file(tmp_path):
    with pytest.raises(UsageError, match=r"has no labels.csv"):
        load_flowset(tmp_path)


def test_named_folder_subjects_and_labels(tmp_path):
    img = np.zeros((28, 28, 3), np.uint8)
    for name in ["sub01_EP02_01f_1.png", "sub01_EP03_02_0.png", "sub12_EP01_2.png"]:
        cv2.imwrite(str(tmp_path / name), img)
    data = load_named_folder(tmp_path, "casme2")
    assert data.labels.tolist() == [1, 0, 2]  # sorted by name
    assert data.subjects.tolist() == ["casme2/sub01", "casme2/sub01", "casme2/sub12"]
    cv2.imwrite(str(tmp_path / "sub02_EP01.png"), img)
    with pytest.raises(SofpError, match=r"sub02_EP01.png: no trailing _<label>"):
        load_named_folder(tmp_path, "casme2")


@pytest.mark.parametrize("dataset,name,subject", [
    ("samm", "006_1_2_0.png", "samm/006"), ("smic", "s03_ne_01_0.png", "smic/s03"),
    ("casme3", "spNO.171_a_0.png", "casme3/spNO.171"),
])
def test_named_folder_subject_patterns(tmp_path, dataset, name, subject):
    cv2.imwrite(str(tmp_path / name), np.zeros((28, 28, 3), np.uint8))
    assert load_named_folder(tmp_path, dataset).subjects.tolist() == [subject]
