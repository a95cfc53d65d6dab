"""Flow backends, parametrised over the FLOWS registry: output format, EPE on the real face warped by
known fields under a measured bound, auto selection, parameter pinning, and the cv2.cuda wrappers
driven by a fake cv2.cuda (the real one cannot run here)."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest

from sofp.runtime.demo_clip import face_crop_gray, smooth_field, warp_by_flow
from sofp.runtime.errors import UsageError
from sofp.runtime.flow import FLOWS, FlowBackend, create_flow, resolve_flow
from sofp.runtime.flow import base as flow_base
from sofp.runtime.flow import cuda as cuda_mod
from sofp.runtime.flow.params import CUDA_TVL1, FARNEBACK, NVOF, TVL1, DisParams, as_dict, resolve_params
from sofp.runtime.shared_params import load_shared_params

# Mean EPE (px, 8 px border excluded) over the three fields below on the 64 px face, noise-free.
# Measured here (OpenCV 4.14, torch 2.13): cpu-dis 0.121, cpu-farneback 0.093, torch-tvl1 0.064
# (contrib cpu-tvl1 agrees with torch-tvl1 to ~0.015 px, benchmarks/results/flow_accuracy.md).
# Bounds: the measurement + 25-40 %.
EPE_BOUND = {"cpu-dis": 0.15, "cpu-farneback": 0.13, "cpu-tvl1": 0.09, "torch-tvl1": 0.09}
CAPS = {c.name: c for c in FLOWS.capabilities()}


@pytest.fixture(scope="module", autouse=True)
def _few_threads():
    torch = pytest.importorskip("torch") if CAPS["torch-tvl1"].available else None
    old = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    yield
    if torch:
        torch.set_num_threads(old)


@pytest.fixture(scope="module")
def face():
    return face_crop_gray(64, margin=0.2)  # 64 px keeps torch-tvl1 quick


def _backend(name):
    cap = CAPS[name]
    if not cap.available:
        pytest.skip(f"{name}: {cap.reason}")
    if name == "torch-tvl1":
        return FLOWS.load(name)(device="cpu")
    return create_flow(name)


def _epe(flow, truth, b=8):
    d = flow[b:-b, b:-b] - truth[b:-b, b:-b]
    return float(np.sqrt((d ** 2).sum(-1)).mean())


@pytest.mark.parametrize("name", FLOWS.names())
def test_format_and_zero_motion(name, face):
    flow = _backend(name)
    assert isinstance(flow, FlowBackend) and flow.name == name
    out = flow.compute(face, face)
    assert out.shape == (*face.shape, 2) and out.dtype == np.float32
    assert np.abs(out).mean() < 0.05


@pytest.mark.parametrize("name", FLOWS.names())
def test_epe_under_measured_bound(name, face):
    flow = _backend(name)
    errs = []
    for seed, amp in ((0, 0.5), (1, 1.5), (2, 3.0)):
        truth = smooth_field(face.shape, amp, seed=seed, scale=0.3)
        errs.append(_epe(flow.compute(face, warp_by_flow(face, truth)), truth))
    bound = EPE_BOUND.get(name)
    if bound is None:
        pytest.skip(f"{name}: no bound measured on this machine")
    assert np.mean(errs) < bound, errs


@pytest.mark.parametrize("name", FLOWS.names())
def test_direction_convention(name, face):
    """prev(p) moves to curr(p + flow): a rightward, downward shift gives u > 0, v > 0."""
    flow = _backend(name)
    truth = np.zeros((*face.shape, 2), np.float32)
    truth[..., 0], truth[..., 1] = 1.0, 0.5
    out = flow.compute(face, warp_by_flow(face, truth))
    u, v = np.median(out[8:-8, 8:-8, 0]), np.median(out[8:-8, 8:-8, 1])
    assert u == pytest.approx(1.0, abs=0.15) and v == pytest.approx(0.5, abs=0.15)


def test_bad_input_rejected(face):
    flow = create_flow("cpu-dis")
    with pytest.raises(ValueError):
        flow.compute(face, face[:-1])
    with pytest.raises(ValueError):
        flow.compute(face.astype(np.float32), face.astype(np.float32))


def test_unknown_name_lists_known():
    with pytest.raises(UsageError, match=r"known: .*cpu-dis"):
        create_flow("gpu-magic")
    with pytest.raises(UsageError, match="known: auto"):
        resolve_flow("gpu-magic")


def test_unavailable_backend_says_why():
    if CAPS["cpu-tvl1"].available:
        pytest.skip("contrib OpenCV installed here")
    with pytest.raises(UsageError, match="contrib"):
        create_flow("cpu-tvl1")


def test_factory_passes_objects_through():
    class Fake:
        name = "fake"

        def compute(self, prev, curr):
            return np.zeros((*prev.shape, 2), np.float32)

    fake = Fake()
    assert create_flow(fake) is fake


def test_params_pinned_and_overridable():
    assert resolve_params("cpu-dis", None, DisParams) == DisParams()
    assert resolve_params("cpu-dis", {"preset": "ultrafast"}, DisParams).preset == "ultrafast"
    with pytest.raises(TypeError):
        resolve_params("cpu-dis", TVL1, DisParams)
    # OpenCV's CPU and CUDA TV-L1 defaults: same total iterations, CUDA has no median filter
    assert TVL1.inner_iterations * TVL1.outer_iterations == CUDA_TVL1.iterations
    assert (TVL1.tau, TVL1.lambda_, TVL1.theta, TVL1.nscales, TVL1.warps, TVL1.scale_step) == \
           (CUDA_TVL1.tau, CUDA_TVL1.lambda_, CUDA_TVL1.theta, CUDA_TVL1.nscales, CUDA_TVL1.warps,
            CUDA_TVL1.scale_step)
    assert create_flow("cpu-dis", {"preset": "ultrafast"}).params.preset == "ultrafast"
    with pytest.raises(ValueError):
        create_flow("cpu-dis", {"preset": "turbo"})


def test_cuda_flow_params_come_from_shared_params():
    """The CUDA flows' values are runtime/shared_params.json's flow_params, which native/ embeds too."""
    shared = load_shared_params()["flow_params"]
    assert as_dict(FARNEBACK) == shared["farneback"]
    assert as_dict(NVOF) == shared["nvof"]
    tvl1 = as_dict(CUDA_TVL1)
    tvl1["lambda"] = tvl1.pop("lambda_")
    assert tvl1 == shared["cuda_tvl1"]
    assert create_flow("cpu-farneback").params == FARNEBACK


def test_auto_picks_cpu_default_without_cuda():
    name, why = resolve_flow("auto")
    if cuda_mod.cuda_device_count() == 0:
        assert name == flow_base.CPU_DEFAULT and "no CUDA" in why
    assert resolve_flow("cpu-farneback") == ("cpu-farneback", "asked for by name")


# -- cv2.cuda wrappers against a fake cv2.cuda -------------------------------------------------------
class _FakeGpuMat:
    def __init__(self, arr=None):
        self.arr = arr

    def upload(self, arr):
        self.arr = np.array(arr)

    def download(self):
        return self.arr

    def size(self):
        return (self.arr.shape[1], self.arr.shape[0])


class _FakeAlgo:
    """Returns a constant flow of (0.5, -0.25) px like a GPU flow would, as a GpuMat."""

    def __init__(self, *args):
        self.args = args

    def calc(self, g0, g1, flow):
        h, w = g0.arr.shape
        out = np.zeros((h, w, 2), np.float32)
        out[..., 0], out[..., 1] = 0.5, -0.25
        return _FakeGpuMat(out)


@pytest.fixture
def fake_cuda(monkeypatch):
    fake = types.SimpleNamespace(
        getCudaEnabledDeviceCount=lambda: 1,
        OpticalFlowDual_TVL1_create=lambda *a: _FakeAlgo(*a),
        FarnebackOpticalFlow_create=lambda *a: _FakeAlgo(*a),
    )
    monkeypatch.setattr(cv2, "cuda", fake, raising=False)
    monkeypatch.setattr(cv2, "cuda_GpuMat", _FakeGpuMat, raising=False)
    return fake


def test_cuda_probe_without_cuda(monkeypatch):
    monkeypatch.setattr(cv2, "cuda", types.SimpleNamespace(getCudaEnabledDeviceCount=lambda: 0), raising=False)
    ok, why = FLOWS.load("cuda-tvl1").probe()
    assert not ok and "getCudaEnabledDeviceCount() == 0" in why
    monkeypatch.delattr(cv2, "cuda")
    assert cuda_mod.cuda_device_count() == 0


def test_auto_prefers_cuda_tvl1_with_cuda(fake_cuda):
    name, why = resolve_flow("auto")
    assert name == "cuda-tvl1" and "CUDA" in why


def test_cuda_build_without_optflow_falls_back(monkeypatch):
    monkeypatch.setattr(cv2, "cuda", types.SimpleNamespace(getCudaEnabledDeviceCount=lambda: 1), raising=False)
    ok, why = FLOWS.load("cuda-farneback").probe()
    assert not ok and "cudaoptflow" in why
    assert resolve_flow("auto")[0] == flow_base.CPU_DEFAULT


@pytest.mark.parametrize("name", ["cuda-tvl1", "cuda-farneback"])
def test_cuda_backend_built_directly_without_cudaoptflow_is_one_line(name, monkeypatch):
    """Built past the registry's probe (FLOWS.load(name)()) on an OpenCV without cudaoptflow: a UsageError naming
    the missing class, not "'NoneType' object is not callable" (found by the type checker)."""
    monkeypatch.setattr(cv2, "cuda", types.SimpleNamespace(getCudaEnabledDeviceCount=lambda: 1), raising=False)
    monkeypatch.setattr(cv2, "cuda_GpuMat", object, raising=False)
    with pytest.raises(UsageError, match="cudaoptflow"):
        FLOWS.load(name)()


def test_cpu_tvl1_built_directly_without_contrib_is_one_line(monkeypatch):
    monkeypatch.delattr(cv2, "optflow", raising=False)
    with pytest.raises(UsageError, match="contrib"):
        FLOWS.load("cpu-tvl1")()


@pytest.mark.parametrize("name", ["cuda-tvl1", "cuda-farneback"])
def test_cuda_wrappers_upload_compute_download(fake_cuda, name):
    flow = create_flow(name)
    prev = np.zeros((20, 30), np.uint8)
    out = flow.compute(prev, prev)
    assert out.shape == (20, 30, 2) and out.dtype == np.float32
    assert out[0, 0].tolist() == [0.5, -0.25]
    if name == "cuda-tvl1":  # pinned CUDA TV-L1 parameters reach the factory in OpenCV's order
        p = CUDA_TVL1
        assert flow._algo.args == (p.tau, p.lambda_, p.theta, p.nscales, p.warps, p.epsilon, p.iterations,
                                   p.scale_step, p.gamma, False)


def test_cuda_nvof_grid_output_is_resized(fake_cuda, monkeypatch):
    class FakeNvof:
        def __init__(self, *args):
            self.args = args

        def calc(self, g0, g1, flow):
            h, w = g0.arr.shape
            return (_FakeGpuMat(np.ones((h // 4, w // 4, 2), np.int16)), None)

        def convertToFloat(self, flow, out):
            return _FakeGpuMat(flow.arr.astype(np.float32) * 0.75)

    fake_cuda.NvidiaOpticalFlow_2_0_create = lambda *a: FakeNvof(*a)
    fake_cuda.NvidiaOpticalFlow_2_0_NV_OF_PERF_LEVEL_SLOW = 5
    fake_cuda.NvidiaOpticalFlow_2_0_NV_OF_OUTPUT_VECTOR_GRID_SIZE_1 = 1
    fake_cuda.NvidiaOpticalFlow_2_0_NV_OF_HINT_VECTOR_GRID_SIZE_UNDEFINED = 0
    flow = create_flow("cuda-nvof")
    out = flow.compute(np.zeros((32, 48), np.uint8), np.zeros((32, 48), np.uint8))
    assert out.shape == (32, 48, 2) and np.allclose(out, 0.75)
    assert flow.version == "2.0" and flow._algo.args[0] == (48, 32)


def test_cuda_opencv5_spellings(monkeypatch):
    """OpenCV 5 exposes cv2.cuda.GpuMat and cv2.cuda.<Class>.create instead of the 4.x names."""
    fake = types.SimpleNamespace(getCudaEnabledDeviceCount=lambda: 2, GpuMat=_FakeGpuMat,
                                 OpticalFlowDual_TVL1=types.SimpleNamespace(create=lambda *a: _FakeAlgo(*a)))
    monkeypatch.setattr(cv2, "cuda", fake, raising=False)
    monkeypatch.delattr(cv2, "cuda_GpuMat", raising=False)
    assert FLOWS.load("cuda-tvl1").probe()[0]
    out = create_flow("cuda-tvl1").compute(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8))
    assert out[0, 0].tolist() == [0.5, -0.25]


def test_cuda_nvof_1_0_upsamples(fake_cuda):
    """A build with only NvidiaOpticalFlow_1_0 (OpenCV <= 4.5.1): create(width, height, ...) and
    upSampler(flow, width, height, gridSize, out); a Size-based call fails like the real bindings."""

    class FakeNvof1:
        def __init__(self, width: int, height: int, perf_preset: int = 5, enable_temporal_hints: bool = False,
                     enable_external_hints: bool = False, enable_cost_buffer: bool = False, gpu_id: int = 0):
            for v in (width, height, perf_preset, gpu_id):
                if not isinstance(v, int):
                    raise cv2.error(f"Overload resolution failed: expected an int, got {v!r}")
            self.args = (width, height, perf_preset, enable_temporal_hints, enable_external_hints,
                         enable_cost_buffer, gpu_id)

        def calc(self, g0, g1, flow):
            h, w = g0.arr.shape
            return (_FakeGpuMat(np.ones((h // 4, w // 4, 2), np.int16)), None)

        def getGridSize(self):
            return 4

        def upSampler(self, flow, width: int, height: int, grid_size: int, out):
            assert isinstance(width, int) and isinstance(height, int) and grid_size == 4
            return _FakeGpuMat(np.full((height, width, 2), 1.25, np.float32))

    fake_cuda.NvidiaOpticalFlow_1_0_create = FakeNvof1
    flow = create_flow("cuda-nvof", {"preset": "fast"})
    out = flow.compute(np.zeros((16, 24), np.uint8), np.zeros((16, 24), np.uint8))
    assert flow.version == "1.0" and out.shape == (16, 24, 2) and np.allclose(out, 1.25)
    assert flow._algo.args[:3] == (24, 16, 20)  # width, height, NV_OF_PERF_LEVEL_FAST


def test_torch_tvl1_median_paths_agree():
    """The GPU median (torch) and the CPU one (cv2.medianBlur) give the same 5 x 5 median."""
    if not CAPS["torch-tvl1"].available:
        pytest.skip(CAPS["torch-tvl1"].reason)
    import torch

    from sofp.runtime.flow.torch_tvl1 import TorchTvl1Flow

    u = torch.randn(2, 2, 23, 31, generator=torch.Generator().manual_seed(0))
    assert torch.equal(TorchTvl1Flow._median5(u), TorchTvl1Flow._median5_torch(u))


def test_torch_tvl1_batch_equals_single(face):
    if not CAPS["torch-tvl1"].available:
        pytest.skip(CAPS["torch-tvl1"].reason)
    flow = FLOWS.load("torch-tvl1")(device="cpu")
    curr = warp_by_flow(face, smooth_field(face.shape, 1.0, seed=7, scale=0.3))
    batch = flow.compute_batch(np.stack([face, face]), np.stack([curr, face]))
    assert batch.shape == (2, *face.shape, 2)
    assert np.abs(batch[0] - flow.compute(face, curr)).mean() < 0.01
