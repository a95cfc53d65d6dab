"""Optical-flow backends chosen by name: cpu-dis, cpu-farneback, cpu-tvl1, torch-tvl1, cuda-tvl1,
cuda-farneback, cuda-nvof, or ``auto`` (``resolve_flow``). Parameters: runtime/flow/params.py.

Backends needing torch or cv2.cuda are registered lazily (``module:Class``) so importing this
package never imports torch; a backend whose dependency is missing stays listed and says why.
"""

from __future__ import annotations

from sofp.runtime.flow.base import FLOWS, FlowBackend, create_flow, resolve_flow

FLOWS.add("cpu-dis", "sofp.runtime.flow.dis:DisFlow")
FLOWS.add("cpu-farneback", "sofp.runtime.flow.farneback:FarnebackFlow")
FLOWS.add("cpu-tvl1", "sofp.runtime.flow.tvl1:Tvl1Flow")
FLOWS.add("torch-tvl1", "sofp.runtime.flow.torch_tvl1:TorchTvl1Flow")
FLOWS.add("cuda-tvl1", "sofp.runtime.flow.cuda:CudaTvl1Flow")
FLOWS.add("cuda-farneback", "sofp.runtime.flow.cuda:CudaFarnebackFlow")
FLOWS.add("cuda-nvof", "sofp.runtime.flow.cuda:CudaNvofFlow")

__all__ = ["FLOWS", "FlowBackend", "create_flow", "resolve_flow"]
