"""sofp-analyze --ray: the same tasks as Ray tasks on a local instance the run starts itself give the same
events as the local pool, for whole videos and for a video cut into chunks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sofp.runtime.analysis.run import AnalyzeConfig, run_analysis

pytest.importorskip("ray", reason="Ray is not installed (pip install 'sofp-edge[ray]')")


def _events(out: Path) -> dict[str, list[dict]]:
    found = {}
    for folder in sorted((out / "videos").iterdir()):
        lines = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
        found[folder.name] = [{k: v for k, v in e.items() if k != "latency_ms"} for e in lines]  # timing aside
    return found


def test_ray_gives_the_local_pool_s_events(short_clips, six_movements, tmp_path):
    inputs = (str(short_clips[0].path.parent), str(six_movements.path))
    local = AnalyzeConfig(inputs, out=str(tmp_path / "local"), workers=2, chunk_s=3.0, quiet=True)
    assert run_analysis(local) == 0
    on_ray = AnalyzeConfig(inputs, out=str(tmp_path / "ray"), workers=2, ray="", chunk_s=3.0, quiet=True)
    assert run_analysis(on_ray) == 0
    got, want = _events(tmp_path / "ray"), _events(tmp_path / "local")
    assert got == want and len(got["six"]) >= 5
    rows = (tmp_path / "ray" / "summary.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[3].split(",")[rows[0].split(",").index("chunks")] == "3"  # 8 s cut in 3
