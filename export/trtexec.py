"""The ``trtexec`` command equivalent to a :class:`BuildSettings` build (for machines where the Python
TensorRT bindings are missing, and for the README).

Flags (trtexec of TensorRT 8.5 to 10.x): ``--onnx``, ``--saveEngine``, ``--fp16`` / ``--int8`` with
``--calib=<calibration cache>`` (trtexec reads a cache; it cannot calibrate from images),
``--stronglyTyped`` (FP16 ONNX graph, where there is no FP16 flag), ``--minShapes`` /
``--optShapes`` / ``--maxShapes`` (``name:NxCxHxW``, comma-separated per input),
``--memPoolSize=workspace:<MiB>`` (a bare number is MiB), ``--timingCacheFile``,
``--useDLACore=N --allowGPUFallback``.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from sofp.export.trt_build import BuildSettings


def _shape(name: str, shape: tuple[int, ...], batch: int) -> str:
    return f"{name}:" + "x".join(str(d) for d in (batch, *shape[1:]))


def trtexec_command(onnx: str | Path, engine: str | Path, s: BuildSettings,
                    inputs: dict[str, tuple[int, ...]], strongly_typed: bool = False) -> str:
    """One shell command line. ``inputs``: ONNX input name -> shape with -1 (or a name) as the batch.

    Static-batch inputs (an int batch) get no shape flags.
    """
    parts = ["trtexec", f"--onnx={onnx}", f"--saveEngine={engine}"]
    if strongly_typed:
        parts.append("--stronglyTyped")
    elif s.precision in ("fp16", "int8"):
        parts.append("--fp16")
    if s.precision == "int8":
        parts.append("--int8")
        if s.calib_cache is not None:
            parts.append(f"--calib={s.calib_cache}")
    dynamic = {n: sh for n, sh in inputs.items() if not isinstance(sh[0], int) or sh[0] < 0}
    if dynamic:
        for flag, b in (("--minShapes", s.min_batch), ("--optShapes", s.opt_batch), ("--maxShapes", s.max_batch)):
            parts.append(f"{flag}=" + ",".join(_shape(n, sh, b) for n, sh in dynamic.items()))
    if s.workspace_mb is not None:
        parts.append(f"--memPoolSize=workspace:{int(s.workspace_mb)}")
    if s.timing_cache is not None:
        parts.append(f"--timingCacheFile={s.timing_cache}")
    if s.dla_core is not None:
        parts += [f"--useDLACore={s.dla_core}", "--allowGPUFallback"]
    return shlex.join(parts)
