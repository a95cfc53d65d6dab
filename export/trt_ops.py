"""ONNX operators accepted by TensorRT's ONNX parser, per TensorRT release that SOFP Edge targets.

Sources (onnx/onnx-tensorrt, the parser's own documentation; the ``Supported = Y`` rows only):

- ``trt8.5`` (JetPack 5.x ships TensorRT 8.5.2): branch ``release/8.5-GA``, ``docs/operators.md``
  ("TensorRT 8.5 supports operators up to Opset 17").
- ``trt8.6`` (JetPack 6.0 ships TensorRT 8.6.2): the 8.5 table plus the operators that
  ``docs/Changelog.md`` lists under "TensorRT 8.6 EA Release" ("Added support for
  ``GroupNormalization``, ``LayerNormalization``, ``IsInf`` operations"); opset up to 17.
  (The 8.6-GA copy of operators.md was not available where this was written; the changelog is
  the parser's own record of what 8.6 added over 8.5.)
- ``trt10`` (JetPack 6.1+ ships TensorRT 10.3; desktop 10.x): branch ``main`` (TensorRT 10.15)
  ``docs/operators.md`` ("opset 9 to opset 24"), minus what ``docs/Changelog.md`` dates after
  10.0 (so the list holds for every 10.x): ``DeformConv`` (10.1), ``BlackmanWindow``,
  ``HammingWindow``, ``HannWindow`` (10.4), ``STFT`` (10.5), ``Attention`` (10.14),
  ``RotaryEmbedding``, ``RMSNormalization``, ``TensorScatter`` (10.15); and minus ``CastLike``,
  ``Gelu``, ``Mish``, which the 8.x tables lack and no changelog entry dates (kept out to be safe).
  Opset range 9..20 for the 10.0 floor (10.0's operators.md: "opset 9 to opset 20").

A graph is TensorRT-compatible for a target when every node's op type is in that target's set,
its default-domain opset is within the target's range, and the per-op restrictions in
:data:`CONSTANT_INPUTS` / :data:`POOL_RANKS` hold (checked in ``onnx_checks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


def _ops(table: str) -> frozenset[str]:
    """Whitespace-separated op names -> set."""
    return frozenset(table.split())

_TRT85 = _ops(
    """
    Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil
    Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
    DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
    GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
    GridSample GRU HardSwish HardSigmoid Identity If ImageScaler InstanceNormalization IsNaN LeakyRelu
    Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean
    MeanVarianceNormalization Min Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad
    ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform
    RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
    ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN
    RoiAlign Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin
    Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh
    ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
    """
)

_TRT86 = _TRT85 | {"GroupNormalization", "LayerNormalization", "IsInf"}

_TRT10_15 = _ops(
    """
    Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh Attention AveragePool BatchNormalization
    BlackmanWindow Cast CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos
    Cosh CumSum DeformConv DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand
    EyeLike Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool
    GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization GRU HammingWindow HannWindow
    HardSigmoid HardSwish Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN
    LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool
    MatMul Max MaxPool Mean MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not
    OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike
    RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp
    ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize
    ReverseSequence RMSNormalization RNN RoiAlign RotaryEmbedding Round STFT ScaledTanh Scan Scatter
    ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus
    Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh TensorScatter ThresholdedRelu Tile TopK
    Transpose Trilu Unsqueeze Upsample Where Xor
    """
)

# Dated after 10.0 by docs/Changelog.md, or undated and absent from the 8.x tables (see module doc).
_AFTER_10_0 = frozenset(
    {"DeformConv", "BlackmanWindow", "HammingWindow", "HannWindow", "STFT", "Attention", "RotaryEmbedding",
     "RMSNormalization", "TensorScatter"}
)
_UNDATED = frozenset({"CastLike", "Gelu", "Mish"})
_TRT10 = _TRT10_15 - _AFTER_10_0 - _UNDATED


@dataclass(frozen=True)
class TrtTarget:
    """One TensorRT release line: its parser's operator set and default-domain opset range."""

    name: str
    description: str
    ops: frozenset[str]
    min_opset: int
    max_opset: int
    source: str
    # TensorRT 8.x parser notes: "`axes` must be an initializer" for Slice/Squeeze, "`K` must be an
    # initializer" for TopK; 10.x relaxed Squeeze/Unsqueeze to "resolvable to a constant".
    strict_constants: bool


