"""Model registry: ``build_model("sofp" | "ststnet" | "ensemble", **config)``."""

from __future__ import annotations

from typing import Any

from torch import nn

from sofp.runtime.errors import UsageError
from sofp.training.models.ensemble import Ensemble, EnsembleConfig
from sofp.training.models.sofp import SOFP, SofpConfig
from sofp.training.models.ststnet import STSTNet, StstnetConfig

MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "sofp": (SOFP, SofpConfig),
    "ststnet": (STSTNet, StstnetConfig),
    "ensemble": (Ensemble, EnsembleConfig),
}


def model_config(name: str, **config: Any):
    """The frozen config dataclass for ``name``; unknown names or fields raise one line."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    cfg_cls = MODELS[name][1]
    fields = set(cfg_cls.__dataclass_fields__)
    unknown = sorted(set(config) - fields)
    if unknown:
        raise UsageError(f"model {name!r} has no setting {', '.join(unknown)}; settings: {', '.join(sorted(fields))}")
    if "branches" in config:
        config["branches"] = tuple(config["branches"])
    return cfg_cls(**config)


def build_model(name: str, **config: Any) -> nn.Module:
    """Build ``name`` with its config overrides. Input (N, 3, 28, 28) in [0, 1] -> logits (N, C)."""
    cfg = model_config(name, **config)
    return MODELS[name][0](cfg)
