"""Every GPU path of SOFP Edge, in one command, for a person with an NVIDIA GPU (desktop or Jetson).

    python benchmarks/gpu_check.py                          # -> runs/gpu_check/report.json
    python benchmarks/gpu_check.py --out gpu_check.json --calib ../shared/data/composite/flow

Steps (each probed first; one that can run here runs in its own process with a time limit, so a crash or
a hang is recorded as that step's failure and the next step still runs):

  torch-cuda-train   sofp-train split on the built-in synthetic set, 1 epoch, --device cuda (bfloat16 autocast)
  ort-cuda           the built-in ONNX graph on ONNX Runtime's CUDA provider vs its CPU provider (1,000 inputs)
  ort-tensorrt       the same on the TensorRT provider (FP16; the runtime's 99.5 % agreement check)
  to-trt-fp16        python export/to_trt.py FP16 engine of the built-in checkpoint, with its parity check
  to-trt-int8        the same, INT8 calibrated on flow images (--calib; default: 256 made from random flows)
  runtime-tensorrt   the runtime's TensorRT backend on the FP16 engine vs ONNX Runtime on the CPU
  torch-tvl1-cuda    the torch-tvl1 flow on CUDA vs on the CPU (a real face warped by a known field)
  opencv-cuda-flows  cuda-tvl1, cuda-farneback, cuda-nvof (an OpenCV built with CUDA) on the same pair

Each step reports ``status`` (passed / failed / skipped), the reason for a skip or the failure's last line,
what it measured (latency medians in ms, agreement) and how long it took. The report is one JSON file with
the machine and versions. Exit code 0 when no step failed (skips are not failures), 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("torch-cuda-train", "ort-cuda", "ort-tensorrt", "to-trt-fp16", "to-trt-int8", "runtime-tensorrt",
         "torch-tvl1-cuda", "opencv-cuda-flows")
CKPT = ROOT / "training" / "builtin" / "sofp_composite.pt"


# --------------------------------------------------------------------------------------------- probes
def _torch_cuda() -> str | None:
    """None when torch can use a CUDA GPU, else why not."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA GPU (CUDA build: {torch.version.cuda or 'none'})"
    return None


def _ort_provider(name: str) -> str | None:
    import onnxruntime as ort

    have = ort.get_available_providers()
    if name not in have:
        return f"onnxruntime {ort.__version__} has no {name} (has {', '.join(have)}; pip install onnxruntime-gpu)"
    return None


def _tensorrt() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "tensorrt is not installed (pip install -e '.[tensorrt]' on a desktop; JetPack ships it)"
    try:
        from sofp.runtime.infer.trt_runner import device_info

        device_info()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


def _opencv_cuda() -> str | None:
    import cv2

    n = cv2.cuda.getCudaEnabledDeviceCount() if hasattr(cv2, "cuda") else 0
    return None if n > 0 else f"OpenCV {cv2.__version__} has no CUDA (cv2.cuda.getCudaEnabledDeviceCount() == 0)"


PROBES: dict[str, Callable[[], str | None]] = {
    "torch-cuda-train": _torch_cuda,
    "ort-cuda": lambda: _ort_provider("CUDAExecutionProvider"),
    "ort-tensorrt": lambda: _ort_provider("TensorrtExecutionProvider"),
    "to-trt-fp16": _tensorrt,
    "to-trt-int8": _tensorrt,
    "runtime-tensorrt": _tensorrt,
    "torch-tvl1-cuda": _torch_cuda,
    "opencv-cuda-flows": _opencv_cuda,
}


# ---------------------------------------------------------------------------------------------- steps
def _median_ms(fn: Callable[[], object], n: int = 200, warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return float(np.median(times))


def _inputs(n: int = 1000) -> np.ndarray:
    return np.random.default_rng(0).random((n, 3, 28, 28), dtype=np.float32)


def _cli(args: list[str], timeout: float) -> None:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"{' '.join(args[:2])} exited {out.returncode}: {last}")


