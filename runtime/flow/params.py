"""Every optical-flow parameter, pinned in one place (live runtime and training-data preparation share it).

The values of the flows the native runtime also computes (DIS presets; Farneback, CUDA TV-L1 and
NVOF for its OpenCV CUDA flows) live in runtime/shared_params.json, read by both runtimes.

The composite's features were computed with TV-L1 (OpenCV's Dual TV-L1, defaults), so ``TVL1``
holds OpenCV's CPU defaults; ``torch-tvl1`` uses the same numbers and the same algorithm.

Where OpenCV's CPU and CUDA defaults differ (OpenCV 4.x sources, optflow/tvl1flow.cpp and
cudaoptflow/tvl1flow.cpp, farneback.cpp):

* TV-L1: CPU iterates ``inner_iterations`` (30) x ``outer_iterations`` (10) and median-filters the
  flow (5 x 5) before every outer iteration; CUDA has one loop of ``iterations`` (300) and no
  median filter. Everything else (tau 0.25, lambda 0.15, theta 0.3, 5 scales, 5 warps,
  epsilon 0.01, scale step 0.8, gamma 0) is the same. ``CUDA_TVL1`` pins 300 iterations so the
  total matches; the missing median filter is a real difference (measured in the flow benchmark).
* Farneback: ``cv2.calcOpticalFlowFarneback`` takes every value explicitly; the
  ``FarnebackOpticalFlow`` classes (CPU and CUDA) default to 5 levels, pyr_scale 0.5, win 13,
  10 iterations, poly_n 5, poly_sigma 1.1. We pin one set and pass it to both.
* DIS has no CUDA counterpart; NVIDIA's hardware flow (NVOF) has only a performance preset and
  a grid size (4 x 4 px on Turing/Ampere: its output is upsampled).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from sofp.runtime.shared_params import SHARED

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

P = TypeVar("P", bound="DataclassInstance")  # one backend's parameter dataclass


@dataclass(frozen=True)
class DisParams:
    """cv2.DISOpticalFlow. ``preset``: ultrafast | fast | medium | fine (medium refined down to full
    resolution, finest_scale 0); any other field overrides the preset.

    Default ``fine``: on 112 x 112 face crops its 28 x 28 features agree with TV-L1's better than
    medium's at ~3 x medium's cost (benchmarks/results/flow_accuracy.md); it runs only at spotted
    apexes. Per-frame motion signals use ``ultrafast``.
    """

    preset: str = SHARED["feature_flow"]["preset"]  # runtime/shared_params.json
    finest_scale: int | None = None
    patch_size: int | None = None
    patch_stride: int | None = None
    gradient_descent_iterations: int | None = None
    variational_refinement_iterations: int | None = None
    variational_refinement_alpha: float | None = None
    variational_refinement_delta: float | None = None
    variational_refinement_gamma: float | None = None
    variational_refinement_epsilon: float | None = None  # OpenCV >= 4.10 only; older builds have 0.001 built in
    use_mean_normalization: bool | None = None
    use_spatial_propagation: bool | None = None


@dataclass(frozen=True)
class FarnebackParams:
    """cv2.calcOpticalFlowFarneback / cv2.cuda.FarnebackOpticalFlow (same values on both)."""

    pyr_scale: float
    levels: int
    winsize: int
    iterations: int
    poly_n: int
    poly_sigma: float
    flags: int


@dataclass(frozen=True)
class Tvl1Params:
    """Dual TV-L1 (Zach, Pock, Bischof 2007; Sanchez, Meinhardt-Llopis, Facciolo, IPOL 2013).

    OpenCV's CPU defaults (cv2.optflow.DualTVL1OpticalFlow_create()). Intensities are 0..255.
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5


@dataclass(frozen=True)
class CudaTvl1Params:
    """cv2.cuda.OpticalFlowDual_TVL1 defaults (no median filter; one loop of ``iterations``)."""

    tau: float
    lambda_: float  # "lambda" in shared_params.json
    theta: float
    nscales: int
    warps: int
    epsilon: float
    iterations: int
    scale_step: float
    gamma: float


@dataclass(frozen=True)
class NvofParams:
    """cv2.cuda.NvidiaOpticalFlow_2_0 / _1_0: performance preset and output grid (px)."""

    preset: str              # slow | medium | fast (slow = best quality)
    grid_size: int           # 2.0 API: 1, 2 or 4 where the GPU supports it
    enable_temporal_hints: bool
    enable_cost_buffer: bool


_SHARED_FLOWS = SHARED["flow_params"]  # runtime/shared_params.json: the native runtime reads the same values
DIS = DisParams()
FARNEBACK = FarnebackParams(**_SHARED_FLOWS["farneback"])
TVL1 = Tvl1Params()
CUDA_TVL1 = CudaTvl1Params(**{("lambda_" if k == "lambda" else k): v for k, v in _SHARED_FLOWS["cuda_tvl1"].items()})
NVOF = NvofParams(**_SHARED_FLOWS["nvof"])

DEFAULTS: dict[str, object] = {
    "cpu-dis": DIS,
    "cpu-farneback": FARNEBACK,
    "cpu-tvl1": TVL1,
    "torch-tvl1": TVL1,
    "cuda-tvl1": CUDA_TVL1,
    "cuda-farneback": FARNEBACK,
    "cuda-nvof": NVOF,
}


def resolve_params(name: str, params: P | dict | None, kind: type[P]) -> P:
    """The pinned parameters of backend ``name`` (a ``kind``), with ``params`` (a ``kind`` or a dict of overrides)."""
    base = DEFAULTS[name]
    if not isinstance(base, kind):
        raise TypeError(f"{name}'s parameters are {type(base).__name__}, not {kind.__name__}")
    if params is None:
        return base
    if isinstance(params, dict):
        return replace(base, **params)
    if type(params) is not type(base):
        raise TypeError(f"{name} takes {type(base).__name__}, got {type(params).__name__}")
    return params


def as_dict(params: DataclassInstance) -> dict:
    """Parameters as a plain dict (sidecars and benchmark records)."""
    return asdict(params)
