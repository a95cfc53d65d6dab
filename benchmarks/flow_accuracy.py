"""Flow accuracy benchmark: endpoint error on the real face warped by known fields, time per pair, and
agreement of each backend's 28 x 28 features with TV-L1's (the flow the composite was made with).

    python benchmarks/flow_accuracy.py [--contrib-python /path/to/python-with-opencv-contrib]

* Synthetic pairs: the astronaut's face (scikit-image, public domain) as a 112 x 112 grey crop
  (FaceCropper's geometry), warped by known smooth fields (random Gaussian-bump fields, and the
  demo clip's brow raise / lip-corner pull / brow lowering) whose peak displacement runs from
  0.2 to 3 px; both frames get Gaussian sensor noise (``--noise`` grey levels).
* Demo-clip pairs: onset and apex crops of the demo clip's events, found by the runtime's
  FaceCropper and aligned by its Stabiliser (head drift, tracking, noise: the live path).
* EPE = mean |flow - truth| (px) inside an 8 px border; time = median ms per pair (1 thread).
* Feature agreement: Pearson correlation between a backend's ``flow_to_features`` image and the
  TV-L1 reference's on the same pair (all three channels, and per channel), median over pairs.
  References: torch-tvl1, and OpenCV's contrib cpu-tvl1 when a contrib Python is given.
* Label agreement with the built-in model: added when training/builtin/sofp_composite.pt exists; labels
  as the runtime gives them (mean probability of the features and their mirror).

Writes benchmarks/results/flow_accuracy.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from sofp.runtime.demo_clip import crop_gray, face_frame, field_in_crop, make_demo_clip, smooth_field, warp_by_flow
from sofp.runtime.errors import SofpError, UsageError, run_cli
from sofp.runtime.features import features_to_input, flow_to_features, mirror_features
from sofp.runtime.flow import FLOWS, FlowBackend, create_flow
from sofp.runtime.flow.params import DIS, TVL1, as_dict
from sofp.runtime.flow.torch_tvl1 import TorchTvl1Flow

ROOT = Path(__file__).resolve().parents[1]
BORDER = 8


@dataclass(frozen=True)
class FlowAccuracyConfig:
    """What to measure. ``backends`` None = every available one (plus the DIS presets)."""

    amplitudes: tuple[float, ...] = (0.2, 0.5, 1.0, 1.5, 2.0, 3.0)
    random_fields: int = 3
    noise: float = 1.0
    size: int = 112
    margin: float = 0.2
    clip_seeds: tuple[int, ...] = (0, 1, 2)
    backends: tuple[str, ...] | None = None
    contrib_python: str | None = None
    checkpoint: str | None = None  # for label agreement; None = the built-in model when it exists
    compare: tuple[str, ...] = ()  # more checkpoints whose label agreement is reported beside it
    threads: int = 1
    out_dir: str = str(ROOT / "benchmarks" / "results")
    command: str = ""


@dataclass
class Pair:
    prev: np.ndarray
    curr: np.ndarray
    truth: np.ndarray
    kind: str
    amplitude: float
    group: str  # "synthetic" | "clip"
    meta: dict = field(default_factory=dict)


# -- pairs ------------------------------------------------------------------------------------------
def synthetic_pairs(cfg: FlowAccuracyConfig) -> list[Pair]:
    """The face crop warped by random smooth fields and by the demo clip's movement kinds."""
    img, _, box = face_frame()
    base = crop_gray(img, box, cfg.size, cfg.margin)
    clip = make_demo_clip(seed=0)
    shapes: list[tuple[str, np.ndarray]] = []
    for s in range(cfg.random_fields):
        shapes.append((f"random{s}", smooth_field((cfg.size, cfg.size), 1.0, seed=100 + s)))
    for ev in clip.truth:  # unit-peak fields of each movement kind, in crop px
        f = field_in_crop(clip.motion.local_field(ev.apex), clip.face_box, cfg.size, cfg.margin)
        shapes.append((ev.kind, f / max(float(np.sqrt((f ** 2).sum(-1)).max()), 1e-9)))
    rng = np.random.default_rng(0)
    pairs = []
    for amp in cfg.amplitudes:
        for kind, unit in shapes:
            truth = (unit * amp).astype(np.float32)
            curr = warp_by_flow(base, truth)
            noisy = [np.clip(np.rint(x + rng.normal(0, cfg.noise, x.shape)), 0, 255).astype(np.uint8)
                     if cfg.noise > 0 else x for x in (base, curr)]
            pairs.append(Pair(noisy[0], noisy[1], truth, kind, amp, "synthetic"))
    return pairs


