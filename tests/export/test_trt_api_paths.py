"""The TensorRT build/run code executed end to end against a functional stand-in of the TensorRT Python
API and of cuda-python / pycuda (host memory behind raw pointers; "engines" run ONNX Runtime).

This checks our call sequence (parse, configure, build_serialized_network, named I/O, set_input_shape,
set_tensor_address, execute_async_v3, pointer copies, INT8 calibrator, timing cache) without a GPU.
It does not check TensorRT itself: that needs a machine with TensorRT (test_tensorrt_gpu.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from export_fakes import FakeCudart, FakePycudaDriver, functional_trt

import sofp.runtime.infer.trt_runner as trt_run
from sofp.export.onnx_export import ort_session, run_ort
from sofp.export.sidecar import read_sidecar
from sofp.export.trt_build import BuildSettings
from sofp.export.trt_export import TrtExportConfig, export_trt
from sofp.runtime.errors import SofpError


@pytest.fixture(params=["cuda-python", "pycuda"])
def cuda(request, monkeypatch):
    if request.param == "cuda-python":
        rt = FakeCudart()
        monkeypatch.setattr(trt_run, "_cudart", lambda: rt)
    else:
        monkeypatch.setattr(trt_run, "_cudart", lambda: None)
        monkeypatch.setattr(trt_run, "_pycuda", lambda: FakePycudaDriver())
    return request.param


def test_build_and_run_through_the_api(small_ckpt, tmp_path, cuda):
    trt = functional_trt()
    cache = tmp_path / "timing.cache"
    settings = BuildSettings(min_batch=1, opt_batch=4, max_batch=8, timing_cache=cache)
    res = export_trt(TrtExportConfig(ckpt=small_ckpt, out_dir=tmp_path, settings=settings, parity_n=20), trt=trt)
    (engine,) = res.engines
    meta = read_sidecar(engine, kind="tensorrt")
    assert meta["device"]["gpu"] == "Fake GPU" and meta["device"]["compute_capability"] == "8.7"
    assert ".fake-gpu.trt10.3.0." in engine.name
    assert meta["parity"]["passed"] and meta["parity"]["outputs"]["logits"]["max_abs"] < 1e-6
    assert trt.built[0][1] == ["FP16"] and cache.read_bytes() == b"TC:"
    # the runner on its own, through raw pointers, batch sizes inside the profile
    runner = trt_run.TrtRunner(trt, engine.read_bytes())
    x = np.random.default_rng(2).random((3, 3, 28, 28), dtype=np.float32)
    with runner:
        got = runner.infer({"input": x})
    want = run_ort(ort_session(tmp_path / "small_sofp.onnx"), {"input": x})
    np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-6)


def test_int8_calibrates_from_images_and_reuses_cache(small_ckpt, tmp_path, cuda):
    rt = trt_run._cudart()
    import cv2

    calib = tmp_path / "calib"
    calib.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        cv2.imwrite(str(calib / f"{i:03d}.png"), rng.integers(0, 256, (28, 28, 3), dtype=np.uint8))
    settings = BuildSettings(precision="int8", calib_dir=calib, calib_batch=8, min_batch=1, opt_batch=8,
                             max_batch=16)
    trt = functional_trt()
    res = export_trt(TrtExportConfig(ckpt=small_ckpt, out_dir=tmp_path, settings=settings, parity_n=32), trt=trt)
    cache = tmp_path / "small_sofp.int8.calib"
    assert cache.read_bytes() == b"CACHE:40"  # 5 batches of 8 went through get_batch
    if rt is not None:  # the calibrator's and the parity runner's CUDA streams are destroyed
        assert rt.streams == 0
    meta = read_sidecar(res.engines[0], kind="tensorrt")
    assert meta["precision"] == "int8" and meta["build"]["cache_key"]["calibration_sha256"]
    assert trt.built[0][1] == ["FP16", "INT8"]


@pytest.mark.parametrize("profile", [(20, 24, 32), (1, 2, 4), (1, 1, 1)])
def test_int8_calibrator_feeds_the_calibration_profile_batch(small_ckpt, tmp_path, cuda, profile):
    """min batch above / max batch below the calibration batch (16): the calibrator feeds the clamped batch."""
    import cv2

    calib = tmp_path / "calib"
    calib.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        cv2.imwrite(str(calib / f"{i:03d}.png"), rng.integers(0, 256, (28, 28, 3), dtype=np.uint8))
    mn, opt, mx = profile
    settings = BuildSettings(precision="int8", calib_dir=calib, min_batch=mn, opt_batch=opt, max_batch=mx)
    assert settings.calib_batch == 16 and settings.calibration_batch == min(max(16, mn), mx)
    export_trt(TrtExportConfig(ckpt=small_ckpt, out_dir=tmp_path, settings=settings, parity_n=mx), trt=functional_trt())
    used = 40 // settings.calibration_batch * settings.calibration_batch
    assert (tmp_path / "small_sofp.int8.calib").read_bytes() == f"CACHE:{used}".encode()


def test_parser_rejection_is_one_line(tmp_path, cuda, monkeypatch):
    import sofp.export.trt_export as trt_export
    from sofp.export import trt_ops

    # a graph the (fake) parser refuses although the static list let it through
    monkeypatch.setattr(trt_ops, "target_for_version", lambda v: "trt10")
    trt = functional_trt()
    trt.OnnxParser = type("P", (), {
        "__init__": lambda self, n, lg: None, "parse_from_file": lambda self, p: False, "num_errors": 1,
        "get_error": lambda self, i: "UNSUPPORTED_NODE: Einsum\nmore"})
    from sofp.export.trt_build import build_engine

    with pytest.raises(SofpError, match=r"rejected .*UNSUPPORTED_NODE: Einsum \(1 error") as info:
        build_engine(trt, tmp_path / "m.onnx", BuildSettings())
    assert "\n" not in str(info.value)
    assert trt_export.PARITY_N >= 1000
