"""Build TensorRT engine(s) from a checkpoint or an ONNX graph, each checked against ONNX Runtime.

    python export/to_trt.py --ckpt CKPT | --onnx FILE [--precision fp32|fp16|int8] [--calib DIR]
        [--min-batch N --opt-batch N --max-batch N] [--workspace MB] [--timing-cache F] [--dla-core N]
        [--split] [--force]

Writes the ONNX graph(s), the engine(s) (plain TensorRT plans) and a ``<file>.json`` sidecar for each.
Without TensorRT or a GPU it still writes the ONNX files and exits 2 with one line naming what is
missing and the equivalent ``trtexec`` command. An engine that fails parity against ONNX Runtime is
deleted (exit 1) unless ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sofp.export.defaults import DEFAULT_OPSET, TRT_PARITY_N
from sofp.export.trt_build import DEFAULT_PROFILE, DLA_PROFILE, PRECISIONS, BuildSettings
from sofp.runtime.errors import UsageError, run_cli


def resolve_profile(mn: int | None, opt: int | None, mx: int | None, dla: bool) -> tuple[int, int, int]:
    """Fill the unspecified batches of the min/opt/max profile around the given ones.

    GPU default 1/8/32; with the DLA (static shapes only) every unspecified value takes the one given
    (or 1). Ordering errors are left to ``BuildSettings.validate``.
    """
    if dla:
        given = [v for v in (opt, mn, mx) if v is not None]
        b = given[0] if given else 1
        return (mn or b, opt or b, mx or b)
    lo = mn if mn is not None else min([DEFAULT_PROFILE[0], *(v for v in (opt, mx) if v is not None)])
    hi = mx if mx is not None else max(DEFAULT_PROFILE[2], lo, opt or 0)
    mid = opt if opt is not None else min(max(DEFAULT_PROFILE[1], lo), hi)
    return (lo, mid, hi)


def parse_args(argv: list[str] | None):
    """A checked ``TrtExportConfig``; every usage error is raised before onnx, torch or TensorRT loads."""
    p = argparse.ArgumentParser(prog="python export/to_trt.py", description=(__doc__ or "").partition("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ckpt", type=Path, help="SOFP Edge checkpoint (.pt)")
    src.add_argument("--onnx", type=Path, help="FP32 .onnx written by to_onnx.py (with its sidecar)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/export/<stem> or the ONNX's)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp16", help="engine precision (default fp16)")
    p.add_argument("--calib", type=Path, default=None, help="int8: folder of flow images for calibration")
    p.add_argument("--calib-cache", type=Path, default=None,
                   help="int8: calibration cache to read/write (default <out>/<stem>.int8.calib)")
    p.add_argument("--calib-batch", type=int, default=16, help="int8: calibration batch size")
    for name, dflt in zip(("min", "opt", "max"), DEFAULT_PROFILE, strict=True):
        p.add_argument(f"--{name}-batch", type=int, default=None,
                       help=f"{name} batch of the profile (default {dflt}; with --dla-core {DLA_PROFILE[0]})")
    p.add_argument("--workspace", type=int, default=1024, help="builder workspace limit in MiB (default 1024)")
    p.add_argument("--timing-cache", type=Path, default=None, help="timing cache file to reuse and update")
    p.add_argument("--dla-core", type=int, default=None, help="build for this DLA core (GPU fallback on)")
    p.add_argument("--split", action="store_true", help="one engine per split graph (encoders, SRAF fusion)")
    p.add_argument("--force", action="store_true", help="rebuild a cached engine; keep one that fails parity")
    p.add_argument("--opset", type=int, default=None,
                   help=f"ONNX opset for --ckpt (default {DEFAULT_OPSET}; 16 where the local TensorRT is 8.5)")
    p.add_argument("--parity-n", type=int, default=TRT_PARITY_N,
                   help=f"random inputs for the parity check ({TRT_PARITY_N})")
    a = p.parse_args(argv)
    profile = resolve_profile(a.min_batch, a.opt_batch, a.max_batch, dla=a.dla_core is not None)
    settings = BuildSettings(
        precision=a.precision, min_batch=profile[0], opt_batch=profile[1], max_batch=profile[2],
        workspace_mb=a.workspace, timing_cache=a.timing_cache, dla_core=a.dla_core, calib_dir=a.calib,
        calib_cache=a.calib_cache, calib_batch=a.calib_batch,
    ).validate()
    for flag, path in (("--ckpt", a.ckpt), ("--onnx", a.onnx), ("--calib", a.calib)):
        if path is not None and not path.exists():
            raise UsageError(f"{flag} {path} does not exist")
    from sofp.export.trt_export import TrtExportConfig

    return TrtExportConfig(ckpt=a.ckpt, onnx=a.onnx, out_dir=a.out, settings=settings, split=a.split,
                           force=a.force, opset=a.opset, parity_n=a.parity_n)


def _main(argv: list[str] | None) -> int:
    config = parse_args(argv)
    from sofp.export.trt_export import export_trt

    result = export_trt(config)
    for f in result.written:
        print(f)
    for f in result.reused:
        print(f"{f} (cached, parity passed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: errors become one line on stderr and an exit code."""
    return run_cli(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