def clip_pairs(cfg: FlowAccuracyConfig) -> list[Pair]:
    """Onset/apex crops of demo-clip events through the runtime's FaceCropper and Stabiliser."""
    from sofp.runtime.face import FaceCropper, Stabiliser

    pairs = []
    for seed in cfg.clip_seeds:
        clip = make_demo_clip(seed=seed)
        for ev in clip.truth:
            cropper = FaceCropper(size=cfg.size, margin=cfg.margin)
            crops = {}
            for i in range(max(0, ev.onset - 20), ev.apex + 1):  # the live path: track up to the apex
                c = cropper(clip.frames[i])
                if i in (ev.onset, ev.apex) and c is not None:
                    crops[i] = c
            if len(crops) < 2:
                continue
            onset, apex = crops[ev.onset], crops[ev.apex]
            aligned = Stabiliser().align(onset.gray, apex.gray)
            box = (onset.box.x, onset.box.y, onset.box.w, onset.box.h)
            truth = field_in_crop(clip.motion.local_field(ev.apex), box, cfg.size, cfg.margin)
            pairs.append(Pair(onset.gray, aligned, truth, ev.kind, ev.amplitude_px, "clip", {"seed": seed}))
    return pairs


# -- backends ---------------------------------------------------------------------------------------
def backend_factories(cfg: FlowAccuracyConfig) -> dict[str, Callable[[], FlowBackend]]:
    """label -> factory of every backend to measure (the DIS presets separately)."""
    out: dict[str, Callable[[], FlowBackend]] = {}
    caps = {c.name: c for c in FLOWS.capabilities()}
    wanted = cfg.backends or tuple(n for n, c in caps.items() if c.available)
    for name in wanted:
        if name not in caps:
            raise UsageError(f"unknown flow {name!r}; known: {', '.join(caps)}")
        if not caps[name].available:
            print(f"skip {name}: {caps[name].reason}", file=sys.stderr)
            continue
        if name == "cpu-dis":
            for preset in ("ultrafast", "fast", "medium", "fine"):
                out[f"cpu-dis:{preset}"] = lambda p=preset: create_flow("cpu-dis", {"preset": p})
        elif name == "torch-tvl1":
            out[name] = lambda: TorchTvl1Flow(device="cpu")
        else:
            out[name] = lambda n=name: create_flow(n)
    return out


def run_backend(factory, pairs: list[Pair], label: str) -> tuple[np.ndarray, np.ndarray]:
    """Flows (N x S x S x 2) and seconds per pair; one warm-up call first."""
    flow = factory()
    flow.compute(pairs[0].prev, pairs[0].curr)
    flows, secs = [], []
    for p in tqdm(pairs, desc=label, leave=False):
        t0 = time.perf_counter()
        flows.append(flow.compute(p.prev, p.curr))
        secs.append(time.perf_counter() - t0)
    return np.array(flows, np.float32), np.array(secs)


def run_contrib_tvl1(python: str, pairs: list[Pair], threads: int) -> tuple[np.ndarray, np.ndarray, str]:
    """cpu-tvl1 (cv2.optflow) in another interpreter that has opencv-contrib; same pinned params."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "pairs.npz"), os.path.join(tmp, "flows.npz")
        np.savez(src, prev=np.array([p.prev for p in pairs]), curr=np.array([p.curr for p in pairs]))
        params = dict(as_dict(TVL1), threads=threads)
        proc = subprocess.run([python, str(ROOT / "benchmarks" / "tvl1_reference.py"), src, dst, json.dumps(params)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise SofpError(f"contrib TV-L1 via {python} failed: {last}")
        d = np.load(dst)
        return d["flow"], d["seconds"], str(d["version"])


# -- metrics ----------------------------------------------------------------------------------------
def epe(flow: np.ndarray, truth: np.ndarray, border: int = BORDER) -> float:
    """Mean endpoint error (px) inside ``border`` px."""
    d = flow[border:-border, border:-border] - truth[border:-border, border:-border]
    return float(np.sqrt((d ** 2).sum(-1)).mean())


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    if a.std() < 1e-12 or b.std() < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def feature_agreement(feats: np.ndarray, ref: np.ndarray) -> dict:
    """Correlation of N x 28 x 28 x 3 feature images with the reference's, per pair: median, min."""
    allc = np.array([corr(a, b) for a, b in zip(feats, ref, strict=True)])
    per = {ch: float(np.nanmedian([corr(a[..., c], b[..., c]) for a, b in zip(feats, ref, strict=True)]))
           for c, ch in enumerate(("u", "v", "strain"))}
    return {"median": float(np.nanmedian(allc)), "min": float(np.nanmin(allc)), "per_channel_median": per}


