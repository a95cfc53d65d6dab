"""Shared fixtures for the export tests: a small SOFP checkpoint and its exported ONNX graphs (made by code)."""

from __future__ import annotations

from pathlib import Path

import pytest

LABELS = ["negative", "positive", "surprise"]
SMALL = {"dim": 16, "stem": 4, "heads": 2, "head_hidden": 16}


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_ckpt(tmp_path_factory) -> Path:
    """A randomly initialised small SOFP checkpoint (never a trained result)."""
    import torch

    from sofp.training.checkpoint import save_checkpoint
    from sofp.training.models import build_model

    torch.manual_seed(0)
    model = build_model("sofp", **SMALL)
    path = tmp_path_factory.mktemp("ckpt") / "small_sofp.pt"
    save_checkpoint(path, model, {"model_name": "sofp", "model_config": SMALL, "labels": LABELS})
    return path


@pytest.fixture(scope="session")
def whole_onnx(small_ckpt, tmp_path_factory) -> Path:
    from sofp.export.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("onnx_whole")
    return export_onnx(small_ckpt, out)[0]


@pytest.fixture(scope="session")
def split_files(small_ckpt, tmp_path_factory) -> list[Path]:
    from sofp.export.onnx_export import export_onnx

    return export_onnx(small_ckpt, tmp_path_factory.mktemp("onnx_split"), split=True)
