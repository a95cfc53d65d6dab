"""A demo clip with ground truth: the astronaut face (scikit-image, public domain), micro-movements injected.

``make_demo_clip`` places the photograph on a 640 x 480 frame and moves parts of the face with
smooth, localised displacement fields (Gaussian bumps, 0.5..3 px) that rise from an onset to an
apex and fall back by an offset (< 0.5 s): a brow raise, a lip-corner pull and a brow lowering.
A slow global head drift and per-frame sensor noise are added. Frames are rendered on demand
(``clip.frames[i]``), deterministic for a seed, so a long clip costs no memory up front.

``warp_by_flow(image, flow)`` moves every pixel p of an image to p + flow(p) (flow H x W x 2,
px): the optical flow from ``image`` to the result is ``flow``. Flow tests and the flow accuracy
benchmark use it on the real face.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

FRAME_SIZE = (640, 480)  # width, height
# Astronaut photograph (512 x 512) landmarks in its own pixels, measured on the image.
_LANDMARKS = {
    "face_box": (177.0, 66.0, 95.0, 95.0),  # Haar frontal face (x, y, w, h)
    "brow_l": (203.0, 93.0), "brow_r": (248.0, 94.0),
    "mouth_l": (205.0, 142.0), "mouth_r": (245.0, 142.0),
}
_SCALE = 1.6  # photograph px -> frame px: a ~150 px face in the 640 x 480 frame
KINDS = ("brow_raise", "lip_corner_pull", "brow_lower")


@dataclass(frozen=True)
class TruthEvent:
    """One injected micro-movement: frame indices of onset, apex, offset; ``kind``; apex amplitude (px)."""

    onset: int
    apex: int
    offset: int
    kind: str
    amplitude_px: float = 0.0

    def times(self, fps: float) -> tuple[float, float, float]:
        """(onset, apex, offset) in seconds."""
        return self.onset / fps, self.apex / fps, self.offset / fps


@dataclass(frozen=True)
class _Bump:
    """A Gaussian displacement bump: centre (px), sigma (px), direction (px per unit amplitude)."""

    cx: float
    cy: float
    sx: float
    sy: float
    du: float
    dv: float


def _to_frame(p: tuple[float, float], offset: tuple[float, float]) -> tuple[float, float]:
    return p[0] * _SCALE + offset[0], p[1] * _SCALE + offset[1]


def _bumps(kind: str, offset: tuple[float, float]) -> list[_Bump]:
    """Displacement bumps of a movement kind, in frame px (image y points down)."""
    bl, br = _to_frame(_LANDMARKS["brow_l"], offset), _to_frame(_LANDMARKS["brow_r"], offset)
    ml, mr = _to_frame(_LANDMARKS["mouth_l"], offset), _to_frame(_LANDMARKS["mouth_r"], offset)
    k = _SCALE  # bump widths below are in photograph px
    if kind == "brow_raise":       # AU1+2: both brows up
        return [_Bump(*bl, 12 * k, 7 * k, 0.0, -1.0), _Bump(*br, 12 * k, 7 * k, 0.0, -1.0)]
    if kind == "lip_corner_pull":  # AU12: corners out and up
        return [_Bump(*ml, 8 * k, 6.5 * k, -0.8, -0.6), _Bump(*mr, 8 * k, 6.5 * k, 0.8, -0.6)]
    if kind == "brow_lower":       # AU4: brows down and together
        return [_Bump(*bl, 10.5 * k, 6.5 * k, 0.6, 0.8), _Bump(*br, 10.5 * k, 6.5 * k, -0.6, 0.8)]
    raise ValueError(f"unknown movement kind {kind!r}; known: {', '.join(KINDS)}")


def _profile(i: float, ev: TruthEvent) -> float:
    """Amplitude fraction 0..1 at frame ``i``: raised-cosine rise onset->apex, fall apex->offset."""
    if i <= ev.onset or i >= ev.offset:
        return 0.0
    if i <= ev.apex:
        return 0.5 * (1.0 - math.cos(math.pi * (i - ev.onset) / max(ev.apex - ev.onset, 1)))
    return 0.5 * (1.0 + math.cos(math.pi * (i - ev.apex) / max(ev.offset - ev.apex, 1)))


@dataclass
class FaceMotion:
    """The clip's analytic motion: local bumps of each event plus a global drift (px) per frame."""

    events: list[TruthEvent]
    bumps: dict[str, list[_Bump]]
    drift_amp: tuple[float, float]
    drift_period: tuple[float, float]  # frames
    drift_phase: tuple[float, float]

    def drift(self, i: float) -> tuple[float, float]:
        """Global head translation (dx, dy) px at frame ``i`` (0 at frame 0)."""
        dx, dy = (a * (math.sin(2 * math.pi * i / p + ph) - math.sin(ph))
                  for a, p, ph in zip(self.drift_amp, self.drift_period, self.drift_phase, strict=True))
        return dx, dy

    def local(self, xs: np.ndarray, ys: np.ndarray, i: float) -> tuple[np.ndarray, np.ndarray]:
        """Local (face) displacement (u, v) px at source points (xs, ys) at frame ``i``."""
        u = np.zeros(xs.shape, np.float32)
        v = np.zeros(xs.shape, np.float32)
        for ev in self.events:
            a = ev.amplitude_px * _profile(i, ev)
            if a == 0.0:
                continue
            for b in self.bumps[ev.kind]:
                g = np.exp(-0.5 * (((xs - b.cx) / b.sx) ** 2 + ((ys - b.cy) / b.sy) ** 2)).astype(np.float32)
                u += (a * b.du) * g
                v += (a * b.dv) * g
        return u, v

    def local_field(self, i: float, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
        """The local displacement of frame ``i`` over the whole frame: H x W x 2 float32 px."""
        ys, xs = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
        u, v = self.local(xs, ys, i)
        return np.dstack([u, v])


class _LazyFrames(Sequence):
    """Frames rendered on first access (BGR uint8 640 x 480), a few kept in an LRU cache."""

    def __init__(self, render, n: int, cache: int = 8) -> None:
        self._render, self._n, self._cache, self._cap = render, n, OrderedDict(), cache

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        img = self._render(i)
        self._cache[i] = img
        if len(self._cache) > self._cap:
            self._cache.popitem(last=False)
        return img


@dataclass
class DemoClip:
    """frames: Sequence of H x W x 3 uint8 BGR (lazy); fps (frames/s); truth: injected events.

    face_box: (x, y, w, h) px of the face in frame 0; motion: the analytic ground truth.
    """

    frames: Sequence[np.ndarray]
    fps: float
    truth: list[TruthEvent]
    face_box: tuple[float, float, float, float]
    motion: FaceMotion
    seed: int = 0
    meta: dict = field(default_factory=dict)


def astronaut_bgr() -> np.ndarray:
    """The public-domain astronaut photograph shipped in scikit-image, 512 x 512 x 3 uint8 BGR."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def face_frame(size: tuple[int, int] = FRAME_SIZE) -> tuple[np.ndarray, tuple[float, float], tuple]:
    """The still frame: the photograph scaled by 1.6, face centred horizontally in a ``size`` frame.

    Returns (H x W x 3 uint8 BGR, (x, y) offset of the photograph in px, face box (x, y, w, h) px).
    """
    fx, fy, fw, fh = _LANDMARKS["face_box"]
    cx, cy = (fx + fw / 2) * _SCALE, (fy + fh / 2) * _SCALE
    offset = (size[0] / 2 - cx, min(0.0, size[1] * 0.40 - cy))  # photo top at or above the frame top
    m = np.array([[_SCALE, 0, offset[0]], [0, _SCALE, offset[1]]], dtype=np.float32)
    img = cv2.warpAffine(astronaut_bgr(), m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    box = (fx * _SCALE + offset[0], fy * _SCALE + offset[1], fw * _SCALE, fh * _SCALE)
    return img, offset, box


def face_crop_gray(size: int = 112, margin: float = 0.25) -> np.ndarray:
    """The astronaut's face as a square size x size uint8 grey crop (box enlarged by ``margin``)."""
    img, _, box = face_frame()
    return crop_gray(img, box, size, margin)


def make_demo_clip(seed: int = 0, fps: float = 100.0, duration_s: float = 4.0, *,
                   kinds: Sequence[str] = KINDS, amplitude_px: tuple[float, float] = (1.2, 2.5),
                   drift_px: float = 1.5, noise_sigma: float = 1.5,
                   size: tuple[int, int] = FRAME_SIZE) -> DemoClip:
    """A ``duration_s`` clip at ``fps`` with one event per kind, spread evenly, plus drift and noise.

    Each event: onset at its slot (jittered by the seed), onset->apex 0.10..0.18 s, apex->offset
    0.14..0.24 s (whole event < 0.45 s), apex amplitude drawn from ``amplitude_px`` (px, the peak
    displacement of the bump centre). ``drift_px``: amplitude of the slow global head sway (px).
    ``noise_sigma``: Gaussian sensor noise (grey levels, fresh each frame).
    """
    if fps <= 0 or duration_s <= 0:
        raise ValueError(f"fps and duration must be positive, got {fps}, {duration_s}")
    rng = np.random.default_rng(seed)
    n = round(fps * duration_s)
    base, offset, box = face_frame(size)
    events: list[TruthEvent] = []
    slot = n / (len(kinds) + 0.5)
    for k, kind in enumerate(kinds):
        onset = round((k + 0.5) * slot + rng.uniform(-0.1, 0.1) * slot)
        rise = max(2, round(rng.uniform(0.10, 0.18) * fps))
        fall = max(2, round(rng.uniform(0.14, 0.24) * fps))
        if onset + rise + fall >= n:
            raise ValueError(f"clip too short for {len(kinds)} events: {duration_s} s at {fps} fps")
        events.append(TruthEvent(onset, onset + rise, onset + rise + fall, kind,
                                 round(float(rng.uniform(*amplitude_px)), 3)))
    motion = FaceMotion(
        events, {k: _bumps(k, offset) for k in kinds},
        drift_amp=(drift_px, 0.6 * drift_px),
        drift_period=(float(rng.uniform(2.5, 4.0) * fps), float(rng.uniform(3.0, 5.0) * fps)),
        drift_phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))))
    noise_bank = [rng.normal(0.0, noise_sigma, (size[1], size[0])).astype(np.float32)
                  for _ in range(16)] if noise_sigma > 0 else []
    order = rng.integers(0, len(noise_bank), size=n) if noise_bank else None
    base_f = base.astype(np.float32)
    ys, xs = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    bx, by, bw, bh = box
    roi = (max(0, int(bx - 0.4 * bw)), max(0, int(by - 0.3 * bh)),
           min(size[0], int(bx + 1.4 * bw)), min(size[1], int(by + 1.5 * bh)))

    def render(i: int) -> np.ndarray:
        dx, dy = motion.drift(i)
        map_x, map_y = xs - dx, ys - dy
        x0, y0, x1, y1 = roi
        if any(_profile(i, ev) > 0 for ev in events):
            ty, tx = ys[y0:y1, x0:x1] - dy, xs[y0:y1, x0:x1] - dx
            px, py = tx.copy(), ty.copy()
            for _ in range(4):  # invert p + local(p) = target by fixed-point iteration
                u, v = motion.local(px, py, i)
                px, py = tx - u, ty - v
            map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1] = px, py
        img = cv2.remap(base_f, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        if order is not None:  # a noise bank was drawn
            img += noise_bank[int(order[i])][..., None]
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)

    meta = {"source": "skimage.data.astronaut (public domain, NASA)", "size": list(size),
            "drift_px": drift_px, "noise_sigma": noise_sigma, "seed": seed}
    return DemoClip(_LazyFrames(render, n), float(fps), events, box, motion, seed, meta)


