"""STSTNet (Liong et al., 2019): three shallow conv branches of 3, 5 and 8 channels over u/v/strain.

Input (N, 3, 28, 28) float32 in [0, 1] -> logits (N, classes). As in the public release: 3 x 3 convs
with padding, ReLU, batch normalisation, 3 x 3 max pooling with stride 3, dropout, concatenation,
2 x 2 average pooling, a linear classifier. Two input switches that are not in the release, off by default
(``StstnetConfig``): ``use_strain=False`` zeroes the strain channel and ``center`` re-centres each channel on
its image mean, as SOFP's input conditioning does. Batch normalisation statistics are computed within one
fold's batch only (each fold is its own model under vmap), so no fold sees another's samples.
"""

from __future__ import annotations

import torch
from torch import nn

from sofp.training.models.configs import StstnetConfig


class STSTNet(nn.Module):
    """The STSTNet baseline; ``forward(x, with_sym=...)`` matches SOFP's signature (L_sym = 0)."""

    channel_mask: torch.Tensor  # a buffer, declared for the type checker

    def __init__(self, cfg: StstnetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("channel_mask", torch.tensor([1.0, 1.0, float(cfg.use_strain)]).view(1, 3, 1, 1),
                             persistent=False)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3, c, 3, padding=2),
                nn.ReLU(),
                nn.BatchNorm2d(c),
                nn.MaxPool2d(3, stride=3, padding=1),
                nn.Dropout(cfg.dropout),
            )
            for c in cfg.branches
        )
        self.pool = nn.AvgPool2d(2, stride=2)
        self.fc = nn.Linear(sum(cfg.branches) * 5 * 5, cfg.num_classes)

    def forward(self, x: torch.Tensor, with_sym: bool = False):
        if not self.cfg.use_strain:
            x = x * self.channel_mask
        if self.cfg.center:
            x = x - x.mean(dim=(-2, -1), keepdim=True) + 0.5
        h = self.pool(torch.cat([b(x) for b in self.branches], dim=1))
        logits = self.fc(h.flatten(1))
        if with_sym:
            return logits, logits.new_zeros(())
        return logits
