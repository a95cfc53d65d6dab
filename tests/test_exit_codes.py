"""The README's exit-code table, enforced over every CLI as the user types it.

0 done; 1 a failure at run time; 2 bad usage or a missing capability; 130/143 signals
(tests/runtime/test_stream_signals.py). Each error is one ``error:`` line on stderr with no
traceback and no FFmpeg/OpenCV log lines. Cases marked ``light`` (help, usage errors) must be
answered before torch, scikit-learn, onnx, ONNX Runtime or the data are loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CLIS = {
    "stream": ["runtime/stream.py"],
    "train": ["-m", "sofp.training"],
    "onnx": ["export/to_onnx.py"],
    "trt": ["export/to_trt.py"],
}
HEAVY = ("torch", "sklearn", "onnx", "onnxruntime", "tensorrt", "skimage", "matplotlib")
BUILTIN = "training/builtin/sofp_composite.pt"

# (cli, arguments ({tmp}: a folder of fixtures), exit code, text on stderr, light)
CASES = [
    ("stream", ["--help"], 0, None, True),
    ("stream", [], 2, "one of the arguments", True),
    ("stream", ["--demo", "--bogus"], 2, "unrecognized arguments: --bogus", True),
    ("stream", ["--demo", "--fps", "0"], 2, "--fps 0", True),
    ("stream", ["--demo", "--backend", "nope"], 2, "invalid choice: 'nope'", True),
    ("stream", ["--frames", "{tmp}/frames"], 2, "--fps", True),
    ("stream", ["--video", "{tmp}/missing.mp4", "--quiet"], 2, "not found", True),
    ("stream", ["--demo", "--model", "{tmp}/missing.onnx"], 2, "model file not found", True),
    ("stream", ["--demo", "--model", "{tmp}/notes.txt"], 2, "unknown file type", True),
    ("stream", ["--demo", "--model", "{tmp}/lone.onnx", "--quiet"], 2, "no sidecar", False),
    ("stream", ["--demo", "--flow", "cuda-tvl1", "--quiet"], 2, "cuda-tvl1", False),
    ("stream", ["--demo", "--backend", "tensorrt", "--quiet"], 2, "tensorrt", False),
    ("stream", ["--video", "{tmp}/bad.mp4", "--quiet"], 1, "cannot read video", False),
    ("stream", ["--frames", "{tmp}/broken", "--fps", "30", "--quiet"], 1, "could not be decoded", False),
    ("train", ["--help"], 0, None, True),
    ("train", ["loso", "--help"], 0, None, True),
    ("train", ["prepare", "--help"], 0, None, True),
    ("train", ["loso"], 2, "--data", True),
    ("train", ["loso", "--data", "{tmp}/missing"], 2, "no such folder", True),
    ("train", ["loso", "--data", "synthetic", "--epochs", "0"], 2, "--epochs: must be >= 1", True),
    ("train", ["loso", "--data", "synthetic", "--device", "tpu"], 2, "invalid choice: 'tpu'", True),
    ("train", ["prepare", "casme2", "--root", "{tmp}/missing", "--out", "{tmp}/o"], 2, "--root", True),
    ("train", ["loso", "--data", "synthetic", "--set", "lr=abc"], 2, "lr is a number", True),
    ("train", ["loso", "--data", "synthetic", "--model", "vit"], 2, "unknown model 'vit'", True),
    ("train", ["loso", "--data", "{tmp}/frames", "--epochs", "1"], 2, "has no labels.csv", False),
    ("train", ["loso", "--data", "{tmp}/labelled", "--epochs", "1"], 1, "missing image", False),
    ("onnx", ["--help"], 0, None, True),
    ("onnx", [], 2, "--ckpt", True),
    ("onnx", ["--ckpt", "{tmp}/missing.pt"], 2, "no checkpoint there", True),
    ("onnx", ["--ckpt", BUILTIN, "--opset", "13"], 2, "opset >= 14", True),
    ("onnx", ["--ckpt", "{tmp}/garbage.pt", "--out", "{tmp}/o"], 2, "not a PyTorch checkpoint", False),
    ("trt", ["--help"], 0, None, True),
    ("trt", ["--onnx", "{tmp}/missing.onnx"], 2, "does not exist", True),
    ("trt", ["--ckpt", BUILTIN, "--min-batch", "4", "--max-batch", "2"], 2, "need 1 <= min <= opt <= max", True),
    ("trt", ["--onnx", "{tmp}/lone.onnx"], 2, "not a readable ONNX model", False),
]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    import cv2

    tmp = tmp_path_factory.mktemp("exit_codes")
    (tmp / "notes.txt").write_text("not a model")
    (tmp / "lone.onnx").write_bytes(b"an onnx file without its sidecar")
    (tmp / "garbage.pt").write_bytes(b"not a checkpoint")
    (tmp / "bad.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    (tmp / "frames").mkdir()
    cv2.imwrite(str(tmp / "frames" / "1.png"), np.zeros((48, 64, 3), np.uint8))
    (tmp / "broken").mkdir()
    (tmp / "broken" / "1.png").write_bytes(b"broken")
    (tmp / "labelled").mkdir()
    (tmp / "labelled" / "labels.csv").write_text("file,dataset,subject,sample,label,emotion\n"
                                                 "a.png,casme2,sub01,EP01,0,negative\n")
    return tmp


def run(cli: str, args: list[str]) -> tuple[int, list[str], set[str]]:
    """(exit code, stderr lines without import timings, top-level packages imported)."""
    r = subprocess.run([sys.executable, "-X", "importtime", *CLIS[cli], *args], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    lines = r.stderr.splitlines()
    imported = {ln.rsplit("|", 1)[1].strip().split(".")[0] for ln in lines if ln.startswith("import time:")}
    return r.returncode, [ln for ln in lines if not ln.startswith("import time:")], imported


@pytest.mark.parametrize(("cli", "args", "code", "text", "light"), CASES,
                         ids=[f"{c[0]}:{' '.join(c[1]) or '(none)'}" for c in CASES])
def test_exit_code(fixtures, cli, args, code, text, light):
    args = [a.replace("{tmp}", str(fixtures)) for a in args]
    got, err, imported = run(cli, args)
    assert got == code, "\n".join(err[-20:])
    assert not [ln for ln in err if "Traceback" in ln or "[ WARN" in ln or "moov atom" in ln], err
    if code:
        errors = [ln for ln in err if ln.startswith("error: ") or ": error: " in ln]  # ours, or argparse's
        assert len(errors) == 1 and text in errors[0], err
    if light:
        assert not imported & set(HEAVY), f"loaded {sorted(imported & set(HEAVY))} before answering"
