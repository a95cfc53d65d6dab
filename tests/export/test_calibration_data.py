"""INT8 calibration images: folder -> (N, 3, 28, 28) in [0, 1], u/v/strain order, one-line errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sofp.export.calibration import calibration_files, data_sha256, load_calibration
from sofp.runtime.errors import SofpError, UsageError


def _write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))  # PNG stores RGB; OpenCV writes BGR


def test_folder_to_model_input(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (28, 28, 3), dtype=np.uint8) for _ in range(5)]
    for i, im in enumerate(imgs):
        _write(tmp_path / ("sub" if i % 2 else "") / f"{i}.png", im)
    x = load_calibration(tmp_path)
    assert x.shape == (5, 3, 28, 28) and x.dtype == np.float32
    first = calibration_files(tmp_path)[0]
    k = int(first.stem)
    np.testing.assert_allclose(x[0, 0], imgs[k][:, :, 0] / 255.0, atol=1e-7)  # channel 0 = u (PNG red)
    assert len(calibration_files(tmp_path, max_images=2)) == 2
    assert data_sha256(x) == data_sha256(x.copy()) != data_sha256(x[:4])


def test_bad_folders(tmp_path):
    with pytest.raises(UsageError, match="not a folder"):
        calibration_files(tmp_path / "nope")
    with pytest.raises(UsageError, match="no flow images"):
        calibration_files(tmp_path)
    _write(tmp_path / "big.png", np.zeros((56, 56, 3), np.uint8))
    with pytest.raises(SofpError, match="expected 28 x 28"):
        load_calibration(tmp_path)
