"""The one TensorRT runner and CUDA buffer module, shared by the runtime's TensorRT backend and export parity.

CUDA memory and one stream go through cuda-python (``cuda.bindings.runtime`` or the older ``cuda.cudart``)
or, when that is absent, pycuda (its device's primary context retained and pushed). :class:`TrtRunner`
deserialises a plan and runs it with the name-based API of TensorRT >= 8.5 (the only one in 10.x and 11.x):
``deserialize_cuda_engine``, ``num_io_tensors`` / ``get_tensor_name`` / ``get_tensor_mode`` /
``get_tensor_dtype``, ``set_input_shape``, ``get_tensor_shape``, ``set_tensor_address``,
``execute_async_v3``. Any number of named inputs and outputs (a whole model, an encoder, the fusion of a
split model); one device buffer per tensor, kept between calls and grown only when a larger batch arrives.
Nothing is imported at module level beyond NumPy; the runtime layer holds this so that export (the higher
layer) imports it, never the other way round.

NOT RUN ON REAL HARDWARE: no machine this was written on has TensorRT or CUDA. It is tested against
stand-ins of the TensorRT, cuda-python and pycuda APIs (tests/export/export_fakes.py, tests/runtime).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sofp.runtime.errors import SofpError, UsageError


def _cudart() -> Any | None:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6

        return cudart
    except ImportError:
        pass
    try:
        from cuda import cudart  # older cuda-python

        return cudart
    except ImportError:
        return None


def _pycuda() -> Any | None:
    try:
        import pycuda.driver as drv

        return drv
    except ImportError:
        return None


class CudaPython:
    """Device memory and a stream through cuda-python's runtime API (pointers are ints)."""

    name = "cuda-python"

    def __init__(self, cudart: Any) -> None:
        self.rt = cudart
        self.stream = self._call(cudart.cudaStreamCreate())
        self._allocs: set[int] = set()

    def _call(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if err != self.rt.cudaError_t.cudaSuccess:
            raise SofpError(f"CUDA runtime call failed: {err}")
        return rest[0] if len(rest) == 1 else rest

    def alloc(self, nbytes: int) -> int:
        ptr = int(self._call(self.rt.cudaMalloc(max(int(nbytes), 1))))
        self._allocs.add(ptr)
        return ptr

    def free(self, ptr: int) -> None:
        if ptr in self._allocs:
            self._allocs.discard(ptr)
            self._call(self.rt.cudaFree(ptr))

    def htod(self, ptr: int, array: np.ndarray) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self.rt.cudaMemcpyAsync(ptr, array.ctypes.data, array.nbytes, kind, self.stream))

    def dtoh(self, array: np.ndarray, ptr: int) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self.rt.cudaMemcpyAsync(array.ctypes.data, ptr, array.nbytes, kind, self.stream))

    @property
    def stream_handle(self) -> int:
        if self.stream is None:
            raise SofpError("the CUDA stream is closed")
        return int(self.stream)

    def sync(self) -> None:
        self._call(self.rt.cudaStreamSynchronize(self.stream))

    def close(self) -> None:
        """Free every allocation still held and destroy the stream; safe to call twice."""
        for ptr in list(self._allocs):
            self.free(ptr)
        if self.stream is not None:
            self._call(self.rt.cudaStreamDestroy(self.stream))
            self.stream = None


class PyCuda:
    """Device memory and a stream through pycuda (device 0's primary context retained and pushed)."""

    name = "pycuda"

    def __init__(self, drv: Any) -> None:
        self.drv = drv
        drv.init()
        self.ctx = drv.Device(0).retain_primary_context()
        self.ctx.push()
        self.stream = drv.Stream()
        self._allocs: dict[int, Any] = {}

    def alloc(self, nbytes: int) -> int:
        mem = self.drv.mem_alloc(max(int(nbytes), 1))
        self._allocs[int(mem)] = mem
        return int(mem)

    def free(self, ptr: int) -> None:
        mem = self._allocs.pop(ptr, None)
        if mem is not None:
            mem.free()

    def htod(self, ptr: int, array: np.ndarray) -> None:
        self.drv.memcpy_htod_async(ptr, array, self.stream)

    def dtoh(self, array: np.ndarray, ptr: int) -> None:
        self.drv.memcpy_dtoh_async(array, ptr, self.stream)

    @property
    def stream_handle(self) -> int:
        return int(self.stream.handle)

    def sync(self) -> None:
        self.stream.synchronize()

    def close(self) -> None:
        """Free every allocation and pop the context; safe to call twice."""
        for mem in self._allocs.values():
            mem.free()
        self._allocs.clear()
        if self.ctx is not None:
            self.ctx.pop()
            self.ctx = None


def cuda_backend() -> CudaPython | PyCuda:
    """A CUDA memory backend (cuda-python preferred, else pycuda); exit-2 line when neither is installed."""
    cudart = _cudart()
    if cudart is not None:
        return CudaPython(cudart)
    drv = _pycuda()
    if drv is not None:
        return PyCuda(drv)
    raise UsageError("TensorRT buffers need cuda-python or pycuda, and neither is installed "
                     "(pip install cuda-python, or JetPack's pycuda; sofp-edge[tensorrt])")


def jetson_model() -> str | None:
    """The Jetson board model from the device tree ("NVIDIA Jetson AGX Orin Developer Kit"), else None."""
    try:
        text = Path("/proc/device-tree/model").read_bytes().rstrip(b"\x00").decode(errors="replace").strip()
    except OSError:
        return None
    return text if any(k in text.lower() for k in ("jetson", "orin", "xavier")) else None


