"""FP32 ONNX graph -> FP16 ONNX graph with float32 inputs and outputs kept.

Used to measure FP16 numerics in ONNX Runtime (no GPU needed), and as the input graph where TensorRT
is strongly typed (TensorRT 11 has no FP16 builder flag: the precision comes from the graph).
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnxconverter_common import float16

from sofp.export.onnx_checks import load_onnx


def fp16_path(onnx_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.fp16.onnx``."""
    p = Path(onnx_path)
    return p.with_name(p.stem + ".fp16.onnx")


def convert_fp16(src: str | Path, dst: str | Path | None = None) -> Path:
    """Write the FP16 version of ``src`` (float32 I/O kept, Cast nodes at the boundaries) -> its path.

    Weights and activations become float16; values beyond float16's range are clamped by the
    converter (``max_finite_val`` 1e4; none were clamped on SOFP, see the parity benchmark).
    """
    model = load_onnx(src)
    half = float16.convert_float_to_float16(model, keep_io_types=True)
    out = Path(dst) if dst is not None else fp16_path(src)
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(half, str(tmp))
    tmp.replace(out)
    return out
