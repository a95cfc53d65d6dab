"""The pipeline parameters shared with the native runtime: ``runtime/shared_params.json``.

One file, read here for the Python runtime's defaults and embedded into the native library
(native/) at build time, so the two runtimes cannot drift apart: face crop, detector,
stabiliser, DIS presets, motion signal, spotting thresholds and the model's input spec.
"""

from __future__ import annotations

import json
from pathlib import Path

PARAMS_FILE = Path(__file__).with_name("shared_params.json")
FORMAT = "sofp-params/1"


def load_shared_params(path: str | Path = PARAMS_FILE) -> dict:
    """The parameter file as a dict; ValueError when its ``format`` is not ``sofp-params/1``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} has format {data.get('format')!r}; expected {FORMAT!r}")
    return data


SHARED = load_shared_params()
