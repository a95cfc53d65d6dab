"""The native CLI (sofp-stream-native) against `python runtime/stream.py`; run by ctest.

    python native/tests/cli_check.py --cli build/native/cli/sofp-stream-native --model MODEL.onnx

1. The same frames (the first 130 of the demo clip, written as PNGs) through both scripts: the same
   JSON Lines events (count, keys, labels, onset/apex/offset frames; probabilities within 1e-3),
   one telemetry record per frame plus start and summary records.
2. Exit codes and one `error:` line for: --help (0), no source (2), unknown option (2), --frames
   without --fps (2), a missing model (2), an unknown model type (2), a foreign engine (an engine
   whose sidecar describes an ONNX graph: 2), a missing video (2), a corrupt video (1), an
   undecodable frame (1), an unknown video type for --record (2), Ctrl-C (130, events so far kept)
   and SIGTERM (143).
3. --save-clip (FFV1 .mkv) keeps the frames as read: the clip decodes to the input frames, and the
   CLI run again on it (--video) gives the same events; --record (.avi) has one annotated frame per
   frame read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from check_report import Report  # this folder is on sys.path: the script runs from it

from sofp.runtime.demo_clip import make_demo_clip

N_FRAMES = 130




def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(cmd: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def check_same_events(rep: Report, cli: str, model: str, frames: Path, tmp: Path) -> None:
    nat_ev, nat_tel, py_ev = tmp / "native.jsonl", tmp / "native_tel.jsonl", tmp / "python.jsonl"
    r = run([cli, "--frames", str(frames), "--fps", "100", "--model", model, "--events", str(nat_ev),
             "--telemetry", str(nat_tel), "--quiet"])
    rep.check(r.returncode == 0 and r.stderr == "", f"native CLI on {N_FRAMES} demo frames: exit {r.returncode}")
    p = run([sys.executable, "runtime/stream.py", "--frames", str(frames), "--fps", "100", "--model", model,
             "--flow", "cpu-dis", "--backend", "onnxruntime", "--events", str(py_ev), "--quiet"])
    rep.check(p.returncode == 0, f"python runtime/stream.py on the same frames: exit {p.returncode} {p.stderr[-300:]}")
    if r.returncode or p.returncode:
        return
    a, b = read_jsonl(py_ev), read_jsonl(nat_ev)
    rep.check(len(a) == len(b) >= 1, f"events: Python {len(a)}, native {len(b)}")
    for x, y in zip(a, b, strict=False):
        same = [k for k in ("type", "label", "onset_frame", "apex_frame", "offset_frame") if x[k] != y[k]]
        dp = max(abs(x["probabilities"][k] - y["probabilities"][k]) for k in x["probabilities"])
        rep.check(list(x) == list(y) and not same and dp <= 1e-3,
                  f"event {y['onset_frame']}-{y['apex_frame']}-{y['offset_frame']} {y['label']}: same keys in the "
                  f"same order, differing fields {same}, max |delta p| {dp:.1e}")
    tel = read_jsonl(nat_tel)
    kinds = [t["type"] for t in tel]
    rep.check(kinds[0] == "start" and kinds[-1] == "summary" and kinds.count("frame") == N_FRAMES
              and tel[-1]["frames"] == N_FRAMES and tel[-1]["events"] == len(b),
              f"telemetry: start, {kinds.count('frame')} frame records, summary {tel[-1]}")


def check_recording(rep: Report, cli: str, model: str, frames: Path, tmp: Path) -> None:
    clip, rec, ev1, ev2 = tmp / "clip.mkv", tmp / "rec.avi", tmp / "rec_events.jsonl", tmp / "clip_events.jsonl"
    r = run([cli, "--frames", str(frames), "--fps", "100", "--model", model, "--events", str(ev1),
             "--save-clip", str(clip), "--record", str(rec), "--quiet"])
    rep.check(r.returncode == 0 and clip.is_file() and rec.is_file(),
              f"--save-clip clip.mkv --record rec.avi: exit {r.returncode} {r.stderr.strip()[-200:]}")
    if r.returncode:
        return
    cap = cv2.VideoCapture(str(clip))
    worst, n = 0, 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        worst = max(worst, int(cv2.absdiff(img, cv2.imread(str(frames / f"frame{n}.png"))).max()))
        n += 1
    rep.check(n == N_FRAMES and worst == 0, f"--save-clip: {n} frames decoded, max |delta| {worst} grey levels")
    cap = cv2.VideoCapture(str(rec))
    m = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, img = cap.read()
    rep.check(m == N_FRAMES and ok and img.shape == cv2.imread(str(frames / "frame0.png")).shape,
              f"--record: {m} frames of {img.shape if ok else None}")
    r = run([cli, "--video", str(clip), "--fps", "100", "--model", model, "--events", str(ev2), "--quiet"])
    a, b = read_jsonl(ev1), read_jsonl(ev2)
    key = [(e["label"], e["onset_frame"], e["apex_frame"], e["offset_frame"]) for e in a]
    rep.check(r.returncode == 0 and len(a) >= 1 and key == [(e["label"], e["onset_frame"], e["apex_frame"],
                                                              e["offset_frame"]) for e in b],
              f"--video on the saved clip: exit {r.returncode}, {len(b)} events, the same as from the frames: {key}")


def check_exit_codes(rep: Report, cli: str, model: str, frames: Path, tmp: Path) -> None:
    (tmp / "notes.txt").write_text("not a model")
    engine = tmp / "foreign.engine"
    engine.write_bytes(b"\x00" * 64)
    sidecar = json.loads(Path(model + ".json").read_text())
    engine.with_name(engine.name + ".json").write_text(json.dumps(sidecar))
    (tmp / "bad.mp4").write_bytes(b"\x00\x01garbage" * 100)
    broken = tmp / "broken"
    broken.mkdir()
    shutil.copy(frames / "frame0.png", broken / "frame0.png")
    (broken / "frame1.png").write_bytes(b"not a png")
    cases = [
        (["--help"], 0, ""),
        (["--model", model], 2, "one of the arguments"),
        (["--frames", str(frames), "--fps", "100", "--model", model, "--bogus", "1"], 2, "unrecognized argument"),
        (["--frames", str(frames), "--model", model], 2, "needs --fps"),
        (["--frames", str(frames), "--fps", "100", "--model", str(tmp / "missing.onnx")], 2, "model file not found"),
        (["--frames", str(frames), "--fps", "100", "--model", str(tmp / "notes.txt")], 2, "unknown file type"),
        (["--frames", str(frames), "--fps", "100", "--model", str(engine)], 2, "describes a \"onnx\" file"),
        (["--video", str(tmp / "missing.mp4"), "--model", model], 2, "not found"),
        (["--video", str(tmp / "bad.mp4"), "--model", model], 1, "cannot read video"),
        (["--frames", str(broken), "--fps", "30", "--model", model, "--quiet"], 1, "could not be decoded"),
        (["--frames", str(frames), "--fps", "100", "--model", model, "--record", str(tmp / "out.xyz")], 2,
         "unknown video type"),
    ]
    for args, code, text in cases:
        r = run([cli, *args])
        err = r.stderr.strip().splitlines()
        one_line = code == 0 or (len([line for line in err if line.startswith("error:")]) == 1 and text in r.stderr)
        rep.check(r.returncode == code and one_line,
                  f"{' '.join(a if len(a) < 40 else '...' + a[-30:] for a in args)} -> exit {r.returncode} "
                  f"(want {code}): {err[-1] if err else ''}")
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        ev, tel = tmp / f"signal{code}.jsonl", tmp / f"signal{code}_tel.jsonl"
        proc = subprocess.Popen([cli, "--frames", str(frames), "--fps", "100", "--model", model, "--events", str(ev),
                                 "--telemetry", str(tel), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 120  # signal once the run has started (its telemetry has a record)
        while time.monotonic() < deadline and proc.poll() is None and not (tel.exists() and tel.stat().st_size):
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        rep.check(proc.returncode == code and ev.exists(),
                  f"{signal.Signals(sig).name} during a run -> exit {proc.returncode} (want {code}), events file kept")


def check_cuda_flow_absent(rep: Report, cli: str, model: str, frames: Path) -> None:
    """A build without OpenCV's cudaoptflow: each cuda- flow is exit 2 with one line naming what is missing."""
    for flow in ("cuda-tvl1", "cuda-farneback", "cuda-nvof"):
        r = run([cli, "--frames", str(frames), "--fps", "100", "--model", model, "--flow", flow, "--quiet"])
        err = r.stderr.strip().splitlines()
        rep.check(r.returncode == 2 and len(err) == 1 and flow in err[0] and "cudaoptflow" in err[0],
                  f"--flow {flow} without CUDA flow -> exit {r.returncode} (want 2): {err[-1] if err else ''}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--cuda-flow", choices=("ON", "OFF"), required=True, help="whether libsofp has OpenCV CUDA flow")
    a = ap.parse_args()
    rep = Report()
    clip = make_demo_clip(seed=0)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        frames = tmp / "frames"
        frames.mkdir()
        for i in range(N_FRAMES):
            cv2.imwrite(str(frames / f"frame{i}.png"), clip.frames[i])
        check_same_events(rep, a.cli, a.model, frames, tmp)
        check_exit_codes(rep, a.cli, a.model, frames, tmp)
        if a.cuda_flow == "OFF":
            check_cuda_flow_absent(rep, a.cli, a.model, frames)
        check_recording(rep, a.cli, a.model, frames, tmp)
    print(f"cli: {len(rep.failures)} of the checks above failed" if rep.failures else "cli: every check passed")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
