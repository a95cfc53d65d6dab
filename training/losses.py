"""Losses: class-weighted focal loss (accepts soft targets, for mixup)."""

from __future__ import annotations

import numpy as np
import torch


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class weights proportional to inverse frequency, normalised to mean 1: (C,) float32."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    return (w * n_classes / w.sum()).astype(np.float32)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, gamma: float) -> torch.Tensor:
    """Mean focal loss. logits (B, C); target (B, C) probabilities (one-hot or mixed); weight (C,).

    Per sample: -sum_c w_c t_c (1 - p_c)^gamma log p_c.
    """
    logp = torch.log_softmax(logits, dim=-1)
    focal = (1.0 - logp.exp()).pow(gamma)
    return -(weight * target * focal * logp).sum(dim=-1).mean()
