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


# --- A functional stand-in for the TensorRT Python API + CUDA, so the name-based build/run code paths
# --- execute here: "device memory" is host memory reached through raw pointers, "engines" run ONNX Runtime.

import ctypes  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402

_HOLD: dict[int, ctypes.Array] = {}


def _host_alloc(nbytes: int) -> int:
    buf = ctypes.create_string_buffer(max(int(nbytes), 1))
    _HOLD[ctypes.addressof(buf)] = buf
    return ctypes.addressof(buf)


def _read(ptr: int, shape: tuple, dtype=np.float32) -> np.ndarray:
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer((ctypes.c_char * n).from_address(ptr), dtype=dtype).reshape(shape).copy()


class FakeCudart:
    """cuda-python's runtime module: (err, value) tuples, pointers as ints."""

    cudaError_t = SimpleNamespace(cudaSuccess=0)
    cudaMemcpyKind = SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)

    def __init__(self) -> None:
        self.freed: list[int] = []
        self.streams = 0  # created and not yet destroyed

    def cudaStreamCreate(self):
        self.streams += 1
        return (0, 77)

    def cudaStreamDestroy(self, s):
        self.streams -= 1
        return (0,)

    def cudaStreamSynchronize(self, s):
        return (0,)

    def cudaMalloc(self, n):
        return (0, _host_alloc(n))

    def cudaFree(self, p):
        self.freed.append(p)
        return (0,)

    def cudaMemcpyAsync(self, dst, src, n, kind, stream):
        ctypes.memmove(dst, src, n)
        return (0,)

    def cudaGetDeviceCount(self):
        return (0, 1)

    def cudaGetDeviceProperties(self, i):
        return (0, SimpleNamespace(name=b"Fake GPU\x00", major=8, minor=7))


class FakePycudaDriver:
    """pycuda.driver: allocations convert to int, async copies take (dest, src, stream)."""

    class _Alloc:
        def __init__(self, n: int) -> None:
            self.ptr = _host_alloc(n)

        def __int__(self) -> int:
            return self.ptr

        def free(self) -> None:
            pass

    class Stream:
        handle = 99

        def synchronize(self) -> None:
            pass

    class Device:
        def __init__(self, i: int) -> None:
            pass

        @staticmethod
        def count() -> int:
            return 1

        def retain_primary_context(self):
            return SimpleNamespace(push=lambda: None, pop=lambda: None)

        def name(self) -> str:
            return "Fake GPU"

        def compute_capability(self):
            return (8, 7)

    def init(self) -> None:
        pass

    def mem_alloc(self, n):
        return self._Alloc(n)

    def memcpy_htod_async(self, dst, src, stream):
        ctypes.memmove(int(dst), src.ctypes.data, src.nbytes)

    def memcpy_dtoh_async(self, dst, src, stream):
        ctypes.memmove(dst.ctypes.data, int(src), dst.nbytes)


class _Parser:
    def __init__(self, network, logger) -> None:
        self.network = network
        self.errors: list[str] = []

    def parse_from_file(self, path: str) -> bool:
        from sofp.export import trt_ops
        from sofp.export.onnx_checks import op_inventory

        model = onnx.load(path)
        bad = trt_ops.unsupported_ops(set(op_inventory(model)), "trt10")
        if bad:
            self.errors = [f"In node 0 (importFallbackPluginImporter): UNSUPPORTED_NODE: No importer for op {bad[0]}"]
            return False
        self.network.path = path
        for vi in model.graph.input:
            shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim)
            self.network._inputs.append(SimpleNamespace(name=vi.name, shape=shape))
        return True

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    def get_error(self, i: int) -> str:
        return self.errors[i]


