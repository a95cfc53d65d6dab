"""Spotting after lossy compression: a demo clip written with OpenCV's mp4v at its default quality.

The full measurement (5 encoders x 10 clips) is ``python benchmarks/compression.py``
(benchmarks/results/compression.md); this is one of its clips, through the same code. Before the
fix, this clip lost the first movement to a false face detection (a larger, less confident Haar box
on the astronaut's suit picked over the face) and, with the previous motion parameters (DIS ultrafast,
30 ms smoothing), gained a false positive from the codec's noise.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import compression  # noqa: E402

from sofp.runtime.demo_clip import make_demo_clip  # noqa: E402
from sofp.runtime.spotting import score_spotting  # noqa: E402


def test_mp4v_clip_keeps_every_movement(tmp_path):
    clip = make_demo_clip(seed=0)
    path = tmp_path / "mp4v_0.mp4"
    compression.encode([clip.frames[i] for i in range(len(clip.frames))], clip.fps, "mp4v", path)
    spotted, _ = compression.spot_file(path)
    truth = [(t.onset, t.offset) for t in clip.truth]
    score = score_spotting(spotted["shipped"], truth)
    assert (score.tp, score.fp, score.fn) == (3, 0, 0), f"spotted {spotted['shipped']}, truth {truth}"


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as exc:
        compression.main(["--seeds", "3", "--choice-seeds", "4"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        compression.main(["--codecs", "vp9"])
    assert exc.value.code == 2
