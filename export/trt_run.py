"""Run a serialised TensorRT engine on NumPy inputs (name-based API), and describe the CUDA device.

API used: ``Runtime.deserialize_cuda_engine``, ``num_io_tensors`` / ``get_tensor_name`` /
``get_tensor_mode`` / ``get_tensor_dtype``, ``IExecutionContext.set_input_shape``,
``get_tensor_shape``, ``set_tensor_address`` and ``execute_async_v3`` (TensorRT 8.5+, 10.x, 11.x).
Device memory through cuda-python (``cuda.bindings.runtime`` or the older ``cuda.cudart``) or
pycuda, whichever is installed. Nothing is imported at module level.
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


class _CudaPython:
    """Device memory and a stream through cuda-python's runtime API."""

    name = "cuda-python"

    def __init__(self, cudart: Any) -> None:
        self.rt = cudart
        self.stream = self._call(cudart.cudaStreamCreate())

    def _call(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if err != self.rt.cudaError_t.cudaSuccess:
            raise SofpError(f"CUDA runtime call failed: {err}")
        return rest[0] if len(rest) == 1 else rest

    def alloc(self, nbytes: int) -> int:
        return int(self._call(self.rt.cudaMalloc(max(int(nbytes), 1))))

    def free(self, ptr: int) -> None:
        self._call(self.rt.cudaFree(ptr))

    def htod(self, ptr: int, array: np.ndarray) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self.rt.cudaMemcpyAsync(ptr, array.ctypes.data, array.nbytes, kind, self.stream))

    def dtoh(self, array: np.ndarray, ptr: int) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self.rt.cudaMemcpyAsync(array.ctypes.data, ptr, array.nbytes, kind, self.stream))

    @property
    def stream_handle(self) -> int:
        return int(self.stream)

    def sync(self) -> None:
        self._call(self.rt.cudaStreamSynchronize(self.stream))

    def close(self) -> None:
        self._call(self.rt.cudaStreamDestroy(self.stream))


class _PyCuda:
    """Device memory and a stream through pycuda (primary context retained and pushed)."""

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
        for mem in self._allocs.values():
            mem.free()
        self._allocs.clear()
        self.ctx.pop()


def cuda_backend() -> Any:
    """A CUDA memory backend (cuda-python preferred, else pycuda); exit-2 line when neither is installed."""
    cudart = _cudart()
    if cudart is not None:
        return _CudaPython(cudart)
    drv = _pycuda()
    if drv is not None:
        return _PyCuda(drv)
    raise UsageError("neither cuda-python nor pycuda is installed (pip install cuda-python, or use JetPack's pycuda)")


def jetson_model() -> str | None:
    """The Jetson board model from the device tree ("NVIDIA Jetson AGX Orin Developer Kit"), else None."""
    p = Path("/proc/device-tree/model")
    try:
        text = p.read_bytes().rstrip(b"\x00").decode(errors="replace").strip()
    except OSError:
        return None
    return text if "jetson" in text.lower() or "orin" in text.lower() or "xavier" in text.lower() else None


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
class _Binding:
    name: str
    is_input: bool
    dtype: np.dtype


class TrtRunner:
    """Deserialise a plan and run it; a context manager that frees device memory on exit.

    ``infer({"input": (N, 3, 28, 28) float32}) -> {"logits": (N, C) float32}``; N must lie inside
    the engine's optimisation profile.
    """

    def __init__(self, trt: Any, plan: bytes, cuda: Any | None = None) -> None:
        self.trt = trt
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise SofpError("TensorRT could not deserialise the engine (built for another GPU or TensorRT version?)")
        self.context = self.engine.create_execution_context()
        self.cuda = cuda or cuda_backend()
        self.bindings = []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            self.bindings.append(_Binding(name, is_input, dtype))
        self._ptrs: list[int] = []

    @classmethod
    def from_file(cls, trt: Any, path: str | Path) -> TrtRunner:
        return cls(trt, Path(path).read_bytes())

    def __enter__(self) -> TrtRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _release(self) -> None:
        for ptr in self._ptrs:
            self.cuda.free(ptr)
        self._ptrs.clear()

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One synchronous inference on ``feeds`` (host arrays by input name) -> outputs by name."""
        self._release()
        for b in self.bindings:
            if not b.is_input:
                continue
            if b.name not in feeds:
                known = [x.name for x in self.bindings if x.is_input]
                raise UsageError(f"engine input {b.name!r} not given; inputs: {known}")
            arr = np.ascontiguousarray(feeds[b.name], dtype=b.dtype)
            self.context.set_input_shape(b.name, tuple(arr.shape))
            ptr = self.cuda.alloc(arr.nbytes)
            self._ptrs.append(ptr)
            self.cuda.htod(ptr, arr)
            self.context.set_tensor_address(b.name, ptr)
        outputs: dict[str, tuple[np.ndarray, int]] = {}
        for b in self.bindings:
            if b.is_input:
                continue
            shape = tuple(int(d) for d in self.context.get_tensor_shape(b.name))
            host = np.empty(shape, dtype=b.dtype)
            ptr = self.cuda.alloc(host.nbytes)
            self._ptrs.append(ptr)
            self.context.set_tensor_address(b.name, ptr)
            outputs[b.name] = (host, ptr)
        if not self.context.execute_async_v3(self.cuda.stream_handle):
            raise SofpError("TensorRT execute_async_v3 failed")
        for host, ptr in outputs.values():
            self.cuda.dtoh(host, ptr)
        self.cuda.sync()
        return {name: host for name, (host, _) in outputs.items()}

    def close(self) -> None:
        self._release()
        self.cuda.close()


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
