"""Every CLI's ``--help`` works under ``python -OO`` (docstrings stripped), as it does without it.

The parsers take their description from the module docstring, which -OO makes None; found by the type
checker (``"split" is not a known attribute of "None"``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cli", [["runtime/stream.py"], ["-m", "sofp.training"], ["export/to_onnx.py"],
                                 ["export/to_trt.py"]])
def test_help_under_optimise_2(cli):
    r = subprocess.run([sys.executable, "-OO", *cli, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage:"), r.stderr[-2000:]
