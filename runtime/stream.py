"""Live micro-expression recognition from a camera, a video, a network stream or the demo clip.

    python runtime/stream.py --demo                      # no camera, GPU or download needed
    python runtime/stream.py --camera 0 --fps 100 --show
    python runtime/stream.py --video clip.mp4 --events events.jsonl --record annotated.mp4
    python runtime/stream.py --url rtsp://host/stream --backend tensorrt --model m.engine

Events go to stdout as JSON Lines (or ``--events FILE``), one per spotted micro-expression,
flushed as they happen. Exit codes: 0 done, 1 a run-time failure (unreadable video, camera
gone), 2 bad usage or a missing capability, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM);
after 130 or 143 the events so far are kept and the recording is finalised.
"""

from __future__ import annotations

import argparse
import sys

from sofp.runtime.errors import UsageError, run_cli
from sofp.runtime.pipeline import PipelineConfig
from sofp.runtime.runner import StreamConfig, run_stream


def add_pipeline_args(p: argparse.ArgumentParser) -> None:
    """The model, flow and spotting options (``sofp-analyze`` takes the same ones)."""
    from sofp.runtime.infer import BACKEND_CHOICES

    p.add_argument("--flow", default="auto", help="feature flow: auto, cpu-dis, cpu-tvl1, torch-tvl1, cuda-tvl1, ...")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="inference backend")
    p.add_argument("--model", metavar="PATH", help="checkpoint .pt, .onnx or TensorRT engine (default: built-in)")
    p.add_argument("--threads", type=int, default=1, help="inference threads on the CPU (default 1)")
    p.add_argument("--spot", metavar="NAME=VALUE", action="append", default=[],
                   help="a spotting parameter (repeatable), e.g. k_on=5 or max_duration_s=0.6; names: "
                        "runtime/spotting.py SpotConfig (defaults: runtime/shared_params.json)")


def pipeline_config(a: argparse.Namespace) -> PipelineConfig:
    """The PipelineConfig of :func:`add_pipeline_args`' options; bad values are one line (UsageError)."""
    import dataclasses

    from sofp.runtime.infer.base import resolve_model
    from sofp.runtime.spotting import SpotConfig

    if a.threads <= 0:
        raise UsageError(f"--threads {a.threads}: must be a positive integer")
    names = [f.name for f in dataclasses.fields(SpotConfig)]
    values: dict[str, float] = {}
    for item in a.spot:
        name, _, value = item.partition("=")
        if name.strip() not in names:
            raise UsageError(f"--spot {item}: unknown spotting parameter; valid: {', '.join(names)}")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--spot {item}: {value!r} is not a number") from None
    try:
        spot = SpotConfig(**values)
    except ValueError as exc:
        raise UsageError(f"--spot {' '.join(a.spot)}: {exc}") from None
    if a.model is not None:
        resolve_model(a.model)
    return PipelineConfig(flow=a.flow, backend=a.backend, model=a.model, threads=a.threads, spot=spot)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python runtime/stream.py", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", metavar="N", help="camera index (0) or device (/dev/video0)")
    src.add_argument("--video", metavar="PATH", help="a video file")
    src.add_argument("--url", metavar="URL", help="rtsp://, http(s)://, rtmp://, udp:// stream")
    src.add_argument("--pipeline", metavar="GST", help="a GStreamer pipeline ending in appsink")
    src.add_argument("--csi", metavar="N", type=int, help="Jetson CSI camera N (nvarguscamerasrc)")
    src.add_argument("--frames", metavar="DIR",
                     help="a folder of frames, sorted numerically (img2 before img10); needs --fps")
    src.add_argument("--demo", action="store_true", help="the built-in demo clip (astronaut face)")
    p.add_argument("--width", type=int, help="requested capture width (px)")
    p.add_argument("--height", type=int, help="requested capture height (px)")
    p.add_argument("--fps", type=float,
                   help="requested camera rate, a --frames folder's rate (required), or a file's true rate (frames/s)")
    add_pipeline_args(p)
    p.add_argument("--cv-threads", type=int, default=1,
                   help="OpenCV worker threads (default 1: the per-frame work is small; 0: OpenCV's default)")
    p.add_argument("--events", metavar="FILE", help="write events as JSON Lines here (default: stdout)")
    p.add_argument("--telemetry", metavar="FILE", help="per-frame JSON Lines: stage timings (ms), motion, state")
    p.add_argument("--show", action="store_true", help="show the annotated stream in a window")
    p.add_argument("--record", metavar="OUT.mp4", help="write the annotated stream (with the overlay) to a video file")
    p.add_argument("--save-clip", metavar="FILE",
                   help="write the clean frames as read (no overlay) to a video file, to run again later: .avi "
                        "(MJPG), .mkv (FFV1, lossless) or .mp4 (mp4v); all three kept the demo's movements")
    p.add_argument("--out", metavar="DIR", help="demo outputs (default runs/demo)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--retries", type=int, default=5, help="reconnect tries for a live source that fails")
    p.add_argument("--quiet", action="store_true", help="no report or summary on stderr")
    p.add_argument("--library-logs", action="store_true",
                   help="let FFmpeg and OpenCV print their own log lines (hidden by default)")
    return p.parse_args(argv)


def config_from_args(a: argparse.Namespace) -> StreamConfig:
    if a.demo:
        source: str | int = "demo"
    elif a.camera is not None:
        source = int(a.camera) if str(a.camera).isdigit() else a.camera
    elif a.csi is not None:
        source = f"csi://{a.csi}"
    else:
        source = a.video or a.url or a.pipeline or a.frames
    for name in ("width", "height", "max_frames"):
        v = getattr(a, name)
        if v is not None and v <= 0:
            raise UsageError(f"--{name.replace('_', '-')} {v}: must be a positive integer")
    if a.fps is not None and not a.fps > 0:
        raise UsageError(f"--fps {a.fps}: must be a positive number of frames/s")
    if a.frames is not None and a.fps is None:
        raise UsageError(f"--frames {a.frames}: give the folder's frame rate with --fps (a folder of images carries "
                         "no timing; e.g. --fps 200 for CASME II or SAMM)")
    if a.cv_threads < 0:
        raise UsageError(f"--cv-threads {a.cv_threads}: must be >= 0 (0: OpenCV's default)")
    if a.retries < 0:
        raise UsageError(f"--retries {a.retries}: must be >= 0")
    from sofp.runtime.sources import source_kind

    source_kind(source)  # a missing file or folder, an unknown scheme: one line before anything loads
    pipeline = pipeline_config(a)
    return StreamConfig(source=source, width=a.width, height=a.height, fps=a.fps, pipeline=pipeline,
                        events=a.events, telemetry=a.telemetry, show=a.show, record=a.record,
                        save_clip=a.save_clip, out_dir=a.out,
                        max_frames=a.max_frames, retries=a.retries, quiet=a.quiet,
                        cv_threads=None if a.cv_threads == 0 else a.cv_threads)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the stream, return the exit code (errors: one line on stderr)."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage line
        return int(exc.code or 0)
    if not args.library_logs:
        from sofp.runtime.sources.capture import quiet_library_logs

        quiet_library_logs()
    return run_cli(lambda: run_stream(config_from_args(args)))


if __name__ == "__main__":
    sys.exit(main())
