"""The hand-crafted second opinion (benchmarks/handcrafted.py): its orientation histograms and its LOSO mix."""

import json
import sys
from pathlib import Path

import numpy as np

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
    rows = handcrafted.loso_rows(data, handcrafted.features(data, "none"), runs, "logreg", 0.25)
    assert [r["weight"] for r in rows] == [1.0, 0.0, 0.25, 0.0, 0.25]
    stored = handcrafted.scores(data.labels, probs, data.datasets, data.label_names)
    assert rows[1]["uf1"] == rows[3]["uf1"] == stored["uf1"] and rows[2]["uf1"] == rows[4]["uf1"]
    assert rows[0]["uf1"] > 0.9  # the synthetic classes move the face in different directions
