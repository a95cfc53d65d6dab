"""Hostile input, property-based (hypothesis; example counts kept small for CI time).

- features: any finite flow gives a valid image; NaN/inf are repaired as documented (no motion);
- spotter: any motion curve gives ordered intervals inside the stream;
- every file reader (labels.csv, coding sheets, sidecars, checkpoints, ONNX graphs, engines): random or
  truncated bytes give the project's one-line error (SofpError), never another exception;
- a checkpoint never executes code when loaded; an ONNX graph or engine from another model is refused by
  its sidecar's hash.
"""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sofp.runtime.errors import SofpError
from sofp.runtime.features import FEATURE_SIZE, flow_to_features
from sofp.runtime.spotting import spot_signal

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
FILES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def _one_line(exc: BaseException) -> None:
    assert isinstance(exc, SofpError), f"{type(exc).__name__}: {exc}"
    assert str(exc) and "\n" not in str(exc)


def _valid_image(img: np.ndarray) -> None:
    assert img.shape == (FEATURE_SIZE, FEATURE_SIZE, 3) and img.dtype == np.uint8


# ------------------------------------------------------------------------------------------- features
shapes = st.tuples(st.integers(2, 48), st.integers(2, 48), st.just(2))


@FAST
@given(arrays(np.float32, shapes, elements=st.floats(-1e6, 1e6, width=32)))
def test_any_finite_flow_gives_a_valid_image(flow):
    img = flow_to_features(flow)
    _valid_image(img)
    for c in range(3):  # each channel min-max: spans 0..255 unless the channel is constant (then all 0)
        assert img[..., c].max() in (0, 255) and img[..., c].min() == 0


