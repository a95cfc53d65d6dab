"""An ensemble of independently trained members of one architecture, and optionally one partner model of
another architecture, shipped as one model (one graph).

``forward(x) -> log((1 - w) mean_k softmax(member_k(x)) + w softmax(partner(x)))`` (w = 0 without a
partner): logits whose softmax is exactly the probability the LOSO evaluation of the ensemble scores.
ONNX: Softmax, Concat, ReduceMean, Mul, Add and Log, all in TensorRT's ONNX parser's operator list.
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
        self.partner = (build_model(cfg.partner, num_classes=cfg.num_classes, **cfg.partner_config)
                        if cfg.partner else None)

    @classmethod
    def of(cls, members: list[nn.Module], member: str, partner: tuple[str, nn.Module, float] | None = None
           ) -> Ensemble:
        """An ensemble holding copies of trained ``members`` (each built by ``build_model(member, ...)``) and of
        the trained ``partner`` (architecture name, model, weight), if any."""
        from sofp.training.models import config_of

        def settings(model: nn.Module) -> dict:
            return {k: v for k, v in config_of(model).to_dict().items() if k != "num_classes"}

        name, other, weight = partner if partner is not None else ("", None, 0.0)
        ens = cls(EnsembleConfig(config_of(members[0]).num_classes, member, len(members), settings(members[0]),
                                 name, settings(other) if other is not None else {}, weight))
        for mine, theirs in zip(ens.members, members, strict=True):
            mine.load_state_dict(theirs.state_dict())
        if ens.partner is not None and other is not None:
            ens.partner.load_state_dict(other.state_dict())
        return ens.eval()

    def forward(self, x: torch.Tensor, with_sym: bool = False):
        outs = [m(x, with_sym=True) for m in self.members] if with_sym else [m(x) for m in self.members]
        logits = [o[0] for o in outs] if with_sym else outs
        probs = torch.stack([z.softmax(dim=-1) for z in logits]).mean(dim=0)
        if self.partner is not None:
            w = self.cfg.partner_weight
            probs = (1.0 - w) * probs + w * self.partner(x).softmax(dim=-1)
        out = probs.clamp_min(1e-12).log()
        if with_sym:
            return out, torch.stack([o[1] for o in outs]).mean()
        return out
