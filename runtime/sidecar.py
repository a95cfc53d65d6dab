"""The JSON sidecar that travels with every exported ONNX graph and TensorRT engine: schema and reader.

A model file ``X`` (``model.onnx``, ``model...engine``) has its metadata in ``X.json`` (the file
name with ``.json`` appended); the model file itself is left untouched (an engine stays a plain
TensorRT plan that ``trtexec`` and C++ load as is).

Schema ``sofp-sidecar/1`` (keys marked * are always present)::

    format*        "sofp-sidecar/1"
    kind*          "onnx" | "tensorrt"
    file*          the model file's name (no directory)
    sha256*        SHA-256 of the model file's bytes
    role*          "whole" | "global" | "region_tl" | "region_tr" | "region_bl" | "region_br" | "fusion"
    inputs*        [{"name", "shape" (ints; "batch" for the dynamic axis), "dtype"}], in call order
    outputs*       same form; the whole model and "fusion" output "logits" (N, classes),
                   encoders output "tokens" (N, 9, D)
    labels*        class names, index = class id (from the checkpoint)
    input_spec*    the runtime's INPUT_SPEC (channels u, v, strain; 28 x 28; NCHW float32 in [0, 1])
    model*         {"name", "config"} from the checkpoint
    source*        {"checkpoint": file name, "checkpoint_sha256", "onnx": file name or null,
                    "onnx_sha256" or null}  (engines name the ONNX graph they were parsed from)
    opset*         default-domain opset of the graph (engines: of the ONNX they came from)
    precision*     "fp32" | "fp16" | "int8"  (ONNX: the graph's float type; engines: build precision)
    batch*         {"dynamic": bool, "min", "opt", "max"} (ONNX dynamic: min 1, opt/max null)
    versions*      {"torch", "onnx", "onnxruntime", "tensorrt", "sofp"} (null where not used)
    device         engines: {"gpu", "compute_capability", "jetson", "dla_core"}; ONNX: null
    build          engines: {"workspace_mb", "timing_cache", "calibration_cache", "cache_key",
                   "strongly_typed", "notes"}; ONNX: null
    parity*        {"reference", "inputs", "n", "outputs": {name: {"max_abs", "max_rel", "atol",
                   "rtol", "passed"}}, "argmax_agreement", "max_abs_prob", "passed"} or null
    split          for split graphs: {"manifest": "<stem>.split.json"}; else null
    checks         ONNX: the static check report {"opset", "ops", "problems" (per TensorRT target;
                   [] = compatible), "general", "dla_fallback"}; absent on engines
    created*       UTC ISO-8601 time of writing

File names: ONNX ``<stem>.onnx``, split ``<stem>.<role>.onnx``, FP16 ``<stem>[.<role>].fp16.onnx``;
engines ``<stem>[.<role>].<precision>.b<min>-<opt>-<max>.<gpu|dlaN>.<device>.trt<version>.<key>.engine``
(see ``naming.py``); ``to_trt.py --split`` also writes ``<stem>.split.engines.json``
({"format": "sofp-split-engines/1", "precision", "engines": {role: engine file}}).

The split manifest ``<stem>.split.json`` lists the graphs and how they compose:
``logits = fusion(global(x), region_tl(x), region_tr(x), region_bl(x), region_br(x))`` (without
``global`` when the model has no global branch), with each graph's file and I/O names.

Reading checks ``format``, ``kind`` and that ``input_spec`` equals the caller's, with one-line errors.
The runtime is the consumer of sidecars, so the reader lives here; ``sofp.export.sidecar`` writes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sofp.runtime.errors import SofpError, UsageError

FORMAT = "sofp-sidecar/1"
REQUIRED = (
    "format", "kind", "file", "sha256", "role", "inputs", "outputs", "labels", "input_spec", "model",
    "source", "opset", "precision", "batch", "versions", "parity", "created",
)


def sidecar_path(model_file: str | Path) -> Path:
    """``model.onnx`` -> ``model.onnx.json``."""
    p = Path(model_file)
    return p.with_name(p.name + ".json")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_sidecar(model_file: str | Path, *, kind: str | None = None, input_spec: dict | None = None,
                 verify_hash: bool = True) -> dict:
    """Load and check the sidecar of ``model_file``.

    Checks: present, valid JSON, ``format`` == FORMAT, required keys, ``kind`` (when given),
    ``input_spec`` equal to the caller's (when given), and the model file's SHA-256 (when
    ``verify_hash``). Every failure is one line (:class:`UsageError` for a wrong or foreign file,
    :class:`SofpError` for a stale one).
    """
    path = sidecar_path(model_file)
    if not path.is_file():
        raise UsageError(f"no sidecar {path} next to {model_file}; re-export with export/to_onnx.py or to_trt.py")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"sidecar {path} is not valid JSON ({exc.__class__.__name__}); re-export the model") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise UsageError(f"sidecar {path} has format {got!r}; expected {FORMAT!r}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise UsageError(f"sidecar {path} lacks {', '.join(missing)}; re-export the model")
    if kind is not None and data["kind"] != kind:
        raise UsageError(f"sidecar {path} describes a {data['kind']!r} file; expected {kind!r}")
    if input_spec is not None and data["input_spec"] != input_spec:
        raise UsageError(
            f"{model_file} expects input {data['input_spec']}; this runtime produces {input_spec}"
        )
    if verify_hash and Path(model_file).is_file():
        actual = file_sha256(model_file)
        if actual != data["sha256"]:
            raise SofpError(
                f"{model_file} does not match its sidecar (sha256 {actual[:12]} vs {data['sha256'][:12]}); re-export it"
            )
    return data
