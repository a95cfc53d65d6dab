"""``python runtime/stream.py``: the demo runs end to end (small model, ONNX Runtime) and writes its events,
annotated video and trace PNG (exit codes of bad input: tests/test_exit_codes.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sofp.runtime.stream import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from sofp.training.checkpoint import save_checkpoint
    from sofp.training.models import build_model

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = {"dim": 16, "stem": 4, "heads": 2, "head_hidden": 16}
    path = tmp_path_factory.mktemp("model") / "small.pt"
    save_checkpoint(path, build_model("sofp", **config).eval(),
                    {"model_name": "sofp", "model_config": config, "labels": ["negative", "positive", "surprise"]})
    return path


def test_demo_end_to_end(small_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOFP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    tel = tmp_path / "tel.jsonl"
    assert main(["--demo", "--model", str(small_model), "--out", str(out), "--telemetry", str(tel)]) == 0
    captured = capsys.readouterr()
    assert "capabilities:" in captured.err and "inference  chosen onnxruntime" in captured.err
    assert len([line for line in captured.out.splitlines() if " frames " in line]) == 3  # one line per event
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert len(events) == 3
    result = json.loads((out / "demo_result.json").read_text())
    assert result["spotting"]["f1"] == 1.0
    assert (out / "motion_trace.png").stat().st_size > 10_000
    assert (out / "demo_annotated.mp4").stat().st_size > 10_000
    records = [json.loads(line) for line in tel.read_text().splitlines()]
    assert records[0]["type"] == "start" and records[0]["capabilities"]["inference"]["chosen"] == "onnxruntime"


def test_saved_demo_clip_spots_the_same_movements(small_model, tmp_path, monkeypatch, capsys):
    """``--save-clip`` writes the clean frames (MJPG at OpenCV's default quality); run again, the same three
    movements are spotted (F1 1.0 at IoU >= 0.5)."""
    from sofp.runtime.spotting import score_spotting

    monkeypatch.setenv("SOFP_CACHE", str(tmp_path / "cache"))
    clip = tmp_path / "clean.avi"
    assert main(["--demo", "--model", str(small_model), "--out", str(tmp_path / "demo"), "--save-clip", str(clip),
                 "--quiet"]) == 0
    truth = json.loads((tmp_path / "demo" / "demo_result.json").read_text())["truth"]
    assert main(["--video", str(clip), "--model", str(small_model), "--events", str(tmp_path / "again.jsonl"),
                 "--quiet"]) == 0
    again = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    score = score_spotting([(e["onset_frame"], e["offset_frame"]) for e in again],
                           [(t["onset"], t["offset"]) for t in truth])
    assert (score.tp, score.fp, score.fn) == (3, 0, 0)


def test_script_runs_from_the_repository_root(small_model, tmp_path):
    """``python runtime/stream.py`` as typed: runtime/ on sys.path[0] must not shadow anything."""
    env = {"SOFP_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    r = subprocess.run([sys.executable, "runtime/stream.py", "--demo", "--model", str(small_model), "--max-frames",
                        "30", "--out", str(tmp_path / "o"), "--events", str(tmp_path / "e.jsonl"),
                        "--backend", "torch", "--show"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "e.jsonl").exists()
    assert "--show: no $DISPLAY (headless machine); continuing without a window" in r.stderr
    assert "done: 30 frames" in r.stderr
