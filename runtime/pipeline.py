"""The live pipeline, for scripts and rigs: build once, ``feed(frame) -> [Event]`` or ``run(source)``.

Data flows one way: source -> face -> window -> flow -> features -> engine -> events.

Per frame (the hot path, a few ms on a CPU):

1. face: the face cropper (detector off the hot path, tracking between detections) gives a
   square grey crop of the face, or None (the stream goes on; the spotter restarts);
2. window: the crop is kept in a ring buffer; the spotter says which earlier frame is this
   frame's onset reference (see runtime/spotting.py);
3. align: the crop is registered to that reference crop (global head motion removed);
4. flow: a fast optical flow (``motion_flow``, DIS ultrafast, denser patches) between the two crops, reduced to
   one motion number (px) — only the signal, never the model input;
5. spot: the online spotter; when an interval ends (offset seen), the event is classified:
   the pinned feature flow (``flow``: the training flow, e.g. TV-L1 or DIS medium) between the
   onset and the aligned apex crop -> ``flow_to_features`` (the same function that prepared the
   training data) -> the inference backend (infer) -> :class:`~sofp.runtime.events.Event`.

Model and flows are created once in the constructor; ``feed`` allocates no models.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from sofp.runtime.errors import SofpError
from sofp.runtime.events import Event, FrameTelemetry
from sofp.runtime.features import features_to_input, flow_to_features, mirror_features
from sofp.runtime.shared_params import SHARED
from sofp.runtime.sources.base import BadFrame, conform_image
from sofp.runtime.spotting import SpotConfig, SpottedInterval, Spotter, motion_magnitude

MOTION_FLOW_PARAMS = {"preset": SHARED["motion"]["preset"]}  # runtime/shared_params.json


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a pipeline is built from. Names or ready objects; None = the component's default.

    flow: feature flow at spotted apexes ("auto", "cpu-dis", "cpu-tvl1", ... or a FlowBackend).
    motion_flow: per-frame motion-signal flow (default cpu-dis with the shared ``motion`` preset).
    motion_size: side (px) the crops are resized to for the motion signal (None: the crop size).
    backend / model: inference backend name ("auto", "onnxruntime", ...) or object; model file
    (None: the built-in checkpoint). threads: intra-op threads of the inference backend.
    fps: override of the stream's rate (frames/s); None = the source's, else measured.
    face / aligner: ready objects (tests pass fakes); None = runtime.face defaults (the aligner
    registers the apex crop to the onset crop before the feature flow).
    motion_align: Stabiliser method for the per-frame motion signal ("robust": sub-pixel head
    translation removed before the flow; DIS misreads an unremoved 0.3 px shift as ~0.2 px of
    texture-dependent motion, as large as a micro-expression's signal).
    stabilise: False turns every alignment off.
    mirror_average: classify the mean of the probabilities of the features and of their left-right
    mirror (u negated), as the LOSO evaluation and the built-in model's reported scores do.
    """

    flow: Any = "auto"
    flow_params: Any = None
    motion_flow: Any = "cpu-dis"
    motion_flow_params: Any = field(default_factory=lambda: dict(MOTION_FLOW_PARAMS))
    motion_size: int | None = None
    top_fraction: float = SHARED["motion"]["top_fraction"]
    backend: Any = "auto"
    model: str | None = None
    threads: int = 1
    fps: float | None = None
    spot: SpotConfig = field(default_factory=SpotConfig)
    face: Any = None
    aligner: Any = None
    motion_align: str = "robust"
    stabilise: bool = True
    mirror_average: bool = SHARED["mirror_average"]


@dataclass
class _Entry:
    """A frame kept in the window: its face crop (grey S x S uint8) at its own box, the crop's
    motion-size version, the box, the capture time, and the crop of this frame at the box of the
    frame it was measured against (``ref_index``), so that crops compared are cut identically."""

    gray: np.ndarray
    box: Any
    timestamp: float
    small: np.ndarray | None = None
    ref_index: int | None = None
    at_ref: np.ndarray | None = None


