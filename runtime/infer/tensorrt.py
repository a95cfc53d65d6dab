"""TensorRT backend: a plain TensorRT plan (``*.engine``) and its sidecar, or the split engines of
``to_trt.py --split`` (``<stem>.split.engines.json``: encoders, e.g. on an Orin's DLA, and the fusion on the GPU).

The engines run through :class:`~sofp.runtime.infer.trt_runner.TrtRunner` (the runner export parity uses too:
name-based API, one CUDA stream, device buffers kept between calls). Split engines compose as the ONNX
export does: ``logits = fusion(g=global(x), tl=region_tl(x), tr=..., bl=..., br=...)``; the batch range is the
one every part's profile accepts (DLA engines: 1..1).

An engine only runs on the GPU model and TensorRT version it was built with: the sidecar records both and a
mismatch is refused with one line before deserialising; so is an engine whose bytes are not the ones its
sidecar hashed (another model's), checked on the very bytes that are deserialised.

NOT RUN ON REAL HARDWARE: no machine this was written on has TensorRT. The logic around the
TensorRT calls (sidecar checks, batch planning, split composition, buffer bookkeeping) is tested with fakes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import INPUT_SPEC
from sofp.runtime.infer.base import (
    SPLIT_SUFFIX,
    InferenceBackend,
    check_batch,
    check_labels,
    model_kind,
    resolve_model,
    softmax,
)
from sofp.runtime.infer.trt_runner import TrtRunner, cuda_backend, device_info

SPLIT_FORMAT = "sofp-split-engines/1"


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


def split_roles(fusion_inputs: list[str]) -> dict[str, str]:
    """Fusion input name -> the encoder role that feeds it ("g" -> "global", "tl" -> "region_tl", ...),
    as export/onnx_export.py names them."""
    return {n: ("global" if n == "g" else f"region_{n}") for n in fusion_inputs}


def split_engine_files(manifest: Path) -> dict[str, Path]:
    """The engines of a ``<stem>.split.engines.json`` manifest (written by ``to_trt.py --split``) by role."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{manifest} is not a readable split-engines manifest ({type(exc).__name__})") from None
    engines = data.get("engines") if isinstance(data, dict) and data.get("format") == SPLIT_FORMAT else None
    if not isinstance(engines, dict) or "fusion" not in engines or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in engines.items()):
        raise UsageError(f"{manifest} is not a {SPLIT_FORMAT!r} manifest with a fusion engine; rebuild it with "
                         "python export/to_trt.py --split")
    files = {role: manifest.parent / Path(name).name for role, name in engines.items()}
    missing = [str(f) for f in files.values() if not f.is_file()]
    if missing:
        raise UsageError(f"{manifest} names engine(s) that are not there: {', '.join(missing)}")
    return files


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

        if model is None:
            raise UsageError("the tensorrt backend needs --model ENGINE (build one with python export/to_trt.py)")
        path = resolve_model(model)
        if model_kind(path) != "tensorrt":
            raise UsageError(f"the tensorrt backend needs an engine (.engine/.plan), got {path}")
        self.model_path = path
        parts = split_engine_files(path) if path.name.endswith(SPLIT_SUFFIX) else {"whole": path}
        plans = {role: self._checked_plan(trt, p) for role, p in parts.items()}  # before any CUDA work
        info = device_info()
        gpu, cc = str(info["gpu"]), str(info["compute_capability"])
        for role, p in parts.items():
            check_engine_target(plans[role][0], p, tensorrt_version=trt.__version__, gpu_name=gpu,
                                compute_capability=cc)
        head = plans["whole" if "whole" in parts else "fusion"][0]
        self.labels = check_labels(head.get("labels"), path)
        self.meta = head
        self.cuda = cuda_backend()
        self.runners: dict[str, TrtRunner] = {}
        try:
            for role, p in parts.items():
                self.runners[role] = TrtRunner(trt, plans[role][1], self.cuda, name=str(p))
            self._wire(path)
        except BaseException:
            self.close()
            raise
        kind = "split engines " + "+".join(sorted(self.runners)) if len(self.runners) > 1 else path.name
        self.description = f"{kind} on {gpu} (TensorRT {trt.__version__}, batch {self.min_batch}..{self.max_batch})"

    @staticmethod
    def _checked_plan(trt: Any, path: Path) -> tuple[dict, bytes]:
        """The engine's sidecar (kind, input spec) and its bytes, hashed as read: a file replaced after the check
        can never be the one deserialised."""
        from sofp.runtime.sidecar import read_sidecar

        meta = read_sidecar(path, kind="tensorrt", input_spec=INPUT_SPEC, verify_hash=False)
        plan = path.read_bytes()
        digest = hashlib.sha256(plan).hexdigest()
        if digest != meta["sha256"]:
            raise SofpError(f"{path} does not match its sidecar (sha256 {digest[:12]} vs {str(meta['sha256'])[:12]}); "
                            "rebuild it with python export/to_trt.py")
        return meta, plan

    def _wire(self, path: Path) -> None:
        """Check the engines' I/O and set the batch range every part accepts."""
        for role, r in self.runners.items():
            if role != "fusion" and (len(r.inputs) != 1 or len(r.outputs) != 1):
                raise UsageError(f"{r.name} has inputs {r.inputs} and outputs {r.outputs}; expected one of each")
        ranges = [r.batch_range(r.inputs[0]) for r in self.runners.values()]
        if "fusion" in self.runners:
            fusion = self.runners["fusion"]
            if len(fusion.outputs) != 1:
                raise UsageError(f"{fusion.name} has outputs {fusion.outputs}; expected the logits only")
            self.feeds_from = split_roles(fusion.inputs)
            absent = sorted(set(self.feeds_from.values()) - set(self.runners))
            if absent:
                raise UsageError(f"{path}: the fusion engine takes {fusion.inputs} but the manifest has no "
                                 f"{', '.join(absent)} engine")
        self.min_batch = max(lo for lo, _ in ranges)
        self.max_batch = min(hi for _, hi in ranges)
        if self.min_batch > self.max_batch:
            raise UsageError(f"{path}: the engines' batch profiles do not overlap ({ranges})")

    def _logits(self, x: np.ndarray) -> np.ndarray:
        if "whole" in self.runners:
            r = self.runners["whole"]
            return r.infer({r.inputs[0]: x})[r.outputs[0]]
        tokens = {role: r.infer({r.inputs[0]: x})[r.outputs[0]] for role, r in self.runners.items() if role != "fusion"}
        fusion = self.runners["fusion"]
        return fusion.infer({name: tokens[role] for name, role in self.feeds_from.items()})[fusion.outputs[0]]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if not self.runners:
            raise SofpError(f"the TensorRT backend of {self.model_path.name} is closed; create a new one")
        x = check_batch(batch)
        out = np.empty((x.shape[0], len(self.labels)), np.float32)
        for start, rows, run in plan_batches(x.shape[0], self.min_batch, self.max_batch):
            xb = x[start : start + rows]
            if run > rows:
                xb = np.concatenate([xb, np.zeros((run - rows, *xb.shape[1:]), xb.dtype)])
            out[start : start + rows] = softmax(np.asarray(self._logits(xb)[:rows], np.float32))
        return out

    def close(self) -> None:
        for r in self.runners.values():
            r.close(close_cuda=False)
        self.runners = {}
        cuda = getattr(self, "cuda", None)
        if cuda is not None:
            cuda.close()
            self.cuda = None
