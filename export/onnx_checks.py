"""Static checks of an exported ONNX graph: loadable, ``onnx.checker``, shape inference, and whether
TensorRT's ONNX parser can take it (operators, opset, constant-input rules, ranks, I/O types, shapes).

Nothing here needs TensorRT; the operator lists and their sources are in ``trt_ops.py``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import TensorProto

from sofp.export import trt_ops
from sofp.runtime.errors import SofpError, UsageError


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Read an ONNX file; a missing, empty, corrupt or non-ONNX file raises one line (exit 2)."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"ONNX file {p} does not exist; give a .onnx written by export/to_onnx.py")
    if p.stat().st_size == 0:
        raise UsageError(f"ONNX file {p} is empty; re-export it with export/to_onnx.py")
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf DecodeError and friends: the file is not an ONNX model
        raise UsageError(f"{p} is not a readable ONNX model ({exc.__class__.__name__}); give a .onnx file") from None
    if not model.graph.node or not model.opset_import:
        raise UsageError(f"{p} holds no ONNX graph (no nodes or no opset); give a .onnx file")
    return model


def default_opset(model: onnx.ModelProto) -> int:
    """The model's default-domain ("" / "ai.onnx") opset version."""
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 0


def op_inventory(model: onnx.ModelProto) -> Counter:
    """Count of nodes per op type, including nodes inside subgraphs (If/Loop/Scan bodies).

    Non-default domains are prefixed: ``"com.microsoft::FusedGemm"``.
    """
    counts: Counter = Counter()

    def walk(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            counts[key] += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        walk(g)

    walk(model.graph)
    return counts


def _dims(vi: onnx.ValueInfoProto) -> list[int | str] | None:
    t = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def _dtype(vi: onnx.ValueInfoProto) -> str:
    if not vi.type.HasField("tensor_type"):
        return vi.type.WhichOneof("value") or "unknown"
    return TensorProto.DataType.Name(vi.type.tensor_type.elem_type)


@dataclass
class CheckReport:
    """Result of :func:`check_model`: per-target problems (empty list = compatible)."""

    path: str
    opset: int
    ops: dict[str, int]
    problems: dict[str, list[str]] = field(default_factory=dict)  # target -> problems
    general: list[str] = field(default_factory=list)  # checker / shape inference / I/O problems
    dla_fallback: list[str] = field(default_factory=list)  # ops an Orin DLA engine runs on the GPU (info)

    def ok(self, target: str | None = None) -> bool:
        if self.general:
            return False
        if target is None:
            return not any(self.problems.values())
        return not self.problems.get(target)

    def summary(self) -> str:
        """One line: targets that pass and, for each that fails, its first problems."""
        parts = []
        if self.general:
            parts.append("; ".join(self.general[:3]))
        for t, probs in self.problems.items():
            parts.append(f"{t}: ok" if not probs else f"{t}: " + "; ".join(probs[:3]))
        return f"{Path(self.path).name} (opset {self.opset}): " + ", ".join(parts)

    def to_dict(self) -> dict:
        return {"opset": self.opset, "ops": dict(sorted(self.ops.items())), "problems": self.problems,
                "general": self.general, "dla_fallback": self.dla_fallback}


def _constants(graph: onnx.GraphProto) -> set[str]:
    """Build-time constants: initializers, Constant outputs, and Identity/Cast of constants (the parser
    keeps those as weights; the exporter emits Identity for weights shared between modules)."""
    names = {init.name for init in graph.initializer}
    names |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    for n in graph.node:  # nodes are topologically sorted
        if n.op_type in ("Identity", "Cast") and n.input and n.input[0] in names:
            names.update(n.output)
    return names


def _trt_problems(model: onnx.ModelProto, inferred: onnx.ModelProto, target: trt_ops.TrtTarget,
                  ops: Counter) -> list[str]:
    probs: list[str] = []
    opset = default_opset(model)
    if not target.min_opset <= opset <= target.max_opset:
        probs.append(f"opset {opset} outside {target.min_opset}..{target.max_opset}")
    foreign = sorted(op for op in ops if "::" in op)
    if foreign:
        probs.append("custom-domain ops " + ", ".join(foreign))
    missing = trt_ops.unsupported_ops({op for op in ops if "::" not in op}, target.name)
    if missing:
        probs.append("unsupported ops " + ", ".join(missing))
    graph = model.graph
    consts = _constants(graph)
    ranks = {vi.name: len(d) for vi in [*inferred.graph.value_info, *inferred.graph.input]
             if (d := _dims(vi)) is not None}
    for node in graph.node:
        for idx, strict_only in trt_ops.CONSTANT_INPUTS.get(node.op_type, ()):
            if strict_only and not target.strict_constants:
                continue
            if idx < len(node.input) and node.input[idx] and node.input[idx] not in consts:
                probs.append(f"{node.op_type} {node.name or '?'} input {idx} must be a constant")
        allowed = trt_ops.POOL_RANKS.get(node.op_type)
        if allowed and node.input and ranks.get(node.input[0]) not in (*allowed, None):
            probs.append(f"{node.op_type} {node.name or '?'} on a rank-{ranks[node.input[0]]} tensor (2D/3D only)")
    return probs


def _shape_problems(model: onnx.ModelProto, inferred: onnx.ModelProto) -> list[str]:
    """Shapes and types TensorRT cannot take (target-independent)."""
    probs: list[str] = []
    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):
        inits = {i.name for i in model.graph.initializer}
        for vi in values:
            if vi.name in inits:
                continue
            dt = _dtype(vi)
            if dt not in trt_ops.IO_DTYPES:
                probs.append(f"{kind} {vi.name} has type {dt}; TensorRT binds {', '.join(sorted(trt_ops.IO_DTYPES))}")
            dims = _dims(vi)
            if dims is None:
                probs.append(f"{kind} {vi.name} has no static rank")
                continue
            if any(isinstance(d, int) and d == 0 for d in dims):
                probs.append(f"{kind} {vi.name} has a zero-size dimension {dims}")
            if kind == "input" and any(not isinstance(d, int) for d in dims[1:]):
                probs.append(f"input {vi.name} is dynamic beyond the batch axis {dims}; the profile sets batch only")
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = _dims(vi)
        if dims is not None and len(dims) > trt_ops.MAX_RANK:
            probs.append(f"tensor {vi.name} has rank {len(dims)} > {trt_ops.MAX_RANK}")
        if _dtype(vi) == "DOUBLE":
            probs.append(f"tensor {vi.name} is DOUBLE")
    return probs


