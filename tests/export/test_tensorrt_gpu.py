"""Real TensorRT: build a small FP16 engine and run it against ONNX Runtime. Skips without TensorRT + GPU."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None,
                                reason="TensorRT is not installed (it cannot be installed on the dev/CI machines)")


def test_engine_builds_runs_and_passes_parity(small_ckpt, tmp_path):
    from sofp.export.trt_build import BuildSettings
    from sofp.export.trt_export import TrtExportConfig, export_trt
    from sofp.runtime.errors import UsageError
    from sofp.runtime.infer.trt_runner import device_info

    try:
        device_info()
    except UsageError as exc:
        pytest.skip(str(exc))
    res = export_trt(TrtExportConfig(ckpt=small_ckpt, out_dir=tmp_path,
                                     settings=BuildSettings(min_batch=1, opt_batch=4, max_batch=8), parity_n=32))
    (engine,) = res.engines
    assert engine.stat().st_size > 0
