"""Per-sample agreement of stored models (benchmarks/hard_samples.py): orders, shapes and counts."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import hard_samples  # noqa: E402


def test_split_predictions_are_put_back_in_sample_order_and_other_splits_skipped():
    order = [2, 0, 1]
    probs = [[[0.1, 0.9, 0.0], [1.0, 0.0, 0.0], [0.0, 0.2, 0.8]]]  # held-out order: samples 2, 0, 1
    lines = [{"name": "a", "heldout_index": order, "final_probs_per_seed": probs},
             {"name": "other split", "heldout_index": [0, 1, 2], "final_probs_per_seed": probs},
             {"name": "mix row", "uf1_final": 0.7}]
    names, preds, mean = hard_samples.split_predictions(lines, order)
    assert names == ["a#0"] and preds.tolist() == [[0, 2, 1]]
    np.testing.assert_allclose(mean[2], [0.1, 0.9, 0.0])
    with pytest.raises(SystemExit, match="no tuning-split line"):
        hard_samples.split_predictions(lines[1:], order)


def test_loso_predictions_read_both_stored_shapes_and_refuse_gaps():
    stored = {"sofp": {"0": {"index": [1, 0, 2], "pred": [2, 1, 0]}}, "floor": {"index": [0, 1, 2], "pred": [0, 0, 0]}}
    names, preds = hard_samples.loso_predictions(stored, 3)
    assert names == ["sofp#0", "floor#-"] and preds.tolist() == [[1, 2, 0], [0, 0, 0]]
    with pytest.raises(SystemExit, match="does not cover"):
        hard_samples.loso_predictions({"x": {"index": [0], "pred": [1]}}, 3)


def test_rarely_right_counts_per_dataset_and_class():
    labels = np.array([0, 0, 1, 1])
    datasets = np.array(["a", "b", "a", "b"])
    preds = np.array([[0, 1, 1, 0]] * 9 + [[0, 0, 1, 1]])  # sample 1 and 3: right in 1 of 10 models
    share = {"pool": hard_samples.right_share(preds, labels)}
    np.testing.assert_allclose(share["pool"], [1.0, 0.1, 1.0, 0.1])
    share["strict"] = np.array([1.0, 0.05, 1.0, 0.0])
    rows = {(r["dataset"], r["class"]): r for r in hard_samples.breakdown(share, labels, datasets, ["n", "p"])}
    assert rows[("b", "all")]["rarely_right"] == {"pool": 0, "strict": 2}  # 0.1 is not below 0.1
    assert rows[("b", "all")]["rarely_right_all"] == 0
    assert rows[("all", "all")]["n"] == 4 and rows[("a", "n")]["n"] == 1
