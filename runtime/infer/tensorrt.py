"""TensorRT backend: a plain TensorRT plan (``*.engine``) and its sidecar, as written by export/to_trt.py.

Uses the name-based API of TensorRT >= 8.5 (the only one in 10.x): ``deserialize_cuda_engine``,
named I/O tensors (``num_io_tensors``, ``get_tensor_name``, ``get_tensor_mode``),
``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``. Host buffers are pinned
(page-locked), device buffers are allocated once for the largest batch the engine's profile
allows, and every call runs on one CUDA stream. CUDA memory goes through cuda-python or, when
that is absent, pycuda.

An engine only runs on the GPU model and TensorRT version it was built with: the sidecar records
both and a mismatch is refused with one line before deserialising.

NOT RUN ON REAL HARDWARE: no machine this was written on has TensorRT. The logic around the
TensorRT calls (sidecar checks, batch planning, buffer bookkeeping) is tested with fakes.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import INPUT_SPEC
from sofp.runtime.infer.base import (
    InferenceBackend,
    check_batch,
    check_labels,
    model_kind,
    resolve_model,
    softmax,
)


def _version3(v: str | None) -> str:
    return ".".join(str(v or "").split(".")[:3])


def check_engine_target(meta: dict, path: str | Path, *, tensorrt_version: str, gpu_name: str,
                        compute_capability: str) -> None:
    """Refuse (one line) an engine whose sidecar names another TensorRT version or another GPU."""
    built_trt = (meta.get("versions") or {}).get("tensorrt")
    if built_trt and _version3(built_trt) != _version3(tensorrt_version):
        raise UsageError(
            f"{path} was built with TensorRT {built_trt}, this machine has {tensorrt_version}; "
            "rebuild it here with python export/to_trt.py"
        )
    device = meta.get("device") or {}
    built_cc = str(device.get("compute_capability") or "")
    if built_cc and built_cc != compute_capability:
        raise UsageError(
            f"{path} was built for a GPU of compute capability {built_cc} ({device.get('gpu')}), "
            f"this one is {compute_capability} ({gpu_name}); rebuild it here with python export/to_trt.py"
        )
    built_gpu = device.get("gpu")
    if built_gpu and str(built_gpu).strip().lower() != gpu_name.strip().lower():
        raise UsageError(
            f"{path} was built on {built_gpu}, this GPU is {gpu_name}; rebuild it here with python export/to_trt.py"
        )


def plan_batches(n: int, min_batch: int, max_batch: int) -> list[tuple[int, int, int]]:
    """Split ``n`` rows into engine calls: (start, rows used, batch run), padding up to ``min_batch``."""
    out = []
    start = 0
    while start < n:
        rows = min(max_batch, n - start)
        out.append((start, rows, max(rows, min_batch)))
        start += rows
    return out


class _CudaPython:
    """CUDA runtime calls through cuda-python (``cuda.bindings.runtime`` or the older ``cuda.cudart``)."""

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart
        self.rt = cudart

    def _call(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise SofpError(f"CUDA call failed: {err}")
        return rest[0] if len(rest) == 1 else rest

    def device(self) -> tuple[str, str]:
        props = self._call(self.rt.cudaGetDeviceProperties(0))
        name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        return name.strip("\x00 "), f"{props.major}.{props.minor}"

    def stream(self) -> Any:
        return self._call(self.rt.cudaStreamCreate())

    def stream_handle(self, stream: Any) -> int:
        return int(stream)

    def host(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, Any]:
        nbytes = int(np.prod(shape)) * dtype.itemsize
        ptr = self._call(self.rt.cudaMallocHost(nbytes))
        ctype = np.ctypeslib.as_ctypes_type(dtype)
        arr = np.ctypeslib.as_array(ctypes.cast(int(ptr), ctypes.POINTER(ctype)), shape)
        return arr, ptr

    def device_alloc(self, nbytes: int) -> Any:
        return self._call(self.rt.cudaMalloc(nbytes))

    def ptr(self, dev: Any) -> int:
        return int(dev)

    def htod(self, dev: Any, host: np.ndarray, nbytes: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self.rt.cudaMemcpyAsync(dev, host.ctypes.data, nbytes, kind, stream))

    def dtoh(self, host: np.ndarray, dev: Any, nbytes: int, stream: Any) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self.rt.cudaMemcpyAsync(host.ctypes.data, dev, nbytes, kind, stream))

    def sync(self, stream: Any) -> None:
        self._call(self.rt.cudaStreamSynchronize(stream))

    def free(self, host_ptrs: list[Any], dev_ptrs: list[Any], stream: Any) -> None:
        for p in host_ptrs:
            self.rt.cudaFreeHost(p)
        for p in dev_ptrs:
            self.rt.cudaFree(p)
        if stream is not None:
            self.rt.cudaStreamDestroy(stream)


class _PyCuda:
    """The same calls through pycuda (``pycuda.autoinit`` makes the context)."""

    def __init__(self) -> None:
        import pycuda.autoinit  # noqa: F401
        import pycuda.driver as cuda

        self.cuda = cuda

    def device(self) -> tuple[str, str]:
        dev = self.cuda.Device(0)
        major, minor = dev.compute_capability()
        return dev.name(), f"{major}.{minor}"

    def stream(self) -> Any:
        return self.cuda.Stream()

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def host(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, Any]:
        arr = self.cuda.pagelocked_empty(shape, dtype)
        return arr, arr

    def device_alloc(self, nbytes: int) -> Any:
        return self.cuda.mem_alloc(nbytes)

    def ptr(self, dev: Any) -> int:
        return int(dev)

    def htod(self, dev: Any, host: np.ndarray, nbytes: int, stream: Any) -> None:
        self.cuda.memcpy_htod_async(dev, host, stream)

    def dtoh(self, host: np.ndarray, dev: Any, nbytes: int, stream: Any) -> None:
        self.cuda.memcpy_dtoh_async(host, dev, stream)

    def sync(self, stream: Any) -> None:
        stream.synchronize()

    def free(self, host_ptrs: list[Any], dev_ptrs: list[Any], stream: Any) -> None:
        for d in dev_ptrs:
            d.free()


def cuda_api() -> _CudaPython | _PyCuda:
    """cuda-python when importable, else pycuda; one line naming both when neither is."""
    errors = []
    for cls in (_CudaPython, _PyCuda):
        try:
            return cls()
        except ImportError as exc:
            errors.append(str(exc))
    raise UsageError("TensorRT buffers need cuda-python or pycuda: " + "; ".join(errors)
                     + "; install sofp-edge[tensorrt]")


class TensorRTBackend(InferenceBackend):
    """``predict`` through a deserialised TensorRT engine on one CUDA stream."""

    name = "tensorrt"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        try:
            import tensorrt as trt
        except ImportError as exc:
            return False, f"tensorrt is not installed ({exc})"
        for mod in ("cuda.bindings.runtime", "cuda.cudart", "pycuda.driver"):
            try:
                __import__(mod)
                return True, f"TensorRT {trt.__version__}, buffers via {mod.split('.')[0]}"
            except ImportError:
                continue
        return False, "tensorrt is installed but neither cuda-python nor pycuda is"

    def __init__(self, model: str | Path | None = None, **_: Any) -> None:
        import tensorrt as trt

        from sofp.runtime.sidecar import read_sidecar

        if model is None:
            raise UsageError("the tensorrt backend needs --model ENGINE (build one with python export/to_trt.py)")
        path = resolve_model(model)
        if model_kind(path) != "tensorrt":
            raise UsageError(f"the tensorrt backend needs an engine (.engine/.plan), got {path}")
        meta = read_sidecar(path, kind="tensorrt", input_spec=INPUT_SPEC)
        self.labels = check_labels(meta.get("labels"), path)
        self.meta = meta
        self.model_path = path
        self.cuda = cuda_api()
        gpu, cc = self.cuda.device()
        check_engine_target(meta, path, tensorrt_version=trt.__version__, gpu_name=gpu, compute_capability=cc)

        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise SofpError(f"TensorRT could not deserialise {path}; rebuild it with python export/to_trt.py")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise UsageError(f"{path} has inputs {inputs} and outputs {outputs}; expected one of each")
        self.input_name, self.output_name = inputs[0], outputs[0]
        in_shape = tuple(self.engine.get_tensor_shape(self.input_name))
        if in_shape[0] == -1:  # dynamic batch: the optimisation profile bounds it
            lo, _opt, hi = self.engine.get_tensor_profile_shape(self.input_name, 0)
            self.min_batch, self.max_batch = int(lo[0]), int(hi[0])
        else:
            self.min_batch = self.max_batch = int(in_shape[0])
        self.in_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self.input_name)))
        self.out_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self.output_name)))
        classes = len(self.labels)

        self.stream = self.cuda.stream()
        self.host_in, h_in = self.cuda.host((self.max_batch, 3, 28, 28), self.in_dtype)
        self.host_out, h_out = self.cuda.host((self.max_batch, classes), self.out_dtype)
        self.dev_in = self.cuda.device_alloc(self.host_in.nbytes)
        self.dev_out = self.cuda.device_alloc(self.host_out.nbytes)
        self._host_ptrs, self._dev_ptrs = [h_in, h_out], [self.dev_in, self.dev_out]
        self.context.set_tensor_address(self.input_name, self.cuda.ptr(self.dev_in))
        self.context.set_tensor_address(self.output_name, self.cuda.ptr(self.dev_out))
        self.description = (
            f"{path.name} on {gpu} (TensorRT {trt.__version__}, batch {self.min_batch}..{self.max_batch})"
        )

    def predict(self, batch: np.ndarray) -> np.ndarray:
        context = self.context
        if context is None:
            raise SofpError(f"the TensorRT backend of {self.model_path.name} is closed; create a new one")
        x = check_batch(batch)
        out = np.empty((x.shape[0], len(self.labels)), np.float32)
        for start, rows, run in plan_batches(x.shape[0], self.min_batch, self.max_batch):
            self.host_in[:rows] = x[start : start + rows]
            if run > rows:
                self.host_in[rows:run] = 0
            context.set_input_shape(self.input_name, (run, 3, 28, 28))
            n_in = run * 3 * 28 * 28 * self.in_dtype.itemsize
            n_out = run * len(self.labels) * self.out_dtype.itemsize
            self.cuda.htod(self.dev_in, self.host_in, n_in, self.stream)
            if not context.execute_async_v3(self.cuda.stream_handle(self.stream)):
                raise SofpError(f"TensorRT execution failed for {self.model_path.name}")
            self.cuda.dtoh(self.host_out, self.dev_out, n_out, self.stream)
            self.cuda.sync(self.stream)
            out[start : start + rows] = softmax(np.asarray(self.host_out[:rows], np.float32))
        return out

    def close(self) -> None:
        if getattr(self, "cuda", None) is not None and getattr(self, "_dev_ptrs", None):
            self.cuda.free(self._host_ptrs, self._dev_ptrs, self.stream)
            self._dev_ptrs = []
        self.context = None
        self.engine = None
