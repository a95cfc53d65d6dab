"""benchmarks/gpu_check.py: every step probed; on a machine without a GPU every step is skipped with its reason;
a step that fails (in its own process) is recorded and the next one still runs."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402


def _has_gpu() -> bool:
    return any(probe() is None for probe in gpu_check.PROBES.values())


def test_every_step_has_a_probe_and_a_runner():
    assert set(gpu_check.PROBES) == set(gpu_check.RUN) == set(gpu_check.STEPS)


def test_cpu_machine_skips_every_step_with_its_reason(tmp_path):
    import pytest

    if _has_gpu():
        pytest.skip("a GPU path is present here: the report would not be all skips")
    out = tmp_path / "report.json"
    lines: list[str] = []
    report = gpu_check.run_check(gpu_check.STEPS, out, None, lines.append)
    assert json.loads(out.read_text()) == report
    assert list(report["steps"]) == list(gpu_check.STEPS)
    assert report["summary"] == {"passed": 0, "failed": 0, "skipped": len(gpu_check.STEPS)}
    for name, step in report["steps"].items():
        assert step["status"] == "skipped" and step["reason"], name
    assert "no CUDA GPU" in report["steps"]["torch-cuda-train"]["reason"] or "not installed" in \
        report["steps"]["torch-cuda-train"]["reason"]
    assert "tensorrt is not installed" in report["steps"]["to-trt-fp16"]["reason"]
    assert "has no CUDA" in report["steps"]["opencv-cuda-flows"]["reason"]
    assert len(lines) == len(gpu_check.STEPS) + 1


def test_a_failing_step_is_recorded_and_the_next_runs(tmp_path, monkeypatch):
    """torch-tvl1-cuda forced to run on a machine without CUDA: its process fails, the report says why, and
    opencv-cuda-flows after it is still probed and reported."""
    import pytest

    if gpu_check.PROBES["torch-tvl1-cuda"]() is None:
        pytest.skip("CUDA is present: the step would pass")
    monkeypatch.setitem(gpu_check.PROBES, "torch-tvl1-cuda", lambda: None)
    report = gpu_check.run_check(("torch-tvl1-cuda", "opencv-cuda-flows"), tmp_path / "r.json", None, lambda m: None)
    step = report["steps"]["torch-tvl1-cuda"]
    assert step["status"] == "failed" and step["error"] and "wall_s" in step
    assert report["steps"]["opencv-cuda-flows"]["status"] in ("skipped", "passed", "failed")
    assert gpu_check.main(["--steps", "nope", "--out", str(tmp_path / "x.json")]) == 2
