"""ONNX export of a small SOFP model: whole and split graphs, parity with PyTorch, sidecars, bad inputs."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import onnx
import pytest
import torch

from sofp.export.onnx_checks import check_model, load_onnx
from sofp.export.onnx_export import export_onnx, ort_session, run_ort
from sofp.export.parity import FP32_LOGITS, compare
from sofp.export.sidecar import read_sidecar
from sofp.runtime.errors import UsageError
from sofp.runtime.features import INPUT_SPEC
from sofp.training.checkpoint import load_checkpoint


def _torch_logits(ckpt, x):
    with torch.no_grad():
        return load_checkpoint(ckpt).model(torch.from_numpy(x)).numpy()


def test_whole_graph_matches_pytorch_on_random_inputs(small_ckpt, whole_onnx):
    x = np.random.default_rng(7).random((37, 3, 28, 28), dtype=np.float32)
    got = run_ort(ort_session(whole_onnx), {"input": x})
    rep = compare({"logits": _torch_logits(small_ckpt, x)}, got, {"logits": FP32_LOGITS})
    assert rep.passed, rep.summary()
    model = onnx.load(str(whole_onnx))
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    meta = read_sidecar(whole_onnx, kind="onnx", input_spec=INPUT_SPEC)
    assert meta["labels"] == ["negative", "positive", "surprise"] and meta["opset"] == 17
    assert meta["parity"]["passed"] and meta["parity"]["argmax_agreement"] == 1.0
    assert meta["source"]["checkpoint_sha256"] == load_checkpoint(small_ckpt).meta["sha256"]
    assert meta["checks"]["problems"]["trt8.6"] == meta["checks"]["problems"]["trt10"] == []
    assert meta["checks"]["problems"]["trt8.5"] == ["unsupported ops LayerNormalization"]


def test_split_graphs_compose_to_the_whole(small_ckpt, split_files, whole_onnx):
    onnx_files = [p for p in split_files if p.suffix == ".onnx"]
    roles = [read_sidecar(p)["role"] for p in onnx_files]
    assert roles == ["global", "region_tl", "region_tr", "region_bl", "region_br", "fusion"]
    manifest = json.loads(next(p for p in split_files if p.name.endswith(".split.json")).read_text())
    assert manifest["parity"]["passed"]
    x = np.random.default_rng(3).random((19, 3, 28, 28), dtype=np.float32)
    tokens = {}
    for p, role in zip(onnx_files[:-1], roles[:-1], strict=True):
        tokens[role] = run_ort(ort_session(p), {"input": x})["tokens"]
        assert tokens[role].shape == (19, 9, 16)
    feeds = {n: tokens[r] for n, r in manifest["fusion_inputs"].items()}
    composed = run_ort(ort_session(onnx_files[-1]), feeds)
    whole = run_ort(ort_session(whole_onnx), {"input": x})
    assert compare(whole, composed, {"logits": FP32_LOGITS}).passed


def test_static_batch(small_ckpt, tmp_path):
    path = export_onnx(small_ckpt, tmp_path, opset=16, batch=4)[0]
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4
    rep = check_model(path, ("trt8.5", "trt8.6", "trt10"))
    assert rep.ok(), rep.summary()  # opset 16: LayerNorm decomposed, fine for TensorRT 8.5 too
    assert "LayerNormalization" not in rep.ops


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: None, "no checkpoint"),
        (lambda p: p.write_bytes(b"\x00garbage" * 10), "not a PyTorch checkpoint"),
        (lambda p: torch.save({"state_dict": {}}, p), "not a SOFP Edge checkpoint"),
    ],
)
def test_missing_corrupt_or_foreign_checkpoint(tmp_path, make, match):
    ckpt = tmp_path / "bad.pt"
    make(ckpt)
    with pytest.raises(UsageError, match=match) as info:
        export_onnx(ckpt, tmp_path / "out")
    assert "\n" not in str(info.value)


def test_bad_arguments(small_ckpt, tmp_path):
    with pytest.raises(UsageError, match="opset >= 14"):
        export_onnx(small_ckpt, tmp_path, opset=13)
    with pytest.raises(UsageError, match="positive integer"):
        export_onnx(small_ckpt, tmp_path, batch=0)


@pytest.mark.parametrize(("content", "match"), [(None, "does not exist"), (b"", "is empty"),
                                                (b"\x08\x07garbage\xff\xff", "not a readable ONNX"),
                                                (b"\x08\x07", "holds no ONNX graph")])
def test_missing_corrupt_or_foreign_onnx(tmp_path, content, match):
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=match):
        load_onnx(path)


def test_to_onnx_script(small_ckpt, tmp_path, capsys):
    sys.path.insert(0, "export")
    try:
        import to_onnx
    finally:
        sys.path.remove("export")
    assert to_onnx.main(["--ckpt", str(small_ckpt), "--out", str(tmp_path), "--batch", "2"]) == 0
    assert (tmp_path / "small_sofp.onnx").is_file() and (tmp_path / "small_sofp.onnx.json").is_file()
    out = capsys.readouterr().out
    assert "trt8.5: unsupported ops LayerNormalization" in out and "trt10: ok" in out and "--opset 16" in out
    assert re.search(r"parity small_sofp\.onnx vs PyTorch: max \|delta\| \d\.\de-\d\d .*argmax agreement 100\.0 % "
                     r"on 64 inputs .*: passed", out)
    assert to_onnx.main(["--ckpt", str(tmp_path / "none.pt"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --ckpt") and "no checkpoint there" in err[0]


def test_ststnet_exports_whole_but_not_split(tmp_path):
    from sofp.training.checkpoint import save_checkpoint
    from sofp.training.models import build_model

    ckpt = save_checkpoint(tmp_path / "st.pt", build_model("ststnet"),
                           {"model_name": "ststnet", "model_config": {}, "labels": ["a", "b", "c"]})
    path = export_onnx(ckpt, tmp_path / "out")[0]
    assert read_sidecar(path)["model"]["name"] == "ststnet"
    with pytest.raises(UsageError, match="--split needs a SOFP model"):
        export_onnx(ckpt, tmp_path / "out2", split=True)


@pytest.mark.parametrize("partner", [{}, {"partner": "ststnet", "partner_config": {"use_strain": False},
                                         "partner_weight": 0.4}])
def test_an_ensemble_exports_whole_and_says_how_to_get_a_split(tmp_path, partner):
    from sofp.training.checkpoint import save_checkpoint
    from sofp.training.models import build_model

    ens = build_model("ensemble", members=2, **partner).eval()
    ckpt = save_checkpoint(tmp_path / "ens.pt", ens, {"model_name": "ensemble", "model_config": ens.cfg.to_dict(),
                                                      "labels": ["a", "b", "c"]})
    assert (load_checkpoint(ckpt).model.partner is None) == (not partner)
    path = export_onnx(ckpt, tmp_path / "out")[0]
    assert read_sidecar(path)["model"]["name"] == "ensemble"
    x = np.random.default_rng(0).random((5, 3, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = ens(torch.from_numpy(x)).numpy()
    got = run_ort(ort_session(path), {"input": x})["logits"]
    assert np.allclose(got, expected, atol=1e-5)
    with pytest.raises(UsageError, match=r"2-member ensemble.* --set members=1"):
        export_onnx(ckpt, tmp_path / "out2", split=True)
