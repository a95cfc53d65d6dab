"""The trtexec equivalent of a build."""

from __future__ import annotations

import shlex

from sofp.export.trt_build import BuildSettings
from sofp.export.trtexec import trtexec_command

X = {"input": (-1, 3, 28, 28)}


def test_fp16_dynamic():
    cmd = trtexec_command("m.onnx", "m.engine", BuildSettings(), X)
    assert shlex.split(cmd) == [
        "trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", "--fp16", "--minShapes=input:1x3x28x28",
        "--optShapes=input:8x3x28x28", "--maxShapes=input:32x3x28x28", "--memPoolSize=workspace:1024",
    ]


def test_int8_dla_timing_cache_and_multi_input(tmp_path):
    cache = tmp_path / "c.calib"
    cache.write_bytes(b"x")
    s = BuildSettings(precision="int8", calib_cache=cache, dla_core=0, min_batch=1, opt_batch=1, max_batch=1,
                      timing_cache=tmp_path / "t.cache", workspace_mb=None)
    parts = shlex.split(trtexec_command("f.onnx", "f.engine", s, {"g": (-1, 9, 16), "tl": (-1, 9, 16)}))
    assert "--int8" in parts and "--fp16" in parts and f"--calib={cache}" in parts
    assert "--useDLACore=0" in parts and "--allowGPUFallback" in parts
    assert f"--timingCacheFile={tmp_path / 't.cache'}" in parts
    assert "--minShapes=g:1x9x16,tl:1x9x16" in parts
    assert not any(p.startswith("--memPoolSize") for p in parts)


def test_strongly_typed_and_static():
    parts = shlex.split(trtexec_command("m.fp16.onnx", "e", BuildSettings(min_batch=4, opt_batch=4, max_batch=4),
                                        {"input": (4, 3, 28, 28)}, strongly_typed=True))
    assert "--stronglyTyped" in parts and "--fp16" not in parts
    assert not any("Shapes" in p for p in parts)


def test_paths_with_spaces_are_quoted(tmp_path):
    cmd = trtexec_command("my model.onnx", "out dir/m.engine", BuildSettings(), X)
    assert shlex.split(cmd)[1] == "--onnx=my model.onnx"
