"""Inference backends: ONNX Runtime and torch agree on a small model; bad model files give one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.infer import INFERENCE, create_backend, resolve_backend
from sofp.runtime.infer.base import check_input_spec, model_kind, resolve_model, softmax
from sofp.runtime.infer.tensorrt import check_engine_target, plan_batches

torch = pytest.importorskip("torch")
LABELS = ["negative", "positive", "surprise"]


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    """A small random SOFP checkpoint (a few thousand weights), built by code."""
    from sofp.training.checkpoint import save_checkpoint
    from sofp.training.models import build_model

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = {"dim": 16, "stem": 4, "heads": 2, "head_hidden": 16}
    model = build_model("sofp", **config).eval()
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    save_checkpoint(path, model, {"model_name": "sofp", "model_config": config, "labels": LABELS})
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory, small_checkpoint):
    """A private cache folder for exported ONNX files (never the user's ~/.cache)."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("cache")
    mp.setenv("SOFP_CACHE", str(folder))
    yield folder
    mp.undo()


def test_onnxruntime_and_torch_agree(small_checkpoint, cache):
    x = np.random.default_rng(0).random((5, 3, 28, 28), dtype=np.float32)
    with create_backend("onnxruntime", small_checkpoint) as ort_b, create_backend("torch", small_checkpoint) as t_b:
        p_ort, p_t = ort_b.predict(x), t_b.predict(x)
        assert ort_b.labels == t_b.labels == LABELS
        assert "CPUExecutionProvider" in ort_b.providers
    assert p_ort.shape == (5, 3) and p_ort.dtype == np.float32
    np.testing.assert_allclose(p_ort.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(p_ort, p_t, atol=1e-5, rtol=1e-4)
    # exported once into the cache, named by the checkpoint's hash; reused after
    onnx_files = list(Path(cache).rglob("small.onnx"))
    assert len(onnx_files) == 1 and (onnx_files[0].parent.name in str(onnx_files[0]))
    again = create_backend("onnxruntime", small_checkpoint)
    assert again.model_path == onnx_files[0]
    # the .onnx file itself also loads directly, and auto picks onnxruntime for it
    assert resolve_backend("auto", onnx_files[0])[0] == "onnxruntime"
    np.testing.assert_allclose(create_backend("auto", onnx_files[0]).predict(x), p_ort, atol=1e-6)


def test_auto_prefers_onnxruntime_for_checkpoints(small_checkpoint):
    name, why = resolve_backend("auto", small_checkpoint)
    assert name == "onnxruntime" and "ONNX Runtime" in why


@pytest.mark.parametrize("name", ["onnxruntime", "torch"])
def test_closed_backend_refuses_with_one_line(small_checkpoint, cache, name):
    """predict after close was "'NoneType' object is not callable/has no attribute 'run'" (found by the type
    checker)."""
    backend = create_backend(name, small_checkpoint)
    backend.close()
    with pytest.raises(SofpError, match="closed"):
        backend.predict(np.zeros((1, 3, 28, 28), np.float32))


def test_runtime_import_does_not_pull_torch():
    import subprocess

    code = ("import sys; import sofp.runtime.infer, sofp.runtime.infer.onnxruntime, sofp.runtime.pipeline, "
            "sofp.runtime.spotting, sofp.runtime.events, sofp.runtime.runner; "
            "from sofp.runtime.flow import FLOWS; from sofp.runtime.infer import INFERENCE; "
            "FLOWS.capabilities(); INFERENCE.capabilities(); "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith('sofp.training')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_missing_and_foreign_model_files(tmp_path):
    with pytest.raises(SofpError, match="model file not found"):
        resolve_model(tmp_path / "nope.onnx")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UsageError, match="unknown file type"):
        resolve_model(text)
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"this is not a protobuf")
    with pytest.raises(UsageError, match="no sidecar"):
        create_backend("onnxruntime", fake)
    fake_pt = tmp_path / "fake.pt"
    fake_pt.write_bytes(b"garbage")
    with pytest.raises(UsageError, match="not a PyTorch checkpoint"):
        create_backend("torch", fake_pt)
    with pytest.raises(UsageError, match="unknown inference backend 'nope'; known: onnxruntime, tensorrt, torch"):
        create_backend("nope", fake)
    with pytest.raises(UsageError, match=r"needs a \.pt checkpoint"):
        create_backend("torch", fake)


def test_onnx_with_foreign_sidecar_or_corrupt_graph(small_checkpoint, cache, tmp_path):
    src = create_backend("onnxruntime", small_checkpoint).model_path
    dst = tmp_path / "m.onnx"
    dst.write_bytes(src.read_bytes())
    meta = json.loads(src.with_name(src.name + ".json").read_text())
    meta["input_spec"] = {**meta["input_spec"], "height": 32}
    (tmp_path / "m.onnx.json").write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="height=32"):
        create_backend("onnxruntime", dst)
    # a corrupt graph whose sidecar matches its bytes: onnxruntime's refusal becomes one line
    meta["input_spec"] = json.loads(src.with_name(src.name + ".json").read_text())["input_spec"]
    dst.write_bytes(src.read_bytes()[:200])
    from sofp.export.sidecar import file_sha256

    meta["sha256"] = file_sha256(dst)
    (tmp_path / "m.onnx.json").write_text(json.dumps(meta))
    with pytest.raises(SofpError, match="onnxruntime cannot load") as exc:
        create_backend("onnxruntime", dst)
    assert "\n" not in str(exc.value)


