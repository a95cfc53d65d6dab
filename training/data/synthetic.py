"""A built-in synthetic flow set: class-dependent facial motions through the runtime's feature code.

Not a substitute for real data: it lets the training CLI, the tests and a fresh install run with no
download. Classes follow the composite's: 0 negative (brows lowered and drawn together),
1 positive (lip corners pulled up and out), 2 surprise (brows raised).
"""

from __future__ import annotations

import numpy as np

from sofp.runtime.features import flow_to_features
from sofp.training.data.flowset import COMPOSITE_LABELS, FlowSet

SIZE = 56  # px of the synthetic face crop


def _bump(cx: float, cy: float, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))


def synthetic_flow(label: int, rng: np.random.Generator, noise: float = 0.15) -> np.ndarray:
    """One SIZE x SIZE x 2 flow field (px) of class ``label`` with random amplitude, placement and noise."""
    amp = rng.uniform(0.6, 1.6)
    jx, jy = rng.normal(0, 1.5, 2)
    s = rng.uniform(4.5, 6.5)
    flow = np.zeros((SIZE, SIZE, 2), np.float32)
    for side in (-1, 1):  # left and right half of the face, mirror-symmetric motion
        asym = rng.uniform(0.7, 1.0)
        if label == 0:  # brow lowering: down and towards the midline
            b = _bump(SIZE / 2 + side * 9 + jx, 15 + jy, s) * amp * asym
            flow[..., 0] += -side * 0.6 * b
            flow[..., 1] += 0.8 * b
        elif label == 1:  # lip-corner pull: out and up
            b = _bump(SIZE / 2 + side * 12 + jx, 41 + jy, s) * amp * asym
            flow[..., 0] += side * 0.8 * b
            flow[..., 1] += -0.5 * b
        elif label == 2:  # brow raise: up
            b = _bump(SIZE / 2 + side * 10 + jx, 13 + jy, s * 1.3) * amp * asym
            flow[..., 1] += -1.0 * b
        else:
            raise ValueError(f"synthetic classes are 0..2, got {label}")
    flow += rng.normal(0, noise, flow.shape).astype(np.float32)
    return flow


def make_synthetic_set(n_subjects: int = 12, per_subject: int = 9, seed: int = 0, noise: float = 0.15) -> FlowSet:
    """``n_subjects`` x ``per_subject`` samples (classes balanced round-robin) as a :class:`FlowSet`."""
    rng = np.random.default_rng(seed)
    images, labels, subjects = [], [], []
    for s in range(n_subjects):
        for i in range(per_subject):
            label = (s + i) % 3
            images.append(flow_to_features(synthetic_flow(label, rng, noise)))
            labels.append(label)
            subjects.append(f"synth/s{s:02d}")
    n = len(labels)
    return FlowSet(np.stack(images), np.asarray(labels, np.int64), np.asarray(subjects),
                   np.asarray(["synth"] * n), tuple(f"synth_{i:04d}.png" for i in range(n)), COMPOSITE_LABELS)
