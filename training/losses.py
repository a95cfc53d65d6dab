"""Losses: class-weighted focal loss (accepts soft targets, for mixup)."""

from __future__ import annotations

import numpy as np
import torch


def class_weights(labels: np.ndarray, n_classes: int, power: float = 1.0) -> np.ndarray:
    """Per-class weights proportional to (1 / frequency) ** power (1: inverse frequency, 0: all equal),
    normalised to mean 1: (C,) float32. A class absent from ``labels`` weighs 0."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, 1.0 / np.maximum(counts, 1) ** power, 0.0)
    return (w * n_classes / w.sum()).astype(np.float32)


def smoothed_onehot(labels: np.ndarray, n_classes: int, smoothing: float) -> torch.Tensor:
    """(N, C) targets: one-hot labels mixed with ``smoothing`` x the uniform distribution (label smoothing)."""
    onehot = torch.eye(n_classes)[torch.from_numpy(labels)]
    return (1.0 - smoothing) * onehot + smoothing / n_classes


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, gamma: float,
               sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean focal loss. logits (B, C); target (B, C) probabilities (one-hot or mixed); weight (C,);
    sample_weight (B,) or None.

    Per sample: -s_i sum_c w_c t_c (1 - p_c)^gamma log p_c.
    """
    logp = torch.log_softmax(logits, dim=-1)
    focal = (1.0 - logp.exp()).pow(gamma)
    per_sample = -(weight * target * focal * logp).sum(dim=-1)
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
    return per_sample.mean()


def soft_f1_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - the batch's macro F1 computed on probabilities instead of labels (differentiable): logits (B, C),
    target (B, C) probabilities. Pulls each class's precision and recall together, as UF1 scores them."""
    p = logits.softmax(dim=-1)
    tp = (p * target).sum(dim=0)
    f1 = 2 * tp / (p.sum(dim=0) + target.sum(dim=0)).clamp_min(1e-6)
    return 1.0 - f1.mean()


def subject_weights(subjects: np.ndarray, power: float) -> np.ndarray:
    """Per-sample weights proportional to (the sample's subject's count) ** -power, normalised to mean 1 (0: all
    1). (N,) float32."""
    _, inverse, counts = np.unique(subjects, return_inverse=True, return_counts=True)
    w = counts[inverse].astype(np.float64) ** -power
    return (w / w.mean()).astype(np.float32)


def cell_weights(labels: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Per-sample weights proportional to 1 / the size of the sample's (cell, label) group, normalised to
    mean 1: every (dataset, class) cell weighs the same in the loss. (N,) float32."""
    keys = np.char.add(np.char.add(cells.astype(str), "|"), labels.astype(str))
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return (w / w.mean()).astype(np.float32)