def check_model(path: str | Path, targets: tuple[str, ...] = trt_ops.DEFAULT_TARGETS,
                model: onnx.ModelProto | None = None) -> CheckReport:
    """Run every static check on the ONNX file at ``path`` against the TensorRT ``targets``.

    ``onnx.checker`` (full check) and strict shape inference failures go to ``general``; they make
    every target fail.
    """
    model = model if model is not None else load_onnx(path)
    general: list[str] = []
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        general.append(f"onnx.checker: {str(exc).splitlines()[0][:200]}")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:
        general.append(f"shape inference: {str(exc).splitlines()[0][:200]}")
        inferred = model
    ops = op_inventory(model)
    general += _shape_problems(model, inferred)
    report = CheckReport(str(path), default_opset(model), dict(ops), general=general,
                         dla_fallback=trt_ops.dla_fallback_ops(set(ops)))
    for name in targets:
        report.problems[name] = _trt_problems(model, inferred, trt_ops.target(name), ops)
    return report


def require_compatible(report: CheckReport, target: str) -> None:
    """Raise one line when ``report`` fails ``target``."""
    if not report.ok(target):
        probs = report.general + report.problems.get(target, [])
        hint = ""
        if target == "trt8.5" and any("LayerNormalization" in p or "opset" in p for p in probs):
            hint = " (TensorRT 8.5 / JetPack 5: export with --opset 16, which decomposes LayerNorm)"
        name = Path(report.path).name
        raise SofpError(f"{name} is not TensorRT-compatible for {target}: {'; '.join(probs[:4])}{hint}")