def label_agreement(features: dict[str, np.ndarray], reference: str, checkpoint: str | None = None) -> dict | None:
    """How often a model's label on a backend's features equals its label on the reference's features.

    ``checkpoint``: a training checkpoint; None = the built-in model. None is returned when that
    file does not exist yet (it is trained elsewhere in the project).
    """
    try:
        from sofp.training.checkpoint import BUILTIN_CHECKPOINT, load_checkpoint
    except ImportError:
        return None
    path = Path(checkpoint) if checkpoint else Path(BUILTIN_CHECKPOINT)
    if not path.is_file():
        if checkpoint:
            raise SofpError(f"checkpoint {checkpoint!r} not found")
        return None
    import torch

    ckpt = load_checkpoint(path)
    labels = {}
    with torch.no_grad():  # as the runtime classifies: the mean of the features' and their mirror's probabilities
        for name, f in features.items():
            probs = torch.stack([ckpt.model(torch.from_numpy(features_to_input(g))).softmax(-1)
                                 for g in (f, mirror_features(f))]).sum(0)
            labels[name] = probs.argmax(1).numpy()
    ref = labels[reference]
    names = ckpt.meta.get("labels", [])
    shown = str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
    return {"checkpoint": shown, "sha256": ckpt.meta.get("sha256"), "reference": reference, "pairs": len(ref),
            "agreement": {n: float((lab == ref).mean()) for n, lab in labels.items() if n != reference},
            "reference_label_counts": {names[i] if i < len(names) else str(i): int((ref == i).sum())
                                       for i in np.unique(ref)}}


def machine() -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "opencv": cv2.__version__, "numpy": np.__version__, "torch": torch.__version__,
            "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()]}


# -- the run ----------------------------------------------------------------------------------------
def run(cfg: FlowAccuracyConfig) -> dict:
    """Measure every backend; write flow_accuracy.{json,md,png} into ``cfg.out_dir``; return the record."""
    import torch

    cv2.setNumThreads(cfg.threads)
    torch.set_num_threads(cfg.threads)
    syn, clip = synthetic_pairs(cfg), clip_pairs(cfg)
    pairs = syn + clip
    print(f"{len(syn)} synthetic pairs, {len(clip)} demo-clip pairs", file=sys.stderr)
    flows: dict[str, np.ndarray] = {}
    secs: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    for label, factory in tqdm(backend_factories(cfg).items(), desc="backends"):
        flows[label], secs[label] = run_backend(factory, pairs, label)
    if cfg.contrib_python:
        flows["cpu-tvl1"], secs["cpu-tvl1"], ver = run_contrib_tvl1(cfg.contrib_python, pairs, cfg.threads)
        notes["cpu-tvl1"] = f"OpenCV {ver} contrib, run by {cfg.contrib_python} (tvl1_reference.py)"
    refs = [r for r in ("cpu-tvl1", "torch-tvl1") if r in flows]
    feats = {k: np.array([flow_to_features(f) for f in v]) for k, v in flows.items()}
    n_syn = len(syn)
    backends = {}
    for label in flows:
        e_syn = [epe(f, p.truth) for f, p in zip(flows[label][:n_syn], syn, strict=True)]
        e_clip = [epe(f, p.truth) for f, p in zip(flows[label][n_syn:], clip, strict=True)]
        by_amp = {str(a): float(np.mean([e for e, p in zip(e_syn, syn, strict=True) if p.amplitude == a]))
                  for a in cfg.amplitudes}
        by_kind = {}
        for p, e in zip(syn, e_syn, strict=True):
            by_kind.setdefault(p.kind, []).append(e)
        rec = {"epe_px_synthetic_mean": float(np.mean(e_syn)), "epe_px_by_amplitude": by_amp,
               "epe_px_by_field": {k: float(np.mean(v)) for k, v in by_kind.items()},
               "epe_px_clip_mean": float(np.mean(e_clip)) if e_clip else None,
               "ms_per_pair_median": float(np.median(secs[label]) * 1e3),
               "ms_per_pair_p95": float(np.percentile(secs[label], 95) * 1e3)}
        for ref in refs:
            if ref != label:
                rec[f"feature_agreement_vs_{ref}"] = {
                    "all": feature_agreement(feats[label], feats[ref]),
                    "synthetic": feature_agreement(feats[label][:n_syn], feats[ref][:n_syn]),
                    "clip": feature_agreement(feats[label][n_syn:], feats[ref][n_syn:]) if clip else None}
        if label in notes:
            rec["note"] = notes[label]
        backends[label] = rec
    truth_feats = np.array([flow_to_features(p.truth) for p in pairs])
    for label in flows:
        backends[label]["feature_agreement_vs_truth"] = feature_agreement(feats[label], truth_feats)
    labels = label_agreement(feats, refs[0], cfg.checkpoint) if refs else None
    record = {
        "benchmark": "flow_accuracy", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": cfg.command, "config": asdict(cfg), "machine": machine(), "threads": cfg.threads,
        "pairs": {"synthetic": n_syn, "clip": len(clip), "crop_px": cfg.size, "noise_grey_levels": cfg.noise},
        "references": refs, "backends": backends,
        "label_agreement": labels if labels is not None else "built-in checkpoint not present when measured",
        "label_agreement_compare": [label_agreement(feats, refs[0], c) for c in cfg.compare] if refs else [],
        "unavailable": {c.name: c.reason for c in FLOWS.capabilities() if not c.available and c.name not in flows},
    }
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow_accuracy.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "flow_accuracy.md").write_text(markdown(record))
    plot(record, out / "flow_accuracy.png")
    return record


