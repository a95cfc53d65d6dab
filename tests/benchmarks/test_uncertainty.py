"""The subject-level bootstrap (benchmarks/uncertainty.py): its scores are the package's, its draws are paired."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import uncertainty  # noqa: E402

from sofp.training.metrics import summarise  # noqa: E402

LABELS = ("negative", "positive", "surprise")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=40))
def test_macro_scores_are_the_packages_uf1_and_uar(pairs):
    true, pred = (np.array(col) for col in zip(*pairs, strict=True))
    ref = summarise(true, pred, LABELS)
    assert uncertainty.macro_scores(true, pred, 3) == pytest.approx((ref["uf1"], ref["uar"]))


def _predictions(tmp_path: Path, shipped_correct: float, ststnet_correct: float) -> Path:
    """A stored accuracy benchmark: 12 subjects of 8 samples, half of them SAMM; each model right on a share of
    samples, stored in another sample order than the index order."""
    rng = np.random.default_rng(0)
    n = 96
    subject = np.repeat([f"s{i:02d}" for i in range(12)], 8)
    dataset = np.where(np.arange(n) < 48, "samm", "casme2")
    true = rng.integers(0, 3, n)

    def run(correct: float, seed: int) -> dict:
        r = np.random.default_rng(seed)
        pred = np.where(r.random(n) < correct, true, (true + 1) % 3)
        order = r.permutation(n)
        return {"index": order.tolist(), "subject": subject[order].tolist(), "dataset": dataset[order].tolist(),
                "true": true[order].tolist(), "pred": pred[order].tolist()}

    floor = run(0.5, 9)
    stored = {"sofp": {"0": run(shipped_correct, 1), "1": run(shipped_correct, 2)},
              "ststnet": {"0": run(ststnet_correct, 3), "1": run(ststnet_correct, 4)},
              "logistic_floor": {"index": floor["index"], "pred": floor["pred"]}}
    path = tmp_path / "p_predictions.json"
    path.write_text(json.dumps(stored))
    return path


def test_the_point_figures_are_the_stored_runs_scores_and_the_differences_are_paired(tmp_path):
    samples, preds = uncertainty.load_runs(_predictions(tmp_path, 0.8, 0.6))
    rows = np.arange(96)
    point = uncertainty.figures(samples, preds, rows, 3)
    expected = np.mean([summarise(samples["true"], p, LABELS)["uf1"] for p in preds["sofp"]])
    assert point["sofp uf1"] == pytest.approx(expected)
    assert point["sofp - ststnet uf1"] == pytest.approx(point["sofp uf1"] - point["ststnet uf1"])
    # the same draw for every model: a model against itself differs by exactly 0 on every draw
    preds["ststnet"] = preds["sofp"]
    _, draws = uncertainty.bootstrap(samples, preds, 200, 0, 3)
    assert np.all(draws["sofp - ststnet uf1"] == 0) and draws["sofp uf1"].std() > 0


def test_a_perfect_model_has_a_point_interval_and_a_clearly_better_one_clears_the_margin(tmp_path):
    samples, preds = uncertainty.load_runs(_predictions(tmp_path, 1.0, 0.4))
    point, draws = uncertainty.bootstrap(samples, preds, 300, 0, 3)
    figs = uncertainty.intervals(point, draws, preds, samples, 0.95, 3)
    assert figs["sofp uf1"]["interval"] == [1.0, 1.0] and figs["sofp uf1"]["draws_at_or_above_target"] == 1.0
    assert figs["sofp - ststnet uf1"]["interval"][0] > 0.02 and figs["sofp - ststnet uf1"]["target"] == 0.02
    assert "target" not in figs["ststnet uf1"]  # a baseline's own level has no target


def test_the_command_writes_json_table_and_picture_and_refuses_a_file_that_is_not_predictions(tmp_path, capsys):
    path = _predictions(tmp_path, 0.8, 0.6)
    out = tmp_path / "res" / "u"
    assert uncertainty.main(["--predictions", str(path), "--resamples", "100", "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["subjects"] == 12 and result["samples"] == 96 and "seed_sd" in result["figures"]["sofp uf1"]
    assert "| sofp - ststnet uf1 |" in out.with_suffix(".md").read_text() and out.with_suffix(".png").stat().st_size
    # the same seed gives the same intervals
    again = tmp_path / "again"
    uncertainty.main(["--predictions", str(path), "--resamples", "100", "--out", str(again)])
    assert json.loads(again.with_suffix(".json").read_text())["figures"] == result["figures"]
    (tmp_path / "bad.json").write_text(json.dumps({"runs": []}))
    with pytest.raises(SystemExit, match="no 'sofp' predictions"):
        uncertainty.main(["--predictions", str(tmp_path / "bad.json"), "--out", str(out)])
    stored = json.loads(path.read_text())
    stored["ststnet"]["1"]["index"][0] = stored["ststnet"]["1"]["index"][1]  # one sample twice, another missing
    (tmp_path / "holes.json").write_text(json.dumps(stored))
    with pytest.raises(SystemExit, match="does not hold each of the 96 samples once"):
        uncertainty.main(["--predictions", str(tmp_path / "holes.json"), "--out", str(out)])
    (tmp_path / "fields.json").write_text(json.dumps({"sofp": {"0": {"index": [0]}}}))
    with pytest.raises(SystemExit, match="is not an accuracy benchmark's predictions"):
        uncertainty.main(["--predictions", str(tmp_path / "fields.json"), "--out", str(out)])
    with pytest.raises(SystemExit, match="cannot read predictions"):
        uncertainty.main(["--predictions", str(tmp_path / "missing.json"), "--out", str(out)])
