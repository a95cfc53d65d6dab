"""An ensemble of independently trained members of one architecture, shipped as one model (one graph).

``forward(x) -> log(mean_k softmax(member_k(x)))``: logits whose softmax is the members' mean class
probability, exactly what the LOSO evaluation of the ensemble averages. ONNX: Softmax, Concat,
ReduceMean and Log, all in TensorRT's ONNX parser's operator list.
"""

from __future__ import annotations

import torch
from torch import nn

from sofp.training.models.configs import EnsembleConfig


class Ensemble(nn.Module):
    """Members' mean probability as logits; ``forward(x, with_sym=True)`` adds the members' mean L_sym."""

    def __init__(self, cfg: EnsembleConfig) -> None:
        super().__init__()
        from sofp.training.models import build_model

        self.cfg = cfg
        self.members = nn.ModuleList(
            build_model(cfg.member, num_classes=cfg.num_classes, **cfg.member_config) for _ in range(cfg.members)
        )

    @classmethod
    def of(cls, members: list[nn.Module], member: str) -> Ensemble:
        """An ensemble holding copies of trained ``members`` (each built by ``build_model(member, ...)``)."""
        from sofp.training.models import config_of

        first = config_of(members[0])
        config = {k: v for k, v in first.to_dict().items() if k != "num_classes"}
        ens = cls(EnsembleConfig(first.num_classes, member, len(members), config))
        for mine, theirs in zip(ens.members, members, strict=True):
            mine.load_state_dict(theirs.state_dict())
        return ens.eval()

    def forward(self, x: torch.Tensor, with_sym: bool = False):
        outs = [m(x, with_sym=True) for m in self.members] if with_sym else [m(x) for m in self.members]
        logits = [o[0] for o in outs] if with_sym else outs
        probs = torch.stack([z.softmax(dim=-1) for z in logits]).mean(dim=0)
        out = probs.clamp_min(1e-12).log()
        if with_sym:
            return out, torch.stack([o[1] for o in outs]).mean()
        return out
