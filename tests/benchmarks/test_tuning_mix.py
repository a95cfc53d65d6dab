"""Mixes of stored runs (benchmarks/tuning_mix.py): the LOSO pair mix is the ensemble's own formula."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import tuning_mix  # noqa: E402

from sofp.training.data.synthetic import make_synthetic_set  # noqa: E402
from sofp.training.metrics import summarise  # noqa: E402


def _run(folder: Path, probs: np.ndarray, order: np.ndarray) -> None:
    folder.mkdir(parents=True)
    pred = {"index": order.tolist(), "probs": probs[order].tolist()}  # stored in fold order, not sample order
    (folder / "result.json").write_text(json.dumps({"predictions": pred, "perturbed_probs": {"shift": pred["probs"]}}))


def test_loso_rows_mix_the_members_mean_with_the_partner(tmp_path):
    data = make_synthetic_set(n_subjects=6, per_subject=10, seed=3)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    members = [rng.dirichlet(np.ones(3), len(data)) for _ in range(2)]
    partner = rng.dirichlet(np.ones(3), len(data))
    for m, probs in enumerate(members):
        _run(tmp_path / "ens" / f"member{m}", probs, order)
    _run(tmp_path / "partner", partner, order)
    row, = tuning_mix.loso_rows(data, [tmp_path / "ens"], [tmp_path / "partner"], 0.4, "cmd")
    mixed = 0.6 * (members[0] + members[1]) / 2 + 0.4 * partner
    expected = summarise(data.labels, mixed.argmax(-1), data.label_names)
    assert row["uf1"] == pytest.approx(expected["uf1"]) and row["uar"] == pytest.approx(expected["uar"])
    assert row["label_kept"] == {"shift": 1.0}  # the perturbed probabilities here are the plain ones


def test_a_missing_run_is_one_line(tmp_path):
    data = make_synthetic_set(n_subjects=6, per_subject=10, seed=3)
    with pytest.raises(SystemExit, match="no member"):
        tuning_mix.loso_rows(data, [tmp_path], [tmp_path], 0.4, "cmd")


def test_a_joined_partner_averages_the_same_seed_of_each_line():
    order = [2, 0, 1]
    a = np.random.default_rng(1).dirichlet(np.ones(3), (2, 3))
    b = np.random.default_rng(2).dirichlet(np.ones(3), (2, 3))
    lines = [{"name": n, "heldout_index": order, "final_probs_per_seed": p.tolist()} for n, p in (("a", a), ("b", b))]
    np.testing.assert_allclose(tuning_mix._partner_probs(lines, "a+b", order), (a + b) / 2)
    np.testing.assert_allclose(tuning_mix._partner_probs(lines, "a", order), a)
    lines.append({"name": "c", "heldout_index": order, "final_probs_per_seed": a[:1].tolist()})
    with pytest.raises(SystemExit, match="same number of seeds"):
        tuning_mix._partner_probs(lines, "a+c", order)
    # members joined with + are every seed of both lines, whatever their seed counts
    np.testing.assert_allclose(tuning_mix._member_probs(lines, "a+c", order), np.concatenate([a, a[:1]]))
    np.testing.assert_allclose(tuning_mix._member_probs(lines, "b", order), b)


def test_the_member_sweep_takes_each_sofp_line_of_this_split_with_three_seeds_once():
    order = [2, 0, 1]
    probs = np.random.default_rng(1).dirichlet(np.ones(3), (3, 3)).tolist()
    lines = [
        {"name": "a", "set": {}, "heldout_index": order, "final_probs_per_seed": probs[:2]},  # replaced below
        {"name": "st", "set": {"model": "ststnet"}, "heldout_index": order, "final_probs_per_seed": probs},
        {"name": "other-split", "set": {}, "heldout_index": [0, 1, 2], "final_probs_per_seed": probs},
        {"name": "two-seeds", "set": {}, "heldout_index": order, "final_probs_per_seed": probs[:2]},
        {"name": "a+st", "weight": 0.4, "uf1_final": 0.7},  # a mix row: no probabilities
        {"name": "a", "set": {"model": "sofp"}, "heldout_index": order, "final_probs_per_seed": probs},
    ]
    assert tuning_mix._sofp_lines(lines, order) == ["a"]


def test_the_class_offset_corrects_a_shifted_class_and_cross_validation_chooses_without_the_scored_group():
    names = ("a", "b", "c")
    y = np.repeat([0, 1, 2], 20)
    base = np.eye(3)[y] * 0.5 + 0.1
    probs = base * [1, 1, 8]  # class 2 pushed up: classes 0 and 1 are predicted as 2 until the offset lowers it
    assert summarise(y, probs.argmax(-1), names)["uf1"] < 0.5
    b, uf1 = tuning_mix.best_bias(probs, y, names)
    assert uf1 == 1.0 and b[0] == 0.0 and b[2] - b[1] < 0  # the offset corrects the shift
    groups = np.tile([0, 1], 30)
    assert tuning_mix.cross_validated_bias(probs, y, groups, names) == 1.0  # the shift is the same in both groups
    flipped = np.where((groups == 1)[:, None], base * [1, 1, 1 / 8], probs)  # group 1 shifted the other way
    assert tuning_mix.cross_validated_bias(flipped, y, groups, names) < tuning_mix.best_bias(flipped, y, names)[1]