TARGETS: dict[str, TrtTarget] = {
    "trt8.5": TrtTarget(
        "trt8.5", "TensorRT 8.5 (JetPack 5.x)", _TRT85, 9, 17,
        "onnx/onnx-tensorrt release/8.5-GA docs/operators.md", True,
    ),
    "trt8.6": TrtTarget(
        "trt8.6", "TensorRT 8.6 (JetPack 6.0)", frozenset(_TRT86), 9, 17,
        "onnx/onnx-tensorrt release/8.5-GA docs/operators.md + docs/Changelog.md 'TensorRT 8.6 EA Release'", True,
    ),
    "trt10": TrtTarget(
        "trt10", "TensorRT 10.x (JetPack 6.1+, desktop)", _TRT10, 9, 20,
        "onnx/onnx-tensorrt main (10.15) docs/operators.md minus ops dated after 10.0 in docs/Changelog.md",
        False,
    ),
}

DEFAULT_TARGETS: tuple[str, ...] = ("trt8.6", "trt10")

# (op_type, input index) that must be a build-time constant (an initializer or a Constant node's
# output), per the Restrictions column. ``strict`` entries apply to 8.x targets only.
CONSTANT_INPUTS: dict[str, tuple[tuple[int, bool], ...]] = {
    "Conv": ((1, True),),  # 8.4 table: "Weights `W` must be an initializer"
    "ConvTranspose": ((1, True),),
    "Slice": ((3, True),),  # axes
    "Squeeze": ((1, False),),
    "Unsqueeze": ((1, False),),
    "TopK": ((1, True),),  # K
    "CumSum": ((1, False),),  # axis
    "ReduceL1": ((1, False),), "ReduceL2": ((1, False),), "ReduceLogSum": ((1, False),),
    "ReduceLogSumExp": ((1, False),), "ReduceMax": ((1, False),), "ReduceMean": ((1, False),),
    "ReduceMin": ((1, False),), "ReduceProd": ((1, False),), "ReduceSum": ((1, False),),
    "ReduceSumSquare": ((1, False),),
}

# "2D or 3D pooling only": input rank 4 or 5.
POOL_RANKS: dict[str, tuple[int, ...]] = {"AveragePool": (4, 5), "MaxPool": (4, 5)}

# nvinfer1::Dims::MAX_DIMS: TensorRT tensors have at most 8 dimensions.
MAX_RANK = 8

# I/O element types TensorRT can bind (ONNX TensorProto enum names).
IO_DTYPES = frozenset({"FLOAT", "FLOAT16", "INT32", "INT8", "UINT8", "BOOL"})


# Orin DLA through TensorRT 8.5/8.6 (JetPack 5.1.1+, DRIVE OS 6.0.6+): the ops whose "Orin DLA support through
# TensorRT" is "Native" in NVIDIA/Deep-Learning-Accelerator-SW operators/README.md, plus Shape and
# ConstantOfShape ("can be inferred at build time"). Everything else runs on the GPU when a DLA engine is
# built with GPU fallback (informational: the build still succeeds, with DLA <-> GPU transitions).
DLA_NATIVE = _ops(
    """
    Abs Add AveragePool BatchNormalization Clip Concat Constant ConstantOfShape Conv ConvTranspose Equal Gemm
    LeakyRelu LRN MatMul Max MaxPool Mul PRelu Relu Reshape Resize Shape Sigmoid Slice Softmax Split Sub Sum
    Tanh Transpose Upsample
    """
)
DLA_SOURCE = "NVIDIA/Deep-Learning-Accelerator-SW operators/README.md (Orin DLA support through TensorRT: Native)"


def dla_fallback_ops(op_types: set[str] | frozenset[str]) -> list[str]:
    """Sorted op types that an Orin DLA engine would hand back to the GPU (GPU fallback)."""
    return sorted(op for op in op_types if "::" in op or op not in DLA_NATIVE)


def target(name: str) -> TrtTarget:
    """The :class:`TrtTarget` named ``name``; unknown names raise one line listing the known ones."""
    from sofp.runtime.errors import UsageError

    if name not in TARGETS:
        raise UsageError(f"unknown TensorRT target {name!r}; known: {', '.join(TARGETS)}")
    return TARGETS[name]


def target_for_version(version: str) -> str:
    """TensorRT version string ("8.5.2.2", "10.3.0") -> the target whose operator list applies."""
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return "trt10"
    if major < 8 or (major == 8 and minor <= 5):
        return "trt8.5"
    if major == 8 or major == 9:
        return "trt8.6"
    return "trt10"


def unsupported_ops(op_types: set[str] | frozenset[str], target_name: str) -> list[str]:
    """Sorted op types (default ONNX domain) that ``target_name``'s parser does not import."""
    return sorted(set(op_types) - TARGETS[target_name].ops)
