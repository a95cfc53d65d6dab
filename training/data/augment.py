"""Batched augmentations on model inputs (..., 3, 28, 28) float in [0, 1], channels (u, v, strain).

All take an explicit ``torch.Generator`` so a seed repeats a run exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mirror(x: torch.Tensor) -> torch.Tensor:
    """Left-right mirror of flow inputs: columns reversed, u -> 1 - u (v and strain only flip)."""
    x = x.flip(-1)
    return torch.cat([1.0 - x[..., :1, :, :], x[..., 1:, :, :]], dim=-3)


def random_mirror(x: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each sample with probability ``p``. x: (..., 3, H, W)."""
    mask = torch.rand(x.shape[:-3], generator=gen) < p
    return torch.where(mask[..., None, None, None], mirror(x), x)


def random_shift(x: torch.Tensor, gen: torch.Generator, max_px: float, max_scale: float = 0.0) -> torch.Tensor:
    """Translate each sample by up to ``max_px`` pixels in x and y and, with ``max_scale`` > 0, zoom it by a
    factor in [1 - max_scale, 1 + max_scale] (another face crop's place and size; bilinear, border padding).
    Per-image min-max normalised flow images stay valid under a zoom: the flow scales, its normalisation
    cancels it. With ``max_scale`` 0 the random stream is exactly that of a shift alone."""
    if max_px <= 0 and max_scale <= 0:
        return x
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, c, h, w)
    n = flat.shape[0]
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * max_px
    zoom = 1.0 + (torch.rand(n, generator=gen) * 2 - 1) * max_scale if max_scale > 0 else torch.ones(n)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1.0 / zoom
    theta[:, 1, 1] = 1.0 / zoom
    theta[:, 0, 2] = shift[:, 0] * 2 / w
    theta[:, 1, 2] = shift[:, 1] * 2 / h
    grid = F.affine_grid(theta, list(flat.shape), align_corners=False)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.reshape(*lead, c, h, w)


def mixup(
    x: torch.Tensor, target: torch.Tensor, gen: torch.Generator, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup within each group: x (G, B, ...), target (G, B, C). One Beta(alpha, alpha) weight per
    group, partners drawn from the same group (a fold never mixes in another fold's samples)."""
    if alpha <= 0:
        return x, target
    g, b = target.shape[:2]
    beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
    lam = beta.sample((g,)).clamp_min(0.0)  # uses the global RNG; seeded by the trainer
    lam = torch.maximum(lam, 1 - lam)
    perm = torch.argsort(torch.rand(g, b, generator=gen), dim=1)
    xp = torch.gather(x, 1, perm.view(g, b, *([1] * (x.dim() - 2))).expand_as(x))
    tp = torch.gather(target, 1, perm[..., None].expand_as(target))
    lx = lam.view(g, 1, *([1] * (x.dim() - 2)))
    return lx * x + (1 - lx) * xp, lam.view(g, 1, 1) * target + (1 - lam.view(g, 1, 1)) * tp


def random_flow_noise(x: torch.Tensor, gen: torch.Generator, amplitude: float) -> torch.Tensor:
    """Add smooth noise (a 7 x 7 random field upsampled) to u and v of each sample, with a standard deviation
    drawn uniformly up to ``amplitude`` of the channel's 0..1 range, then min-max normalise u and v again.

    Models how two optical-flow implementations differ on the same motion (benchmarks/results/flow_accuracy.md).
    """
    if amplitude <= 0:
        return x
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, c, h, w)
    n = flat.shape[0]
    noise = F.interpolate(torch.randn(n, 2, 7, 7, generator=gen), size=(h, w), mode="bilinear", align_corners=False)
    noise = noise / noise.flatten(1).std(dim=1).view(n, 1, 1, 1).clamp_min(1e-6)
    uv = flat[:, :2] + amplitude * torch.rand(n, 1, 1, 1, generator=gen) * noise
    lo, hi = uv.amin(dim=(-2, -1), keepdim=True), uv.amax(dim=(-2, -1), keepdim=True)
    uv = (uv - lo) / (hi - lo).clamp_min(1e-6)
    return torch.cat([uv, flat[:, 2:]], dim=1).reshape(*lead, c, h, w)


def random_gain(x: torch.Tensor, gen: torch.Generator, max_log_gain: float) -> torch.Tensor:
    """Scale u and v of each sample about their image means by independent gains exp(U(-a, a)), a =
    ``max_log_gain``, clipped to 0..1: the per-image min-max normalisation of the flow images gives the same
    motion another contrast in each image, and the u / v balance with it. Keeps the mirror identity u -> 1 - u."""
    if max_log_gain <= 0:
        return x
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, c, h, w)
    gain = torch.exp((2 * torch.rand(flat.shape[0], 2, 1, 1, generator=gen) - 1) * max_log_gain)
    uv = flat[:, :2]
    mean = uv.mean(dim=(-2, -1), keepdim=True)
    uv = (mean + gain * (uv - mean)).clamp(0.0, 1.0)
    return torch.cat([uv, flat[:, 2:]], dim=1).reshape(*lead, c, h, w)