@FAST
@given(arrays(np.float64, shapes, elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_nan_inf_and_huge_flows_are_repaired_as_documented(flow):
    img = flow_to_features(flow)
    _valid_image(img)
    repaired = np.clip(np.nan_to_num(flow, nan=0.0, posinf=0.0, neginf=0.0), -1e6, 1e6)
    assert np.array_equal(img, flow_to_features(repaired))


@pytest.mark.parametrize("bad", [np.zeros((1, 5, 2)), np.zeros((5, 5, 3)), np.zeros((5, 5)),
                                 np.zeros((4, 4, 2), complex), np.zeros((4, 4, 2), object), [[0.0]]])
def test_unusable_flow_shapes_are_one_clear_error(bad):
    with pytest.raises(ValueError, match="flow must be"):
        flow_to_features(bad)


# -------------------------------------------------------------------------------------------- spotter
@FAST
@given(st.lists(st.floats(0.0, 50.0), max_size=700), st.sampled_from([25.0, 30.0, 100.0, 200.0]),
       st.booleans())
def test_any_motion_curve_gives_ordered_intervals_inside_the_stream(curve, fps, bursts):
    if bursts:  # mostly quiet with short bursts: the shape that does produce intervals
        curve = [m if i % 97 < 12 else 0.01 * (i % 7) for i, m in enumerate(curve)]
    found = spot_signal(curve, fps)
    last_offset = -1
    for iv in found:
        assert 0 <= iv.onset <= iv.apex <= iv.offset < len(curve)
        assert iv.onset >= last_offset  # ordered, never overlapping
        assert iv.onset_time <= iv.apex_time <= iv.offset_time
        assert iv.onset_time == pytest.approx(iv.onset / fps) and np.isfinite(iv.magnitude)
        last_offset = iv.offset


def test_the_burst_strategy_does_spot_something():
    """The property above is not vacuous: a quiet curve with one 0.2 s burst gives one interval."""
    curve = [0.01 * (i % 7) for i in range(600)]
    curve[400:420] = [1.0] * 20
    assert len(spot_signal(curve, 100.0)) == 1


# -------------------------------------------------------------------------------------- file readers
def _mutations(data: bytes):
    """Random bytes, a truncation, or bytes flipped in place."""
    return st.one_of(
        st.binary(max_size=2048),
        st.integers(0, max(0, len(data) - 1)).map(lambda n: data[:n]),
        st.lists(st.tuples(st.integers(0, max(0, len(data) - 1)), st.integers(0, 255)), min_size=1, max_size=8)
        .map(lambda edits: _flip(data, edits)),
    )


def _flip(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for i, v in edits:
        if i < len(b):
            b[i] = v
    return bytes(b)


def _composite_like(root: Path) -> bytes:
    """A small valid labels.csv + flow/ folder; returns the csv's bytes."""
    import cv2

    (root / "flow").mkdir(parents=True, exist_ok=True)
    rows = ["file,dataset,subject,sample,label,emotion"]
    for i in range(6):
        cv2.imwrite(str(root / "flow" / f"s{i}.png"), np.full((28, 28, 3), 40 * i, np.uint8))
        rows.append(f"s{i}.png,casme2,sub{i % 3},ep{i},{i % 3},{['negative', 'positive', 'surprise'][i % 3]}")
    data = ("\n".join(rows) + "\n").encode()
    (root / "labels.csv").write_bytes(data)
    return data


LABELS_CSV = b"file,dataset,subject,sample,label,emotion\n" + b"".join(
    f"s{i}.png,casme2,sub{i % 3},ep{i},{i % 3},{['negative', 'positive', 'surprise'][i % 3]}\n".encode()
    for i in range(6))


@FILES
@given(data=_mutations(LABELS_CSV))
def test_labels_csv_hostile_bytes(tmp_path_factory, data):
    from sofp.training.data.flowset import load_labels_csv

    root = tmp_path_factory.mktemp("composite")
    _composite_like(root)
    (root / "labels.csv").write_bytes(data)
    try:
        load_labels_csv(root)
    except Exception as exc:
        _one_line(exc)


def test_labels_csv_unchanged_loads():
    """The seed the mutations start from is valid (the property is not all refusals)."""
    import tempfile

    from sofp.training.data.flowset import load_labels_csv

    with tempfile.TemporaryDirectory() as d:
        _composite_like(Path(d))
        assert len(load_labels_csv(Path(d)).labels) == 6


@FILES
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".xlsx", ".xls"]))
def test_coding_sheet_random_bytes(tmp_path_factory, data, suffix):
    from sofp.training.raw.sheets import read_table

    path = tmp_path_factory.mktemp("sheet") / f"coding{suffix}"
    path.write_bytes(data)
    try:
        read_table(path, {"subject": ["Subject"], "onset": ["OnsetFrame"]})
    except Exception as exc:
        _one_line(exc)


@pytest.fixture(scope="module")
def xlsx_sheet(tmp_path_factory) -> bytes:
    import openpyxl

    path = tmp_path_factory.mktemp("xlsx") / "c.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Estimated Emotion"])
    for i in range(5):
        ws.append([f"{i:02d}", f"EP0{i}_01", 10 + i, 20 + i, 30 + i, "happiness"])
    wb.save(path)
    return path.read_bytes()


@FILES
@given(cut=st.floats(0.0, 1.0), edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=6))
def test_coding_sheet_truncated_or_flipped_xlsx(tmp_path_factory, xlsx_sheet, cut, edits):
    from sofp.training.raw.sheets import read_table

    data = _flip(xlsx_sheet, [(int(f * (len(xlsx_sheet) - 1)), v) for f, v in edits])
    data = data[: max(1, int(cut * len(data)))] if cut < 1.0 else data
    path = tmp_path_factory.mktemp("sheet") / "coding.xlsx"
    path.write_bytes(data)
    try:
        rows = read_table(path, {"subject": ["Subject"], "onset": ["OnsetFrame"]})
        assert isinstance(rows, list)
    except Exception as exc:
        _one_line(exc)


BUILTIN_SIDECAR = (ROOT / "runtime" / "builtin" / "sofp_composite.onnx.json").read_bytes()


