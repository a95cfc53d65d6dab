"""PyTorch backend: a checkpoint loaded with ``sofp.training.checkpoint.load_checkpoint``.

On a CUDA GPU the model runs in FP16 (unless ``fp16=False``) and each batch size is captured
once as a CUDA graph and replayed (a ~4 MFLOP model is launch-bound: replaying one graph replaces
dozens of kernel launches). On the CPU it runs FP32 in ``torch.inference_mode``. torch is
imported here and only here in the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.infer.base import (
    InferenceBackend,
    check_batch,
    check_input_spec,
    check_labels,
    model_kind,
    resolve_model,
)

if TYPE_CHECKING:
    import torch


class TorchBackend(InferenceBackend):
    """``predict`` with the PyTorch model of a checkpoint (CPU, or CUDA with FP16 + CUDA graphs)."""

    name = "torch"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        """Whether torch is installed, without importing it (seconds, and the runtime's memory)
        unless it already is."""
        import importlib.util
        import sys

        if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
            return False, "torch is not installed; install sofp-edge[training]"
        torch = sys.modules.get("torch")
        if torch is None:
            return True, "torch installed (CUDA not probed until chosen)"
        if torch.cuda.is_available():
            return True, f"CUDA {torch.cuda.get_device_name(0)}"
        return True, "CPU only (no CUDA device)"

    def __init__(self, model: str | Path | None = None, *, device: str | None = None,
                 fp16: bool | None = None, cuda_graphs: bool = True, threads: int | None = None) -> None:
        import torch

        from sofp.training.checkpoint import load_checkpoint

        path = resolve_model(model, builtin="checkpoint")
        if model_kind(path) != "checkpoint":
            raise UsageError(f"the torch backend needs a .pt checkpoint, got {path}")
        ckpt = load_checkpoint(path, map_location="cpu")
        meta = ckpt.meta
        check_input_spec(meta.get("input_spec"), path)
        self.labels = check_labels(meta.get("labels"), path)
        self.meta = meta
        self.model_path = path
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"torch backend asked for {device} but this torch has no CUDA device")
        if threads and self.device.type == "cpu":
            torch.set_num_threads(int(threads))
        self.fp16 = (self.device.type == "cuda") if fp16 is None else bool(fp16)
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.model: torch.nn.Module | None = ckpt.model.eval().to(self.device, self.dtype)  # None once closed
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.use_graphs = cuda_graphs and self.device.type == "cuda"
        self._graphs: dict[int, tuple[Any, Any, Any]] = {}
        self._torch = torch
        self.description = f"{path.name} on {self.device}{' fp16' if self.fp16 else ' fp32'}" + (
            " + CUDA graphs" if self.use_graphs else ""
        )

    def _graph_for(self, model: torch.nn.Module, n: int) -> tuple[Any, Any, Any]:
        """(graph, static input, static output) for batch size ``n``, captured on first use."""
        torch = self._torch
        if n not in self._graphs:
            static_in = torch.zeros((n, 3, 28, 28), device=self.device, dtype=self.dtype)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.inference_mode():
                for _ in range(3):  # warm-up (cuDNN autotuning, lazy allocations) off the capture
                    model(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.inference_mode():
                static_out = model(static_in).float().softmax(dim=1)
            self._graphs[n] = (graph, static_in, static_out)
        return self._graphs[n]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        model = self.model
        if model is None:
            raise SofpError(f"the torch backend of {self.model_path.name} is closed; create a new one")
        x = torch.from_numpy(check_batch(batch))
        if self.use_graphs:
            graph, static_in, static_out = self._graph_for(model, x.shape[0])
            static_in.copy_(x.to(self.device, non_blocking=True))
            graph.replay()
            return static_out.cpu().numpy()
        with torch.inference_mode():
            logits = model(x.to(self.device, self.dtype))
            return logits.float().softmax(dim=1).cpu().numpy()

    def close(self) -> None:
        self._graphs.clear()
        self.model = None