def random_strain_swap(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """With probability ``p`` per sample, give it the strain channel of another sample of the same batch (the
    last batch axis: a grouped batch (G, B, 3, H, W) swaps within each group, so no group sees another's
    samples): the label cannot lean on strain, which two flow implementations disagree on, beyond what u and v
    agree with. Keeps the mirror identity (strain only flips)."""
    if p <= 0:
        return x
    b = x.shape[-4]
    lead = x.shape[:-4]
    donors = torch.argsort(torch.rand(*lead, b, generator=gen), dim=-1)
    swap = torch.rand(*lead, b, generator=gen) < p
    strain = torch.gather(x[..., 2, :, :], -3, donors[..., None, None].expand(*lead, b, *x.shape[-2:]))
    strain = torch.where(swap[..., None, None], strain, x[..., 2, :, :])
    return torch.cat([x[..., :2, :, :], strain.unsqueeze(-3)], dim=-3)


def random_region_swap(x: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """With probability ``p`` per sample, give it the lower half of the face (rows 14..27, SOFP's lower regions)
    of another sample of the same batch and class (x: (G, B, 3, H, W), labels: (G, B) class indices; a group never
    sees another's samples). The donor half is moved to the recipient's channel means, so both halves share one
    zero of motion: a new combination of upper- and lower-face motion of one class. Keeps the mirror identity."""
    if p <= 0:
        return x
    g, b, _, h, _ = x.shape
    same = labels[:, :, None] == labels[:, None, :]  # (G, B, B); a sample is its own donor of last resort
    donors = torch.where(same, torch.rand(g, b, b, generator=gen) + (~torch.eye(b, dtype=torch.bool)), 0.0).argmax(-1)
    swap = torch.rand(g, b, generator=gen) < p
    donor_x = torch.gather(x, 1, donors.view(g, b, 1, 1, 1).expand_as(x))
    mean, donor_mean = x.mean(dim=(-2, -1), keepdim=True), donor_x.mean(dim=(-2, -1), keepdim=True)
    lower = (donor_x - donor_mean + mean).clamp(0.0, 1.0)
    rows = (torch.arange(h) >= h // 2).view(1, 1, 1, h, 1)
    return torch.where(swap.view(g, b, 1, 1, 1) & rows, lower, x)


def random_erase(x: torch.Tensor, gen: torch.Generator, max_px: int, p: float = 0.5) -> torch.Tensor:
    """Cut-out: with probability ``p`` set a square of side 1..``max_px`` at a random place of each sample to
    that sample's channel means (no motion after centring), so no single region decides the label."""
    if max_px <= 0:
        return x
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, c, h, w)
    n = flat.shape[0]
    side = torch.randint(1, max_px + 1, (n,), generator=gen)
    top = (torch.rand(n, generator=gen) * (h - side + 1)).floor().long()
    left = (torch.rand(n, generator=gen) * (w - side + 1)).floor().long()
    on = torch.rand(n, generator=gen) < p
    rows, cols = torch.arange(h), torch.arange(w)
    inside_r = (rows[None] >= top[:, None]) & (rows[None] < (top + side)[:, None])
    inside_c = (cols[None] >= left[:, None]) & (cols[None] < (left + side)[:, None])
    mask = (inside_r[:, :, None] & inside_c[:, None, :] & on[:, None, None])[:, None]
    out = torch.where(mask, flat.mean(dim=(-2, -1), keepdim=True), flat)
    return out.reshape(*lead, c, h, w)