def markdown(r: dict) -> str:
    refs = r["references"]
    lines = [
        "# Flow accuracy: endpoint error, speed, feature agreement with TV-L1", "",
        f"Measured {r['date']} on {r['machine']['cpu']} ({r['machine']['cores']} cores, {r['threads']} thread, "
        f"load average {r['machine'].get('load_average_1_5_15min', '?')}: a shared machine, times are upper bounds), "
        f"OpenCV {r['machine']['opencv']}, torch {r['machine']['torch']}, numpy {r['machine']['numpy']}.", "",
        f"Command: `{r['command']}`", "",
        f"Pairs: {r['pairs']['synthetic']} synthetic (the astronaut face, {r['pairs']['crop_px']} x "
        f"{r['pairs']['crop_px']} crop, warped by known fields with peak 0.2..3 px, noise "
        f"{r['pairs']['noise_grey_levels']} grey levels) + {r['pairs']['clip']} demo-clip events (onset/apex crops "
        "through FaceCropper + Stabiliser). EPE: mean endpoint error inside an 8 px border. Feature agreement: "
        "median over pairs of the Pearson correlation of the 28 x 28 x 3 feature images (flow_to_features).", "",
    ]
    head = "| backend | EPE synthetic (px) | EPE demo clip (px) | ms / pair (median) |"
    sep = "|---|---|---|---|"
    for ref in refs:
        head += f" features vs {ref}: all (u / v / strain) | demo clip |"
        sep += "---|---|"
    head += " features vs truth |"
    sep += "---|"
    lines += [head, sep]
    for name, b in sorted(r["backends"].items(), key=lambda kv: kv[1]["ms_per_pair_median"]):
        clip_epe = "-" if b["epe_px_clip_mean"] is None else f"{b['epe_px_clip_mean']:.3f}"
        row = f"| {name} | {b['epe_px_synthetic_mean']:.3f} | {clip_epe} | {b['ms_per_pair_median']:.2f} |"
        for ref in refs:
            fa = b.get(f"feature_agreement_vs_{ref}")
            if fa is None:
                row += " (reference) | - |"
            else:
                pc = fa["all"]["per_channel_median"]
                clipc = "-" if fa["clip"] is None else f"{fa['clip']['median']:.3f}"
                row += f" {fa['all']['median']:.3f} ({pc['u']:.3f} / {pc['v']:.3f} / {pc['strain']:.3f}) | {clipc} |"
        row += f" {b['feature_agreement_vs_truth']['median']:.3f} |"
        lines.append(row)
    lines += ["", "EPE (px) by peak displacement:", ""]
    amps = list(next(iter(r["backends"].values()))["epe_px_by_amplitude"])
    lines += ["| backend | " + " | ".join(f"{a} px" for a in amps) + " |", "|---|" + "---|" * len(amps)]
    for name, b in r["backends"].items():
        lines.append(f"| {name} | " + " | ".join(f"{b['epe_px_by_amplitude'][a]:.3f}" for a in amps) + " |")
    default = "cpu-dis:" + DIS.preset
    if default in r["backends"] and refs:
        b = r["backends"][default]
        agree = ", ".join(f"{b[f'feature_agreement_vs_{ref}']['all']['median']:.3f} vs {ref}" for ref in refs)
        lines += ["", f"Default CPU feature flow (runtime/flow/params.py DIS): `{default}`: feature agreement {agree}, "
                  f"EPE {b['epe_px_synthetic_mean']:.3f} px, {b['ms_per_pair_median']:.2f} ms per pair."]
    if len(refs) == 2:
        fa = r["backends"][refs[1]][f"feature_agreement_vs_{refs[0]}"]["all"]
        lines += [f"The two TV-L1 implementations agree at {fa['median']:.3f} (u / v / strain "
                  f"{fa['per_channel_median']['u']:.3f} / {fa['per_channel_median']['v']:.3f} / "
                  f"{fa['per_channel_median']['strain']:.3f}): the strain channel, a derivative of sub-pixel "
                  "flows, is dominated by flow noise and agrees poorly between any two flows; u and v carry "
                  "the agreement."]
    la = r["label_agreement"]
    lines += ["", "Label agreement with the built-in model: "
              + (la if isinstance(la, str) else json.dumps(la["agreement"]) + f" (reference {la['reference']})"), ""]
    for other in r.get("label_agreement_compare", []):
        lines += [f"Label agreement of `{other['checkpoint']}` (sha256 {other['sha256'][:12]}): "
                  + json.dumps(other["agreement"]) + f" (reference {other['reference']})", ""]
    if r["unavailable"]:
        lines += ["Not measured here (not available on this machine):", ""]
        lines += [f"- {k}: {v}" for k, v in r["unavailable"].items()]
    lines += ["", "Notes:", "- " + "\n- ".join(b.get("note", "") for b in r["backends"].values() if b.get("note"))
              if any(b.get("note") for b in r["backends"].values()) else "", ""]
    return "\n".join(lines)


