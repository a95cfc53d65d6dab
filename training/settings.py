"""``--set KEY=VALUE``: typed parsing against the config dataclasses, with range checks.

Each value is parsed as its field's declared type (bool, int, float, str, ``tuple[int, ...]``,
``X | None``) and checked against the field's range where one exists; every failure is one
:class:`UsageError` line (exit 2), raised before any data is loaded. ``model.<field>`` addresses
the chosen model's config (``SofpConfig``, ``StstnetConfig``), ``partner.<field>`` the ensemble
partner's, anything else ``TrainConfig``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from sofp.runtime.errors import UsageError
from sofp.training.config import PARTNERS

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
NOT_SETTABLE = {"model", "model_config", "num_classes"}  # chosen by --model / the data's labels


@dataclass(frozen=True)
class Range:
    """Allowed numbers: ``low``/``high`` bounds (None: open-ended), each inclusive unless ``*_open``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        return self.high is None or (v < self.high if self.high_open else v <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


AT_LEAST_1, AT_LEAST_0, POSITIVE, FRACTION = Range(1), Range(0), Range(0, low_open=True), Range(0, 1, high_open=True)
RANGES: dict[str, Range] = {
    # TrainConfig
    "epochs": AT_LEAST_1, "batch_size": AT_LEAST_1, "lr": POSITIVE, "weight_decay": AT_LEAST_0,
    "warmup_epochs": AT_LEAST_0, "focal_gamma": AT_LEAST_0, "class_weight_power": AT_LEAST_0,
    "label_smoothing": FRACTION, "sym_weight": AT_LEAST_0, "f1_weight": AT_LEAST_0, "shift_px": AT_LEAST_0,
    "mixup_alpha": AT_LEAST_0, "ema_decay": FRACTION, "members": AT_LEAST_1, "flow_noise": AT_LEAST_0,
    "scale_jitter": FRACTION, "erase_px": Range(0, 28), "partner_weight": FRACTION, "drop_hard": FRACTION,
    "drop_epoch": AT_LEAST_0, "gain_jitter": Range(0, 1), "strain_swap": Range(0, 1), "sam_rho": AT_LEAST_0,
    "distill_weight": Range(0, 1), "region_swap": Range(0, 1), "domain_weight": AT_LEAST_0,
    "consistency_weight": AT_LEAST_0, "subject_weight_power": Range(0, 2), "partner_subject_weight_power": Range(0, 2),
    # model configs (a tuple's range applies to each element)
    "dim": AT_LEAST_1, "stem": AT_LEAST_1, "heads": AT_LEAST_1, "sa_layers": AT_LEAST_0, "mlp_ratio": AT_LEAST_1,
    "head_hidden": AT_LEAST_1, "dropout": FRACTION, "branches": AT_LEAST_1, "orientation_bins": AT_LEAST_0,
}
CHOICES: dict[str, tuple[str, ...]] = {"partner": PARTNERS}  # text fields with a fixed set of values


def _example(tp: Any) -> str:
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if typing.get_origin(tp) is tuple:
        item = typing.get_args(tp)[0]
        return "comma-separated " + {int: "integers", float: "numbers", bool: "true/false values"}.get(item, "words")
    return "text"


def parse_value(key: str, text: str, tp: Any) -> Any:
    """``text`` as type ``tp``, checked against ``RANGES[field]``; one-line UsageError otherwise."""
    field = key.rpartition(".")[2]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if text.strip().lower() in ("none", "null"):
            return None
        return parse_value(key, text, inner[0])
    if origin is tuple:
        items = [t for t in text.strip().strip("[]()").split(",") if t.strip()]
        if not items:
            raise UsageError(f"--set {key}={text}: {field} is {_example(tp)}, got none")
        return tuple(parse_value(key, t.strip(), typing.get_args(tp)[0]) for t in items)
    low = text.strip().lower()
    try:
        if tp is bool:
            if low not in TRUE + FALSE:
                raise ValueError
            value: Any = low in TRUE
        elif tp is int:
            value = int(low)
        elif tp is float:
            value = float(low)
            if not math.isfinite(value):
                raise ValueError
        elif tp is str:
            if field in CHOICES and text not in CHOICES[field]:
                raise UsageError(f"--set {key}={text}: {field} must be one of "
                                 + ", ".join(repr(c) for c in CHOICES[field]))
            return text
        else:
            raise UsageError(f"--set {key}: {field} cannot be set from the command line")
    except ValueError:
        raise UsageError(f"--set {key}={text}: {field} is {_example(tp)}, got {text!r}") from None
    rng = RANGES.get(field)
    if rng is not None and tp is not bool and value not in rng:
        raise UsageError(f"--set {key}={text}: {field} must be {rng}")
    return value


def field_types(cls: type) -> dict[str, Any]:
    """Settable fields of a config dataclass and their resolved types."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name not in NOT_SETTABLE}


def parse_settings(items: list[str], train_cls: type, model_cls: type,
                   partner_cls: type | None = None) -> tuple[dict, dict]:
    """(TrainConfig overrides, model config overrides) from ``--set`` items, typed and range-checked.
    ``partner.<field>`` items (checked against ``partner_cls``, the partner's config class) are returned
    in the TrainConfig overrides as ``partner_fields``, for the caller to merge into ``partner_config``."""
    train_types, model_types = field_types(train_cls), field_types(model_cls)
    partner_types = field_types(partner_cls) if partner_cls is not None else {}
    train: dict[str, Any] = {}
    model: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        name = key.partition(".")[2] if key.startswith(("model.", "partner.")) else key
        if name in NOT_SETTABLE:
            raise UsageError(f"--set {key}: not a setting (the model is chosen with --model, its classes by the data)")
        if key.startswith("model."):
            if name not in model_types:
                raise UsageError(f"--set {key}: the model has no setting {name!r}; settings: "
                                 f"{', '.join(sorted(model_types))}")
            model[name] = parse_value(key, text, model_types[name])
        elif key.startswith("partner."):
            if partner_cls is None:
                raise UsageError(f"--set {key}: there is no partner (set partner=ststnet or partner=sofp first)")
            if name not in partner_types:
                raise UsageError(f"--set {key}: the partner has no setting {name!r}; settings: "
                                 f"{', '.join(sorted(partner_types))}")
            train.setdefault("partner_fields", {})[name] = parse_value(key, text, partner_types[name])
        elif key in train_types:
            train[key] = parse_value(key, text, train_types[key])
        else:
            raise UsageError(f"--set {key}: unknown training setting; settings: {', '.join(sorted(train_types))}, "
                             "model.<field>")
    return train, model
