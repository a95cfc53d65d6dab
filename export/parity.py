"""One comparator for numerical agreement between two runs of the same graph (PyTorch, ONNX Runtime
FP32/FP16, TensorRT), with its tolerance per output.

An output passes when ``|test - ref| <= atol + rtol * |ref|`` element-wise (NumPy ``allclose``
semantics; ``atol``/``rtol`` ``None`` = not checked) and, for logits, when the argmax agreement is at
least ``min_argmax_agreement``. The softmax probability difference is always reported for logits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from sofp.runtime.infer.onnxruntime import FP16_MIN_AGREEMENT


@dataclass(frozen=True)
class Tolerance:
    """Acceptance for one output. ``logits=True`` adds argmax agreement and probability deltas."""

    atol: float | None
    rtol: float | None = 0.0
    min_argmax_agreement: float | None = None
    logits: bool = False


# PyTorch vs ONNX Runtime FP32, and split graphs composed vs the whole graph (issue 4).
FP32_LOGITS = Tolerance(atol=1e-4, rtol=0.0, min_argmax_agreement=1.0, logits=True)
FP32_TOKENS = Tolerance(atol=1e-4, rtol=0.0)
# FP16 (an FP16 ONNX graph in ONNX Runtime, or a TensorRT FP16 engine) vs FP32: the acceptance is
# argmax agreement >= 99.5 %; the atol/rtol bounds are a sanity net (a broken engine, NaNs, swapped
# outputs), about 10x above the FP16 deltas measured on the composite: a few 1e-3 on logits and
# tokens (benchmarks/results/export_parity.md).
FP16_LOGITS = Tolerance(atol=5e-2, rtol=5e-2, min_argmax_agreement=FP16_MIN_AGREEMENT, logits=True)
FP16_TOKENS = Tolerance(atol=5e-2, rtol=5e-2)
# INT8 is calibrated, not exact: the acceptance is argmax agreement only.
INT8_LOGITS = Tolerance(atol=None, rtol=None, min_argmax_agreement=0.98, logits=True)
INT8_TOKENS = Tolerance(atol=None, rtol=None)


def tolerances_for(precision: str, output_names: list[str]) -> dict[str, Tolerance]:
    """The tolerance for each output of a graph built at ``precision`` ("fp32" | "fp16" | "int8")."""
    table = {
        "fp32": (FP32_LOGITS, FP32_TOKENS),
        "fp16": (FP16_LOGITS, FP16_TOKENS),
        "int8": (INT8_LOGITS, INT8_TOKENS),
    }[precision]
    return {n: table[0] if n == "logits" else table[1] for n in output_names}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits, computed in float64."""
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class OutputParity:
    """Agreement of one output."""

    max_abs: float
    max_rel: float
    atol: float | None
    rtol: float | None
    passed: bool
    argmax_agreement: float | None = None
    max_abs_prob: float | None = None
    n: int = 0


@dataclass
class ParityReport:
    """Agreement of every output of ``test`` against ``ref``."""

    reference: str
    test: str
    outputs: dict[str, OutputParity]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs.values())

    def to_dict(self) -> dict:
        return {"reference": self.reference, "test": self.test, "passed": self.passed,
                "outputs": {k: asdict(v) for k, v in self.outputs.items()}}

    def summary(self) -> str:
        """One line per failing output (or "ok") for messages."""
        bits = []
        for name, o in self.outputs.items():
            s = f"{name}: max|d|={o.max_abs:.3g}"
            if o.argmax_agreement is not None:
                s += f", argmax {100 * o.argmax_agreement:.2f}%"
            if not o.passed:
                s += f" (limit atol={o.atol}, rtol={o.rtol})"
            bits.append(s)
        return f"{self.test} vs {self.reference}: " + "; ".join(bits)


def compare(ref: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray],
            tolerances: Mapping[str, Tolerance], *, ref_name: str = "reference",
            test_name: str = "test") -> ParityReport:
    """Compare each output named in ``tolerances`` (arrays of equal shape; float) -> report."""
    outs: dict[str, OutputParity] = {}
    for name, tol in tolerances.items():
        a = np.asarray(ref[name], dtype=np.float64)
        b = np.asarray(test[name], dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"output {name}: shapes differ {a.shape} vs {b.shape}")
        diff = np.abs(b - a)
        max_abs = float(diff.max()) if diff.size else 0.0
        max_rel = float((diff / np.maximum(np.abs(a), 1e-12)).max()) if diff.size else 0.0
        finite = bool(np.isfinite(b).all())
        passed = finite
        if tol.atol is not None:
            passed &= bool((diff <= tol.atol + (tol.rtol or 0.0) * np.abs(a)).all())
        agree = prob = None
        if tol.logits:
            agree = float((a.argmax(-1) == b.argmax(-1)).mean()) if a.size else 1.0
            prob = float(np.abs(softmax(b) - softmax(a)).max()) if a.size else 0.0
            if tol.min_argmax_agreement is not None:
                passed &= agree >= tol.min_argmax_agreement
        outs[name] = OutputParity(max_abs, max_rel, tol.atol, tol.rtol, bool(passed), agree, prob,
                                  int(a.shape[0]) if a.ndim else 1)
    return ParityReport(ref_name, test_name, outs)


def sidecar_parity(report: ParityReport, inputs: str) -> dict:
    """The ``parity`` entry of a sidecar: which inputs, per-output numbers, overall pass."""
    d = report.to_dict()
    logits = report.outputs.get("logits")
    d["inputs"] = inputs
    d["n"] = next(iter(report.outputs.values())).n if report.outputs else 0
    d["argmax_agreement"] = logits.argmax_agreement if logits else None
    d["max_abs_prob"] = logits.max_abs_prob if logits else None
    return d
