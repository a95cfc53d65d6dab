"""The thin TensorRT part: build settings -> builder configuration, INT8 calibrator, engine build.

Written against the documented TensorRT Python API, name-based (``build_serialized_network``,
named I/O tensors), one code path for TensorRT 8.5/8.6 (JetPack 5 / 6.0), 10.x and 11.x. Features
are chosen with ``hasattr``, never by parsing version strings:

- workspace: ``config.set_memory_pool_limit(MemoryPoolType.WORKSPACE, bytes)`` (8.4+), else the
  older ``config.max_workspace_size``;
- FP16: ``BuilderFlag.FP16`` where it exists; where it does not (TensorRT 11, strongly typed), the
  network is created ``STRONGLY_TYPED`` and FP16 comes from an FP16 ONNX graph (``fp16.py``);
- INT8: ``BuilderFlag.INT8`` + ``config.int8_calibrator`` (an ``IInt8EntropyCalibrator2`` over a
  folder of flow images, with a calibration cache) and ``set_calibration_profile`` for the dynamic
  batch; refused where implicit INT8 calibration is gone;
- dynamic batch: one optimisation profile (min/opt/max) on every input whose axis 0 is -1;
- timing cache: ``create_timing_cache(bytes)`` / ``set_timing_cache`` / ``get_timing_cache().serialize()``;
- DLA: ``default_device_type = DeviceType.DLA``, ``DLA_core``, ``BuilderFlag.GPU_FALLBACK``.

``tensorrt`` is never imported at module level: callers pass the module (tests pass a fake that
records calls, so the mapping is checked on machines without TensorRT).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sofp.runtime.errors import SofpError, UsageError

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_PROFILE = (1, 8, 32)  # min / opt / max batch on the GPU
DLA_PROFILE = (1, 1, 1)  # DLA takes static shapes only: min = opt = max


@dataclass(frozen=True)
class BuildSettings:
    """What to build. ``None`` means TensorRT's default (workspace) or "not used"."""

    precision: str = "fp16"
    min_batch: int = DEFAULT_PROFILE[0]
    opt_batch: int = DEFAULT_PROFILE[1]
    max_batch: int = DEFAULT_PROFILE[2]
    workspace_mb: int | None = 1024
    timing_cache: Path | None = None
    dla_core: int | None = None
    calib_dir: Path | None = None
    calib_cache: Path | None = None
    calib_batch: int = 16
    calib_max_images: int = 1024

    def validate(self) -> BuildSettings:
        """Refuse conflicting or invalid options with one line (exit 2); returns self."""
        if self.precision not in PRECISIONS:
            raise UsageError(f"--precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise UsageError(
                f"batch profile {self.min_batch}/{self.opt_batch}/{self.max_batch}: need 1 <= min <= opt <= max"
            )
        if self.workspace_mb is not None and self.workspace_mb <= 0:
            raise UsageError(f"--workspace {self.workspace_mb}: give a positive size in MiB")
        if self.dla_core is not None:
            if self.dla_core < 0:
                raise UsageError(f"--dla-core {self.dla_core}: give a core index >= 0")
            if self.precision == "fp32":
                raise UsageError("--dla-core with --precision fp32: the DLA runs fp16 or int8 only")
            if not self.min_batch == self.opt_batch == self.max_batch:
                raise UsageError(
                    f"--dla-core with batch profile {self.min_batch}/{self.opt_batch}/{self.max_batch}: "
                    "the DLA takes static shapes only, give --min-batch = --opt-batch = --max-batch"
                )
        if self.precision == "int8":
            has_cache = self.calib_cache is not None and Path(self.calib_cache).is_file()
            if self.calib_dir is None and not has_cache:
                raise UsageError("--precision int8 needs --calib DIR (flow images) or an existing --calib-cache FILE")
            if self.calib_dir is not None and not Path(self.calib_dir).is_dir():
                raise UsageError(f"--calib {self.calib_dir}: not a folder of flow images")
        elif self.calib_dir is not None or self.calib_cache is not None:
            raise UsageError(f"--calib/--calib-cache given with --precision {self.precision}: they apply to int8 only")
        if self.calib_batch < 1:
            raise UsageError(f"--calib-batch {self.calib_batch}: give a positive batch size")
        return self

    @property
    def profile(self) -> tuple[int, int, int]:
        return (self.min_batch, self.opt_batch, self.max_batch)

    @property
    def calibration_batch(self) -> int:
        """Rows per calibration batch: ``calib_batch`` clamped into the profile (what TensorRT reads)."""
        return min(max(self.calib_batch, self.min_batch), self.max_batch)


