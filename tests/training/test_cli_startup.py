"""A bad ``--set`` value or model name is answered before torch loads: one line, exit 2, well under a second
(the configs and their checks live in torch-free modules: training/config.py, training/models/configs.py)."""

from __future__ import annotations

import resource
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from sofp.training.models.configs import SofpConfig

SOFP_TRAIN = Path(sysconfig.get_path("scripts")) / "sofp-train"
CPU_LIMIT_S = 1.0  # the process's own CPU time: what a quiet machine's wall time comes to, whatever else runs
WALL_LIMIT_S = 5.0  # torch alone takes longer to import; the margin is for a loaded 2-core machine


def test_settings_and_configs_import_no_torch():
    code = ("import sys, sofp.training.settings, sofp.training.config, sofp.training.models, sofp.training.cli; "
            "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "lr=abc"], "error: --set lr=abc: lr is a number, got 'abc'"),
    (["--model", "vit"], "error: unknown model 'vit'; known: ensemble, sofp, ststnet"),
    (["--set", "model.heads=3"], "error: --set: sofp cannot be built with heads=3: dim 32 is not divisible by heads 3"),
    (["--set", "drop_hard=0.1", "--set", "epochs=10"],
     "error: --set: drop_epoch 10 is not below epochs 10: nothing would be dropped"),
])
def test_usage_error_is_one_fast_line(tmp_path, args, message):
    (tmp_path / "labels.csv").write_text("file,dataset,subject,sample,label,emotion\n"
                                         "a.png,casme2,sub01,EP01,0,negative\n")
    command = [str(SOFP_TRAIN)] if SOFP_TRAIN.exists() else [sys.executable, "-m", "sofp.training"]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    r = subprocess.run([*command, "loso", "--data", str(tmp_path), *args], capture_output=True, text=True, timeout=60)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert (r.returncode, r.stderr.splitlines(), r.stdout) == (2, [message], "")
    assert cpu < CPU_LIMIT_S and wall < WALL_LIMIT_S, f"{cpu:.2f} s CPU, {wall:.2f} s wall to refuse {args}"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"dim": 30, "heads": 4}, "dim 30 is not divisible by heads 4"),
    ({"encoder": "vit"}, "unknown encoder 'vit'; known: conv, maxpool"),
])
def test_sofp_config_refuses_impossible_combinations(overrides, message):
    with pytest.raises(ValueError, match=message):
        SofpConfig(**overrides)
