"""The tuning split's chart (benchmarks/tuning_chart.py): which lines it draws, and that it draws them."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import tuning_chart  # noqa: E402


def test_draws_trained_lines_only_the_last_of_each_name(tmp_path):
    lines = [{"name": "full-rerun", "uf1_final_per_seed": [0.70, 0.71]},
             {"name": "a", "uf1_final_per_seed": [0.60]},
             {"name": "a", "uf1_final_per_seed": [0.65, 0.66]},
             {"name": "handcrafted-logreg-none", "uf1": 0.7, "weight": 1.0}]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("\n".join(json.dumps(ln) for ln in lines) + "\n")
    assert tuning_chart.trained_rows(lines) == {"full-rerun": [0.70, 0.71], "a": [0.65, 0.66]}
    out = tmp_path / "t.png"
    assert tuning_chart.main(["--jsonl", str(jsonl), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_or_empty_results_are_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no tuning results"):
        tuning_chart.main(["--jsonl", str(tmp_path / "none.jsonl")])
    empty = tmp_path / "e.jsonl"
    empty.write_text(json.dumps({"name": "x", "uf1": 0.5}) + "\n")
    with pytest.raises(SystemExit, match="no trained configuration"):
        tuning_chart.main(["--jsonl", str(empty), "--out", str(tmp_path / "e.png")])
