"""The training schedule's config, without torch: ``--set`` is parsed and checked against it before torch
loads (``sofp.training.settings``); the trainer (``trainer.py``) runs it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

PARTNERS = ("", "sofp", "ststnet")  # TrainConfig.partner: none, or a second architecture


@dataclass(frozen=True)
class TrainConfig:
    """The fixed training schedule. Defaults: see README "How the defaults were chosen"."""

    model: str = "sofp"
    model_config: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 3
    focal_gamma: float = 2.0
    label_smoothing: float = 0.0  # each one-hot target mixed with this share of the uniform distribution
    class_weight_power: float = 1.0  # class weights in the loss: (1 / class frequency) ** this (0: unweighted)
    consistency_weight: float = 0.0  # > 0: this x the squared gap between p(x) and p(x mirrored and shifted)
    f1_weight: float = 0.0  # > 0: this x (1 - the batch's soft macro F1) added to the loss
    sym_weight: float = 0.1  # L_sym weight (SOFP only)
    mirror_aug: bool = True  # left-right mirrored training samples (off: less robust to the flow, README)
    shift_px: float = 1.5
    scale_jitter: float = 0.0  # random zoom of the input by up to this fraction (another crop's size)
    flow_noise: float = 0.0  # smooth noise on u and v, up to this fraction of their range (flow-to-flow differences)
    gain_jitter: float = 0.0  # u and v scaled about their means by exp(U(-a, a)) each (another image's contrast)
    strain_swap: float = 0.0  # with this probability a sample gets another batch sample's strain channel
    erase_px: int = 0  # cut-out: with probability 0.5 a square of up to this side set to the channel's mean
    region_swap: float = 0.0  # with this probability a sample gets the lower face of another sample of its class
    # > 0: a dataset classifier on the model's pooled features, its gradient reversed into the model with this
    # weight (domain-adversarial training: features that do not tell the datasets apart)
    domain_weight: float = 0.0
    balanced_batches: bool = False  # draw training samples with replacement, every class equally often
    balance_datasets: bool = False  # weight each sample by 1 / its (dataset, class) count, not its class count
    # > 0: each sample's loss also weighted by (its subject's sample count) ** -this, so that subjects with many
    # samples do not dominate training (0: every sample alike)
    subject_weight_power: float = 0.0
    mixup_alpha: float = 0.2
    ema_decay: float = 0.98
    sam_rho: float = 0.0  # > 0: sharpness-aware minimisation, each step's gradient taken at w + rho g / |g|
    # > 0: each target mixed with this share of a teacher's probability (the shipped partner's model, trained first
    # on the same subjects: distillation)
    distill_weight: float = 0.0
    # > 0: at epoch ``drop_epoch`` each group drops, per class, this share of its pool that its EMA model finds
    # hardest (largest cross-entropy) and trains on the rest (small-loss selection against label noise)
    drop_hard: float = 0.0
    drop_epoch: int = 10
    tta_mirror: bool = True
    members: int = 3  # > 1: an ensemble of independently trained models (seeds seed + 1000 m), one shipped graph
    partner: str = "ststnet"  # a second architecture trained beside the members (seed + 1000 members), same graph
    # the partner's model config: strain ignored, channels centred and smoothed (robust to the flow)
    partner_config: dict = field(default_factory=lambda: {"use_strain": False, "center": True, "blur": 0.7})
    partner_weight: float = 0.4  # with a partner: probability = (1 - w) x the members' mean + w x the partner's
    partner_subject_weight_power: float = 0.0  # the partner's own subject_weight_power (the members' is not used)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def ensemble(self) -> bool:
        """Whether this schedule trains more than one model (members > 1 or a partner)."""
        return self.members > 1 or bool(self.partner)

    def solo(self) -> TrainConfig:
        """One member's schedule: ``model`` alone, no other member, no partner."""
        return replace(self, members=1, partner="", partner_config={})

    def partner_schedule(self) -> TrainConfig:
        """The partner's schedule: the same training settings for the partner architecture alone, but its own
        subject weighting (``partner_subject_weight_power``)."""
        return replace(self, model=self.partner, model_config=dict(self.partner_config), members=1, partner="",
                       partner_config={}, subject_weight_power=self.partner_subject_weight_power,
                       partner_subject_weight_power=0.0)
