import numpy as np

from sofp.training.loso import _oracle_epochs
from sofp.training.metrics import summarise


def test_uf1_uar_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 1, 2, 1, 1, 2, 0])
    s = summarise(y, p, ("a", "b", "c"), np.array(["x"] * 4 + ["y"] * 4))
    # recalls: a 2/4, b 2/2, c 1/2 -> UAR 2/3; precisions: a 2/3, b 2/3, c 1/2
    f1 = [2 * (2 / 3 * 0.5) / (2 / 3 + 0.5), 2 * (2 / 3) / (2 / 3 + 1), 0.5]
    assert np.isclose(s["uar"], (0.5 + 1 + 0.5) / 3)
    assert np.isclose(s["uf1"], np.mean(f1))
    assert s["accuracy"] == 5 / 8
    assert s["confusion"] == [[2, 1, 1], [0, 2, 0], [1, 0, 1]]
    assert s["per_dataset"]["x"]["n"] == 4 and s["per_dataset"]["y"]["accuracy"] == 3 / 4


def test_absent_class_scores_zero():
    s = summarise(np.array([0, 0]), np.array([0, 0]), ("a", "b", "c"))
    assert np.isclose(s["uf1"], 1 / 3) and np.isclose(s["uar"], 1 / 3)


def test_oracle_picks_first_best_epoch():
    preds = np.array([[0, 0, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1]])
    assert _oracle_epochs(preds, np.array([1, 1, 1])) == 1
