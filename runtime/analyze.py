"""Analyse recorded videos in bulk: one video, a folder of hundreds, or an archive, locally or on Ray.

    sofp-analyze interviews/                          # every video below the folder, all cores
    sofp-analyze 'archive/**/*.mp4' --workers 8 --out runs/archive
    sofp-analyze sessions.csv                         # a manifest: path,subject,session,...
    sofp-analyze archive/ --ray auto                  # the Ray cluster this machine belongs to

Per video (``OUT/videos/NAME/``): events.jsonl (the live runtime's schema), timeline.png, report.html
(self-contained) and result.json. Per run: OUT/summary.csv (one row per video; a manifest's extra
columns carried over) and OUT/index.html. A video analysed before with the same content and settings is
skipped; one that cannot be read is a failed row and the run goes on. Exit codes: 0 done, 1 some video
failed, 2 bad usage or a missing capability, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM); after
130 or 143 every finished video's outputs are complete and the summary lists the others as interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

from sofp.runtime.errors import UsageError, run_cli
from sofp.runtime.stream import add_pipeline_args, pipeline_config

MIN_CHUNK_S = 10.0  # a cut costs ~6 s of overlap (lead-in + tail) with the default spotting parameters


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="sofp-analyze", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="video files, folders (searched recursively), glob patterns, or manifest .csv files")
    p.add_argument("--out", default="runs/analyze", metavar="DIR", help="output folder (default runs/analyze)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes, one thread each (default: this machine's cores); with --ray "
                        "and no address, the CPUs of the local Ray instance")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run the tasks on Ray: alone, a local instance; 'auto', HOST:6379 or ray://HOST:10001, an "
                        "existing cluster (needs pip install 'sofp-edge[ray]' on every node, videos at the same paths)")
    p.add_argument("--chunk-s", type=float, default=300.0, metavar="S",
                   help=f"cut videos longer than this into overlapping chunks analysed in parallel (default 300; "
                        f"0: never; at least {MIN_CHUNK_S:g})")
    p.add_argument("--fps", type=float, help="the videos' true rate (frames/s), where their containers are wrong")
    add_pipeline_args(p)
    p.add_argument("--force", action="store_true", help="analyse again videos already analysed with these settings")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages (errors still print)")
    return p.parse_args(argv)


def config_from_args(a: argparse.Namespace):
    from sofp.runtime.analysis.run import AnalyzeConfig

    if a.ray and os.path.exists(a.ray):
        raise UsageError(f"--ray {a.ray}: a file or folder, not a Ray address; put --ray after the inputs, or write "
                         "--ray=ADDRESS")
    if not a.inputs:
        raise UsageError("no input: give video files, folders, glob patterns or a manifest .csv")
    if a.workers is not None and a.workers <= 0:
        raise UsageError(f"--workers {a.workers}: must be a positive integer")
    if a.chunk_s != 0 and not a.chunk_s >= MIN_CHUNK_S:
        raise UsageError(f"--chunk-s {a.chunk_s:g}: must be 0 (never cut) or at least {MIN_CHUNK_S:g} s")
    if a.fps is not None and not a.fps > 0:
        raise UsageError(f"--fps {a.fps}: must be a positive number of frames/s")
    return AnalyzeConfig(inputs=tuple(a.inputs), out=a.out, pipeline=pipeline_config(a), fps=a.fps,
                         workers=a.workers, ray=a.ray, chunk_s=a.chunk_s, force=a.force, quiet=a.quiet)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, analyse, return the exit code (errors: one line on stderr)."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage line
        return int(exc.code or 0)
    from sofp.runtime.analysis.run import run_analysis

    return run_cli(lambda: run_analysis(config_from_args(args)))


if __name__ == "__main__":
    sys.exit(main())