def plot(r: dict, path: Path) -> None:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for name, b in r["backends"].items():
        amps = [float(a) for a in b["epe_px_by_amplitude"]]
        a1.plot(amps, list(b["epe_px_by_amplitude"].values()), marker="o", label=name)
    a1.set_xlabel("peak displacement (px)")
    a1.set_ylabel("mean endpoint error (px)")
    a1.set_yscale("log")
    a1.set_title("EPE on the warped face (112 x 112)")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8)
    ref = r["references"][0] if r["references"] else None
    for name, b in r["backends"].items():
        fa = b.get(f"feature_agreement_vs_{ref}") if ref else None
        y = fa["all"]["median"] if fa else 1.0
        a2.scatter(b["ms_per_pair_median"], y, s=40)
        a2.annotate(name, (b["ms_per_pair_median"], y), fontsize=8, xytext=(4, 3), textcoords="offset points")
    a2.set_xscale("log")
    a2.set_xlabel("ms per 112 x 112 pair (median, 1 thread)")
    a2.set_ylabel(f"feature correlation with {ref}")
    a2.set_title("Speed vs agreement with TV-L1 features")
    a2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--backends", nargs="*", help="flow names (default: every available one)")
    ap.add_argument("--contrib-python", help="a Python with opencv-contrib-python(-headless)<5 for cpu-tvl1")
    ap.add_argument("--checkpoint", help="model for label agreement (default: the built-in one, if present)")
    ap.add_argument("--compare", nargs="+", default=[], help="more checkpoints whose label agreement is reported")
    ap.add_argument("--random-fields", type=int, default=3)
    ap.add_argument("--noise", type=float, default=1.0)
    ap.add_argument("--clip-seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = ap.parse_args(argv)
    if a.contrib_python and not Path(a.contrib_python).exists():
        raise UsageError(f"--contrib-python {a.contrib_python!r} does not exist")
    cmd = "python benchmarks/flow_accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:])
    cfg = FlowAccuracyConfig(random_fields=a.random_fields, noise=a.noise, clip_seeds=tuple(a.clip_seeds),
                             backends=tuple(a.backends) if a.backends else None, contrib_python=a.contrib_python,
                             checkpoint=a.checkpoint, compare=tuple(a.compare),
                             threads=a.threads, out_dir=a.out, command=cmd.strip())
    r = run(cfg)
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(lambda: main()))
