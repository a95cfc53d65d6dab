"""ctypes binding of libsofp's C API (native/include/sofp/sofp.h) for the parity test and the benchmark.

Not a product API: the structs below mirror the header field for field, and ``NativePipeline``
pushes NumPy frames and returns events and per-frame records as dicts shaped like the Python
runtime's ``Event.to_dict()`` and ``FrameTelemetry``.
"""

from __future__ import annotations

import ctypes as C
import json
from pathlib import Path

import numpy as np

MAX_CLASSES = 16
LABEL_SIZE = 32
OK, NO_EVENT = 0, 1
PIXEL = {"gray8": 1, "bgr8": 2, "rgb8": 3, "bgra8": 4, "rgba8": 5}
STAGES = ("face", "align", "flow", "spot", "infer")


class Config(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("model_path", C.c_char_p), ("sidecar_path", C.c_char_p),
                ("params_path", C.c_char_p), ("cascade_path", C.c_char_p), ("backend", C.c_int32),
                ("threads", C.c_int32), ("fps", C.c_double), ("mirror_average", C.c_int32), ("flow", C.c_char_p)]


class Frame(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("data", C.c_void_p), ("width", C.c_int32), ("height", C.c_int32),
                ("stride", C.c_size_t), ("format", C.c_int32), ("capture_time_ns", C.c_int64), ("index", C.c_int64)]


class Event(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("onset_frame", C.c_int64), ("apex_frame", C.c_int64),
                ("offset_frame", C.c_int64), ("onset_time", C.c_double), ("apex_time", C.c_double),
                ("offset_time", C.c_double), ("label_index", C.c_int32), ("label", C.c_char * LABEL_SIZE),
                ("num_classes", C.c_int32), ("probabilities", C.c_float * MAX_CLASSES), ("magnitude", C.c_double),
                ("has_face_box", C.c_int32), ("face_box", C.c_double * 4), ("latency_ms", C.c_double)]


class FrameInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("index", C.c_int64), ("timestamp", C.c_double), ("face", C.c_int32),
                ("tracked", C.c_int32), ("has_magnitude", C.c_int32), ("magnitude", C.c_double),
                ("threshold", C.c_double), ("state", C.c_char * 16), ("events", C.c_int32),
                ("stage_ms", C.c_double * 5), ("total_ms", C.c_double), ("fps", C.c_double)]


class NativeError(RuntimeError):
    """A libsofp call failed: ``status`` (negative sofp_status) and the library's one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"libsofp status {status}: {message}")
        self.status = status


def load_library(path: str | Path) -> C.CDLL:
    lib = C.CDLL(str(path))
    lib.sofp_version.restype = C.c_char_p
    lib.sofp_last_error.restype = C.c_char_p
    lib.sofp_status_string.restype = C.c_char_p
    lib.sofp_config_init.argtypes = [C.POINTER(Config)]
    lib.sofp_frame_init.argtypes = [C.POINTER(Frame)]
    lib.sofp_event_init.argtypes = [C.POINTER(Event)]
    lib.sofp_frame_info_init.argtypes = [C.POINTER(FrameInfo)]
    lib.sofp_create.argtypes = [C.POINTER(Config), C.POINTER(C.c_void_p)]
    lib.sofp_destroy.argtypes = [C.c_void_p]
    lib.sofp_push_frame.argtypes = [C.c_void_p, C.POINTER(Frame)]
    lib.sofp_poll_event.argtypes = [C.c_void_p, C.POINTER(Event)]
    lib.sofp_last_frame_info.argtypes = [C.c_void_p, C.POINTER(FrameInfo)]
    lib.sofp_class_count.argtypes = [C.c_void_p]
    lib.sofp_class_label.argtypes = [C.c_void_p, C.c_int32]
    lib.sofp_class_label.restype = C.c_char_p
    lib.sofp_backend_description.argtypes = [C.c_void_p]
    lib.sofp_backend_description.restype = C.c_char_p
    lib.sofp_flow_name.argtypes = [C.c_void_p]
    lib.sofp_flow_name.restype = C.c_char_p
    lib.sofp_event_to_json.argtypes = [C.c_void_p, C.POINTER(Event), C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)]
    return lib


class NativePipeline:
    """One libsofp pipeline; ``feed(image, index, timestamp_s)`` -> list of event dicts."""

    def __init__(self, lib: C.CDLL, model: str | Path, *, fps: float = 0.0, threads: int = 1,
                 flow: str = "auto") -> None:
        self.lib = lib
        cfg = Config()
        lib.sofp_config_init(C.byref(cfg))
        self._model = str(model).encode()
        self._flow = flow.encode()
        cfg.model_path = self._model
        cfg.fps = float(fps)
        cfg.threads = int(threads)
        cfg.flow = self._flow
        self.handle = C.c_void_p()
        self._check(lib.sofp_create(C.byref(cfg), C.byref(self.handle)))
        self.labels = [lib.sofp_class_label(self.handle, i).decode() for i in range(lib.sofp_class_count(self.handle))]
        self.description = lib.sofp_backend_description(self.handle).decode()
        self.flow = lib.sofp_flow_name(self.handle).decode()
        self._frame = Frame()
        lib.sofp_frame_init(C.byref(self._frame))
        self._json = C.create_string_buffer(4096)

    def _check(self, status: int) -> int:
        if status < 0:
            raise NativeError(status, self.lib.sofp_last_error().decode())
        return status

    def feed(self, image: np.ndarray, index: int, timestamp: float) -> list[dict]:
        """image: H x W x 3 uint8 BGR (or H x W grey); timestamp in s. Returns the events it completed."""
        img = np.ascontiguousarray(image)
        f = self._frame
        f.data = img.ctypes.data
        f.height, f.width = img.shape[:2]
        f.stride = img.strides[0]
        f.format = PIXEL["gray8"] if img.ndim == 2 else PIXEL["bgr8"]
        f.capture_time_ns = round(timestamp * 1e9)
        f.index = index
        self._check(self.lib.sofp_push_frame(self.handle, C.byref(f)))
        events = []
        ev = Event()
        self.lib.sofp_event_init(C.byref(ev))
        while self._check(self.lib.sofp_poll_event(self.handle, C.byref(ev))) == OK:
            n = C.c_size_t()
            self._check(self.lib.sofp_event_to_json(self.handle, C.byref(ev), self._json, len(self._json), C.byref(n)))
            events.append(json.loads(self._json.value.decode()))
        return events

    def frame_info(self) -> dict:
        info = FrameInfo()
        self.lib.sofp_frame_info_init(C.byref(info))
        self._check(self.lib.sofp_last_frame_info(self.handle, C.byref(info)))
        return {"index": info.index, "face": bool(info.face), "tracked": bool(info.tracked),
                "magnitude": info.magnitude if info.has_magnitude else None, "threshold": info.threshold,
                "state": info.state.decode(), "stages_ms": dict(zip(STAGES, info.stage_ms, strict=True)),
                "total_ms": info.total_ms, "fps": info.fps}

    def close(self) -> None:
        if self.handle:
            self.lib.sofp_destroy(self.handle)
            self.handle = C.c_void_p()

    def __enter__(self) -> NativePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
