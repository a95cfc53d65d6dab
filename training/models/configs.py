"""The models' config dataclasses and their registry, without torch: ``--set`` is parsed and checked
against them (and a bad model name or combination refused) before torch loads.

``model_config("sofp" | "ststnet" | "ensemble", **overrides)`` -> the frozen config; the network classes
that take these configs are in the sibling modules (``build_model`` in the package).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sofp.runtime.errors import UsageError

ENCODERS = ("conv", "maxpool")  # SOFP's region/global encoder kinds


def check_strain_from_flow(on: bool, use_strain: bool, center: bool, other: bool = False) -> None:
    """``strain_from_flow`` takes the ignored strain channel's place (``other``: another feature there) and reads
    the centred u, v."""
    if on and (use_strain or not center or other):
        raise ValueError("strain_from_flow needs center=True, use_strain=False and no other feature in the strain "
                         "channel's place")


@dataclass(frozen=True)
class SofpConfig:
    """Widths, depths and ablation switches of the SOFP network."""

    num_classes: int = 3
    dim: int = 32  # token width D
    stem: int = 8  # first convolution's channels
    heads: int = 2
    sa_layers: int = 1  # structure-guided self-attention blocks
    mlp_ratio: int = 2
    head_hidden: int = 64
    dropout: float = 0.0  # regularised by mixup, shifts, weight decay and EMA instead
    tie_mirror: bool = True
    use_global: bool = True
    use_self_attention: bool = True
    use_cross_attention: bool = True
    conv_norm: bool = True  # batch norm after each encoder conv (statistics of one fold's own batch)
    encoder: str = "conv"  # "conv": strided conv + average pool; "maxpool": one conv + max pool (STSTNet-like)
    center: bool = True  # subtract each channel's image mean (re-centred on 0.5) before the encoders
    center_stat: str = "mean"  # with center: "mean", or "median" (most of a face does not move: its flow's zero)
    scale: bool = False  # with center: divide each channel by its image standard deviation (x 0.25)
    use_strain: bool = False  # False: the strain channel is zeroed at the input (flows disagree on it)
    blur: float = 0.0  # with center: Gaussian sigma (pixels of the 28 x 28 image) smoothing each channel
    magnitude: bool = False  # with center and use_strain=False: the third channel carries |(u, v)| instead
    strain_from_flow: bool = False  # with center and use_strain=False: strain recomputed from the centred u, v

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; known: {', '.join(ENCODERS)}")
        if not 0.0 <= self.blur <= 3.0:
            raise ValueError(f"blur must be a Gaussian sigma in 0..3 pixels, got {self.blur}")
        if self.blur and not self.center:
            raise ValueError("blur needs center=True (the blur acts on the centred channels)")
        if self.center_stat not in ("mean", "median"):
            raise ValueError(f"center_stat must be mean or median, got {self.center_stat!r}")
        if self.magnitude and (self.use_strain or not self.center):
            raise ValueError("magnitude needs center=True and use_strain=False (it takes the strain channel's place)")
        check_strain_from_flow(self.strain_from_flow, self.use_strain, self.center, self.magnitude)
        if self.heads < 1 or self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StstnetConfig:
    num_classes: int = 3
    branches: tuple[int, ...] = (3, 5, 8)
    dropout: float = 0.5
    use_strain: bool = True  # False: the strain channel is zeroed at the input (flows disagree on it)
    center: bool = False  # subtract each channel's image mean (re-centred on 0.5) before the branches
    blur: float = 0.0  # with center: Gaussian sigma (pixels) smoothing each centred channel
    pool: str = "max"  # each branch's 3 x 3 pooling: "max" (the release) or "avg" (sums motion, as histograms do)
    strain_from_flow: bool = False  # with center and use_strain=False: strain recomputed from the centred u, v
    orientation_bins: int = 0  # with center: this many flow-orientation channels beside u, v, strain (even)
    scale: bool = False  # with center: divide each channel by its image standard deviation (x 0.25), as SOFP's
    asymmetry: bool = False  # with center and use_strain=False: |flow - its mirror| in the strain channel's place

    def __post_init__(self) -> None:
        check_strain_from_flow(self.strain_from_flow, self.use_strain, self.center, self.asymmetry)
        if self.asymmetry and (self.use_strain or not self.center):
            raise ValueError("asymmetry needs center=True and use_strain=False (it takes the strain channel's place)")
        if self.scale and not self.center:
            raise ValueError("scale needs center=True (it acts on the centred channels)")
        if self.orientation_bins and (self.orientation_bins % 2 or not self.center):
            raise ValueError(f"orientation_bins needs center=True and an even count, got {self.orientation_bins}")
        if self.blur and not self.center:
            raise ValueError("blur needs center=True (the blur acts on the centred channels)")
        if self.pool not in ("max", "avg"):
            raise ValueError(f"pool must be max or avg, got {self.pool!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EnsembleConfig:
    """``members`` copies of model ``member`` built with ``member_config``, and optionally one ``partner``
    model of another architecture whose probability weighs ``partner_weight`` against the members' mean."""

    num_classes: int = 3
    member: str = "sofp"
    members: int = 3
    member_config: dict[str, Any] = field(default_factory=dict)
    partner: str = ""
    partner_config: dict[str, Any] = field(default_factory=dict)
    partner_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.members < 1:
            raise ValueError(f"an ensemble needs at least one member, got {self.members}")
        if "ensemble" in (self.member, self.partner):
            raise ValueError("an ensemble's members cannot be ensembles")
        if not 0.0 <= self.partner_weight < 1.0 or (self.partner_weight > 0 and not self.partner):
            raise ValueError(f"partner_weight must be in [0, 1) with a partner and 0 without one, got "
                             f"{self.partner_weight} with partner {self.partner!r}")

    def to_dict(self) -> dict:
        return asdict(self)


CONFIGS: dict[str, type[SofpConfig] | type[StstnetConfig] | type[EnsembleConfig]] = {
    "sofp": SofpConfig,
    "ststnet": StstnetConfig,
    "ensemble": EnsembleConfig,
}


def model_config(name: str, **config: Any) -> SofpConfig | StstnetConfig | EnsembleConfig:
    """The frozen config dataclass for ``name``; unknown names or fields raise one line (UsageError), an
    impossible combination (``dim`` not divisible by ``heads``, ...) a ValueError from the config."""
    if name not in CONFIGS:
        raise UsageError(f"unknown model {name!r}; known: {', '.join(sorted(CONFIGS))}")
    cfg_cls = CONFIGS[name]
    fields = set(cfg_cls.__dataclass_fields__)
    unknown = sorted(set(config) - fields)
    if unknown:
        raise UsageError(f"model {name!r} has no setting {', '.join(unknown)}; settings: {', '.join(sorted(fields))}")
    if "branches" in config:
        config["branches"] = tuple(config["branches"])
    return cfg_cls(**config)