def _same_box(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    return (a.x, a.y, a.w, a.h) == (b.x, b.y, b.w, b.h)


def _default_face() -> Callable[[np.ndarray], Any]:
    from sofp.runtime.face import FaceCropper

    return FaceCropper()


def _default_aligner(method: str | None = None) -> Any:
    from sofp.runtime.face import Stabiliser

    return Stabiliser(method) if method else Stabiliser()


class Pipeline:
    """Micro-expression pipeline over a stream of :class:`~sofp.runtime.sources.base.Frame`.

    ``feed(frame)`` returns the events that ended at this frame (usually none). ``telemetry`` is the
    last frame's :class:`FrameTelemetry`; ``report`` the start-up capability report (a dict).
    """

    def __init__(self, config: PipelineConfig | None = None) -> None:
        from sofp.runtime.flow import FLOWS, create_flow, resolve_flow
        from sofp.runtime.infer import INFERENCE, create_backend, resolve_backend

        self.config = c = config or PipelineConfig()
        self.face = c.face if c.face is not None else _default_face()
        self.aligner = (c.aligner if c.aligner is not None else _default_aligner()) if c.stabilise else None
        if not c.stabilise or c.motion_align == "none":
            self.motion_aligner = None
        elif c.aligner is not None:
            self.motion_aligner = c.aligner
        else:
            self.motion_aligner = _default_aligner(c.motion_align)
        if isinstance(c.flow, str):
            flow_name, flow_why = resolve_flow(c.flow)
        else:
            flow_name, flow_why = getattr(c.flow, "name", type(c.flow).__name__), "object passed in"
        self.flow = create_flow(flow_name if isinstance(c.flow, str) else c.flow, c.flow_params)
        self.motion_flow = create_flow(c.motion_flow, c.motion_flow_params if isinstance(c.motion_flow, str) else None)
        if isinstance(c.backend, str):
            backend_name, backend_why = resolve_backend(c.backend, c.model)
            self.backend = create_backend(backend_name, c.model, threads=c.threads)
        else:
            backend_name, backend_why = getattr(c.backend, "name", type(c.backend).__name__), "object passed in"
            self.backend = c.backend
        self.labels: list[str] = list(self.backend.labels)
        self.report = {
            "flow": {"chosen": flow_name, "why": flow_why,
                     "available": {cap.name: (cap.available, cap.reason) for cap in FLOWS.capabilities()}},
            "motion_flow": getattr(self.motion_flow, "name", str(c.motion_flow)),
            "inference": {"chosen": backend_name, "why": backend_why,
                          "model": getattr(self.backend, "description", ""),
                          "labels": self.labels,
                          "available": {cap.name: (cap.available, cap.reason) for cap in INFERENCE.capabilities()}},
        }
        self.fps: float | None = c.fps
        self.spotter: Spotter | None = None
        self._stamps: list[float] = []
        self._ring: OrderedDict[int, _Entry] = OrderedDict()
        self._ring_size = 0
        self.telemetry: FrameTelemetry | None = None
        self.frames = 0
        self.frames_with_face = 0
        self.gaps = 0
        self.bad_frames = 0  # frames refused by conform_image (None, too small, unknown format)
        self.last_bad_frame = ""  # why the latest one was refused
        self.stalls = 0  # pauses of the stream longer than the reference lag: the window restarted
        self.size_changes = 0  # frames whose size differed from the previous frame's: face tracker and window restarted
        self._last_shape: tuple[int, ...] | None = None
        self._last_index: int | None = None
        self._last_time: float | None = None
        if self.fps:
            self._start_spotter(self.fps)

    # ------------------------------------------------------------------------------------ set-up
    def _start_spotter(self, fps: float) -> None:
        self.fps = float(fps)
        self.spotter = Spotter(self.fps, self.config.spot)
        self._ring_size = self.spotter.history_frames + 2

    def set_fps(self, fps: float) -> None:
        """The stream's real rate (frames/s), e.g. from ``source.fps``; before the first frame."""
        if self.spotter is None and fps and math.isfinite(fps) and fps > 0:
            self._start_spotter(fps)

    def _measure_fps(self, timestamp: float) -> None:
        self._stamps.append(timestamp)
        if len(self._stamps) >= 10:
            dt = np.diff(np.asarray(self._stamps))
            dt = dt[dt > 0]
            if dt.size:
                self._start_spotter(1.0 / float(np.median(dt)))

    def reset(self) -> None:
        """Forget the window (a new stream or a gap that cannot be bridged)."""
        self._ring.clear()
        if self.spotter is not None:
            self.spotter.reset()

    # ------------------------------------------------------------------------------------ per frame
    def _small(self, entry: _Entry) -> np.ndarray:
        if entry.small is None:
            entry.small = self._resize(entry.gray)
        return entry.small

    def _resize(self, gray: np.ndarray) -> np.ndarray:
        s = self.config.motion_size
        if not s or gray.shape[0] == s:
            return gray
        return cv2.resize(gray, (s, s), interpolation=cv2.INTER_AREA)

    def _lookup(self, index: int) -> tuple[int, _Entry] | None:
        """The stored frame at ``index``, or the latest stored one before it (dropped frames)."""
        e = self._ring.get(index)
        if e is not None:
            return index, e
        for i in reversed(self._ring):
            if i <= index:
                return i, self._ring[i]
        return None

    def _geometry(self, box: Any) -> tuple[int, int, int] | None:
        """Integer frame rectangle (x0, y0, side) the face cropper cuts for ``box``."""
        margin = getattr(self.face, "margin", None)
        if margin is None or box is None:
            return None
        side = box.side * (1.0 + margin)
        return round(box.cx - side / 2), round(box.cy - side / 2), round(side)

    def _crop_like(self, image: np.ndarray, box: Any, entry: _Entry) -> np.ndarray:
        """This frame cut at ``box``; its own crop when the cut would be the same pixels."""
        if _same_box(box, entry.box):
            return entry.gray
        g = self._geometry(box)
        if g is not None and g == self._geometry(entry.box):
            return entry.gray
        return self._crop_at(image, box, entry.gray)

    def _crop_at(self, image: np.ndarray, box: Any, fallback: np.ndarray) -> np.ndarray:
        """The face crop of ``image`` (BGR or grey) at ``box``, cut like the face cropper cuts it
        (side = box side x (1 + margin), resized to the crop size); ``fallback`` for croppers
        that do not say how they cut."""
        margin = getattr(self.face, "margin", None)
        size = fallback.shape[0]
        if margin is None or box is None:
            return fallback
        side = box.side * (1.0 + margin)
        s = round(side)
        x0, y0 = round(box.cx - side / 2), round(box.cy - side / 2)
        h, w = image.shape[:2]
        if x0 >= 0 and y0 >= 0 and x0 + s <= w and y0 + s <= h:
            patch = image[y0 : y0 + s, x0 : x0 + s]
            gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
        else:
            crop = getattr(self.face, "crop", None)
            if crop is None:
                return fallback
            full = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
            return crop(full, box)
        interp = cv2.INTER_AREA if s > size else cv2.INTER_LINEAR
        return cv2.resize(gray, (size, size), interpolation=interp)

    def _align(self, reference: np.ndarray, gray: np.ndarray, aligner: Any = None) -> np.ndarray:
        aligner = aligner if aligner is not None else self.aligner
        if aligner is None:
            return gray
        align = getattr(aligner, "align", aligner)
        return align(reference, gray)

    @property
    def last_telemetry(self) -> FrameTelemetry:
        """The telemetry of the last frame fed (``feed`` records one for every frame, a refused one too)."""
        if self.telemetry is None:
            raise SofpError("no frame has been fed to the pipeline yet: no telemetry")
        return self.telemetry

    def feed(self, frame: Any) -> list[Event]:
        """Process one :class:`Frame` (``image`` BGR uint8, ``index``, ``timestamp`` s).

        A frame :func:`~sofp.runtime.sources.base.conform_image` refuses (None, too small, an unknown pixel
        format) is skipped and counted (``bad_frames``, telemetry state ``bad-frame``); grey, BGRA and 16-bit
        frames are converted. A pause longer than the spotter's reference lag (a stalled source) restarts
        the window (``stalls``), as a reconnect does: no motion is measured across it; so does a change of
        frame size (``size_changes``), which also restarts the face tracker (its box is in the old frame's px)."""
        t_start = time.perf_counter()
        tel = FrameTelemetry(frame.index, float(frame.timestamp))
        self.telemetry = tel
        self.frames += 1
        if self._last_index is not None and frame.index > self._last_index + 1:
            self.gaps += frame.index - self._last_index - 1
        if self._last_index is not None and frame.index <= self._last_index:
            self.reset()  # a restarted source: indices went back
        self._last_index = frame.index
        try:
            image = conform_image(frame.image)
        except BadFrame as exc:
            self.bad_frames += 1
            self.last_bad_frame = str(exc)
            tel.state = "bad-frame"
            tel.total_ms = 1000 * (time.perf_counter() - t_start)
            return []
        if self._last_shape is not None and image.shape != self._last_shape:
            self.size_changes += 1
            self.reset()
            face_reset = getattr(self.face, "reset", None)
            if face_reset is not None:
                face_reset()
        self._last_shape = image.shape
        t_frame = float(frame.timestamp)
        if (self._last_time is not None and self.spotter is not None
                and t_frame - self._last_time > max(self.config.spot.reference_lag_s, 3.0 / self.spotter.fps)):
            self.stalls += 1
            self.reset()
        self._last_time = t_frame
        if self.spotter is None:
            self._measure_fps(t_frame)
        stages = tel.stages_ms

        t0 = time.perf_counter()
        crop = self.face(image)
        t1 = time.perf_counter()
        stages["face"] = 1000 * (t1 - t0)
        if crop is None:
            self.reset()
            tel.state = "no-face"
            tel.total_ms = 1000 * (time.perf_counter() - t_start)
            return []
        self.frames_with_face += 1
        tel.face, tel.tracked = True, bool(getattr(crop, "tracked", False))
        entry = _Entry(crop.gray, crop.box, float(frame.timestamp))
        if self.spotter is None:  # rate not known yet: keep the crop, spot from the next frames on
            self._store(frame.index, entry)
            tel.state = "measuring-fps"
            tel.total_ms = 1000 * (time.perf_counter() - t_start)
            return []

        spotter = self.spotter
        ref_index = spotter.reference_for(frame.index)
        found = self._lookup(ref_index) if ref_index != frame.index else None
        magnitude = 0.0
        if found is not None:
            ref_index, ref = found
            ta = time.perf_counter()
            # cut this frame with the reference's box: box jitter and re-detections are not motion
            cur = self._crop_like(image, ref.box, entry)
            entry.ref_index, entry.at_ref = ref_index, cur
            aligned = cur if self.motion_aligner is None else self._align(ref.gray, cur, self.motion_aligner)
            tb = time.perf_counter()
            flow = self.motion_flow.compute(self._small(ref), self._resize(aligned))
            magnitude = motion_magnitude(flow, self.config.top_fraction)
            tc = time.perf_counter()
            stages["align"] = 1000 * (tb - ta)
            stages["flow"] = 1000 * (tc - tb)
        self._store(frame.index, entry)

        td = time.perf_counter()
        interval = spotter.update(frame.index, float(frame.timestamp), magnitude)
        tel.magnitude = magnitude
        tel.threshold = spotter.last_thresholds[0]
        tel.state = spotter.state
        stages["spot"] = 1000 * (time.perf_counter() - td)
        events: list[Event] = []
        if interval is not None:
            event = self._classify(interval, stages, t_start)
            if event is not None:
                events.append(event)
        tel.events = len(events)
        tel.total_ms = 1000 * (time.perf_counter() - t_start)
        return events

    def _store(self, index: int, entry: _Entry) -> None:
        self._ring[index] = entry
        while len(self._ring) > max(self._ring_size, 2):
            self._ring.popitem(last=False)

    def _classify(self, interval: SpottedInterval, stages: dict[str, float], t_start: float) -> Event | None:
        onset = self._ring.get(interval.onset)
        apex = self._ring.get(interval.apex)
        if onset is None or apex is None:  # cannot happen with the ring sized from the spotter
            return None
        ta = time.perf_counter()
        # the apex cut with the onset's box when it was measured against the onset (the usual case)
        apex_gray = apex.at_ref if apex.ref_index == interval.onset and apex.at_ref is not None else apex.gray
        aligned = self._align(onset.gray, apex_gray)
        tb = time.perf_counter()
        flow = self.flow.compute(onset.gray, aligned)
        features = flow_to_features(flow)
        if self.config.mirror_average:
            features = np.stack([features, mirror_features(features)])
        x = features_to_input(features.reshape(-1, *features.shape[-3:]))
        tc = time.perf_counter()
        probs = self.backend.predict(x).mean(axis=0)
        td = time.perf_counter()
        stages["align"] += 1000 * (tb - ta)
        stages["flow"] += 1000 * (tc - tb)
        stages["infer"] = 1000 * (td - tc)
        k = int(np.argmax(probs))
        box = apex.box
        box_t = (float(box.x), float(box.y), float(box.w), float(box.h)) if box is not None else None
        return Event(
            onset_frame=interval.onset, apex_frame=interval.apex, offset_frame=interval.offset,
            onset_time=interval.onset_time, apex_time=interval.apex_time, offset_time=interval.offset_time,
            label=self.labels[k], probabilities={lab: float(p) for lab, p in zip(self.labels, probs, strict=True)},
            magnitude=interval.magnitude, face_box=box_t, latency_ms=1000 * (time.perf_counter() - t_start),
        )

    # ------------------------------------------------------------------------------------ streams
    def run(self, source: Any, on_frame: Callable[[Any, FrameTelemetry, list[Event]], None] | None = None,
            max_frames: int | None = None) -> Iterator[Event]:
        """Events from a :class:`FrameSource` until it ends. A failed read raises one line (SofpError);
        ``on_frame(frame, telemetry, events)`` is called after every frame (overlays, telemetry)."""
        from sofp.runtime.sources.base import ReadStatus

        if not getattr(source, "live", False):  # live sources: the rate is measured from timestamps
            self.set_fps(getattr(source, "fps", 0.0) or 0.0)
        n = 0
        while max_frames is None or n < max_frames:
            status, frame = source.read()
            if status is ReadStatus.FRAME:
                n += 1
                events = self.feed(frame)
                if on_frame is not None:
                    on_frame(frame, self.last_telemetry, events)
                yield from events
            elif status is ReadStatus.NOT_READY:
                time.sleep(0.0005)
            elif status is ReadStatus.END:
                return
            else:
                what = getattr(source, "error", "") or "read error"
                raise SofpError(f"{getattr(source, 'name', 'source')} failed: {what}")

    def close(self) -> None:
        """Close the inference backend and the face stage (the face cropper's worker thread)."""
        for part in (self.backend, self.face):
            close = getattr(part, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_pipeline(config: PipelineConfig | None = None, **overrides: Any) -> Pipeline:
    """``Pipeline(replace(config, **overrides))``: the one call a rig makes."""
    config = config or PipelineConfig()
    return Pipeline(replace(config, **overrides) if overrides else config)
