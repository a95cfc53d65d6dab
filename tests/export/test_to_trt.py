"""to_trt.py around TensorRT: exit 2 + trtexec line without it, engine naming/caching, sidecars and the
parity refusal path (TensorRT replaced by fakes that record what they are given)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_fakes import fake_trt

from sofp.export import trt_export
from sofp.export.onnx_export import ort_session, run_ort
from sofp.export.sidecar import read_sidecar, sidecar_path
from sofp.export.trt_build import BuildSettings, BuiltEngine
from sofp.export.trt_export import TrtExportConfig, export_trt
from sofp.runtime.errors import SofpError, UsageError

DEVICE = {"gpu": "NVIDIA Test GPU", "compute_capability": "9.0", "jetson": None}
REPO = Path(__file__).resolve().parents[2]


def _load_to_trt():
    spec = importlib.util.spec_from_file_location("to_trt_script", REPO / "export" / "to_trt.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_builder(calls: list):
    def build(trt, onnx_path, settings, calibrator_factory):
        calls.append((Path(onnx_path).name, settings))
        return BuiltEngine(b"PLAN:" + str(onnx_path).encode(), ["fake"], False)
    return build


class OrtRunner:
    """Runs the ONNX graph the fake plan names; ``noise`` perturbs the first output."""

    def __init__(self, trt, plan: bytes, noise: float = 0.0) -> None:
        self.sess = ort_session(plan.decode()[len("PLAN:"):])
        self.noise = noise
        self.batches: list[int] = []

    def infer(self, feeds):
        self.batches.append(len(next(iter(feeds.values()))))
        out = run_ort(self.sess, feeds)
        if self.noise:
            key = next(iter(out))
            out[key] = out[key] + self.noise * np.random.default_rng(0).normal(size=out[key].shape).astype(np.float32)
        return out

    def close(self) -> None:
        pass


def _cfg(ckpt, out, **kw):
    settings = kw.pop("settings", BuildSettings(min_batch=1, opt_batch=8, max_batch=16))
    return TrtExportConfig(ckpt=ckpt, out_dir=out, settings=settings, parity_n=40, **kw)


def test_builds_names_and_caches(small_ckpt, tmp_path):
    calls: list = []
    res = export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt("10.3.0"), device=DEVICE,
                     runner_factory=OrtRunner, builder=fake_builder(calls))
    (engine,) = res.engines
    assert engine.name.startswith("small_sofp.fp16.b1-8-16.gpu.nvidia-test-gpu.trt10.3.0.")
    assert engine.read_bytes() == b"PLAN:" + str(tmp_path / "small_sofp.onnx").encode()  # plain plan
    meta = read_sidecar(engine, kind="tensorrt")
    assert meta["parity"]["passed"] and meta["parity"]["n"] == 40
    assert meta["build"]["cache_key"]["device"] == "NVIDIA Test GPU"
    assert meta["source"]["onnx"] == "small_sofp.onnx" and meta["versions"]["tensorrt"] == "10.3.0"
    assert (tmp_path / "small_sofp.fp16.onnx").is_file()  # FP16 graph with its own sidecar
    assert read_sidecar(tmp_path / "small_sofp.fp16.onnx")["parity"]["passed"]
    again = export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt("10.3.0"), device=DEVICE,
                       runner_factory=OrtRunner, builder=fake_builder(calls))
    assert again.reused == [engine] and len(calls) == 1
    export_trt(_cfg(small_ckpt, tmp_path, force=True), trt=fake_trt("10.3.0"), device=DEVICE,
               runner_factory=OrtRunner, builder=fake_builder(calls))
    assert len(calls) == 2
    other = export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt("8.6.2"), device=DEVICE,
                       runner_factory=OrtRunner, builder=fake_builder(calls))
    assert other.engines[0] != engine and ".trt8.6.2." in other.engines[0].name


def test_strongly_typed_tensorrt_parses_the_fp16_graph(small_ckpt, tmp_path):
    calls: list = []
    export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt("11.0.0", fp16_flag=False), device=DEVICE,
               runner_factory=OrtRunner, builder=fake_builder(calls))
    assert calls[0][0] == "small_sofp.fp16.onnx"


def test_failing_engine_is_refused_unless_forced(small_ckpt, tmp_path):
    def noisy(trt, plan):
        return OrtRunner(trt, plan, noise=5.0)

    with pytest.raises(SofpError, match="fails parity") as info:
        export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt(), device=DEVICE, runner_factory=noisy,
                   builder=fake_builder([]))
    assert info.value.exit_code == 1 and "--force" in str(info.value)
    assert not list(tmp_path.glob("*.engine*"))
    res = export_trt(_cfg(small_ckpt, tmp_path, force=True), trt=fake_trt(), device=DEVICE, runner_factory=noisy,
                     builder=fake_builder([]))
    meta = read_sidecar(res.engines[0], kind="tensorrt")
    assert meta["parity"]["passed"] is False
    # a kept failing engine is never served from the cache
    calls: list = []
    export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt(), device=DEVICE, runner_factory=OrtRunner,
               builder=fake_builder(calls))
    assert len(calls) == 1


def test_split_engines_and_profile_chunks(small_ckpt, tmp_path):
    runners: list = []

    def factory(trt, plan):
        runners.append(OrtRunner(trt, plan))
        return runners[-1]

    settings = BuildSettings(min_batch=4, opt_batch=8, max_batch=16)
    res = export_trt(_cfg(small_ckpt, tmp_path, split=True, settings=settings), trt=fake_trt(), device=DEVICE,
                     runner_factory=factory, builder=fake_builder([]))
    assert len(res.engines) == 6
    manifest = json.loads((tmp_path / "small_sofp.split.engines.json").read_text())
    assert set(manifest["engines"]) == {"global", "region_tl", "region_tr", "region_bl", "region_br", "fusion"}
    # 40 rows in chunks of at most 16, every chunk inside the profile (min 4): 16 + 16 + 8
    assert all(r.batches == [16, 16, 8] for r in runners)
    fusion = read_sidecar(tmp_path / manifest["engines"]["fusion"], kind="tensorrt")
    assert [i["name"] for i in fusion["inputs"]] == ["g", "tl", "tr", "bl", "br"]


def test_missing_tensorrt_exits_2_with_trtexec(small_ckpt, tmp_path, monkeypatch, capsys):
    def no_trt():
        raise ImportError("No module named 'tensorrt'")

    monkeypatch.setattr(trt_export, "import_tensorrt", no_trt)
    to_trt = _load_to_trt()
    code = to_trt.main(["--ckpt", str(small_ckpt), "--out", str(tmp_path), "--split", "--parity-n", "8"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: TensorRT is not installed here")
    assert err[0].count("trtexec --onnx=") == 6 and "--fp16" in err[0] and "--minShapes=g:1x9x16," in err[0]
    fusion = tmp_path / "small_sofp.fusion.onnx"
    assert fusion.is_file() and sidecar_path(fusion).is_file()


def test_no_gpu_exits_2_with_trtexec(small_ckpt, tmp_path, monkeypatch):
    import sofp.runtime.infer.trt_runner as trt_run

    def no_gpu():
        raise UsageError("no CUDA GPU is visible to this process")

    monkeypatch.setattr(trt_run, "device_info", no_gpu)
    with pytest.raises(UsageError, match=r"no CUDA GPU.*trtexec --onnx=") as info:
        export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt())
    assert info.value.exit_code == 2


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_script_as_documented_without_tensorrt(small_ckpt, tmp_path):
    proc = subprocess.run([sys.executable, "export/to_trt.py", "--ckpt", str(small_ckpt), "--out", str(tmp_path),
                           "--parity-n", "8"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "trtexec --onnx=" in lines[0] and "Traceback" not in proc.stderr
    assert (tmp_path / "small_sofp.onnx").is_file()


@pytest.mark.parametrize(("content", "match"), [(b"garbage", "not a readable ONNX"), (None, "does not exist")])
def test_bad_onnx_argument(tmp_path, capsys, content, match):
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    code = _load_to_trt().main(["--onnx", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and match in err[0]


def test_onnx_without_sidecar_and_conflicts(whole_onnx, tmp_path, capsys):
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(whole_onnx.read_bytes())
    to_trt = _load_to_trt()
    assert to_trt.main(["--onnx", str(lone)]) == 2
    assert "no sidecar" in capsys.readouterr().err
    assert to_trt.main(["--onnx", str(whole_onnx), "--split"]) == 2
    assert "--split" in capsys.readouterr().err
    assert to_trt.main(["--onnx", str(whole_onnx), "--precision", "int8"]) == 2
    assert "needs --calib" in capsys.readouterr().err


def test_split_with_dla_puts_fusion_on_the_gpu(small_ckpt, tmp_path):
    calls: list = []
    settings = BuildSettings(dla_core=0, min_batch=2, opt_batch=2, max_batch=2)
    res = export_trt(_cfg(small_ckpt, tmp_path, split=True, settings=settings), trt=fake_trt(), device=DEVICE,
                     runner_factory=OrtRunner, builder=fake_builder(calls))
    units = {Path(name).name.split(".")[1]: s.dla_core for name, s in calls}
    assert units["fusion"] is None and units["region_tl"] == 0 and units["global"] == 0
    assert all((".gpu." in e.name) == (".fusion." in e.name) for e in res.engines)
    notes = read_sidecar(res.engines[0], kind="tensorrt")["build"]["notes"]
    assert any("LayerNormalization" in n for n in notes)  # the encoders' LayerNorm falls back to the GPU


def test_opset_follows_the_local_tensorrt(small_ckpt, tmp_path):
    from sofp.export.trt_export import resolve_opset

    assert resolve_opset(None, fake_trt("8.5.2.2")) == 16
    assert resolve_opset(None, fake_trt("10.3.0")) == 17 and resolve_opset(None, None) == 17
    assert resolve_opset(15, fake_trt("8.5.2.2")) == 15
    res = export_trt(_cfg(small_ckpt, tmp_path), trt=fake_trt("8.5.2.2"), device=DEVICE,
                     runner_factory=OrtRunner, builder=fake_builder([]))
    assert read_sidecar(res.engines[0], kind="tensorrt")["opset"] == 16  # parsed by 8.5: LayerNorm decomposed


def test_a_single_split_graph_from_onnx(split_files, tmp_path):
    fusion = next(p for p in split_files if p.name.endswith(".fusion.onnx"))
    res = export_trt(TrtExportConfig(onnx=fusion, out_dir=tmp_path, parity_n=16), trt=fake_trt(), device=DEVICE,
                     runner_factory=OrtRunner, builder=fake_builder([]))
    assert ".fusion.fp16." in res.engines[0].name
    assert read_sidecar(res.engines[0], kind="tensorrt")["role"] == "fusion"
    assert (tmp_path / (fusion.stem + ".fp16.onnx")).is_file()  # derived files go to --out
