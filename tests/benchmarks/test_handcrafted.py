"""The hand-crafted second opinion (benchmarks/handcrafted.py): its orientation histograms and its LOSO mix."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import handcrafted  # noqa: E402

from sofp.training.data.synthetic import make_synthetic_set  # noqa: E402


def test_hoof_puts_a_uniform_motion_in_its_direction_bin():
    uv = np.zeros((3, 2, 28, 28))
    uv[0, 0] = 1.0  # right: angle 0 -> bin 4 of 8 (bins start at -pi)
    uv[1, 1] = -1.0  # up in image coordinates: angle -pi/2 -> bin 2
    uv[2, 0, :14] = 1.0  # right in the top half only
    h = handcrafted.hoof(uv).reshape(3, 4, 4, 8)
    assert np.allclose(h[0, ..., 4], 1 / 16) and np.isclose(h[0].sum(), 1)
    assert np.allclose(h[1, ..., 2], 1 / 16)
    assert np.isclose(h[2, :2, :, 4].sum(), 1) and h[2, 2:].sum() == 0


def test_loso_mix_scores_the_stored_run_and_its_mix(tmp_path):
    data = make_synthetic_set(n_subjects=6, per_subject=10, seed=3)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), len(data))
    run = tmp_path / "run"
    run.mkdir()
    (run / "result.json").write_text(json.dumps({"predictions": {"index": list(range(len(data))),
                                                                 "probs": probs.tolist()}}))
    pred = {"index": list(range(len(data)))[::-1], "probs": probs[::-1].tolist()}  # another sample order
    (tmp_path / "p.json").write_text(json.dumps({"sofp": {"0": pred}}))
    runs = handcrafted.stored_runs([run], tmp_path / "p.json", "sofp")
    assert [name for name, _ in runs] == [str(run), "p.json sofp seed 0"]
    with pytest.raises(SystemExit, match="no model 'ststnet'"):
        handcrafted.stored_runs([], tmp_path / "p.json", "ststnet")
    rows = handcrafted.loso_rows(data, handcrafted.features(data, "none"), runs, "logreg", 0.25)
    assert [r["weight"] for r in rows] == [1.0, 0.0, 0.25, 0.0, 0.25]
    stored = handcrafted.scores(data.labels, probs, data.datasets, data.label_names)
    assert rows[1]["uf1"] == rows[3]["uf1"] == stored["uf1"] and rows[2]["uf1"] == rows[4]["uf1"]
    assert rows[0]["uf1"] > 0.9  # the synthetic classes move the face in different directions


def test_mirror_averaging_and_mirror_augmented_fitting_are_what_they_say():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = make_synthetic_set(n_subjects=6, per_subject=10, seed=3)
    x, xm = handcrafted.features(data, "none"), handcrafted.features(data, "none", mirrored=True)
    assert not np.allclose(x, xm)
    train, test = np.arange(40), np.arange(40, 60)
    plain = make_pipeline(StandardScaler(), handcrafted.CLASSIFIERS["logreg"]()).fit(x[train], data.labels[train])
    averaged = handcrafted.fit_predict("logreg", x, data.labels, train, test, xm)
    assert np.allclose(averaged, 0.5 * (plain.predict_proba(x[test]) + plain.predict_proba(xm[test])))
    both = make_pipeline(StandardScaler(), handcrafted.CLASSIFIERS["logreg"]()).fit(
        np.concatenate([x[train], xm[train]]), np.concatenate([data.labels[train]] * 2))
    augmented = handcrafted.fit_predict("logreg", x, data.labels, train, test, xm, augment=True)
    assert np.allclose(augmented, 0.5 * (both.predict_proba(x[test]) + both.predict_proba(xm[test])))


def test_a_partner_line_is_mixed_into_the_members_before_the_classifier():
    from sofp.training.loso import tuning_groups

    data = make_synthetic_set(n_subjects=8, per_subject=10, seed=4)
    order = np.concatenate(tuning_groups(data.subjects)).tolist()
    rng = np.random.default_rng(1)
    members, partner = rng.dirichlet(np.ones(3), (2, len(data))), rng.dirichlet(np.ones(3), (2, len(data)))
    sofp = {"name": "m", "heldout_index": order, "final_probs_per_seed": members.tolist()}
    other = {"name": "p", "heldout_index": order, "final_probs_per_seed": partner.tolist()}
    x = handcrafted.features(data, "none")
    alone, mixed = handcrafted.tuning_rows(data, x, sofp, "logreg", "none", (0.3,), partner=(other, 0.4))
    probs, y = np.asarray(alone["final_probs"]), data.labels[order]
    expected = [handcrafted.scores(y, 0.7 * (0.6 * members.mean(0) + 0.4 * p) + 0.3 * probs, data.datasets[order],
                                   data.label_names)["uf1"] for p in partner]
    assert mixed["name"] == "handcrafted-logreg-none+m+p" and mixed["uf1"] == pytest.approx(np.mean(expected))
    assert mixed["uf1_per_partner_seed"] == pytest.approx(expected)


def test_the_split_is_the_one_of_the_given_groups_and_a_line_of_another_split_is_refused():
    from sofp.training.loso import tuning_groups

    data = make_synthetic_set(n_subjects=8, per_subject=10, seed=4)
    probs = np.random.default_rng(1).dirichlet(np.ones(3), (2, len(data))).tolist()
    x = handcrafted.features(data, "none")
    for k in (4, 8):
        order = np.concatenate(tuning_groups(data.subjects, k=k)).tolist()
        line = {"name": "m", "heldout_index": order, "final_probs_per_seed": probs}
        alone, _ = handcrafted.tuning_rows(data, x, line, "logreg", "none", (0.3,), groups=k)
        assert alone["heldout_index"] == order and alone["groups"] == k
        with pytest.raises(SystemExit, match="not made on this tuning split"):
            handcrafted.tuning_rows(data, x, line, "logreg", "none", (0.3,), groups=12 - k)
