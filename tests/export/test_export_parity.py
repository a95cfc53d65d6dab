"""The one comparator: atol/rtol per output, argmax agreement and probability deltas for logits."""

from __future__ import annotations

import numpy as np
import pytest

from sofp.export.parity import FP16_LOGITS, FP32_LOGITS, Tolerance, compare, sidecar_parity, softmax, tolerances_for


def test_allclose_semantics_and_argmax():
    ref = {"logits": np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]], np.float32)}
    close = {"logits": ref["logits"] + 5e-5}
    rep = compare(ref, close, {"logits": FP32_LOGITS})
    assert rep.passed and rep.outputs["logits"].argmax_agreement == 1.0
    far = {"logits": ref["logits"] + np.array([[0, 0, 0], [0, 0, 0.0002]], np.float32)}
    assert not compare(ref, far, {"logits": FP32_LOGITS}).passed
    rel = compare(ref, {"logits": ref["logits"] * 1.01}, {"logits": Tolerance(atol=0.0, rtol=0.011)})
    assert rel.passed


@pytest.mark.parametrize(("flipped", "passes"), [(4, True), (5, True), (6, False), (50, False)])
def test_argmax_disagreement_fails_fp16(flipped, passes):
    """FP16 logits within atol/rtol: 1000 rows, ``flipped`` of them with the top two classes swapped.
    99.6 % and exactly 99.5 % agreement pass, 99.4 % and 95 % fail."""
    ref = np.zeros((1000, 3), np.float32)
    ref[:, 0] = 0.01  # class 0 wins by 0.01, far inside the FP16 atol
    test = ref.copy()
    test[:flipped, :2] = test[:flipped, 1::-1]
    rep = compare({"logits": ref}, {"logits": test}, tolerances_for("fp16", ["logits"]))
    out = rep.outputs["logits"]
    assert out.argmax_agreement == pytest.approx(1 - flipped / 1000)
    assert rep.passed is passes
    assert out.max_abs_prob == pytest.approx(np.abs(softmax(test) - softmax(ref)).max())


def test_non_finite_and_shape_mismatch():
    ref = {"tokens": np.zeros((2, 9, 4), np.float32)}
    bad = {"tokens": np.full((2, 9, 4), np.nan, np.float32)}
    assert not compare(ref, bad, {"tokens": Tolerance(atol=None)}).passed
    with pytest.raises(ValueError, match="shapes differ"):
        compare(ref, {"tokens": np.zeros((2, 9, 5))}, {"tokens": Tolerance(atol=1.0)})


def test_tolerance_table_and_sidecar_entry():
    tol = tolerances_for("fp16", ["logits", "tokens"])
    assert tol["logits"] is FP16_LOGITS and tol["tokens"].logits is False
    rep = compare({"logits": np.eye(3)}, {"logits": np.eye(3)}, tolerances_for("fp32", ["logits"]))
    entry = sidecar_parity(rep, "random")
    assert entry["passed"] and entry["n"] == 3 and entry["argmax_agreement"] == 1.0 and entry["inputs"] == "random"
