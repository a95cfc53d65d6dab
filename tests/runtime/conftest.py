"""Clips with known micro-movements for the sofp-analyze tests, rendered once per session."""

from __future__ import annotations

import shutil

import pytest
from analyze_clips import Clip, render_clip

from sofp.runtime.analyze import main as analyze_main
from sofp.runtime.demo_clip import KINDS


@pytest.fixture(scope="session")
def short_clips(tmp_path_factory) -> list[Clip]:
    """Two 2.5 s clips at 50 frames/s, one movement each, in one folder."""
    folder = tmp_path_factory.mktemp("clips")
    return [render_clip(folder / f"clip{i}.avi", i, 50.0, 2.5, (KINDS[i],)) for i in range(2)]


@pytest.fixture(scope="session")
def six_movements(tmp_path_factory) -> Clip:
    """8 s at 50 frames/s with six movements (400 frames): room for several cuts on movements."""
    return render_clip(tmp_path_factory.mktemp("long") / "six.avi", 3, 50.0, 8.0, KINDS * 2)


@pytest.fixture(scope="session")
def analysed(short_clips, tmp_path_factory):
    """One run over a folder, a glob and a manifest naming the same clips (each analysed once)."""
    base = tmp_path_factory.mktemp("run")
    folder = short_clips[0].path.parent
    manifest = base / "sessions.csv"
    manifest.write_text("path,subject,session\n" + "".join(
        f"{c.path.name},s{i:02d},interview {i}\n" for i, c in enumerate(short_clips)))
    shutil.copy(manifest, folder / "sessions.csv")
    out = base / "out"
    code = analyze_main([str(folder / "sessions.csv"), str(folder), str(folder / "*.avi"), "--out", str(out),
                 "--workers", "2", "--quiet"])
    return out, code