def device_info() -> dict:
    """{"gpu", "compute_capability", "jetson", "count"} of CUDA device 0; exit-2 line without a GPU."""
    cudart = _cudart()
    name = cc = None
    count = 0
    if cudart is not None:
        err, count = cudart.cudaGetDeviceCount()
        if err == cudart.cudaError_t.cudaSuccess and count > 0:
            err, props = cudart.cudaGetDeviceProperties(0)
            raw = props.name
            name = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).rstrip("\x00").strip()
            cc = f"{props.major}.{props.minor}"
        else:
            count = 0
    else:
        drv = _pycuda()
        if drv is None:
            raise UsageError("neither cuda-python nor pycuda is installed (pip install cuda-python)")
        try:
            drv.init()
            count = drv.Device.count()
        except Exception:
            count = 0
        if count:
            dev = drv.Device(0)
            name = dev.name()
            cc = "{}.{}".format(*dev.compute_capability())
    if not count:
        raise UsageError("no CUDA GPU is visible to this process (TensorRT needs one to build and run engines)")
    return {"gpu": name, "compute_capability": cc, "jetson": jetson_model(), "count": int(count)}


@dataclass
class _Tensor:
    name: str
    is_input: bool
    dtype: np.dtype
    ptr: int = 0
    capacity: int = 0  # bytes allocated at ptr


class TrtRunner:
    """A deserialised plan on one CUDA stream; a context manager that frees its device memory on exit.

    ``infer({input name: host array}) -> {output name: host array}``; every input's batch must lie inside
    the engine's optimisation profile. ``inputs`` / ``outputs``: tensor names in engine order.
    """

    def __init__(self, trt: Any, plan: bytes, cuda: Any | None = None, name: str = "the engine") -> None:
        self.trt, self.name = trt, name
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise SofpError(f"TensorRT could not deserialise {name} (built for another GPU or TensorRT version, or "
                            "not an engine); rebuild it with python export/to_trt.py")
        self.context = self.engine.create_execution_context()
        self.cuda = cuda if cuda is not None else cuda_backend()
        self.tensors: list[_Tensor] = []
        for i in range(self.engine.num_io_tensors):
            n = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT
            self.tensors.append(_Tensor(n, is_input, np.dtype(trt.nptype(self.engine.get_tensor_dtype(n)))))
        self.inputs = [t.name for t in self.tensors if t.is_input]
        self.outputs = [t.name for t in self.tensors if not t.is_input]

    @classmethod
    def from_file(cls, trt: Any, path: str | Path, cuda: Any | None = None) -> TrtRunner:
        return cls(trt, Path(path).read_bytes(), cuda, name=str(path))

    def batch_range(self, name: str) -> tuple[int, int]:
        """(min, max) batch the engine takes on input ``name``: its profile's, or the fixed first dimension."""
        shape = tuple(self.engine.get_tensor_shape(name))
        if shape[0] == -1:
            lo, _opt, hi = self.engine.get_tensor_profile_shape(name, 0)
            return int(lo[0]), int(hi[0])
        return int(shape[0]), int(shape[0])

    def _bind(self, context: Any, t: _Tensor, nbytes: int) -> None:
        if nbytes > t.capacity:  # grown, never shrunk: no allocation per call at a steady batch
            if t.ptr:
                self.cuda.free(t.ptr)
            t.ptr, t.capacity = self.cuda.alloc(nbytes), nbytes
        context.set_tensor_address(t.name, t.ptr)

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One synchronous inference on ``feeds`` (host arrays by input name) -> outputs by name (new arrays)."""
        context = self.context
        if context is None:
            raise SofpError(f"the TensorRT runner of {self.name} is closed; create a new one")
        missing = [n for n in self.inputs if n not in feeds]
        if missing:
            raise UsageError(f"{self.name}: input(s) {missing} not given; inputs: {self.inputs}")
        for t in self.tensors:
            if t.is_input:
                arr = np.ascontiguousarray(feeds[t.name], dtype=t.dtype)
                context.set_input_shape(t.name, tuple(arr.shape))
                self._bind(context, t, arr.nbytes)
                self.cuda.htod(t.ptr, arr)
        out: dict[str, np.ndarray] = {}
        for t in self.tensors:
            if not t.is_input:
                host = np.empty(tuple(int(d) for d in context.get_tensor_shape(t.name)), dtype=t.dtype)
                self._bind(context, t, host.nbytes)
                out[t.name] = host
        if not context.execute_async_v3(self.cuda.stream_handle):
            raise SofpError(f"TensorRT execution failed for {self.name}")
        for t in self.tensors:
            if not t.is_input:
                self.cuda.dtoh(out[t.name], t.ptr)
        self.cuda.sync()
        return out

    def close(self, close_cuda: bool = True) -> None:
        """Free the device buffers (and, by default, the CUDA backend's stream/context); safe to call twice."""
        for t in self.tensors:
            if t.ptr:
                self.cuda.free(t.ptr)
                t.ptr, t.capacity = 0, 0
        self.context = None
        if close_cuda:
            self.cuda.close()

    def __enter__(self) -> TrtRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DeviceBuffer:
    """A device allocation for the INT8 calibrator: ``.ptr`` and ``.copy_from(host array)``."""

    def __init__(self, cuda: Any, nbytes: int) -> None:
        self.cuda = cuda
        self.ptr = cuda.alloc(nbytes)

    def copy_from(self, array: np.ndarray) -> None:
        self.cuda.htod(self.ptr, np.ascontiguousarray(array))
        self.cuda.sync()

    def free(self) -> None:
        self.cuda.free(self.ptr)
