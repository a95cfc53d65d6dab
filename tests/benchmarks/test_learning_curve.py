"""The learning curve (benchmarks/learning_curve.py): its mix is the ensemble's formula, and a re-run resumes."""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import learning_curve  # noqa: E402

from sofp.training.data.synthetic import make_synthetic_set  # noqa: E402
from sofp.training.loso import tuning_groups  # noqa: E402
from sofp.training.metrics import summarise  # noqa: E402


def _data():
    data = make_synthetic_set(n_subjects=6, per_subject=10, seed=3)
    return dataclasses.replace(data, datasets=np.where(np.arange(len(data)) % 3 == 0, "samm", "casme2"))


def _runs(data, k: int, seeds: int = 2) -> dict:
    order = np.concatenate(tuning_groups(data.subjects, k=k)).tolist()
    rng = np.random.default_rng(k)
    return {name: {"heldout_index": order, "probs_per_seed": rng.dirichlet(np.ones(3), (seeds, len(data))).tolist(),
                   "train_subjects_mean": 6 * (k - 1) / k, "seconds": 1.0} for name in ("members", "partner")}


def test_the_mix_is_the_members_ensemble_with_each_partner_seed_at_the_weight():
    data = _data()
    runs = _runs(data, 2)
    s = learning_curve.score(data, runs, 0.4)
    order = np.asarray(runs["members"]["heldout_index"])
    members = np.mean(runs["members"]["probs_per_seed"], axis=0)
    mixed = [0.6 * members + 0.4 * np.asarray(p) for p in runs["partner"]["probs_per_seed"]]
    expected = [summarise(data.labels[order], m.argmax(-1), data.label_names)["uf1"] for m in mixed]
    assert s["mix_per_seed"] == pytest.approx(expected) and s["mix"] == pytest.approx(np.mean(expected))
    assert s["members_ensemble"] == pytest.approx(
        summarise(data.labels[order], members.argmax(-1), data.label_names)["uf1"])


def test_the_fit_recovers_a_known_line_in_log_subjects():
    points = [{"train_subjects_mean": n, "mix": 0.6 + 0.02 * np.log2(n)} for n in (16, 32, 64)]
    fit = learning_curve.mix_fit(points)
    assert fit["per_doubling"] == pytest.approx(0.02) and fit["subjects_at_075"] == pytest.approx(2 ** 7.5)


def test_a_rerun_trains_nothing_already_stored_and_writes_the_table_and_the_picture(tmp_path, monkeypatch):
    data = _data()
    out = tmp_path / "curve.json"
    out.write_text(json.dumps({"seeds": [0, 1], "runs": {"2": _runs(data, 2), "3": _runs(data, 3)}}))
    monkeypatch.setattr(learning_curve, "load_flowset", lambda _path: data)

    def no_training(*_args):
        raise AssertionError("a stored split was trained again")

    monkeypatch.setattr(learning_curve, "train_split", no_training)
    assert learning_curve.main(["--data", "x", "--groups", "2", "3", "--seeds", "0", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["scores"]) == {"2", "3"} and out.with_suffix(".png").stat().st_size > 0
    assert "| K = 2 |" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):  # other seeds would mix two experiments in one file
        learning_curve.main(["--data", "x", "--groups", "2", "--seeds", "5", "--out", str(out)])
