"""FP16 ONNX graph (float32 I/O kept) in ONNX Runtime against the FP32 graph."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from sofp.export.fp16 import convert_fp16, fp16_path
from sofp.export.onnx_checks import check_model
from sofp.export.onnx_export import ort_session, run_ort
from sofp.export.parity import compare, tolerances_for


def test_fp16_graph_keeps_float32_io_and_agrees(whole_onnx, tmp_path):
    dst = convert_fp16(whole_onnx, tmp_path / "m.fp16.onnx")
    assert fp16_path(whole_onnx).name == whole_onnx.stem + ".fp16.onnx"
    model = onnx.load(str(dst))
    for vi in [*model.graph.input, *model.graph.output]:
        assert vi.type.tensor_type.elem_type == TensorProto.FLOAT
    assert any(i.data_type == TensorProto.FLOAT16 for i in model.graph.initializer)
    x = np.random.default_rng(5).random((64, 3, 28, 28), dtype=np.float32)
    ref = run_ort(ort_session(whole_onnx), {"input": x})
    got = run_ort(ort_session(dst), {"input": x})
    rep = compare(ref, got, tolerances_for("fp16", ["logits"]))
    assert rep.passed, rep.summary()
    assert 0 < rep.outputs["logits"].max_abs < 5e-2  # really FP16: not bit-identical to FP32
    assert check_model(dst).ok(), check_model(dst).summary()
