"""Model registry: ``build_model("sofp" | "ststnet" | "ensemble", **config)``.

Importing the package loads no torch: the configs (``configs.py``) are checked first, the network
classes load when a model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sofp.training.models.configs import CONFIGS, EnsembleConfig, SofpConfig, StstnetConfig, model_config

if TYPE_CHECKING:
    from torch import nn

__all__ = ["CONFIGS", "build_model", "config_of", "model_class", "model_config"]


def model_class(name: str) -> type[nn.Module]:
    """The network class of a registered model name (imports torch)."""
    from sofp.training.models.ensemble import Ensemble
    from sofp.training.models.sofp import SOFP
    from sofp.training.models.ststnet import STSTNet

    return {"sofp": SOFP, "ststnet": STSTNet, "ensemble": Ensemble}[name]


def config_of(model: nn.Module) -> SofpConfig | StstnetConfig | EnsembleConfig:
    """The config ``model`` was built with (``model.cfg``); a module not built by :func:`build_model` is refused."""
    cfg = getattr(model, "cfg", None)
    if not isinstance(cfg, (SofpConfig, StstnetConfig, EnsembleConfig)):
        raise TypeError(f"{type(model).__name__} has no model config (not built by build_model)")
    return cfg


def build_model(name: str, **config: Any) -> nn.Module:
    """Build ``name`` with its config overrides. Input (N, 3, 28, 28) in [0, 1] -> logits (N, C)."""
    cfg = model_config(name, **config)
    return model_class(name)(cfg)