def test_input_spec_check_names_the_difference():
    from sofp.runtime.features import INPUT_SPEC

    check_input_spec(dict(INPUT_SPEC), "m.onnx")
    with pytest.raises(UsageError, match=r"channels=\['v', 'u', 'strain'\]"):
        check_input_spec({**INPUT_SPEC, "channels": ["v", "u", "strain"]}, "m.onnx")
    with pytest.raises(UsageError, match="records no input spec"):
        check_input_spec(None, "m.onnx")


def test_model_kinds_and_softmax():
    assert model_kind("a.PT") == "checkpoint" and model_kind("b.onnx") == "onnx"
    assert model_kind("c.engine") == model_kind("d.plan") == "tensorrt"
    p = softmax(np.array([[0.0, 0.0], [1000.0, 0.0]], np.float32))
    np.testing.assert_allclose(p, [[0.5, 0.5], [1.0, 0.0]])


def test_capabilities_list_every_backend():
    caps = {c.name: c for c in INFERENCE.capabilities()}
    assert set(caps) == {"onnxruntime", "tensorrt", "torch"}
    assert caps["onnxruntime"].available


# ------------------------------------------------------------------ TensorRT: logic around the API
ENGINE_META = {"versions": {"tensorrt": "10.3.0"},
               "device": {"gpu": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}}


def test_engine_target_check_accepts_its_own_gpu_and_version():
    check_engine_target(ENGINE_META, "m.engine", tensorrt_version="10.3.0.26",
                        gpu_name="NVIDIA GeForce RTX 4090", compute_capability="8.9")


@pytest.mark.parametrize(("trt", "gpu", "cc", "match"), [
    ("10.4.0", "NVIDIA GeForce RTX 4090", "8.9", "built with TensorRT 10.3.0, this machine has 10.4.0"),
    ("10.3.0", "NVIDIA H100 80GB HBM3", "9.0", "compute capability 8.9"),
    ("10.3.0", "NVIDIA GeForce RTX 4080", "8.9", "built on NVIDIA GeForce RTX 4090"),
])
def test_engine_target_check_refuses_other_targets(trt, gpu, cc, match):
    with pytest.raises(UsageError, match=match) as exc:
        check_engine_target(ENGINE_META, "m.engine", tensorrt_version=trt, gpu_name=gpu, compute_capability=cc)
    assert "\n" not in str(exc.value)


def test_batch_plan_pads_to_the_profile():
    assert plan_batches(1, 1, 8) == [(0, 1, 1)]
    assert plan_batches(10, 1, 8) == [(0, 8, 8), (8, 2, 2)]
    assert plan_batches(3, 4, 4) == [(0, 3, 4)]  # static batch-4 engine: padded


def test_tensorrt_backend_runs_where_tensorrt_exists(small_checkpoint, cache, tmp_path):
    """Where TensorRT is installed: build an FP32 engine here and check the runtime against ONNX Runtime."""
    ok, reason = INFERENCE.load("tensorrt").probe()
    if not ok:
        pytest.skip(f"TensorRT not available here: {reason}")
    from sofp.export.trt_build import BuildSettings
    from sofp.export.trt_export import TrtExportConfig, export_trt

    settings = BuildSettings(precision="fp32", min_batch=1, opt_batch=4, max_batch=8)
    (engine,) = export_trt(TrtExportConfig(ckpt=small_checkpoint, out_dir=tmp_path, settings=settings)).engines
    x = np.random.default_rng(0).random((11, 3, 28, 28), dtype=np.float32)  # two engine calls: 8 + 3
    with create_backend("tensorrt", engine) as trt_b, create_backend("onnxruntime", small_checkpoint) as ort_b:
        np.testing.assert_allclose(trt_b.predict(x), ort_b.predict(x), atol=1e-4)


