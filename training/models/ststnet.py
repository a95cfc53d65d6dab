"""STSTNet (Liong et al., 2019): three shallow conv branches of 3, 5 and 8 channels over u/v/strain.

Input (N, 3, 28, 28) float32 in [0, 1] -> logits (N, classes). As in the public release: 3 x 3 convs
with padding, ReLU, batch normalisation, 3 x 3 max pooling with stride 3, dropout, concatenation,
2 x 2 average pooling, a linear classifier. Batch normalisation statistics are computed within one
fold's batch only (each fold is its own model under vmap), so no fold sees another's samples.

Three input switches that are not in the release, off by default (``StstnetConfig``), as in SOFP's input
conditioning: ``use_strain=False`` zeroes the strain channel, ``center`` re-centres each channel on its image
mean, and ``blur`` smooths the centred channels with a Gaussian. The shipped ensemble's partner uses all three.
Tried for the partner on the tuning split and not adopted (``tuning_composite.md``), all off by default:
``pool="avg"`` averages each pooling window instead of taking its maximum; ``strain_from_flow`` recomputes the
strain channel from the centred u, v (as in SOFP's conditioning); ``orientation_bins=K`` adds K channels beside
(u, v, strain): the centred flow's magnitude, softly binned by its direction (a per-pixel orientation histogram,
sharpened by a cube; the branches' pooling sums it into cells, as hand-crafted HOOF features do); ``scale`` gives
each centred channel a fixed spread (as SOFP's ``scale``); ``asymmetry`` puts |flow - its mirror image| in the
ignored strain channel's place (how one-sided the motion is, whichever side).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sofp.training.models.configs import StstnetConfig
from sofp.training.models.sofp import gaussian_kernel, optical_strain, scale_channels


class STSTNet(nn.Module):
    """The STSTNet baseline; ``forward(x, with_sym=..., with_features=...)`` matches SOFP's signature (L_sym = 0)."""

    channel_mask: torch.Tensor  # buffers, declared for the type checker
    kernel: torch.Tensor
    directions: torch.Tensor

    def __init__(self, cfg: StstnetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("channel_mask", torch.tensor([1.0, 1.0, float(cfg.use_strain)]).view(1, 3, 1, 1),
                             persistent=False)
        if cfg.blur:
            self.register_buffer("kernel", gaussian_kernel(cfg.blur), persistent=False)
        if cfg.orientation_bins:
            angles = 2 * torch.pi * torch.arange(cfg.orientation_bins) / cfg.orientation_bins
            self.register_buffer("directions", torch.stack([angles.cos(), angles.sin()], 1)[..., None, None],
                                 persistent=False)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3 + cfg.orientation_bins, c, 3, padding=2),
                nn.ReLU(),
                nn.BatchNorm2d(c),
                nn.MaxPool2d(3, stride=3, padding=1) if cfg.pool == "max"
                else nn.AvgPool2d(3, stride=3, padding=1, count_include_pad=False),
                nn.Dropout(cfg.dropout),
            )
            for c in cfg.branches
        )
        self.pool = nn.AvgPool2d(2, stride=2)
        self.fc = nn.Linear(sum(cfg.branches) * 5 * 5, cfg.num_classes)

    def condition(self, x: torch.Tensor) -> torch.Tensor:
        """The input as the branches see it: strain zeroed, channels centred and smoothed, where switched on."""
        if not self.cfg.use_strain:
            x = x * self.channel_mask
        if self.cfg.center:
            x = x - x.mean(dim=(-2, -1), keepdim=True)
            if self.cfg.blur:
                x = F.conv2d(x, self.kernel, padding=self.kernel.shape[-1] // 2, groups=3)
            if self.cfg.scale:
                x = scale_channels(x)
            if self.cfg.strain_from_flow:
                x = x + optical_strain(x[:, :1], x[:, 1:2]) * (1.0 - self.channel_mask)
            if self.cfg.asymmetry:  # how far the motion is from its own mirror image (u -> -u, columns flipped)
                d = torch.cat([x[:, :1] + x[:, :1].flip(-1), x[:, 1:2] - x[:, 1:2].flip(-1)], dim=1)
                x = x + (d.pow(2).sum(1, keepdim=True) + 1e-8).sqrt() * (1.0 - self.channel_mask)
            if self.cfg.orientation_bins:  # (N, 2, H, W) centred u, v projected on each bin's direction
                proj = F.conv2d(x[:, :2], self.directions)
                bins = F.relu(proj).pow(3) / (x[:, :2].pow(2).sum(1, keepdim=True) + 1e-4)
                return torch.cat([x + 0.5, bins], dim=1)
            x = x + 0.5
        return x

    def forward(self, x: torch.Tensor, with_sym: bool = False, with_features: bool = False):
        x = self.condition(x)
        h = self.pool(torch.cat([b(x) for b in self.branches], dim=1)).flatten(1)
        logits = self.fc(h)
        if with_features:
            return logits, logits.new_zeros(()), h
        if with_sym:
            return logits, logits.new_zeros(())
        return logits
