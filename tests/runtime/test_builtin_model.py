"""The shipped built-in model: its ONNX graph is the export of the shipped checkpoint, and the default
runtime runs it without torch, ``sofp.training`` or ``sofp.export``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sofp.runtime.infer.base import builtin_checkpoint, builtin_onnx
from sofp.runtime.sidecar import file_sha256, read_sidecar

REGENERATE = ("python export/to_onnx.py --ckpt training/builtin/sofp_composite.pt --out runtime/builtin "
              "(README, 'The built-in model')")


def test_shipped_onnx_is_the_export_of_the_shipped_checkpoint():
    torch = pytest.importorskip("torch")
    from sofp.export.onnx_export import ort_session
    from sofp.training.checkpoint import load_checkpoint

    onnx_path, ckpt_path = builtin_onnx(), builtin_checkpoint()
    meta = read_sidecar(onnx_path, kind="onnx")  # also checks the graph's own hash
    assert meta["source"]["checkpoint_sha256"] == file_sha256(ckpt_path), f"stale built-in ONNX: run {REGENERATE}"
    ckpt = load_checkpoint(ckpt_path)
    assert meta["labels"] == ckpt.meta["labels"] and meta["role"] == "whole" and meta["precision"] == "fp32"
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.random((254, 3, 28, 28), dtype=np.float32),
                        np.zeros((1, 3, 28, 28), np.float32), np.ones((1, 3, 28, 28), np.float32)])
    got = ort_session(onnx_path).run(["logits"], {"input": x})[0]
    with torch.no_grad():
        ref = ckpt.model(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).max() <= 1e-5, f"built-in ONNX differs from the checkpoint: run {REGENERATE}"


def test_default_backend_runs_the_shipped_onnx_without_torch_or_exporter():
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from sofp.runtime.pipeline import Pipeline, PipelineConfig\n"
        "with Pipeline(PipelineConfig()) as pipe:\n"
        "    p = pipe.backend.predict(np.full((2, 3, 28, 28), 0.5, np.float32))\n"
        "    print(pipe.report['inference']['chosen'], pipe.backend.model_path.name, p.shape)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith(('sofp.training', "
        "'sofp.export'))))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["onnxruntime sofp_composite.onnx (2, 3)", "[]"]
