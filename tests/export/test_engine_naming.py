"""Engine names and cache keys: every input that invalidates an engine changes its name."""

from __future__ import annotations

import dataclasses

from sofp.export.naming import EngineKey, engine_name, slug, target_engine_name

KEY = EngineKey("ab" * 32, "fp16", 1, 8, 32, None, "NVIDIA GeForce RTX 4090", "10.3.0")


def test_name_carries_the_fields():
    name = engine_name("sofp_composite", KEY)
    assert name.startswith("sofp_composite.fp16.b1-8-32.gpu.nvidia-geforce-rtx-4090.trt10.3.0.")
    assert name.endswith(f".{KEY.digest()}.engine")
    dla = dataclasses.replace(KEY, dla_core=0, min_batch=1, opt_batch=1, max_batch=1,
                              device="NVIDIA Jetson AGX Orin Developer Kit")
    assert ".b1.dla0.nvidia-jetson-agx-orin-developer-kit." in engine_name("m", dla)


def test_every_field_changes_the_key():
    changes = {"model_sha256": "cd" * 32, "precision": "int8", "min_batch": 2, "opt_batch": 16, "max_batch": 64,
               "dla_core": 1, "device": "Orin", "tensorrt": "8.6.2", "calibration_sha256": "ef" * 32}
    names = {engine_name("m", KEY)}
    for field, value in changes.items():
        names.add(engine_name("m", dataclasses.replace(KEY, **{field: value})))
    assert len(names) == len(changes) + 1
    assert KEY.digest() == EngineKey(**dataclasses.asdict(KEY)).digest()  # stable
    assert KEY.to_dict()["digest"] == KEY.digest()


def test_slug_and_target_name():
    assert slug("  NVIDIA  Jetson/Orin (x) ") == "nvidia-jetson-orin-x"
    assert slug("") == "unknown"
    assert target_engine_name("m", "fp16", 4, 4, 4, 0) == "m.fp16.b4.dla0.engine"
