"""Perturbations that model how two optical-flow implementations differ on the same motion.

Measured on real and synthetic pairs (benchmarks/results/flow_accuracy.md), two flows agree well on
u and v (correlation ~0.9) and poorly on optical strain (~0.1-0.5): strain is a derivative of
sub-pixel flow and mostly noise. A face crop found by another detector or tracker differs by a
fraction of a pixel in place and a few percent in scale. Each function takes model inputs
(N, 3, 28, 28) in [0, 1] and a seed, and returns inputs of the same form (per-image min-max kept).
The LOSO evaluation reports how often a held-out prediction keeps its label under each of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _minmax(x: torch.Tensor) -> torch.Tensor:
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-6)


def strain_swap(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Strain replaced by another sample's strain (two flows' strain maps are nearly uncorrelated)."""
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    source = torch.empty_like(order)
    source[order] = order.roll(-1)  # a random cycle: with two or more samples none keeps its own strain
    return torch.cat([x[:, :2], x[source, 2:]], dim=1)


def _affine(x: torch.Tensor, scale: float, shift: torch.Tensor) -> torch.Tensor:
    n, _, h, w = x.shape
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / scale
    theta[:, 0, 2] = shift[:, 0] * 2 / w
    theta[:, 1, 2] = shift[:, 1] * 2 / h
    grid = F.affine_grid(theta, [n, 3, h, w], align_corners=False)
    return _minmax(F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False))


def subpixel_shift(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The crop moved by 0.5 px in a random direction (another tracker's box)."""
    angle = torch.rand(x.shape[0], generator=torch.Generator().manual_seed(seed)) * 2 * torch.pi
    return _affine(x, 1.0, 0.5 * torch.stack([angle.cos(), angle.sin()], dim=1))


def crop_scale(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The crop 5 % tighter (another detector's margin); ``seed`` unused, kept for one signature."""
    del seed
    return _affine(x, 1.05, torch.zeros(x.shape[0], 2))


def flow_noise(x: torch.Tensor, seed: int) -> torch.Tensor:
    """u and v with smooth noise of 5 % of their range (sub-pixel differences between two flows),
    strain swapped as :func:`strain_swap` (it follows the flow's noise, not the motion)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape[0], 2, 7, 7, generator=gen)
    noise = F.interpolate(noise, size=x.shape[-2:], mode="bilinear", align_corners=False)
    noise = noise / noise.flatten(1).std(dim=1).view(-1, 1, 1, 1).clamp_min(1e-6)
    uv = _minmax(x[:, :2] + 0.05 * noise)
    return strain_swap(torch.cat([uv, x[:, 2:]], dim=1), seed)


PERTURBATIONS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "strain_swap": strain_swap,
    "subpixel_shift": subpixel_shift,
    "crop_scale": crop_scale,
    "flow_noise": flow_noise,
}