@FILES
@given(data=_mutations(BUILTIN_SIDECAR))
def test_sidecar_hostile_bytes(tmp_path_factory, data):
    from sofp.runtime.sidecar import read_sidecar

    d = tmp_path_factory.mktemp("sidecar")
    (d / "m.onnx").write_bytes(b"graph")
    (d / "m.onnx.json").write_bytes(data)
    try:
        read_sidecar(d / "m.onnx", kind="onnx")
    except Exception as exc:
        _one_line(exc)


@FILES
@given(doc=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                        max_leaves=12),
       key=st.sampled_from(["format", "kind", "sha256", "labels", "input_spec", "role", "inputs", "batch"]))
def test_sidecar_with_any_json_value_in_a_field(tmp_path_factory, doc, key):
    """Valid JSON, any value in one field: the ONNX backend refuses it with one line or loads the model."""
    from sofp.runtime.infer.onnxruntime import OnnxRuntimeBackend

    d = tmp_path_factory.mktemp("sidecar")
    shutil.copy(ROOT / "runtime" / "builtin" / "sofp_composite.onnx", d / "m.onnx")
    meta = json.loads(BUILTIN_SIDECAR)
    meta[key] = doc
    (d / "m.onnx.json").write_text(json.dumps(meta))
    try:
        OnnxRuntimeBackend(d / "m.onnx").close()
    except Exception as exc:
        _one_line(exc)


CHECKPOINT = ROOT / "training" / "builtin" / "sofp_composite.pt"


@FILES
@given(data=_mutations(CHECKPOINT.read_bytes()))
def test_checkpoint_hostile_bytes(tmp_path_factory, data):
    from sofp.training.checkpoint import load_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "m.pt"
    path.write_bytes(data)
    try:
        load_checkpoint(path)
    except Exception as exc:
        _one_line(exc)


@pytest.mark.parametrize("error", [AttributeError("'NoneType' object has no attribute 'x'"), TypeError("bad"),
                                   IndexError("out of range")])