def is_strongly_typed(trt: Any) -> bool:
    """True where TensorRT has no FP16 builder flag (TensorRT 11): precision comes from the graph."""
    return not hasattr(trt.BuilderFlag, "FP16")


def network_flags(trt: Any, strongly_typed: bool) -> int:
    """``create_network`` flags: EXPLICIT_BATCH where it exists (8.x; ignored by 10.x), STRONGLY_TYPED when asked."""
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    if hasattr(creation, "EXPLICIT_BATCH"):
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    if strongly_typed and hasattr(creation, "STRONGLY_TYPED"):
        flags |= 1 << int(creation.STRONGLY_TYPED)
    return flags


@dataclass
class Configured:
    """What :func:`configure` did: notes for the sidecar, the timing cache object (to save later)."""

    notes: list[str] = field(default_factory=list)
    timing_cache: Any = None
    strongly_typed: bool = False
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _batch_shape(shape: tuple[int, ...], batch: int) -> tuple[int, ...]:
    return (batch, *shape[1:])


def configure(trt: Any, builder: Any, network: Any, config: Any, s: BuildSettings,
              calibrator: Any = None) -> Configured:
    """Apply ``s`` to a TensorRT builder ``config`` for ``network``; returns what was done.

    Raises :class:`UsageError` for what this TensorRT or device cannot do (INT8 without implicit
    calibration, a DLA core that does not exist, a dynamic axis beyond the batch, a static batch
    that disagrees with the profile).
    """
    done = Configured(strongly_typed=is_strongly_typed(trt))

    if s.workspace_mb is not None:
        nbytes = int(s.workspace_mb) << 20
        if hasattr(config, "set_memory_pool_limit"):
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, nbytes)
        else:
            config.max_workspace_size = nbytes
        done.notes.append(f"workspace {s.workspace_mb} MiB")

    if s.precision in ("fp16", "int8"):
        if done.strongly_typed:
            done.notes.append("strongly typed: FP16 from the FP16 ONNX graph")
        else:
            config.set_flag(trt.BuilderFlag.FP16)
            done.notes.append("FP16 flag")
    if s.precision == "int8":
        if not hasattr(trt.BuilderFlag, "INT8") or not hasattr(config, "int8_calibrator"):
            raise UsageError("this TensorRT has no implicit INT8 calibration (TensorRT 11: quantise the ONNX "
                             "graph with Q/DQ nodes instead); use --precision fp16")
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
        done.notes.append("INT8 flag + entropy calibrator")

    profile = builder.create_optimization_profile()
    dynamic = False
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(int(d) for d in tensor.shape)
        if any(d < 0 for d in shape[1:]):
            raise UsageError(f"input {tensor.name} has dynamic dimensions beyond the batch {shape}; re-export it")
        if shape[0] < 0:
            dynamic = True
            profile.set_shape(tensor.name, _batch_shape(shape, s.min_batch), _batch_shape(shape, s.opt_batch),
                              _batch_shape(shape, s.max_batch))
            done.input_shapes[tensor.name] = shape
        else:
            if s.profile != (shape[0],) * 3:
                raise UsageError(
                    f"input {tensor.name} has a static batch of {shape[0]}; give --min-batch = --opt-batch = "
                    f"--max-batch = {shape[0]} or export with --batch dynamic"
                )
            done.input_shapes[tensor.name] = shape
    if dynamic:
        config.add_optimization_profile(profile)
        done.notes.append("profile min/opt/max batch " + "/".join(map(str, s.profile)))
        if s.precision == "int8" and hasattr(config, "set_calibration_profile"):
            cal = builder.create_optimization_profile()
            b = s.calibration_batch
            for name, shape in done.input_shapes.items():
                cal.set_shape(name, *(_batch_shape(shape, b),) * 3)
            config.set_calibration_profile(cal)
            done.notes.append(f"calibration profile batch {b}")

    if s.dla_core is not None:
        cores = int(getattr(builder, "num_DLA_cores", 0))
        if s.dla_core >= cores:
            raise UsageError(f"--dla-core {s.dla_core}: this device has {cores} DLA core(s)")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = s.dla_core
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
        done.notes.append(f"DLA core {s.dla_core} with GPU fallback")

    if s.timing_cache is not None and hasattr(config, "create_timing_cache"):
        path = Path(s.timing_cache)
        blob = path.read_bytes() if path.is_file() else b""
        cache = config.create_timing_cache(blob)
        config.set_timing_cache(cache, False)
        done.timing_cache = cache
        done.notes.append(("reused" if blob else "new") + f" timing cache {path.name}")
    return done


