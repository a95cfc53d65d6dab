"""Static TensorRT compatibility: every op of the exported graphs is in the parser lists; made-up or
unsupported ops, out-of-range opsets and shapes TensorRT cannot take are caught."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from sofp.export import trt_ops
from sofp.export.onnx_checks import check_model, op_inventory, require_compatible
from sofp.runtime.errors import SofpError


def _save(tmp_path, nodes, inputs, outputs, opset=17, inits=(), name="g.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _x(name="input", shape=("batch", 3, 28, 28)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def test_lists_are_consistent():
    assert trt_ops.TARGETS["trt8.5"].ops < trt_ops.TARGETS["trt8.6"].ops
    assert {"LayerNormalization", "GroupNormalization", "IsInf"} <= trt_ops.TARGETS["trt8.6"].ops
    assert "LayerNormalization" not in trt_ops.TARGETS["trt8.5"].ops
    # every 8.6 op is still parsed by 10.x, and nothing dated after 10.0 is in the 10.x floor
    assert trt_ops.TARGETS["trt8.6"].ops <= trt_ops.TARGETS["trt10"].ops
    assert not {"Attention", "RMSNormalization", "STFT", "DeformConv"} & trt_ops.TARGETS["trt10"].ops
    for t in trt_ops.TARGETS.values():
        assert "onnx-tensorrt" in t.source


def test_version_mapping():
    assert trt_ops.target_for_version("8.5.2.2") == "trt8.5"
    assert trt_ops.target_for_version("8.6.2") == "trt8.6"
    assert trt_ops.target_for_version("10.3.0") == "trt10"
    assert trt_ops.target_for_version("11.0.0") == "trt10"


@pytest.mark.parametrize("target", list(trt_ops.DEFAULT_TARGETS))
def test_exported_graphs_are_compatible(whole_onnx, split_files, target):
    for path in [whole_onnx, *[p for p in split_files if p.suffix == ".onnx"]]:
        report = check_model(path, (target,))
        assert report.ok(target), report.summary()
        assert set(report.ops) <= trt_ops.TARGETS[target].ops


def test_opset17_layernorm_fails_trt85_with_hint(whole_onnx):
    report = check_model(whole_onnx, ("trt8.5",))
    assert not report.ok("trt8.5")
    with pytest.raises(SofpError, match="--opset 16"):
        require_compatible(report, "trt8.5")


def test_made_up_op_fails(tmp_path):
    path = _save(tmp_path, [helper.make_node("FrobnicateFlow", ["input"], ["y"], domain="sofp.test")],
                 [_x()], [_x("y")])
    path2 = _save(tmp_path, [helper.make_node("Unique", ["input"], ["y"])], [_x()],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], name="u.onnx")
    rep = check_model(path, trt_ops.DEFAULT_TARGETS)
    assert all("sofp.test::FrobnicateFlow" in " ".join(p) for p in rep.problems.values())
    rep2 = check_model(path2, trt_ops.DEFAULT_TARGETS)
    for t in trt_ops.DEFAULT_TARGETS:
        assert any("unsupported ops Unique" in p for p in rep2.problems[t]), rep2.problems
        with pytest.raises(SofpError, match="Unique"):
            require_compatible(rep2, t)


def test_opset_out_of_range(tmp_path):
    path = _save(tmp_path, [helper.make_node("Relu", ["input"], ["y"])], [_x()], [_x("y")], opset=21)
    rep = check_model(path, ("trt8.6", "trt10"))
    assert any("opset 21" in p for p in rep.problems["trt8.6"])
    assert any("opset 21" in p for p in rep.problems["trt10"])


def test_shapes_trt_cannot_take(tmp_path):
    # dynamic beyond batch, DOUBLE I/O, rank 9
    nine = ["batch", *[2] * 8]
    nodes = [helper.make_node("Relu", ["input"], ["y"]), helper.make_node("Cast", ["d"], ["e"], to=TensorProto.FLOAT)]
    path = _save(tmp_path, nodes, [_x(shape=nine), helper.make_tensor_value_info("d", TensorProto.DOUBLE, ["batch", 3]),
                                   _x("w", ("batch", 3, "h", "w"))],
                 [_x("y", nine), _x("e", ("batch", 3))])
    rep = check_model(path, ("trt10",))
    text = " ".join(rep.general)
    assert "rank 9" in text and "DOUBLE" in text and "dynamic beyond the batch" in text
    assert not rep.ok("trt10")


def test_constant_input_rule_strict_on_8x(tmp_path):
    axes = helper.make_tensor_value_info("axes", TensorProto.INT64, [1])
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [2])
    node = helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["y"])
    path = _save(tmp_path, [node], [_x(), axes], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                 inits=[starts, ends])
    rep = check_model(path, ("trt8.6", "trt10"))
    assert any("Slice" in p and "constant" in p for p in rep.problems["trt8.6"])
    assert not any("Slice" in p for p in rep.problems["trt10"])


def test_inventory_walks_subgraphs(tmp_path):
    then = helper.make_graph([helper.make_node("Unique", ["input"], ["t"])], "then", [], [_x("t")])
    other = helper.make_graph([helper.make_node("Relu", ["input"], ["e"])], "else", [], [_x("e")])
    cond = helper.make_tensor("c", TensorProto.BOOL, [], [True])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)
    path = _save(tmp_path, [node], [_x()], [_x("y")], inits=[cond])
    ops = op_inventory(onnx.load(str(path)))
    assert ops["Unique"] == 1 and ops["If"] == 1


def test_dla_fallback_is_reported(split_files):
    enc = next(p for p in split_files if p.name.endswith(".region_tl.onnx"))
    rep = check_model(enc)
    assert "Conv" not in rep.dla_fallback and "LayerNormalization" in rep.dla_fallback
    assert trt_ops.dla_fallback_ops({"Conv", "Relu", "x::Y"}) == ["x::Y"]


def test_shared_weights_through_identity_are_constant(tmp_path):
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.1] * 108)
    nodes = [helper.make_node("Identity", ["w"], ["w2"]), helper.make_node("Conv", ["input", "w2"], ["y"])]
    out = _x("y", ("batch", 4, 26, 26))
    ok = _save(tmp_path, nodes, [_x()], [out], inits=[w])
    assert check_model(ok, ("trt8.6",)).ok("trt8.6")
    wi = helper.make_tensor_value_info("wi", TensorProto.FLOAT, [4, 3, 3, 3])
    bad = _save(tmp_path, [helper.make_node("Conv", ["input", "wi"], ["y"])], [_x(), wi], [out], name="b.onnx")
    assert any("Conv" in p and "constant" in p for p in check_model(bad, ("trt8.6",)).problems["trt8.6"])


def test_builtin_checkpoint_graphs_are_compatible(tmp_path):
    """The built-in ensemble's graph, and the split graphs of one of its members (an ensemble has no split)."""
    from sofp.export.onnx_export import export_onnx
    from sofp.training.checkpoint import BUILTIN_CHECKPOINT, load_checkpoint, save_checkpoint

    if not BUILTIN_CHECKPOINT.is_file():
        pytest.skip("built-in checkpoint not present")
    ckpt = load_checkpoint(BUILTIN_CHECKPOINT)
    member = ckpt.model.members[0] if hasattr(ckpt.model, "members") else ckpt.model
    meta = {"model_name": "sofp", "model_config": ckpt.meta["model_config"].get("member_config", {}),
            "labels": ckpt.meta["labels"]}
    single = save_checkpoint(tmp_path / "member0.pt", member, meta)
    for path in [p for p in export_onnx(single, tmp_path / "split", split=True) if p.suffix == ".onnx"] + \
            [export_onnx(BUILTIN_CHECKPOINT, tmp_path / "whole")[0]]:
        rep = check_model(path, trt_ops.DEFAULT_TARGETS)
        assert rep.ok(), rep.summary()
