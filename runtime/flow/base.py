"""The FlowBackend protocol, the FLOWS registry, ``create_flow`` and ``resolve_flow('auto')``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from sofp.runtime.errors import UsageError
from sofp.runtime.registry import Registry


@runtime_checkable
class FlowBackend(Protocol):
    """Dense optical flow between two grey images of the same size.

    ``compute(prev, curr)``: prev, curr H x W uint8 -> H x W x 2 float32 (u, v) in px such that
    ``prev(p)`` moves to ``curr(p + flow(p))`` (u to the right, v downwards).
    """

    name: str

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        """(whether this backend can run here, why or why not), without allocating anything."""
        ...

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray: ...


FLOWS: Registry[FlowBackend] = Registry("flow")


def check_pair(prev: np.ndarray, curr: np.ndarray) -> None:
    """Raise ValueError unless prev and curr are equal-sized H x W uint8 images."""
    if prev.shape != curr.shape or prev.ndim != 2 or prev.dtype != np.uint8 or curr.dtype != np.uint8:
        raise ValueError(f"flow needs two H x W uint8 grey images of one size, got {prev.shape} {prev.dtype} "
                         f"and {curr.shape} {curr.dtype}")


def create_flow(name_or_obj: str | FlowBackend = "auto", params: object | dict | None = None) -> FlowBackend:
    """A flow backend by registry name (``auto`` resolves first), or a ready object passed through.

    ``params``: the backend's parameter dataclass (runtime/flow/params.py) or a dict of overrides;
    None = the pinned defaults. Unknown names and missing dependencies raise one line.
    """
    if not isinstance(name_or_obj, str):
        return name_or_obj
    name = resolve_flow(name_or_obj)[0] if name_or_obj == "auto" else name_or_obj
    return FLOWS.create(name, params)


# Preference of "auto": GPU flows that match training (TV-L1) first, then the CPU default.
AUTO_GPU_ORDER = ("cuda-tvl1", "cuda-nvof", "cuda-farneback")
CPU_DEFAULT = "cpu-dis"
CPU_DEFAULT_WHY = ("cpu-dis (preset fine) is the fast CPU flow whose 28 x 28 features agree best with TV-L1, "
                   "the training flow (benchmarks/results/flow_accuracy.md); cpu-tvl1/torch-tvl1 take ~0.3-0.5 s")


def resolve_flow(name: str = "auto") -> tuple[str, str]:
    """``(backend name, reason)`` for a requested flow; ``auto`` picks for this machine.

    auto: an OpenCV built with CUDA and a CUDA device -> cuda-tvl1 (the training flow, on the
    GPU); otherwise the CPU default (cpu-dis, see CPU_DEFAULT_WHY). torch-tvl1 is never chosen
    implicitly (it imports torch); ask for it by name.
    """
    if name != "auto":
        if name not in FLOWS.names():
            raise UsageError(f"unknown flow {name!r}; known: auto, {', '.join(FLOWS.names())}")
        return name, "asked for by name"
    for gpu in AUTO_GPU_ORDER:
        ok, reason = FLOWS.load(gpu).probe()
        if ok:
            return gpu, f"OpenCV has CUDA ({reason}): {gpu} is TV-L1 like the training features"
    cuda_reason = FLOWS.load("cuda-tvl1").probe()[1]
    return CPU_DEFAULT, f"no CUDA flow ({cuda_reason}); {CPU_DEFAULT_WHY}"
