"""cuda-tvl1, cuda-farneback, cuda-nvof: OpenCV's CUDA optical flow (``cv2.cuda``, cudaoptflow module).

PyPI's OpenCV wheels have no CUDA (``cv2.cuda.getCudaEnabledDeviceCount()`` is 0); these need an
OpenCV built with CUDA and the cudaoptflow contrib module (a source build with
-DWITH_CUDA=ON -DOPENCV_EXTRA_MODULES_PATH=...; JetPack's stock OpenCV has no CUDA).
Not run on real hardware during development: written against the documented API
(cv::cuda::OpticalFlowDual_TVL1, FarnebackOpticalFlow, NvidiaOpticalFlow_1_0/_2_0), kept thin.
Frames are uploaded to GpuMats held by the backend, the flow is downloaded as H x W x 2 float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from sofp.runtime.errors import UsageError
from sofp.runtime.flow.base import FLOWS, check_pair
from sofp.runtime.flow.params import CudaTvl1Params, FarnebackParams, NvofParams, resolve_params


def cuda_device_count() -> int:
    """CUDA devices OpenCV can use (0 for builds without CUDA, or without a driver)."""
    cuda = getattr(cv2, "cuda", None)
    if cuda is None or not hasattr(cuda, "getCudaEnabledDeviceCount"):
        return 0
    try:
        return int(cuda.getCudaEnabledDeviceCount())
    except cv2.error:
        return 0


def cuda_factory(cls: str) -> Callable[..., Any] | None:
    """The create function of cv2.cuda class ``cls`` under its 4.x or 5.x spelling, or None.

    4.x: ``cv2.cuda.<cls>_create`` (and ``cv2.cuda_<cls>.create``); 5.x: ``cv2.cuda.<cls>.create``.
    """
    cuda = getattr(cv2, "cuda", None)
    for owner, attr in ((cuda, f"{cls}_create"), (getattr(cuda, cls, None), "create"),
                        (getattr(cv2, f"cuda_{cls}", None), "create")):
        fn = getattr(owner, attr, None) if owner is not None else None
        if fn is not None:
            return fn
    return None


def require_factory(cls: str) -> Callable[..., Any]:
    """:func:`cuda_factory`, or one line naming what this OpenCV lacks (a backend built without its probe)."""
    fn = cuda_factory(cls)
    if fn is None:
        raise UsageError(f"OpenCV {cv2.__version__} has no cv2.cuda {cls} (a CUDA build with the cudaoptflow "
                         "module is needed)")
    return fn


def gpu_mat():
    """An empty GpuMat (``cv2.cuda_GpuMat`` in 4.x, ``cv2.cuda.GpuMat`` in 5.x)."""
    cls = getattr(cv2, "cuda_GpuMat", None) or cv2.cuda.GpuMat
    return cls()


def cuda_probe(*factories: str) -> tuple[bool, str]:
    """``(ok, reason)``: a CUDA device is usable and cv2.cuda has one of the classes ``factories``."""
    n = cuda_device_count()
    if n == 0:
        return False, (f"OpenCV {cv2.__version__} has no CUDA device (built without CUDA, "
                       "cv2.cuda.getCudaEnabledDeviceCount() == 0)")
    if not any(cuda_factory(f) is not None for f in factories):
        missing = " / ".join(factories)
        return False, f"OpenCV {cv2.__version__} CUDA build lacks {missing} (cudaoptflow module)"
    return True, f"{n} CUDA device(s), OpenCV {cv2.__version__}"


class _CudaFlow:
    """Upload two grey frames, run ``self._algo.calc`` on the GPU, download H x W x 2 float32."""

    name = "cuda"
    _factories: tuple[str, ...] = ()
    _algo: Any  # the cv2.cuda optical-flow object, made by the subclass (untyped: found by name at run time)

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        return cuda_probe(*cls._factories)

    def __init__(self) -> None:
        self._g0 = gpu_mat()
        self._g1 = gpu_mat()
        self._gflow = None

    def _calc(self, g0, g1):
        return self._algo.calc(g0, g1, None)

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        """prev, curr H x W uint8 -> H x W x 2 float32 px."""
        check_pair(prev, curr)
        self._g0.upload(prev)
        self._g1.upload(curr)
        flow = self._calc(self._g0, self._g1)
        return flow.download().astype(np.float32, copy=False)


@FLOWS.register("cuda-tvl1")
class CudaTvl1Flow(_CudaFlow):
    """cv2.cuda.OpticalFlowDual_TVL1 with params.CUDA_TVL1 (no median filter: see params.py)."""

    name = "cuda-tvl1"
    _factories = ("OpticalFlowDual_TVL1",)

    def __init__(self, params: CudaTvl1Params | dict | None = None) -> None:
        super().__init__()
        self.params = resolve_params("cuda-tvl1", params, CudaTvl1Params)
        p = self.params
        self._algo = require_factory("OpticalFlowDual_TVL1")(
            p.tau, p.lambda_, p.theta, p.nscales, p.warps, p.epsilon, p.iterations, p.scale_step, p.gamma,
            False)


@FLOWS.register("cuda-farneback")
class CudaFarnebackFlow(_CudaFlow):
    """cv2.cuda.FarnebackOpticalFlow with params.FARNEBACK (the same values as cpu-farneback)."""

    name = "cuda-farneback"
    _factories = ("FarnebackOpticalFlow",)

    def __init__(self, params: FarnebackParams | dict | None = None) -> None:
        super().__init__()
        self.params = resolve_params("cuda-farneback", params, FarnebackParams)
        p = self.params
        self._algo = require_factory("FarnebackOpticalFlow")(
            p.levels, p.pyr_scale, False, p.winsize, p.iterations, p.poly_n, p.poly_sigma, p.flags)


# NVIDIA_OF_PERF_LEVEL values (cudaoptflow.hpp): SLOW 5, MEDIUM 10, FAST 20; grid-size enums equal
# their size in px (1, 2, 4), UNDEFINED 0. Read from cv2 where exposed, these values otherwise.
_NVOF_PRESETS = {"slow": ("NV_OF_PERF_LEVEL_SLOW", 5), "medium": ("NV_OF_PERF_LEVEL_MEDIUM", 10),
                 "fast": ("NV_OF_PERF_LEVEL_FAST", 20)}


def _const(version: str, name: str, default: int) -> int:
    cuda = cv2.cuda
    for owner, attr in ((cuda, f"NvidiaOpticalFlow_{version}_{name}"),
                        (getattr(cuda, f"NvidiaOpticalFlow_{version}", None), name)):
        value = getattr(owner, attr, None) if owner is not None else None
        if value is not None:
            return int(value)
    return default


@FLOWS.register("cuda-nvof")
class CudaNvofFlow(_CudaFlow):
    """NVIDIA's optical-flow hardware (Turing and newer) via cv2.cuda.NvidiaOpticalFlow_2_0, else _1_0.

    The engine is created for one image size (re-created when the size changes). Its output is
    a vector per grid cell in S10.5 fixed point; ``convertToFloat`` / ``upSampler`` turn it into
    float px at the image's resolution. flow(p): from ``prev`` (input) to ``curr`` (reference).
    """

    name = "cuda-nvof"
    _factories = ("NvidiaOpticalFlow_2_0", "NvidiaOpticalFlow_1_0")

    def __init__(self, params: NvofParams | dict | None = None) -> None:
        super().__init__()
        self.params = resolve_params("cuda-nvof", params, NvofParams)
        if self.params.preset not in _NVOF_PRESETS:
            raise ValueError(f"NVOF preset {self.params.preset!r}; valid: {', '.join(_NVOF_PRESETS)}")
        self._size: tuple[int, int] | None = None
        self._algo = None
        self.version = ""

    def _create(self, size: tuple[int, int]) -> None:
        """Create the engine for frames of ``size`` = (width, height) px."""
        p = self.params
        level, level_value = _NVOF_PRESETS[p.preset]
        try:
            create_2_0 = cuda_factory("NvidiaOpticalFlow_2_0")
            if create_2_0 is not None:
                self._algo = create_2_0(
                    size, _const("2_0", level, level_value),
                    _const("2_0", f"NV_OF_OUTPUT_VECTOR_GRID_SIZE_{p.grid_size}", p.grid_size),
                    _const("2_0", "NV_OF_HINT_VECTOR_GRID_SIZE_UNDEFINED", 0),
                    p.enable_temporal_hints, False, p.enable_cost_buffer, 0)
                self.version = "2.0"
            else:  # builds with only 1.0 (OpenCV <= 4.5.1) spell it create(width, height, ...)
                width, height = size
                self._algo = require_factory("NvidiaOpticalFlow_1_0")(
                    width, height, _const("1_0", level, level_value), p.enable_temporal_hints, False,
                    p.enable_cost_buffer, 0)
                self.version = "1.0"
        except cv2.error as exc:
            msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "error"
            raise UsageError(f"cuda-nvof cannot start on this GPU (NVIDIA optical-flow hardware needs "
                             f"Turing or newer and a matching driver): {msg}") from None
        self._size = size

    def _calc(self, g0, g1):
        size = (g0.size()[0], g0.size()[1])
        if self._size != size:
            self._create(size)
        out = self._algo.calc(g0, g1, None)
        flow = out[0] if isinstance(out, tuple) else out
        if self.version == "2.0":
            return self._algo.convertToFloat(flow, None)
        return self._algo.upSampler(flow, size[0], size[1], self._algo.getGridSize(), None)

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        """prev, curr H x W uint8 -> H x W x 2 float32 px (grid output resized to H x W)."""
        flow = super().compute(prev, curr)
        h, w = prev.shape
        if flow.shape[:2] != (h, w):  # a 2 x 2 or 4 x 4 grid: vectors are already in full-res px
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        return flow
