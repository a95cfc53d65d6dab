"""SIGTERM (``kill``, systemd, ``docker stop``) ends a stream like Ctrl-C: summary printed, events and
telemetry kept, the recording finalised and playable; exit 143 (130 for SIGINT)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _default_sigint() -> None:
    """The child handles SIGINT as a terminal would make it, even when this suite was started with SIGINT
    ignored (a background job of a non-interactive shell inherits SIG_IGN, and so would every child)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """3,000 frames (30 s at 100 frames/s) of 160 x 120 noise: longer than any test waits."""
    path = tmp_path_factory.mktemp("signals") / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 100.0, (160, 120))
    rng = np.random.default_rng(0)
    noise = rng.integers(90, 160, (8, 120, 160, 3), dtype=np.uint8)
    for i in range(3000):
        writer.write(noise[i % 8])
    writer.release()
    return path


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"),
                                                   (signal.SIGINT, 130, "interrupted")])
def test_signal_ends_the_stream_cleanly(long_video, tmp_path, sig, code, word):
    record, events, tel = tmp_path / "annotated.mp4", tmp_path / "events.jsonl", tmp_path / "tel.jsonl"
    proc = subprocess.Popen([sys.executable, "runtime/stream.py", "--video", str(long_video), "--record", str(record),
                             "--events", str(events), "--telemetry", str(tel)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 120
        while (not tel.exists() or tel.read_text().count("\n") < 31) and time.monotonic() < deadline:  # start + 30
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err
    summary_line = [ln for ln in err.splitlines() if ln.startswith(f"{word}: ")]
    assert len(summary_line) == 1, err[-2000:]
    n_frames = int(summary_line[0].split()[1])
    assert 30 <= n_frames < 3000
    assert events.exists()
    summary = json.loads(tel.read_text().splitlines()[-1])
    assert summary["type"] == "summary" and summary["interrupted"] and summary["terminated"] == (code == 143)
    cap = cv2.VideoCapture(str(record))  # finalised: the container's index ("moov atom") is written
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n_frames
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (120, 160, 3)
