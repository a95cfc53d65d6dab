"""SOFP Edge checkpoints: a state dict plus everything needed to use it without the training defaults.

Layout (a plain dict, loadable with ``torch.load(path, weights_only=True)``)::

    {"format": "sofp-edge-checkpoint", "version": 1, "state_dict": {...}, "meta": {...}}

``meta``: model_name, model_config, labels (index = class id), input_spec (the runtime's
INPUT_SPEC), train (resolved training config, data, seed, torch version), scores (honest LOSO
results of this configuration), created (UTC ISO time).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import INPUT_SPEC

FORMAT = "sofp-edge-checkpoint"
VERSION = 2  # 2: SOFP input conditioning (centre, strain switch) inside the encoders; version 1 is upgraded on load
BUILTIN_CHECKPOINT = Path(__file__).resolve().parent / "builtin" / "sofp_composite.pt"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model in eval mode and its metadata (``meta["sha256"]`` added)."""

    model: torch.nn.Module
    meta: dict[str, Any]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: str | Path, model: torch.nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``model``'s weights and ``meta`` (needs model_name, model_config, labels) atomically."""
    for key in ("model_name", "model_config", "labels"):
        if key not in meta:
            raise ValueError(f"checkpoint meta needs {key!r}")
    meta = {"input_spec": INPUT_SPEC, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "torch": str(torch.__version__), **meta}
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, "version": VERSION, "state_dict": state, "meta": meta}, tmp)
    tmp.replace(path)
    return path


def _read(path: Path) -> dict:
    if not path.is_file():
        raise UsageError(f"no checkpoint at {path}")
    data = path.read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise UsageError(f"{path} is not a PyTorch checkpoint (not a torch.save archive; corrupt or another format?)")
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UsageError(f"{path} holds Python objects beyond tensors and plain containers; "
                         "refusing to unpickle code (not a SOFP Edge checkpoint)") from None
    except Exception as exc:  # damaged bytes surface inside torch.load as any of a dozen exception types
        raise UsageError(f"{path} is not a readable PyTorch checkpoint (corrupt or truncated: "
                         f"{type(exc).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise UsageError(f"{path} is not a SOFP Edge checkpoint (no '{FORMAT}' marker); "
                         "train one with `sofp-train all` or `python -m sofp.training`")
    if obj.get("version") == 1:
        return _upgrade_v1(obj)
    if obj.get("version") != VERSION:
        raise UsageError(f"{path} has checkpoint version {obj.get('version')}; this SOFP Edge reads versions 1 and "
                         f"{VERSION}")
    return obj


def _upgrade_v1(obj: dict) -> dict:
    """A version-1 checkpoint as version 2: its SOFP had no input conditioning (strain used, no centring)
    and its global encoder's weights sat one level higher."""
    meta = dict(obj["meta"])
    state = obj["state_dict"]
    if meta.get("model_name") == "sofp":
        meta["model_config"] = {"encoder": "conv", "center": False, "scale": False, "use_strain": True,
                                **meta.get("model_config", {})}
        state = {k.replace("global_encoder.", "global_encoder.encoder.", 1) if k.startswith("global_encoder.") else k: v
                 for k, v in state.items()}
    return {**obj, "version": VERSION, "meta": meta, "state_dict": state}


def read_meta(path: str | Path) -> dict[str, Any]:
    """The checkpoint's metadata (with ``sha256``), validated, without building the model."""
    path = Path(path)
    obj = _read(path)
    meta = dict(obj["meta"])
    spec = meta.get("input_spec")
    if spec != INPUT_SPEC:
        raise UsageError(f"{path} expects input {spec}; this runtime produces {INPUT_SPEC}")
    meta["sha256"] = file_sha256(path)
    return meta


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint into its model (eval mode). Every problem is one :class:`UsageError` line."""
    from sofp.training.models import build_model

    path = Path(path)
    obj = _read(path)
    meta = read_meta(path)
    try:
        model = build_model(meta["model_name"], **meta["model_config"])
    except SofpError as exc:
        raise UsageError(f"{path}: {exc}") from None
    try:
        result = model.load_state_dict(obj["state_dict"], strict=False)
    except RuntimeError:
        raise UsageError(f"{path}: weights do not fit model {meta['model_name']!r} with its recorded config "
                         "(tensor shapes differ)") from None
    if result.missing_keys or result.unexpected_keys:
        raise UsageError(f"{path}: weights do not fit model {meta['model_name']!r} "
                         f"(missing {len(result.missing_keys)}, unexpected {len(result.unexpected_keys)} tensors)")
    n_out = _num_classes(model)
    if n_out != len(meta["labels"]):
        raise UsageError(f"{path}: model has {n_out} outputs but {len(meta['labels'])} labels")
    return Checkpoint(model.to(map_location).eval(), meta)


def _num_classes(model: torch.nn.Module) -> int:
    from sofp.training.models import config_of

    return config_of(model).num_classes