# ------------------------------------------------------------------ TensorRT: the wiring, with fakes
class _FakeCuda:
    """numpy-backed stand-in for the CUDA buffer backend of runtime/infer/trt_runner.py: pointers index a dict."""

    stream_handle = 7

    def __init__(self) -> None:
        self.mem: dict[int, np.ndarray] = {}
        self.allocs = self.closed = 0

    def alloc(self, nbytes):
        self.allocs += 1
        ptr = 1000 + self.allocs
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def free(self, ptr):
        self.mem.pop(ptr, None)

    def htod(self, ptr, array):
        self.mem[ptr][: array.nbytes] = np.ascontiguousarray(array).view(np.uint8).ravel()

    def dtoh(self, array, ptr):
        array.view(np.uint8).ravel()[:] = self.mem[ptr][: array.nbytes]

    def sync(self):
        pass

    def close(self):
        self.closed += 1


D = 4  # token width of the fake split encoders


def _fake_trt(cuda: _FakeCuda, calls: list):
    """A TensorRT stand-in: "PLAN whole" (input -> logits), "PLAN enc <k>" (input -> tokens (N, 9, D), DLA profile
    1..1), "PLAN fusion" (g, tl, tr, bl, br -> logits); each computes from the bytes behind its tensor addresses."""
    import types

    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0.26"
    trt.nptype = lambda dt: dt

    class Logger:
        WARNING = 2

        def __init__(self, level):
            pass

    class TensorIOMode:
        INPUT, OUTPUT = "in", "out"

    def read(name, ctx, shape):
        n = int(np.prod(shape))
        return cuda.mem[ctx.addr[name]][: n * 4].view(np.float32).reshape(shape)

    class Engine:
        def __init__(self, kind, k=0):
            self.kind, self.k = kind, k
            ins = {"whole": ["input"], "enc": ["input"], "fusion": ["g", "tl", "tr", "bl", "br"]}[kind]
            self.io = [*ins, "tokens" if kind == "enc" else "logits"]
            self.num_io_tensors = len(self.io)

        def get_tensor_name(self, i):
            return self.io[i]

        def get_tensor_mode(self, name):
            return TensorIOMode.OUTPUT if name == self.io[-1] else TensorIOMode.INPUT

        def get_tensor_shape(self, name):
            return {"input": (-1, 3, 28, 28), "tokens": (-1, 9, D), "logits": (-1, 3)}.get(name, (-1, 9, D))

        def get_tensor_profile_shape(self, name, profile):
            hi = 1 if self.kind == "enc" else 8
            lo = 1
            return [(lo, *self.get_tensor_shape(name)[1:]), (hi, *self.get_tensor_shape(name)[1:]),
                    (hi, *self.get_tensor_shape(name)[1:])]

        def get_tensor_dtype(self, name):
            return np.float32

        def create_execution_context(self):
            return Context(self)

    class Context:
        def __init__(self, engine):
            self.engine, self.addr, self.shapes = engine, {}, {}

        def set_input_shape(self, name, shape):
            calls.append(("shape", self.engine.kind, name, tuple(shape)))
            self.shapes[name] = tuple(shape)

        def get_tensor_shape(self, name):
            n = next(iter(self.shapes.values()))[0]
            return (n, 9, D) if name == "tokens" else (n, 3)

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr

        def execute_async_v3(self, stream):
            e = self.engine
            if e.kind == "whole":
                x = read("input", self, self.shapes["input"])
                out = x.mean(axis=(2, 3)) * 10
            elif e.kind == "enc":
                x = read("input", self, self.shapes["input"])
                out = np.repeat(x.mean(axis=(1, 2, 3))[:, None, None] * (e.k + 1), 9 * D).reshape(-1, 9, D)
            else:
                toks = [read(n, self, self.shapes[n]) for n in ("g", "tl", "tr", "bl", "br")]
                out = np.stack([t.mean(axis=(1, 2)) for t in toks[:3]], axis=1) + toks[3].mean() * 0
            o = np.ascontiguousarray(out, np.float32)
            cuda.mem[self.addr[e.io[-1]]][: o.nbytes] = o.view(np.uint8).ravel()
            calls.append(("execute", e.kind, e.k))
            return True

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            text = bytes(data).decode(errors="replace")
            if text == "PLAN whole" or text == "PLAN fake":
                return Engine("whole")
            if text.startswith("PLAN enc "):
                return Engine("enc", int(text.split()[-1]))
            if text == "PLAN fusion":
                return Engine("fusion")
            return None

    trt.Logger, trt.TensorIOMode, trt.Runtime = Logger, TensorIOMode, Runtime
    return trt