def step_torch_cuda_train(work: Path, _: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    _cli(["-m", "sofp.training", "split", "--data", "synthetic", "--epochs", "1", "--device", "cuda",
          "--out", str(work / "split")], timeout=900)
    result = json.loads((work / "split" / "result.json").read_text())
    return {"passed": True, "seconds": time.perf_counter() - t0, "train_seconds": result["seconds"],
            "uf1_after_one_epoch": result["result"]["uf1"]}


def _ort_compare(provider: str) -> dict:
    from sofp.runtime.infer.base import builtin_onnx
    from sofp.runtime.infer.onnxruntime import OnnxRuntimeBackend

    x = _inputs()
    with OnnxRuntimeBackend(builtin_onnx(), providers=["CPUExecutionProvider"]) as cpu, \
            OnnxRuntimeBackend(builtin_onnx(), providers=[provider, "CPUExecutionProvider"]) as gpu:
        if provider not in gpu.providers:
            raise RuntimeError(f"the session fell back to {gpu.providers}")
        p_cpu, p_gpu = cpu.predict(x), gpu.predict(x)
        one = x[:2]  # the runtime classifies a feature image and its mirror per event
        latency = {"batch2_gpu": _median_ms(lambda: gpu.predict(one)),
                   "batch2_cpu": _median_ms(lambda: cpu.predict(one))}
    agree = float(np.mean(p_cpu.argmax(1) == p_gpu.argmax(1)))
    need = 0.995 if provider == "TensorrtExecutionProvider" else 1.0
    return {"passed": agree >= need, "argmax_agreement": agree, "required": need,
            "max_abs_prob": float(np.abs(p_cpu - p_gpu).max()), "latency_ms": latency}


def step_ort_cuda(work: Path, _: argparse.Namespace) -> dict:
    return _ort_compare("CUDAExecutionProvider")


def step_ort_tensorrt(work: Path, _: argparse.Namespace) -> dict:
    return _ort_compare("TensorrtExecutionProvider")


def _calib_folder(work: Path, given: str | None) -> Path:
    if given:
        return Path(given)
    import cv2

    from sofp.runtime.demo_clip import smooth_field
    from sofp.runtime.features import flow_to_features

    folder = work / "calib"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(256):
        flow = smooth_field((112, 112), 1.5, seed=i)
        cv2.imwrite(str(folder / f"{i:03d}.png"), flow_to_features(flow)[..., ::-1])
    return folder


def _to_trt(work: Path, precision: str, calib: str | None) -> dict:
    out = work / f"trt-{precision}"
    args = ["export/to_trt.py", "--ckpt", str(CKPT), "--out", str(out), "--precision", precision]
    if precision == "int8":
        args += ["--calib", str(_calib_folder(work, calib))]
    t0 = time.perf_counter()
    _cli(args, timeout=1200)
    engines = sorted(out.glob("*.engine"))
    if not engines:
        raise RuntimeError(f"to_trt.py wrote no engine into {out}")
    parity = json.loads(Path(str(engines[0]) + ".json").read_text()).get("parity") or {}
    return {"passed": bool(parity.get("passed")), "seconds": time.perf_counter() - t0, "engine": engines[0].name,
            "argmax_agreement": parity.get("argmax_agreement"), "max_abs_prob": parity.get("max_abs_prob")}


def step_to_trt_fp16(work: Path, a: argparse.Namespace) -> dict:
    return _to_trt(work, "fp16", None)


def step_to_trt_int8(work: Path, a: argparse.Namespace) -> dict:
    return _to_trt(work, "int8", a.calib)


def step_runtime_tensorrt(work: Path, a: argparse.Namespace) -> dict:
    engines = sorted((work / "trt-fp16").glob("*.engine"))
    if not engines:
        _to_trt(work, "fp16", None)
        engines = sorted((work / "trt-fp16").glob("*.engine"))
    from sofp.runtime.infer.base import builtin_onnx
    from sofp.runtime.infer.onnxruntime import OnnxRuntimeBackend
    from sofp.runtime.infer.tensorrt import TensorRTBackend

    x = _inputs()
    with TensorRTBackend(engines[0]) as trt_b, \
            OnnxRuntimeBackend(builtin_onnx(), providers=["CPUExecutionProvider"]) as cpu:
        p_trt, p_cpu = trt_b.predict(x), cpu.predict(x)
        latency = {"batch2": _median_ms(lambda: trt_b.predict(x[:2]))}
    agree = float(np.mean(p_trt.argmax(1) == p_cpu.argmax(1)))
    return {"passed": agree >= 0.995, "argmax_agreement": agree, "required": 0.995,
            "max_abs_prob": float(np.abs(p_trt - p_cpu).max()), "latency_ms": latency, "engine": engines[0].name}


def _face_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grey face crop, the crop warped by a known smooth field, the field): 112 px, 0.2-1.5 px motion."""
    from sofp.runtime.demo_clip import face_crop_gray, smooth_field, warp_by_flow

    prev = face_crop_gray(112)
    field = smooth_field(prev.shape, 1.5, seed=3)
    return prev, warp_by_flow(prev, field), field


def _epe(flow: np.ndarray, truth: np.ndarray, border: int = 8) -> float:
    d = (flow - truth)[border:-border, border:-border]
    return float(np.sqrt((d ** 2).sum(-1)).mean())


def step_torch_tvl1_cuda(work: Path, a: argparse.Namespace) -> dict:
    from sofp.runtime.flow.torch_tvl1 import TorchTvl1Flow

    prev, curr, truth = _face_pair()
    gpu, cpu = TorchTvl1Flow(device="cuda"), TorchTvl1Flow(device="cpu")
    f_gpu, f_cpu = gpu.compute(prev, curr), cpu.compute(prev, curr)
    diff = float(np.abs(f_gpu - f_cpu).max())
    return {"passed": diff < 0.05 and _epe(f_gpu, truth) < 0.1, "max_abs_diff_gpu_vs_cpu_px": diff,
            "epe_px": {"cuda": _epe(f_gpu, truth), "cpu": _epe(f_cpu, truth)},
            "latency_ms": {"cuda": _median_ms(lambda: gpu.compute(prev, curr), n=30, warmup=3),
                           "cpu": _median_ms(lambda: cpu.compute(prev, curr), n=5, warmup=1)}}


def step_opencv_cuda_flows(work: Path, a: argparse.Namespace) -> dict:
    from sofp.runtime.flow import FLOWS, create_flow

    prev, curr, truth = _face_pair()
    caps = {c.name: c for c in FLOWS.capabilities()}
    flows: dict[str, dict] = {}
    for name in ("cuda-tvl1", "cuda-farneback", "cuda-nvof"):
        if not caps[name].available:
            flows[name] = {"status": "skipped", "reason": caps[name].reason}
            continue
        try:
            flow = create_flow(name, None)
            f = flow.compute(prev, curr)
            epe = _epe(f, truth)
            flows[name] = {"status": "passed" if epe < 0.3 else "failed", "epe_px": epe,
                           "latency_ms": _median_ms(lambda flow=flow: flow.compute(prev, curr), n=30, warmup=3)}
        except Exception as exc:
            flows[name] = {"status": "failed", "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    ran = [v for v in flows.values() if v["status"] != "skipped"]
    return {"passed": bool(ran) and all(v["status"] == "passed" for v in ran), "flows": flows}


RUN = {"torch-cuda-train": step_torch_cuda_train, "ort-cuda": step_ort_cuda, "ort-tensorrt": step_ort_tensorrt,
       "to-trt-fp16": step_to_trt_fp16, "to-trt-int8": step_to_trt_int8, "runtime-tensorrt": step_runtime_tensorrt,
       "torch-tvl1-cuda": step_torch_tvl1_cuda, "opencv-cuda-flows": step_opencv_cuda_flows}
TIMEOUT_S = {"torch-cuda-train": 900, "to-trt-fp16": 1500, "to-trt-int8": 1500, "runtime-tensorrt": 1500}


# --------------------------------------------------------------------------------------- orchestration
def _versions() -> dict:
    out = {}
    for mod in ("numpy", "cv2", "onnxruntime", "torch", "tensorrt"):
        try:
            out[mod] = __import__(mod).__version__ if importlib.util.find_spec(mod) else None
        except Exception as exc:
            out[mod] = f"import failed: {type(exc).__name__}"
    return out


def run_step_here(name: str, work: Path, args: argparse.Namespace, result_path: Path) -> int:
    """The child process: run one step, write its result JSON (an exception is the step's failure)."""
    t0 = time.perf_counter()
    try:
        res: dict[str, Any] = RUN[name](work, args)
        res["status"] = "passed" if res.pop("passed") else "failed"
    except Exception as exc:
        last = (str(exc).strip().splitlines() or [""])[-1][:400]
        res = {"status": "failed", "error": f"{type(exc).__name__}: {last}"}
    res["wall_s"] = round(time.perf_counter() - t0, 3)
    result_path.write_text(json.dumps(res, indent=2, default=float) + "\n")
    return 0


def run_check(steps: tuple[str, ...], out: Path, calib: str | None, log: Callable[[str], None]) -> dict:
    """Probe and run ``steps``; write and return the report."""
    report = {"format": "sofp-gpu-check/1", "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
              "command": "python benchmarks/gpu_check.py " + " ".join(sys.argv[1:]),
              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpu_count": os.cpu_count()},
              "versions": _versions(), "steps": {}}
    with tempfile.TemporaryDirectory(prefix="sofp-gpu-check-") as tmp:
        work = Path(tmp)
        for name in steps:
            try:
                why = PROBES[name]()
            except Exception as exc:
                why = f"probe failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if why is not None:
                report["steps"][name] = {"status": "skipped", "reason": why}
                log(f"{name:<18s} skipped: {why}")
                continue
            log(f"{name:<18s} running ...")
            res_path = work / f"{name}.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--step", name, "--work", str(work),
                   "--step-result", str(res_path)] + (["--calib", calib] if calib else [])
            try:
                proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S.get(name, 600))
                if res_path.is_file():
                    res = json.loads(res_path.read_text())
                else:
                    tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                    res = {"status": "failed", "error": f"the step's process ended with code {proc.returncode}: {tail}"}
            except subprocess.TimeoutExpired:
                res = {"status": "failed", "error": f"timed out after {TIMEOUT_S.get(name, 600)} s"}
            report["steps"][name] = res
            log(f"{name:<18s} {res['status']}" + (f": {res['error']}" if "error" in res else ""))
    counts = {s: sum(v["status"] == s for v in report["steps"].values()) for s in ("passed", "failed", "skipped")}
    report["summary"] = counts
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"gpu check: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped -> {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/gpu_check.py", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "runs" / "gpu_check" / "report.json"), help="the JSON report")
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of: {', '.join(STEPS)}")
    p.add_argument("--calib", help="INT8 calibration folder of flow images (default: 256 made from random flows)")
    p.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # the child process of one step
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--step-result", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        return run_step_here(a.step, Path(a.work), a, Path(a.step_result))
    steps = tuple(s.strip() for s in a.steps.split(",") if s.strip())
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        print(f"error: unknown step(s) {', '.join(unknown)}; valid: {', '.join(STEPS)}", file=sys.stderr)
        return 2
    report = run_check(steps, Path(a.out), a.calib, lambda m: print(m, file=sys.stderr, flush=True))
    return 1 if report["summary"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
