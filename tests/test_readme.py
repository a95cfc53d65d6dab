"""The README's two commands: the main job installs no torch, and .ci/run runs exactly the test command."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> tuple[str, str]:
    """The first two code blocks under "Two commands on a fresh machine": (main job, tests)."""
    section = (ROOT / "README.md").read_text().split("## Two commands on a fresh machine", 1)[1].split("\n## ", 1)[0]
    blocks = [b.strip() for b in re.findall(r"```\n(.*?)```", section, flags=re.S)]
    assert len(blocks) == 2 and all("\n" not in b for b in blocks), blocks
    return blocks[0], blocks[1]


def test_main_job_installs_no_torch():
    main_job, _ = _commands()
    assert main_job.startswith("pip install -e . && ") and "torch" not in main_job and "[" not in main_job
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in dependencies if re.match(r"(torch|onnx|scikit-learn)\b", d)]


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = _commands()
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[-1] == tests
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in tests
    # an install editors and the type checker resolve, and the type check before the tests (README, "Development")
    assert 'pip install -e ".[dev]" --config-settings editable_mode=strict && pyright && python -m pytest' in tests