class _Builder(FakeBuilder):
    def __init__(self, trt) -> None:
        self.trt = trt
        self.flags_seen: list[int] = []

    def create_network(self, flags: int):
        self.flags_seen.append(flags)
        net = FakeNetwork({})
        net.path = None
        return net

    def create_builder_config(self):
        cfg = FakeConfig()
        cfg.get_timing_cache = lambda: getattr(cfg, "_cache", None)
        orig = cfg.create_timing_cache

        def create(blob):
            cfg._cache = orig(blob)
            return cfg._cache

        cfg.create_timing_cache = create
        return cfg

    def build_serialized_network(self, network, config):
        cal = config.int8_calibrator
        if "INT8" in config.flags and cal is not None and cal.read_calibration_cache() is None:
            bs = cal.get_batch_size()
            if config.calibration_profile is not None:  # TensorRT reads the calibration profile's batch
                batches = {shapes[0][0] for shapes in config.calibration_profile.shapes.values()}
                assert batches == {bs}, f"calibrator feeds {bs} rows, calibration profile has {batches}"
            names = [network.get_input(i).name for i in range(network.num_inputs)]
            seen = 0
            while (ptrs := cal.get_batch(names)) is not None:
                for p in ptrs:
                    assert np.isfinite(_read(p, (bs, 3, 28, 28))).all()
                seen += bs
            cal.write_calibration_cache(f"CACHE:{seen}".encode())
        self.trt.built.append((network.path, sorted(config.flags)))
        return memoryview(b"FAKEPLAN:" + network.path.encode())


class _Context:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.shapes: dict[str, tuple] = {}
        self.addr: dict[str, int] = {}

    def set_input_shape(self, name, shape) -> bool:
        self.shapes[name] = tuple(shape)
        return True

    def _run(self, feeds):
        return dict(zip([o.name for o in self.engine.sess.get_outputs()], self.engine.sess.run(None, feeds),
                        strict=True))

    def get_tensor_shape(self, name):
        zeros = {k: np.zeros(v, np.float32) for k, v in self.shapes.items()}
        return self._run(zeros)[name].shape

    def set_tensor_address(self, name, ptr) -> bool:
        self.addr[name] = ptr
        return True

    def execute_async_v3(self, stream_handle) -> bool:
        assert isinstance(stream_handle, int)
        feeds = {k: _read(self.addr[k], v) for k, v in self.shapes.items()}
        for name, arr in self._run(feeds).items():
            arr = np.ascontiguousarray(arr, np.float32)
            ctypes.memmove(self.addr[name], arr.ctypes.data, arr.nbytes)
        return True


class _Engine:
    def __init__(self, plan: bytes) -> None:
        from sofp.export.onnx_export import ort_session

        self.sess = ort_session(bytes(plan).decode()[len("FAKEPLAN:"):])
        self.names = [i.name for i in self.sess.get_inputs()] + [o.name for o in self.sess.get_outputs()]
        self.n_in = len(self.sess.get_inputs())

    @property
    def num_io_tensors(self) -> int:
        return len(self.names)

    def get_tensor_name(self, i: int) -> str:
        return self.names[i]

    def get_tensor_mode(self, name: str) -> str:
        return "INPUT" if self.names.index(name) < self.n_in else "OUTPUT"

    def get_tensor_dtype(self, name: str) -> str:
        return "FLOAT"

    def create_execution_context(self):
        return _Context(self)


def functional_trt(version: str = "10.3.0", fp16_flag: bool = True) -> SimpleNamespace:
    """A ``tensorrt`` stand-in whose builder parses ONNX (ops checked against the 10.x list) and whose
    engines run ONNX Runtime behind raw device pointers."""
    trt = fake_trt(version, fp16_flag=fp16_flag)

    class Logger:
        WARNING = 2

        def __init__(self, severity=None) -> None:
            self.severity = severity

    class IInt8EntropyCalibrator2:
        def __init__(self) -> None:
            pass

    trt.built = []
    trt.Logger = Logger
    trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    trt.TensorIOMode = SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    trt.nptype = lambda dtype: np.float32
    trt.Builder = lambda logger: _Builder(trt)
    trt.OnnxParser = _Parser
    trt.Runtime = lambda logger: SimpleNamespace(deserialize_cuda_engine=_Engine)
    return trt
