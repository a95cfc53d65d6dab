"""Videos for the sofp-analyze tests: clips of the demo face with known micro-movements (demo_clip.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sofp.runtime.demo_clip import TruthEvent, make_demo_clip
from sofp.runtime.overlay import VideoRecorder


@dataclass(frozen=True)
class Clip:
    path: Path
    fps: float
    truth: list[TruthEvent]


def write_video(path: Path, fps: float, frames: Iterable[np.ndarray]) -> Path:
    """BGR frames to a video file (.avi: MJPG)."""
    rec = VideoRecorder(path, fps)
    for frame in frames:
        rec.write(frame)
    rec.close()
    return path


def render_clip(path: Path, seed: int, fps: float, duration_s: float, kinds: tuple[str, ...]) -> Clip:
    """A 320 x 240 MJPG .avi of the astronaut face with one injected movement per kind."""
    clip = make_demo_clip(seed=seed, fps=fps, duration_s=duration_s, kinds=kinds, size=(320, 240))
    return Clip(write_video(path, clip.fps, clip.frames), clip.fps, list(clip.truth))
