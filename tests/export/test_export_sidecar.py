"""Sidecars: written next to every model file, read back with one-line errors."""

from __future__ import annotations

import json

import pytest

from sofp.export.sidecar import FORMAT, make_sidecar, read_sidecar, sidecar_path, write_sidecar
from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import INPUT_SPEC


def _fields():
    return dict(kind="onnx", role="whole", inputs=[], outputs=[], labels=["a"], input_spec=INPUT_SPEC,
                model={"name": "sofp", "config": {}}, source={}, opset=17, precision="fp32",
                batch={"dynamic": True}, versions={}, parity=None)


def test_round_trip(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"model")
    out = write_sidecar(f, make_sidecar(f, **_fields()))
    assert out == sidecar_path(f) == tmp_path / "m.onnx.json"
    data = read_sidecar(f, kind="onnx", input_spec=INPUT_SPEC)
    assert data["format"] == FORMAT and data["file"] == "m.onnx" and len(data["sha256"]) == 64


def test_make_sidecar_rejects_incomplete(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"x")
    fields = _fields()
    del fields["labels"]
    with pytest.raises(ValueError, match="labels"):
        make_sidecar(f, **fields)


@pytest.mark.parametrize(
    ("content", "kwargs", "exc", "match"),
    [
        (None, {}, UsageError, "no sidecar"),
        ("{not json", {}, UsageError, "not valid JSON"),
        ('{"format": "ultralytics"}', {}, UsageError, "format 'ultralytics'"),
        ("[1, 2]", {}, UsageError, "format 'list'"),
        ("OK", {"kind": "tensorrt"}, UsageError, "describes a 'onnx' file"),
        ("OK", {"input_spec": {**INPUT_SPEC, "height": 64}}, UsageError, "expects input"),
        ("STALE", {}, SofpError, "does not match its sidecar"),
    ],
)
def test_bad_sidecars_are_one_line(tmp_path, content, kwargs, exc, match):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"model")
    if content in ("OK", "STALE"):
        write_sidecar(f, make_sidecar(f, **_fields()))
        if content == "STALE":
            f.write_bytes(b"changed")
    elif content is not None:
        sidecar_path(f).write_text(content)
    with pytest.raises(exc, match=match) as info:
        read_sidecar(f, **kwargs)
    assert "\n" not in str(info.value)


def test_missing_keys(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"m")
    sidecar_path(f).write_text(json.dumps({"format": FORMAT, "kind": "onnx"}))
    with pytest.raises(UsageError, match="lacks"):
        read_sidecar(f)