def warp_by_flow(image: np.ndarray, flow: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Move each pixel p of ``image`` (H x W or H x W x C) to p + flow(p); flow H x W x 2 float px.

    The optical flow from ``image`` to the returned image is ``flow`` (up to interpolation): the
    backward map is found by fixed-point inversion x = y - flow(x), exact for smooth fields with
    gradients well below 1. Borders are reflected. Same dtype as ``image`` out.
    """
    h, w = image.shape[:2]
    if flow.shape != (h, w, 2):
        raise ValueError(f"flow must be {h} x {w} x 2, got {flow.shape}")
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    fu, fv = flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32)
    px, py = xs - fu, ys - fv
    for _ in range(iterations):
        u = cv2.remap(fu, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        v = cv2.remap(fv, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        px, py = xs - u, ys - v
    src = image.astype(np.float32)
    out = cv2.remap(src, px, py, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    if image.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(image.dtype)


def smooth_field(shape: tuple[int, int], amplitude_px: float, seed: int = 0,
                 scale: float = 0.25) -> np.ndarray:
    """A random smooth displacement field H x W x 2 float32 whose largest |vector| is ``amplitude_px``.

    Made of a few random Gaussian bumps of width ``scale`` x the image size, so its gradient stays
    small (a plausible facial movement, not a tear).
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.zeros((h, w, 2), np.float32)
    for _ in range(4):
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        s = scale * min(h, w) * rng.uniform(0.7, 1.3)
        g = np.exp(-0.5 * (((xs - cx) / s) ** 2 + ((ys - cy) / s) ** 2))
        ang = rng.uniform(0, 2 * np.pi)
        flow[..., 0] += np.cos(ang) * g
        flow[..., 1] += np.sin(ang) * g
    peak = float(np.sqrt((flow ** 2).sum(-1)).max())
    return flow * (amplitude_px / max(peak, 1e-9))


def crop_matrix(box: tuple[float, float, float, float], size: int, margin: float = 0.2) -> np.ndarray:
    """2 x 3 float32 affine map frame px -> crop px of a ``size`` square around ``box`` x (1 + margin).

    The geometry of FaceCropper's crop (centre of the box, side = box side x (1 + margin)).
    """
    x, y, w, h = box
    side = max(w, h) * (1.0 + margin)
    s = size / side
    cx, cy = x + w / 2, y + h / 2
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], dtype=np.float32)


def field_in_crop(field: np.ndarray, box: tuple[float, float, float, float], size: int,
                  margin: float = 0.2) -> np.ndarray:
    """A frame-px displacement field (H x W x 2) seen in the crop: resampled and scaled to crop px."""
    m = crop_matrix(box, size, margin)
    out = cv2.warpAffine(field.astype(np.float32), m, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return out * float(m[0, 0])


def crop_gray(frame_bgr: np.ndarray, box: tuple[float, float, float, float], size: int,
              margin: float = 0.2) -> np.ndarray:
    """The grey ``size`` x ``size`` crop of ``frame_bgr`` with :func:`crop_matrix`'s geometry."""
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if frame_bgr.ndim == 3 else frame_bgr
    m = crop_matrix(box, size, margin)
    return cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