def test_checkpoint_damage_of_any_kind_is_one_line(tmp_path, monkeypatch, error):
    """hypothesis once found a byte flip on which torch.load raised AttributeError: every failure inside
    torch.load is the one-line 'not a readable checkpoint'."""
    import torch

    from sofp.training.checkpoint import load_checkpoint

    path = tmp_path / "m.pt"
    torch.save({"format": "x"}, path)

    def broken_load(*args, **kwargs):
        raise error

    monkeypatch.setattr(torch, "load", broken_load)
    with pytest.raises(SofpError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(path)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/sofp-hostile-payload-ran",))


def test_checkpoint_never_executes_code(tmp_path):
    """A torch.save archive whose pickle calls os.system: refused with one line, the command never runs."""
    import torch

    from sofp.training.checkpoint import load_checkpoint

    marker = Path("/tmp/sofp-hostile-payload-ran")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.pt"
    torch.save({"format": "sofp-checkpoint", "version": 2, "meta": {}, "state_dict": {"w": _Payload()}}, path)
    assert zipfile.is_zipfile(path)
    with pytest.raises(SofpError, match="refusing to unpickle code") as e:
        load_checkpoint(path)
    _one_line(e.value)
    assert not marker.exists()
    raw = tmp_path / "evil_plain.pt"  # a bare pickle, not even a torch archive
    raw.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(SofpError):
        load_checkpoint(raw)
    assert not marker.exists()


ONNX = (ROOT / "runtime" / "builtin" / "sofp_composite.onnx").read_bytes()


@FILES
@given(data=_mutations(ONNX))
def test_onnx_hostile_bytes_with_a_matching_sidecar(tmp_path_factory, data):
    """The sidecar's hash made to match the hostile bytes (so the loader itself is reached)."""
    import hashlib

    from sofp.runtime.infer.onnxruntime import OnnxRuntimeBackend

    d = tmp_path_factory.mktemp("onnx")
    (d / "m.onnx").write_bytes(data)
    meta = json.loads(BUILTIN_SIDECAR)
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    (d / "m.onnx.json").write_text(json.dumps(meta))
    try:
        OnnxRuntimeBackend(d / "m.onnx").close()
    except Exception as exc:
        _one_line(exc)


def test_onnx_from_another_model_is_refused_by_its_sidecar_hash(tmp_path):
    import onnx

    from sofp.runtime.infer.onnxruntime import OnnxRuntimeBackend

    g = onnx.load_from_string(ONNX)
    init = g.graph.initializer[0]
    arr = onnx.numpy_helper.to_array(init).copy()
    arr.flat[0] += 0.5
    init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
    onnx.save(g, tmp_path / "other.onnx")
    (tmp_path / "other.onnx.json").write_bytes(BUILTIN_SIDECAR)
    with pytest.raises(SofpError, match="does not match its sidecar") as e:
        OnnxRuntimeBackend(tmp_path / "other.onnx")
    _one_line(e.value)


PLAN = b"PLAN fake engine bytes " * 8


def _engine_with_sidecar(folder: Path) -> Path:
    from sofp.export.sidecar import io_entry, make_sidecar, write_sidecar
    from sofp.runtime.features import INPUT_SPEC

    path = folder / "m.fp16.b1-4-8.gpu.engine"
    path.write_bytes(PLAN)
    write_sidecar(path, make_sidecar(
        path, kind="tensorrt", role="whole", inputs=[io_entry("input", ["batch", 3, 28, 28], "float32")],
        outputs=[io_entry("logits", ["batch", 3], "float32")], labels=["negative", "positive", "surprise"],
        input_spec=INPUT_SPEC, model={"name": "sofp", "config": {}},
        source={"checkpoint": "m.pt", "checkpoint_sha256": "0" * 64, "onnx": "m.onnx", "onnx_sha256": "0" * 64},
        opset=17, precision="fp16", batch={"dynamic": True, "min": 1, "opt": 4, "max": 8},
        versions={"torch": None, "onnx": None, "onnxruntime": None, "tensorrt": "10.3.0", "sofp": None},
        parity=None, device={"gpu": "NVIDIA Fake GPU", "compute_capability": "8.9", "jetson": None,
                             "dla_core": None}))
    return path


@FILES
@given(data=_mutations(PLAN))
def test_engine_hostile_bytes_are_refused_by_hash_before_tensorrt_sees_them(tmp_path_factory, data):
    """An engine whose bytes are not the ones its sidecar hashed (another model's, truncated, random) is refused
    with one line; TensorRT (a stand-in recording what it is given) never deserialises them."""
    import sys
    import types

    seen: list[bytes] = []

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, blob):
            seen.append(bytes(blob))
            return None  # the wiring after this point is tested in tests/runtime/test_infer.py

    trt = types.SimpleNamespace(__version__="10.3.0.26", Logger=lambda level: None, Runtime=Runtime)
    trt.Logger.WARNING = 2
    engine = _engine_with_sidecar(tmp_path_factory.mktemp("engine"))
    engine.write_bytes(data)
    mp = pytest.MonkeyPatch()
    try:
        import sofp.runtime.infer.tensorrt as backend

        mp.setitem(sys.modules, "tensorrt", trt)
        mp.setattr(backend, "device_info", lambda: {"gpu": "NVIDIA Fake GPU", "compute_capability": "8.9"})
        mp.setattr(backend, "cuda_backend", lambda: types.SimpleNamespace(close=lambda: None))
        with pytest.raises(SofpError) as e:
            backend.TensorRTBackend(engine)
        _one_line(e.value)
        if data != PLAN:
            assert "does not match its sidecar" in str(e.value) and seen == []
        else:
            assert seen == [PLAN]
    finally:
        mp.undo()
