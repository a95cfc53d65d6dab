"""Export a checkpoint to ONNX with sidecars: ``python export/to_onnx.py --ckpt CKPT [--out DIR] [--opset N]
[--batch dynamic|N] [--split]``.

Writes ``<stem>.onnx`` (or the split graphs and ``<stem>.split.json``) with ``<file>.json`` sidecars;
exit 0 on success, 2 for bad usage or a bad checkpoint, 1 when the graph does not match PyTorch.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from sofp.runtime.errors import UsageError, run_cli


@dataclass(frozen=True)
class OnnxConfig:
    ckpt: Path
    out: Path
    opset: int
    batch: str | int
    split: bool


def parse_args(argv: list[str] | None) -> OnnxConfig:
    from sofp.export.onnx_export import DEFAULT_OPSET

    p = argparse.ArgumentParser(prog="export/to_onnx.py", description=__doc__.splitlines()[0])
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
    out = a.out or Path("runs/export") / a.ckpt.stem
    return OnnxConfig(a.ckpt, out, a.opset, batch, a.split)


def _main(argv: list[str] | None) -> int:
    from sofp.export.onnx_export import export_onnx

    cfg = parse_args(argv)
    files = export_onnx(cfg.ckpt, cfg.out, cfg.opset, cfg.batch, cfg.split)
    for f in files:
        print(f)
    problems: dict[str, set[str]] = {}
    for f in files:
        if f.name.endswith(".onnx.json"):
            for target, probs in json.loads(f.read_text())["checks"]["problems"].items():
                problems.setdefault(target, set()).update(probs)
    summary = "; ".join(f"{t}: {'ok' if not p else ', '.join(sorted(p))}" for t, p in problems.items())
    hint = " (TensorRT 8.5 / JetPack 5: --opset 16)" if problems.get("trt8.5") else ""
    print(f"TensorRT parser check: {summary}{hint}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: errors become one line on stderr and an exit code."""
    return run_cli(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
