"""The LOSO ablation table (benchmarks/ablations.py): stored rows are reused only with the same settings, and
the verdict follows the issue's rule (a component earns its place when removing it costs more than the spread)."""

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import ablations  # noqa: E402

from sofp.training.config import TrainConfig  # noqa: E402
from sofp.training.data.synthetic import make_synthetic_set  # noqa: E402
from sofp.training.metrics import summarise  # noqa: E402

DATA = make_synthetic_set(n_subjects=6, per_subject=10, seed=3)


def _row(seed: int, uf1: float) -> ablations.SeedRow:
    return ablations.SeedRow(seed, uf1, uf1, {"synth": {"uf1": uf1, "uar": uf1}}, None, "test")


def _stored(seeds: list[int], ablation_config: dict) -> tuple[dict, dict, dict[int, np.ndarray]]:
    """An accuracy.py report and its predictions file: member-0 scores per seed, and no_sym_loss runs."""
    rng = np.random.default_rng(1)
    datasets = sorted(set(DATA.datasets.tolist()))
    member0 = {"seeds": seeds, "label_kept": {"flow_noise": 0.9},
               "honest": {"uf1": [0.7 + 0.01 * s for s in seeds], "uar": [0.75] * len(seeds),
                          "per_dataset": {ds: {"uf1": [0.6] * len(seeds), "uar": [0.6] * len(seeds)}
                                          for ds in datasets}}}
    preds, table = {}, {}
    for s in seeds:
        pred = np.where(rng.random(len(DATA)) < 0.7, DATA.labels, rng.integers(0, 3, len(DATA)))
        order = rng.permutation(len(DATA))
        preds[s] = pred
        table[str(s)] = {"index": order.tolist(), "true": DATA.labels[order].tolist(), "pred": pred[order].tolist()}
    report = {"models": {"sofp": {"config": TrainConfig().to_dict(), "member0": member0}},
              "ablations": {"no_sym_loss": {"config": ablation_config, "seeds": seeds, "label_kept": {"x": 1.0}}}}
    return report, {"no_sym_loss": table}, preds


def test_stored_rows_recompute_predictions_and_skip_other_settings():
    variants = {ablations.FULL: ablations.MEMBER, "no_sym_loss": ablations.ABLATIONS["no_sym_loss"]}
    report, predictions, preds = _stored([0, 1], ablations.ABLATIONS["no_sym_loss"].to_dict())
    rows = ablations.stored_rows(report, predictions, DATA, variants, "stored.json")
    assert set(rows) == {("full", 0), ("full", 1), ("no_sym_loss", 0), ("no_sym_loss", 1)}
    assert rows["full", 1].uf1 == pytest.approx(0.71) and rows["full", 1].label_kept is None  # a 2-seed mean
    expected = summarise(DATA.labels, preds[1], DATA.label_names, DATA.datasets)
    assert rows["no_sym_loss", 1].uf1 == pytest.approx(expected["uf1"])
    synth = expected["per_dataset"]["synth"]
    assert rows["no_sym_loss", 1].per_dataset["synth"]["uar"] == pytest.approx(synth["uar"])

    other = replace(ablations.ABLATIONS["no_sym_loss"], epochs=3).to_dict()  # measured with other settings
    report, predictions, _ = _stored([0], other)
    rows = ablations.stored_rows(report, predictions, DATA, variants, "stored.json")
    assert set(rows) == {("full", 0)} and rows["full", 0].label_kept == {"flow_noise": 0.9}  # one seed: its own


def test_stored_predictions_of_another_set_are_one_line():
    variants = {"no_sym_loss": ablations.ABLATIONS["no_sym_loss"]}
    report, predictions, _ = _stored([0], ablations.ABLATIONS["no_sym_loss"].to_dict())
    predictions["no_sym_loss"]["0"]["true"] = [(t + 1) % 3 for t in predictions["no_sym_loss"]["0"]["true"]]
    with pytest.raises(ablations.UsageError, match="other labels"):
        ablations.stored_rows(report, predictions, DATA, variants, "stored.json")


def test_verdicts_follow_the_spread_rule():
    rows = {
        ablations.FULL: [_row(0, 0.72), _row(1, 0.72), _row(2, 0.73)],
        "no_global_branch": [_row(0, 0.70), _row(1, 0.70), _row(2, 0.705)],  # -0.0217, pooled spread 0.0070
        "no_cross_attention": [_row(0, 0.722), _row(1, 0.715), _row(2, 0.73)],  # -0.001: does not earn
        "with_strain": [_row(0, 0.75), _row(1, 0.76), _row(2, 0.74)],  # +0.027 > spread: should be added
        "with_cross_attention": [_row(0, 0.725), _row(1, 0.72), _row(2, 0.73)],  # +0.0017: stays out
        "no_sym_loss": [_row(0, 0.60)],  # one seed
    }
    v = ablations.verdicts(rows)
    assert v["no_global_branch"]["verdict"] == "earns its place"
    assert v["no_global_branch"]["delta_uf1_mean"] == pytest.approx(-0.065 / 3)
    pooled = np.sqrt(np.mean([np.var([r.uf1 for r in rows[k]], ddof=1) for k in rows if k != "no_sym_loss"]))
    assert ablations.seed_spread(rows) == pytest.approx(pooled) and v["no_global_branch"]["spread"] == pooled
    assert v["no_cross_attention"]["verdict"].startswith("does not earn its place")
    assert v["with_strain"]["verdict"] == "the default should add it"
    assert v["with_cross_attention"]["verdict"].startswith("left out by default")
    assert v["no_sym_loss"]["verdict"].startswith("not decided") and v["no_sym_loss"]["seeds"] == [0]


def test_a_report_from_stored_rows_alone_trains_nothing(tmp_path, monkeypatch, capsys):
    report, predictions, _ = _stored([0, 1], ablations.ABLATIONS["no_sym_loss"].to_dict())
    (tmp_path / "acc.json").write_text(json.dumps(report))
    (tmp_path / "acc_predictions.json").write_text(json.dumps(predictions))
    monkeypatch.setattr(ablations, "load_flowset", lambda _path: DATA)
    monkeypatch.setattr(ablations, "run_loso", lambda *a, **k: pytest.fail("a stored row was trained again"))
    out = tmp_path / "out"
    assert ablations.main(["--data", "x", "--seeds", "0", "1", "--only", "no_sym_loss", "--stored",
                           str(tmp_path / "acc.json"), "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    written = json.loads((out / "ablations_composite.json").read_text())
    assert written["ablations"]["no_sym_loss"]["seeds"] == [0, 1]
    assert written["label_kept"] == {"full": {"flow_noise": 0.9}}  # the report's 2-seed mean; the rows' are unknown
    assert (out / "ablations_composite.png").stat().st_size > 0
    assert "| no_sym_loss | drops L_sym | [0, 1] |" in (out / "ablations_composite.md").read_text()


@pytest.mark.parametrize("argv,match", [
    (["--only", "no_wings"], "unknown ablation(s) no_wings"),
    (["--stored", "/nonexistent/acc.json"], "--stored: cannot read"),
])
def test_bad_usage_is_one_line(argv, match, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ablations, "load_flowset", lambda _path: DATA)
    assert ablations.main(["--data", "x", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and match in err
