"""Parity of the native runtime (libsofp) with the Python runtime on the same frames; run by ctest.

    python native/tests/parity_check.py --lib build/native/libsofp.so \
        --tool build/native/tests/sofp_stage_tool --model MODEL.onnx

Checks, each with its tolerance (exit 1 and a line per failure when one is missed):
1. inference: OpenVINO (native) vs ONNX Runtime (Python) on the same model inputs (features of real
   face pairs and random inputs): max |delta probability| <= 1e-3;
2. features from the same flow field: identical up to 1 grey level (of 255);
3. stages on the same face crops: DIS flows (fine, fast, ultrafast) within 0.01 px, the stabiliser's
   aligned crop within 1 grey level, features from each runtime's own flow within 2 levels;
4. the face cropper on the same grey frames (a demo clip with double drift and noise), with the
   detection on the frame (detect_lag 0) and pipelined (shared_params' detect_lag): the same frames
   with a face and with a detection applied, boxes within 1e-3 px;
5. the whole pipeline on demo clips (the astronaut face with injected movements; default drift and
   noise, and double drift and noise): the same number of events with the same labels, onset and
   apex within one frame, probabilities within 1e-3, the same JSON keys; the per-frame motion signal
   with median |delta| <= 1e-4 px and the spotter in the same state on >= 95 % of frames.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from check_report import Report  # this folder is on sys.path: the script runs from it
from sofp_native import NativePipeline, load_library

from sofp.runtime.demo_clip import make_demo_clip
from sofp.runtime.face import FaceCropper, Stabiliser
from sofp.runtime.features import features_to_input, flow_to_features, mirror_features
from sofp.runtime.flow import create_flow
from sofp.runtime.infer.onnxruntime import OnnxRuntimeBackend
from sofp.runtime.pipeline import Pipeline, PipelineConfig
from sofp.runtime.shared_params import SHARED
from sofp.runtime.sources.base import Frame

PROB_TOL = 1e-3
BOX_TOL = 1e-3
CLIPS = {"demo seed 0 (drift 1.5 px, noise 1.5)": {"seed": 0},
         "demo seed 1 (drift 1.5 px, noise 1.5)": {"seed": 1},
         "demo seed 0, drift 3 px + noise 3": {"seed": 0, "drift_px": 3.0, "noise_sigma": 3.0}}




def tool(exe: str, *args: str) -> None:
    subprocess.run([exe, *map(str, args)], check=True)


def face_pairs(n_pairs: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    """Onset and apex face crops (112 x 112 grey) of the demo clip's injected movements."""
    clip = make_demo_clip(seed=0)
    cropper = FaceCropper()
    crops = [cropper(clip.frames[i]) for i in range(len(clip.frames))]
    pairs = []
    for t in clip.truth:
        for a, b in ((t.onset, t.apex), (t.onset, (t.onset + t.apex) // 2)):
            if crops[a] is not None and crops[b] is not None:
                apex = cropper.crop(cv2.cvtColor(clip.frames[b], cv2.COLOR_BGR2GRAY), crops[a].box)
                pairs.append((crops[a].gray, apex))
    return pairs[:n_pairs]


def check_stages(rep: Report, exe: str, model: str, work: Path) -> None:
    pairs = face_pairs()
    rep.check(len(pairs) >= 4, f"stage inputs: {len(pairs)} onset/apex face-crop pairs from the demo clip")
    flow_err, align_err, feat_same_flow, feat_own_flow = {}, 0, 0, 0
    inputs = []
    for k, (a, b) in enumerate(pairs):
        pa, pb = work / f"a{k}.png", work / f"b{k}.png"
        cv2.imwrite(str(pa), a)
        cv2.imwrite(str(pb), b)
        for preset in ("ultrafast", "fast", "fine"):
            f = create_flow("cpu-dis", {"preset": preset}).compute(a, b)
            tool(exe, "dis", preset, pa, pb, work / "flow.f32")
            nf = np.fromfile(work / "flow.f32", np.float32).reshape(f.shape)
            flow_err[preset] = max(flow_err.get(preset, 0.0), float(np.abs(nf - f).max()))
        aligned = Stabiliser().align(a, b)
        tool(exe, "align", pa, pb, work / "aligned.png")
        native_aligned = cv2.imread(str(work / "aligned.png"), cv2.IMREAD_GRAYSCALE)
        align_err = max(align_err, int(np.abs(native_aligned.astype(int) - aligned).max()))
        flow = create_flow("cpu-dis").compute(a, aligned)
        feats = flow_to_features(flow)
        flow.astype(np.float32).tofile(work / "flow.f32")
        tool(exe, "features", work / "flow.f32", *flow.shape[:2], work / "feat.u8")
        nfeat = np.fromfile(work / "feat.u8", np.uint8).reshape(feats.shape)
        feat_same_flow = max(feat_same_flow, int(np.abs(nfeat.astype(int) - feats).max()))
        tool(exe, "dis", "fine", pa, work / "aligned.png", work / "flow.f32")
        nflow = np.fromfile(work / "flow.f32", np.float32).reshape(flow.shape)
        own = flow_to_features(nflow)
        feat_own_flow = max(feat_own_flow, int(np.abs(own.astype(int) - feats).max()))
        inputs += [feats, mirror_features(feats)]
    for preset, err in flow_err.items():
        rep.check(err <= 0.01, f"DIS {preset} flow on the same crops: max |delta| {err:.2e} px (<= 0.01)")
    rep.check(align_err <= 1, f"stabiliser: aligned crops differ by at most {align_err} grey levels (<= 1)")
    rep.check(feat_same_flow <= 1, f"features from the same flow: max |delta| {feat_same_flow} levels (<= 1)")
    rep.check(feat_own_flow <= 2, f"features from each runtime's own flow: max |delta| {feat_own_flow} levels (<= 2)")

    rng = np.random.default_rng(0)
    x = np.concatenate([features_to_input(np.stack(inputs)), rng.random((64 - len(inputs), 3, 28, 28), np.float32)])
    x.astype(np.float32).tofile(work / "x.f32")
    tool(exe, "infer", model, work / "x.f32", len(x), work / "p.f32")
    with OnnxRuntimeBackend(model) as ort:
        want = ort.predict(x)
    got = np.fromfile(work / "p.f32", np.float32).reshape(want.shape)
    err = float(np.abs(got - want).max())
    agree = float(np.mean(got.argmax(1) == want.argmax(1)))
    rep.check(err <= PROB_TOL, f"OpenVINO vs ONNX Runtime on {len(x)} inputs: max |delta p| {err:.1e} (<= 1e-3), "
                               f"argmax agreement {agree:.0%}")


def check_faces(rep: Report, exe: str, work: Path, n_frames: int = 150) -> None:
    clip = make_demo_clip(seed=0, drift_px=3.0, noise_sigma=3.0)
    names = []
    for i in range(n_frames):
        names.append(str(work / f"frame{i:04d}.png"))
        cv2.imwrite(names[-1], cv2.cvtColor(clip.frames[i], cv2.COLOR_BGR2GRAY))
    (work / "frames.txt").write_text("\n".join(names) + "\n")
    grays = [cv2.imread(n, cv2.IMREAD_GRAYSCALE) for n in names]
    for lag in sorted({0, SHARED["face"]["detect_lag"]}):
        with FaceCropper(detect_lag=lag) as cropper:
            crops = [cropper(g) for g in grays]
        want = np.array([(0, 0, 0, 0, 0, 0) if c is None else (1, c.box.x, c.box.y, c.box.w, c.box.h, c.tracked)
                         for c in crops], np.float64)
        tool(exe, "faces", work / "frames.txt", work / "faces.f64", lag)
        got = np.fromfile(work / "faces.f64", np.float64).reshape(want.shape)
        same = bool(np.array_equal(got[:, [0, 5]], want[:, [0, 5]]))
        err = float(np.abs(got[:, 1:5] - want[:, 1:5]).max())
        detected = [i for i, c in enumerate(crops) if c is not None and not c.tracked]
        rep.check(same and err <= BOX_TOL, f"face cropper, detect_lag {lag}, {n_frames} frames: same frames with a "
                                           f"face and with a detection applied ({detected[:4]}...) {same}, max "
                                           f"|delta box| {err:.1e} px (<= {BOX_TOL:g})")


def check_clip(rep: Report, lib, model: str, name: str, kwargs: dict) -> None:
    clip = make_demo_clip(**kwargs)
    py_events, nat_events, dmag, same_state, n = [], [], [], 0, 0
    with Pipeline(PipelineConfig(flow="cpu-dis", backend="onnxruntime", model=model, fps=clip.fps)) as py, \
            NativePipeline(lib, model, fps=clip.fps) as nat:
        for i in range(len(clip.frames)):
            image, t = clip.frames[i], i / clip.fps
            py_events += [e.to_dict() for e in py.feed(Frame(image, i, t))]
            nat_events += nat.feed(image, i, t)
            tel, info = py.telemetry, nat.frame_info()
            n += 1
            same_state += tel.state == info["state"]
            if tel.magnitude is not None and info["magnitude"] is not None:
                dmag.append(abs(tel.magnitude - info["magnitude"]))
    rep.check(len(py_events) == len(nat_events) and len(py_events) > 0,
              f"{name}: events Python {len(py_events)}, native {len(nat_events)}")
    for a, b in zip(py_events, nat_events, strict=False):
        dp = max(abs(a["probabilities"][k] - b["probabilities"][k]) for k in a["probabilities"])
        ok = (a["label"] == b["label"] and abs(a["onset_frame"] - b["onset_frame"]) <= 1
              and abs(a["apex_frame"] - b["apex_frame"]) <= 1 and dp <= PROB_TOL
              and set(a) == set(b))
        rep.check(ok, f"{name}: event {a['onset_frame']}-{a['apex_frame']}-{a['offset_frame']} {a['label']} vs "
                      f"{b['onset_frame']}-{b['apex_frame']}-{b['offset_frame']} {b['label']}, "
                      f"max |delta p| {dp:.1e}")
    med = float(np.median(dmag)) if dmag else float("inf")
    rep.check(med <= 1e-4 and same_state >= 0.95 * n,
              f"{name}: motion signal median |delta| {med:.1e} px (max {max(dmag, default=0):.3f}), "
              f"same spotter state on {same_state}/{n} frames")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="libsofp shared library")
    ap.add_argument("--tool", required=True, help="sofp_stage_tool")
    ap.add_argument("--model", required=True, help="exported .onnx with its sidecar")
    a = ap.parse_args()
    cv2.setNumThreads(1)  # as the Python runtime runs OpenCV (runtime/runner.py) and the native library is used
    rep = Report()
    with tempfile.TemporaryDirectory() as tmp:
        check_stages(rep, a.tool, a.model, Path(tmp))
        check_faces(rep, a.tool, Path(tmp))
    lib = load_library(a.lib)
    for name, kwargs in CLIPS.items():
        check_clip(rep, lib, a.model, name, kwargs)
    print(f"parity: {len(rep.failures)} of the checks above failed" if rep.failures else "parity: every check passed")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