def save_timing_cache(config: Any, path: Path | None) -> None:
    """Write the builder's (updated) timing cache back to ``path``."""
    if path is None or not hasattr(config, "get_timing_cache"):
        return
    cache = config.get_timing_cache()
    if cache is not None:
        Path(path).write_bytes(bytes(memoryview(cache.serialize())))


def make_calibrator(trt: Any, data: dict[str, np.ndarray], batch: int, cache_path: Path | None,
                    device_alloc: Callable[[int], Any], on_close: Callable[[], None] | None = None) -> Any:
    """An ``IInt8EntropyCalibrator2`` feeding ``data`` (input name -> (N, ...) float32) in ``batch``-row chunks.

    ``device_alloc(nbytes)`` returns a device buffer with ``.ptr`` (int) and ``.copy_from(array)``
    (see ``runtime/infer/trt_runner.py``). An existing ``cache_path`` is read instead of calibrating; TensorRT
    writes the computed cache there. ``get_batch`` answers in the order of the names TensorRT asks for.
    ``close()`` frees the buffers, then calls ``on_close`` (the CUDA backend's own close).
    """
    if not hasattr(trt, "IInt8EntropyCalibrator2"):
        raise UsageError("this TensorRT has no IInt8EntropyCalibrator2 (TensorRT 11: quantise the ONNX graph with "
                         "Q/DQ nodes instead); use --precision fp16")
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in data.items()}
    n = min((len(v) for v in arrays.values()), default=0)

    class FlowCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.index = 0
            self.buffers = {k: device_alloc(batch * int(np.prod(v.shape[1:])) * 4) for k, v in arrays.items()} \
                if n else {}

        def get_batch_size(self) -> int:
            return batch

        def get_batch(self, names: list[str]) -> list[int] | None:
            if not self.buffers or self.index + batch > n:
                return None
            for k, buf in self.buffers.items():
                buf.copy_from(arrays[k][self.index:self.index + batch])
            self.index += batch
            return [int(self.buffers[name].ptr) for name in names]

        def read_calibration_cache(self) -> bytes | None:
            if cache_path is not None and Path(cache_path).is_file():
                return Path(cache_path).read_bytes()
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            if cache_path is not None:
                Path(cache_path).write_bytes(bytes(memoryview(cache)))

        def close(self) -> None:
            for buf in self.buffers.values():
                buf.free()
            self.buffers = {}
            if on_close is not None:
                on_close()

    return FlowCalibrator()


@dataclass
class BuiltEngine:
    """A serialised plan and how it was built."""

    plan: bytes
    notes: list[str]
    strongly_typed: bool


def parse_onnx(trt: Any, builder: Any, logger: Any, onnx_path: Path, strongly_typed: bool) -> tuple[Any, Any]:
    """Create a network and parse ``onnx_path`` into it -> (network, parser); errors in one line."""
    network = builder.create_network(network_flags(trt, strongly_typed))
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse_from_file(str(onnx_path)) if hasattr(parser, "parse_from_file") else \
        parser.parse(Path(onnx_path).read_bytes())
    if not ok:
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        first = errors[0].splitlines()[0] if errors else "no error reported"
        raise SofpError(f"TensorRT's ONNX parser rejected {Path(onnx_path).name}: {first} ({len(errors)} error(s))")
    return network, parser


def build_engine(trt: Any, onnx_path: Path, s: BuildSettings, calibrator_factory: Callable[[], Any] | None = None,
                 logger: Any = None) -> BuiltEngine:
    """Parse ``onnx_path`` and build a serialised engine under settings ``s``.

    ``calibrator_factory`` makes the INT8 calibrator (called only for int8). Failures raise
    :class:`SofpError` / :class:`UsageError` with one line.
    """
    logger = logger or trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    if builder is None:
        raise UsageError("TensorRT could not create a builder (no usable CUDA GPU)")
    strongly = is_strongly_typed(trt)
    network, _parser = parse_onnx(trt, builder, logger, onnx_path, strongly)
    config = builder.create_builder_config()
    calibrator = calibrator_factory() if (s.precision == "int8" and calibrator_factory) else None
    try:
        done = configure(trt, builder, network, config, s, calibrator)
        plan = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None and hasattr(calibrator, "close"):
            calibrator.close()
    if plan is None:
        raise SofpError(f"TensorRT failed to build an engine from {Path(onnx_path).name} "
                        f"({', '.join(done.notes)}); rerun with a larger --workspace or see the log above")
    save_timing_cache(config, s.timing_cache)
    return BuiltEngine(bytes(memoryview(plan)), done.notes, strongly)
