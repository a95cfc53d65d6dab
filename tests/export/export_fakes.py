"""A stand-in for the ``tensorrt`` module that records builder-configuration calls (no GPU needed)."""

from __future__ import annotations

from types import SimpleNamespace


class FakeProfile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def set_shape(self, name, mn, opt, mx) -> None:
        self.shapes[name] = (tuple(mn), tuple(opt), tuple(mx))


class FakeConfig:
    int8_calibrator = None

    def __init__(self, modern: bool = True) -> None:
        self.calls: list[tuple] = []
        self.flags: set[str] = set()
        self.profiles: list[FakeProfile] = []
        self.calibration_profile = None
        self.default_device_type = "GPU"
        self.DLA_core = -1
        if modern:
            self.set_memory_pool_limit = lambda pool, n: self.calls.append(("pool", pool, n))

    def set_flag(self, flag) -> None:
        self.flags.add(flag)

    def add_optimization_profile(self, p) -> int:
        self.profiles.append(p)
        return len(self.profiles) - 1

    def set_calibration_profile(self, p) -> None:
        self.calibration_profile = p

    def create_timing_cache(self, blob: bytes):
        self.calls.append(("create_timing_cache", blob))
        return SimpleNamespace(blob=blob, serialize=lambda: b"TC:" + blob)

    def set_timing_cache(self, cache, ignore_mismatch) -> bool:
        self.calls.append(("set_timing_cache", cache.blob, ignore_mismatch))
        return True


class FakeBuilder:
    num_DLA_cores = 2

    def create_optimization_profile(self) -> FakeProfile:
        return FakeProfile()


class FakeNetwork:
    def __init__(self, inputs: dict[str, tuple]) -> None:
        self._inputs = [SimpleNamespace(name=n, shape=s) for n, s in inputs.items()]

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    def get_input(self, i):
        return self._inputs[i]


def fake_trt(version: str = "10.3.0", fp16_flag: bool = True, int8: bool = True) -> SimpleNamespace:
    flags = {"GPU_FALLBACK": "GPU_FALLBACK"}
    if fp16_flag:
        flags["FP16"] = "FP16"
    if int8:
        flags["INT8"] = "INT8"
    return SimpleNamespace(
        __version__=version,
        BuilderFlag=SimpleNamespace(**flags),
        MemoryPoolType=SimpleNamespace(WORKSPACE="WORKSPACE"),
        DeviceType=SimpleNamespace(DLA="DLA", GPU="GPU"),
        NetworkDefinitionCreationFlag=SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1),
    )
