"""Export a checkpoint to ONNX graph(s) with JSON sidecars, checked against PyTorch.

    python export/to_onnx.py --ckpt CKPT [--out DIR] [--opset N] [--batch dynamic|N] [--split]

Writes ``<stem>.onnx`` (or the split graphs and ``<stem>.split.json``) with ``<file>.json`` sidecars
and prints the parity measured; exit 0 on success, 2 for bad usage or a bad checkpoint, 1 when the
graph does not match PyTorch.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from sofp.export.defaults import DEFAULT_OPSET, MIN_OPSET
from sofp.runtime.errors import UsageError, run_cli


@dataclass(frozen=True)
class OnnxConfig:
    ckpt: Path
    out: Path
    opset: int
    batch: str | int
    split: bool


def parse_args(argv: list[str] | None) -> OnnxConfig:
    p = argparse.ArgumentParser(prog="python export/to_onnx.py", description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--ckpt", required=True, type=Path, help="SOFP Edge checkpoint (.pt)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/export/<ckpt stem>)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset (default {DEFAULT_OPSET}; 16 for TensorRT 8.5 / JetPack 5)")
    p.add_argument("--batch", default="dynamic", help="'dynamic' (default) or a fixed batch size")
    p.add_argument("--split", action="store_true",
                   help="also cut the model into global/quadrant encoders + SRAF fusion graphs")
    a = p.parse_args(argv)
    batch: str | int = a.batch
    if batch != "dynamic":
        try:
            batch = int(batch)
        except ValueError:
            raise UsageError(f"--batch {a.batch!r}: give 'dynamic' or a positive integer") from None
    if not a.ckpt.is_file():
        raise UsageError(f"--ckpt {a.ckpt}: no checkpoint there; give a .pt written by sofp-train all")
    if a.opset < MIN_OPSET:
        raise UsageError(f"--opset {a.opset}: the attention blocks need opset >= {MIN_OPSET} (default {DEFAULT_OPSET})")
    if batch != "dynamic" and batch < 1:
        raise UsageError(f"--batch {batch}: give 'dynamic' or a positive integer")
    out = a.out or Path("runs/export") / a.ckpt.stem
    return OnnxConfig(a.ckpt, out, a.opset, batch, a.split)


def parity_line(meta: dict) -> str:
    """One line: the graph's agreement with PyTorch as measured at export (from its sidecar)."""
    par = meta["parity"]
    worst = max(o["max_abs"] for o in par["outputs"].values())
    return (f"parity {meta['file']} vs PyTorch: max |delta| {worst:.1e} (tolerance "
            f"{max(o['atol'] for o in par['outputs'].values()):.0e}), argmax agreement "
            f"{100 * par['argmax_agreement']:.1f} % on {par['n']} inputs ({par['inputs']}): "
            f"{'passed' if par['passed'] else 'FAILED'}")


def _main(argv: list[str] | None) -> int:
    cfg = parse_args(argv)  # usage errors before onnx and torch load
    from sofp.export.onnx_export import export_onnx

    files = export_onnx(cfg.ckpt, cfg.out, cfg.opset, cfg.batch, cfg.split)
    for f in files:
        print(f)
    problems: dict[str, set[str]] = {}
    for f in files:
        if f.name.endswith(".onnx.json"):
            meta = json.loads(f.read_text())
            for target, probs in meta["checks"]["problems"].items():
                problems.setdefault(target, set()).update(probs)
            print(parity_line(meta))
    summary = "; ".join(f"{t}: {'ok' if not p else ', '.join(sorted(p))}" for t, p in problems.items())
    hint = " (TensorRT 8.5 / JetPack 5: --opset 16)" if problems.get("trt8.5") else ""
    print(f"TensorRT parser check: {summary}{hint}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: errors become one line on stderr and an exit code."""
    return run_cli(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
