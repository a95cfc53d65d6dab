"""Settings -> TensorRT builder configuration, checked against a recording fake (no TensorRT here)."""

from __future__ import annotations

import pytest
from export_fakes import FakeBuilder, FakeConfig, FakeNetwork, fake_trt

from sofp.export.trt_build import BuildSettings, configure, is_strongly_typed, network_flags, save_timing_cache
from sofp.runtime.errors import UsageError

NET = {"input": (-1, 3, 28, 28)}


def _run(settings: BuildSettings, trt=None, config=None, net=NET, calibrator=None):
    trt = trt or fake_trt()
    config = config or FakeConfig()
    done = configure(trt, FakeBuilder(), FakeNetwork(net), config, settings.validate(), calibrator)
    return config, done


def test_fp16_default_mapping():
    config, done = _run(BuildSettings())
    assert config.flags == {"FP16"}
    assert ("pool", "WORKSPACE", 1024 << 20) in config.calls
    (profile,) = config.profiles
    assert profile.shapes["input"] == ((1, 3, 28, 28), (8, 3, 28, 28), (32, 3, 28, 28))
    assert config.default_device_type == "GPU" and not done.strongly_typed


def test_fp32_sets_no_precision_flag_and_old_workspace_api():
    config = FakeConfig(modern=False)
    _run(BuildSettings(precision="fp32", workspace_mb=64), config=config)
    assert config.flags == set()
    assert config.max_workspace_size == 64 << 20


def test_int8_sets_flags_calibrator_and_calibration_profile(tmp_path):
    calib = object()
    config, _ = _run(BuildSettings(precision="int8", calib_dir=tmp_path, calib_batch=64), calibrator=calib)
    assert config.flags == {"FP16", "INT8"}
    assert config.int8_calibrator is calib
    # calibration batch clamped into the profile (max 32), static
    assert config.calibration_profile.shapes["input"] == ((32, 3, 28, 28),) * 3


def test_int8_refused_without_implicit_calibration(tmp_path):
    with pytest.raises(UsageError, match="Q/DQ"):
        _run(BuildSettings(precision="int8", calib_dir=tmp_path), trt=fake_trt(int8=False))


def test_strongly_typed_tensorrt_gets_no_fp16_flag():
    trt = fake_trt("11.0.0", fp16_flag=False)
    config, done = _run(BuildSettings(), trt=trt)
    assert done.strongly_typed and is_strongly_typed(trt)
    assert "FP16" not in config.flags
    assert network_flags(trt, True) == (1 << 0) | (1 << 1)
    assert network_flags(fake_trt(), False) == 1


def test_dla_core_with_gpu_fallback_and_static_profile():
    config, _ = _run(BuildSettings(dla_core=1, min_batch=4, opt_batch=4, max_batch=4))
    assert config.default_device_type == "DLA" and config.DLA_core == 1
    assert "GPU_FALLBACK" in config.flags
    assert config.profiles[0].shapes["input"] == ((4, 3, 28, 28),) * 3


def test_dla_core_that_does_not_exist():
    with pytest.raises(UsageError, match="2 DLA core"):
        _run(BuildSettings(dla_core=2, min_batch=1, opt_batch=1, max_batch=1))


def test_timing_cache_reused_and_saved(tmp_path):
    path = tmp_path / "t.cache"
    config, done = _run(BuildSettings(timing_cache=path))
    assert ("create_timing_cache", b"") in config.calls
    assert ("set_timing_cache", b"", False) in config.calls
    path.write_bytes(b"old")
    config, done = _run(BuildSettings(timing_cache=path))
    assert ("create_timing_cache", b"old") in config.calls
    config.get_timing_cache = lambda: done.timing_cache
    save_timing_cache(config, path)
    assert path.read_bytes() == b"TC:old"


def test_multi_input_profile_and_static_batch():
    net = {"g": (-1, 9, 16), "tl": (-1, 9, 16)}
    config, _ = _run(BuildSettings(min_batch=2, opt_batch=4, max_batch=8), net=net)
    assert config.profiles[0].shapes["tl"] == ((2, 9, 16), (4, 9, 16), (8, 9, 16))
    with pytest.raises(UsageError, match="static batch of 4"):
        _run(BuildSettings(), net={"input": (4, 3, 28, 28)})
    config, _ = _run(BuildSettings(min_batch=4, opt_batch=4, max_batch=4), net={"input": (4, 3, 28, 28)})
    assert config.profiles == []
    with pytest.raises(UsageError, match="beyond the batch"):
        _run(BuildSettings(), net={"input": (-1, 3, -1, 28)})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"precision": "bf16"}, "choose one of"),
        ({"min_batch": 8, "opt_batch": 4}, "min <= opt <= max"),
        ({"workspace_mb": 0}, "positive size"),
        ({"dla_core": 0, "precision": "fp32", "min_batch": 1, "opt_batch": 1, "max_batch": 1}, "fp16 or int8"),
        ({"dla_core": 0}, "static shapes"),
        ({"precision": "int8"}, "needs --calib"),
        ({"precision": "fp16", "calib_cache": "x.calib"}, "int8 only"),
    ],
)
def test_conflicting_settings_refused(kwargs, match):
    with pytest.raises(UsageError, match=match):
        BuildSettings(**kwargs).validate()