def _engine_file(tmp_path, gpu="NVIDIA Fake GPU", cc="8.9", trt_version="10.3.0", plan=b"PLAN fake", stem="m",
                 role="whole", inputs=("input",), output="logits", dla=None):
    from sofp.export.sidecar import io_entry, make_sidecar, write_sidecar
    from sofp.runtime.features import INPUT_SPEC

    path = tmp_path / f"{stem}.fp16.b1-4-8.{'dla0' if dla is not None else 'gpu'}.engine"
    path.write_bytes(plan)
    shapes = {"input": ["batch", 3, 28, 28], "logits": ["batch", 3], "tokens": ["batch", 9, D]}
    write_sidecar(path, make_sidecar(
        path, kind="tensorrt", role=role,
        inputs=[io_entry(n, shapes.get(n, ["batch", 9, D]), "float32") for n in inputs],
        outputs=[io_entry(output, shapes[output], "float32")], labels=LABELS, input_spec=INPUT_SPEC,
        model={"name": "sofp", "config": {}}, source={"checkpoint": "m.pt", "checkpoint_sha256": "0" * 64,
                                                      "onnx": "m.onnx", "onnx_sha256": "0" * 64},
        opset=17, precision="fp16", batch={"dynamic": True, "min": 1, "opt": 4, "max": 8},
        versions={"torch": None, "onnx": None, "onnxruntime": None, "tensorrt": trt_version, "sofp": None},
        parity=None, device={"gpu": gpu, "compute_capability": cc, "jetson": None, "dla_core": dla}))
    return path


@pytest.fixture
def fake_tensorrt(monkeypatch):
    import sofp.runtime.infer.tensorrt as trt_backend

    cuda, calls = _FakeCuda(), []
    monkeypatch.setitem(sys.modules, "tensorrt", _fake_trt(cuda, calls))
    monkeypatch.setattr(trt_backend, "cuda_backend", lambda: cuda)
    monkeypatch.setattr(trt_backend, "device_info",
                        lambda: {"gpu": "NVIDIA Fake GPU", "compute_capability": "8.9", "jetson": None, "count": 1})
    return trt_backend, cuda, calls


def test_tensorrt_backend_wiring_with_fakes(fake_tensorrt, tmp_path):
    trt_backend, cuda, calls = fake_tensorrt
    x = np.random.default_rng(0).random((10, 3, 28, 28), dtype=np.float32)
    with trt_backend.TensorRTBackend(_engine_file(tmp_path)) as b:
        assert (b.min_batch, b.max_batch) == (1, 8) and b.labels == LABELS
        p = b.predict(x)
        p2 = b.predict(x[:8])
    np.testing.assert_allclose(p, softmax(x.mean(axis=(2, 3)) * 10), atol=1e-6)
    np.testing.assert_allclose(p2, p[:8], atol=1e-7)
    assert [c for c in calls if c[0] == "shape"] == [("shape", "whole", "input", (8, 3, 28, 28)),
                                                     ("shape", "whole", "input", (2, 3, 28, 28)),
                                                     ("shape", "whole", "input", (8, 3, 28, 28))]
    assert sum(c[0] == "execute" for c in calls) == 3 and cuda.closed == 1
    assert cuda.allocs == 2 and cuda.mem == {}  # one buffer per tensor, kept between calls, all freed


def _split_engines(tmp_path, roles=("global", "region_tl", "region_tr", "region_bl", "region_br")):
    engines = {}
    for k, role in enumerate(roles):
        engines[role] = _engine_file(tmp_path, plan=f"PLAN enc {k}".encode(), stem=f"m.{role}", role=role,
                                     output="tokens", dla=0).name
    engines["fusion"] = _engine_file(tmp_path, plan=b"PLAN fusion", stem="m.fusion", role="fusion",
                                     inputs=("g", "tl", "tr", "bl", "br")).name
    manifest = tmp_path / "m.split.engines.json"
    manifest.write_text(json.dumps({"format": "sofp-split-engines/1", "precision": "fp16", "engines": engines}))
    return manifest


