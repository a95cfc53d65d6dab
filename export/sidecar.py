"""Writing the JSON sidecar of an exported ONNX graph or TensorRT engine.

The schema and the reader are in :mod:`sofp.runtime.sidecar` (the runtime consumes sidecars and
must not need the exporter); this module fills in and writes them.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from sofp.runtime.sidecar import FORMAT, REQUIRED, file_sha256, read_sidecar, sidecar_path

__all__ = ["FORMAT", "REQUIRED", "file_sha256", "io_entry", "make_sidecar", "read_sidecar", "sidecar_path",
           "utc_now", "write_sidecar"]

KINDS = ("onnx", "tensorrt")
ROLES = ("whole", "global", "region_tl", "region_tr", "region_bl", "region_br", "fusion")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def make_sidecar(model_file: str | Path, **fields: Any) -> dict:
    """A sidecar dict for ``model_file``: ``file``, ``sha256``, ``format``, ``created`` filled in.

    Raises ``ValueError`` (a bug, not a user error) when a required key is missing or a value is
    outside the schema.
    """
    p = Path(model_file)
    data: dict[str, Any] = {"format": FORMAT, "file": p.name, "sha256": file_sha256(p), "created": utc_now()}
    data.update({"device": None, "build": None, "split": None})
    data.update(fields)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"sidecar for {p.name} lacks {', '.join(missing)}")
    if data["kind"] not in KINDS or data["role"] not in ROLES or data["precision"] not in ("fp32", "fp16", "int8"):
        bad = f"{data['kind']}/{data['role']}/{data['precision']}"
        raise ValueError(f"sidecar for {p.name}: bad kind/role/precision {bad}")
    return data


def write_sidecar(model_file: str | Path, data: dict) -> Path:
    """Write ``data`` next to ``model_file`` as ``<name>.json``; returns the sidecar path."""
    out = sidecar_path(model_file)
    out.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return out


def io_entry(name: str, shape: list[int | str], dtype: str) -> dict:
    """One ``inputs``/``outputs`` entry."""
    return {"name": name, "shape": list(shape), "dtype": dtype}
