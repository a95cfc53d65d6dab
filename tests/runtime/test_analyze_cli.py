"""sofp-analyze end to end: inputs of every kind, the outputs of each video and of the run, resuming, a
corrupt video among good ones, usage errors, --quiet, and Ctrl-C / SIGTERM in the middle of a run."""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from analyze_clips import write_video

from sofp.runtime.analyze import main
from sofp.runtime.events import Event

REPO = Path(__file__).resolve().parents[2]


def _default_sigint() -> None:
    """The child handles SIGINT as a terminal would make it, even when this suite was started with SIGINT
    ignored (a background job of a non-interactive shell inherits SIG_IGN, and so would every child)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
EVENT_KEYS = set(Event(0, 1, 2, 0.0, 0.01, 0.02, "x", {"x": 1.0}, 0.1, (0, 0, 1, 1), 1.0).to_dict())


def _summary(out: Path) -> list[dict[str, str]]:
    with open(out / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_video_gets_its_outputs_and_a_row(analysed, short_clips):
    out, code = analysed
    assert code == 0
    rows = _summary(out)
    assert [Path(r["video"]).name for r in rows] == [c.path.name for c in short_clips]  # once each
    for i, (row, clip) in enumerate(zip(rows, short_clips, strict=True)):
        assert row["status"] == "done" and row["reason"] == ""
        assert row["subject"] == f"s{i:02d}" and row["session"] == f"interview {i}"  # manifest columns carried
        assert int(row["frames"]) == 125 and float(row["duration_s"]) == 2.5 and int(row["frames_without_face"]) == 0
        folder = out / "videos" / row["name"]
        events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
        assert len(events) == int(row["events"]) == 1
        assert sum(int(row[f"n_{lab}"]) for lab in ("negative", "positive", "surprise")) == 1
        assert set(events[0]) == EVENT_KEYS and events[0]["type"] == "event"
        assert int(row[f"n_{events[0]['label']}"]) == 1
        truth = clip.truth[0]
        assert events[0]["onset_frame"] <= truth.apex <= events[0]["offset_frame"]
        assert (folder / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page = (folder / "report.html").read_text()
        assert len(re.findall(r"<tr class=event>", page)) == 1
        srcs = re.findall(r'<img src="([^"]*)"', page)
        assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)  # self-contained
        assert "http" not in page.replace("http-equiv", "")
        assert json.loads((folder / "result.json").read_text())["row"]["status"] == "done"
    index = (out / "index.html").read_text()
    assert all((out / href).is_file() for href in re.findall(r'href="([^"]+)"', index))
    assert index.count("report.html") == 2


def test_a_second_run_skips_what_is_done_and_redoes_what_changed(analysed, short_clips, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(analysed[0], out)
    folder = short_clips[0].path.parent
    before = {r["video"]: r for r in _summary(out)}
    t0 = time.monotonic()
    assert main([str(folder), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    rows = _summary(out)
    assert [r["status"] for r in rows] == ["skipped", "skipped"]
    assert all(r["events"] == before[r["video"]]["events"] and r["report"] for r in rows)
    assert time.monotonic() - t0 < 60
    assert main([str(folder), "--out", str(out), "--quiet", "--workers", "1", "--spot", "k_on=8"]) == 0
    assert [r["status"] for r in _summary(out)] == ["done", "done"]  # other settings: analysed again
    copy = tmp_path / "in"
    copy.mkdir()
    shutil.copy(short_clips[0].path, copy / "clip0.avi")
    shutil.copy(short_clips[1].path, copy / "clip1.avi")
    out2 = tmp_path / "out2"
    assert main([str(copy), "--out", str(out2), "--quiet", "--workers", "1"]) == 0
    shutil.copy(short_clips[0].path, copy / "clip1.avi")  # other bytes under the same name
    assert main([str(copy), "--out", str(out2), "--quiet", "--workers", "1"]) == 0
    assert [r["status"] for r in _summary(out2)] == ["skipped", "done"]


def test_a_corrupt_video_is_a_failed_row_and_the_run_goes_on(short_clips, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    data = short_clips[1].path.read_bytes()
    (bad / "truncated.avi").write_bytes(data[: len(data) // 3])
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"video,subject\n{bad / 'garbage.mp4'},a\nmissing.avi,b\n{bad / 'truncated.avi'},c\n"
                        f"{short_clips[0].path},d\n")
    out = tmp_path / "out"
    assert main([str(manifest), "--out", str(out), "--quiet", "--workers", "2"]) == 1
    rows = {r["subject"]: r for r in _summary(out)}
    assert [rows[k]["status"] for k in "abcd"] == ["failed", "failed", "failed", "done"]
    assert "cannot read video" in rows["a"]["reason"]
    assert "not found" in rows["b"]["reason"]
    assert "truncated" in rows["c"]["reason"] or "ended at frame" in rows["c"]["reason"]
    assert all("\n" not in r["reason"] for r in rows.values())
    assert not (out / "videos" / "garbage").exists() and (out / "videos" / "clip0" / "report.html").is_file()


@pytest.mark.parametrize(("args", "needle"), [
    (["nowhere/*.mp4"], "matches no video"), (["missing.mp4"], "not found"),
    (["CLIPS", "--chunk-s", "5"], "--chunk-s"),
    (["CLIPS", "--workers", "0"], "--workers"), (["CLIPS", "--spot", "k_up=3"], "unknown spotting parameter"),
    (["CLIPS", "--spot", "k_on=1", "--spot", "k_off=2"], "k_on >= k_off"),
    (["CLIPS", "--model", "m.onnx"], "not found"), (["--ray", "CLIPS"], "not a Ray address"),
])
def test_usage_errors_are_one_line_and_exit_2(short_clips, tmp_path, capfd, args, needle):
    args = [str(short_clips[0].path.parent) if a == "CLIPS" else a for a in args]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err


def test_ray_missing_is_named(short_clips, tmp_path, capfd, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main([str(short_clips[0].path), "--ray", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "pip install 'sofp-edge[ray]'" in capfd.readouterr().err


def test_quiet_prints_nothing(short_clips, tmp_path, capfd):
    assert main([str(short_clips[0].path), "--out", str(tmp_path / "o"), "--quiet", "--workers", "1"]) == 0
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_counts_videos_and_frames(short_clips, tmp_path):
    proc = subprocess.run([sys.executable, "runtime/analyze.py", str(short_clips[0].path.parent), "--out",
                           str(tmp_path / "o"), "--workers", "2"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "videos 2/2" in proc.stderr and "250/250" in proc.stderr and "frame/s" in proc.stderr
    assert "done: 2 videos (2 done), 2 events" in proc.stderr


@pytest.fixture(scope="module")
def faceless(tmp_path_factory) -> Path:
    """3,000 frames (30 s at 100 frames/s) of 160 x 120 noise: seconds of work after the first clip."""
    noise = np.random.default_rng(0).integers(90, 160, (8, 120, 160, 3), dtype=np.uint8)
    return write_video(tmp_path_factory.mktemp("noise") / "long.avi", 100.0, (noise[i % 8] for i in range(3000)))


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"),
                                                   (signal.SIGINT, 130, "interrupted")])
def test_a_signal_leaves_finished_videos_complete_and_the_summary_valid(short_clips, faceless, tmp_path, sig, code,
                                                                          word):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "runtime/analyze.py", str(short_clips[0].path), str(faceless),
                             str(short_clips[1].path), "--out", str(out), "--workers", "1", "--chunk-s", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            if (out / "summary.csv").exists() and next(r["status"] for r in _summary(out)) == "done":
                break
            time.sleep(0.1)
        time.sleep(0.5)  # the long video is being analysed now
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err and f"{word}: 3 videos (1 done, 2 interrupted)" in err, err  # all of it, if not
    rows = _summary(out)
    assert [r["status"] for r in rows] == ["done", "interrupted", "interrupted"]
    folder = out / "videos" / rows[0]["name"]
    assert json.loads((folder / "result.json").read_text())["row"]["status"] == "done"
    assert (folder / "report.html").read_text().rstrip().endswith("</html>")
    assert sorted(p.name for p in (out / "videos").iterdir()) == [rows[0]["name"]]  # nothing half-written