def test_split_dla_engines_compose_like_the_onnx_split(fake_tensorrt, tmp_path):
    """Encoders on a DLA (profile 1..1) and the multi-input fusion: logits = fusion(g, tl, tr, bl, br), row by row."""
    trt_backend, cuda, calls = fake_tensorrt
    x = np.random.default_rng(1).random((3, 3, 28, 28), dtype=np.float32)
    assert model_kind(_split_engines(tmp_path)) == "tensorrt"
    with trt_backend.TensorRTBackend(_split_engines(tmp_path)) as b:
        assert (b.min_batch, b.max_batch) == (1, 1) and b.labels == LABELS and "split engines" in b.description
        p = b.predict(x)
    m = x.mean(axis=(1, 2, 3))[:, None]
    np.testing.assert_allclose(p, softmax(m * np.array([[1, 2, 3]], np.float32)), atol=1e-6)
    fused = [c for c in calls if c[0] == "shape" and c[1] == "fusion"]
    assert len(fused) == 3 * 5 and {c[2] for c in fused} == {"g", "tl", "tr", "bl", "br"}
    assert sum(c[:2] == ("execute", "enc") for c in calls) == 3 * 5 and cuda.closed == 1


def test_split_engines_manifest_problems_are_one_line(fake_tensorrt, tmp_path):
    trt_backend, _, _ = fake_tensorrt
    manifest = _split_engines(tmp_path, roles=("global", "region_tl", "region_tr", "region_bl"))
    with pytest.raises(UsageError, match="no region_br engine"):
        trt_backend.TensorRTBackend(manifest)
    manifest.write_text("{not json")
    with pytest.raises(UsageError, match="not a readable split-engines manifest"):
        trt_backend.TensorRTBackend(manifest)
    manifest.write_text(json.dumps({"format": "sofp-split-engines/1", "engines": {"fusion": "gone.engine"}}))
    with pytest.raises(UsageError, match="not there"):
        trt_backend.TensorRTBackend(manifest)


def test_tensorrt_backend_refuses_foreign_engines(fake_tensorrt, tmp_path):
    trt_backend, _, _ = fake_tensorrt
    with pytest.raises(UsageError, match=r"compute capability 9\.0"):
        trt_backend.TensorRTBackend(_engine_file(tmp_path, gpu="NVIDIA H100", cc="9.0"))
    with pytest.raises(UsageError, match=r"TensorRT 8\.6\.1"):
        trt_backend.TensorRTBackend(_engine_file(tmp_path, trt_version="8.6.1"))
    with pytest.raises(SofpError, match="could not deserialise"):
        trt_backend.TensorRTBackend(_engine_file(tmp_path, plan=b"garbage"))
    other = _engine_file(tmp_path)
    other.write_bytes(b"PLAN whole")  # another model's engine beside this sidecar
    with pytest.raises(SofpError, match="does not match its sidecar"):
        trt_backend.TensorRTBackend(other)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    with pytest.raises(UsageError, match="needs an engine"):
        trt_backend.TensorRTBackend(onnx)


@pytest.mark.parametrize(("flipped", "passes"), [(5, True), (6, False)])
def test_onnxruntime_tensorrt_fp16_needs_the_agreement_of_to_trt(small_checkpoint, cache, monkeypatch, flipped,
                                                                 passes):
    """A TensorRT EP session (FP16) is accepted at >= 99.5 % argmax agreement with FP32 on the CPU (995 of
    1000 random inputs) and refused with one line below (994)."""
    import onnxruntime as ort

    real = ort.InferenceSession

    class TrtFp16Session:  # the CPU session, reported as the TensorRT EP, with ``flipped`` rows' argmax moved
        def __init__(self, path, sess_options=None, providers=()):
            self.inner = real(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

        def get_providers(self):
            return ["TensorrtExecutionProvider", "CPUExecutionProvider"]

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def run(self, names, feeds):
            out = self.inner.run(names, feeds)
            logits = out[0].copy()
            logits[:flipped] = np.roll(logits[:flipped], 1, axis=1)  # a new argmax on each flipped row
            return [logits, *out[1:]]

    def session(path, sess_options=None, providers=()):
        wants_trt = any(p[0] == "TensorrtExecutionProvider" for p in providers if isinstance(p, tuple))
        return TrtFp16Session(path, sess_options) if wants_trt else real(path, sess_options=sess_options,
                                                                              providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", session)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    if passes:
        with create_backend("onnxruntime", small_checkpoint) as b:
            assert "TensorrtExecutionProvider" in b.providers
    else:
        with pytest.raises(SofpError, match=r"agrees with FP32 on 99\.4% of 1000 random inputs") as exc:
            create_backend("onnxruntime", small_checkpoint)
        assert "\n" not in str(exc.value)
