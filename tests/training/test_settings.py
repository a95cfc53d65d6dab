"""``--set``: values parsed by the field's declared type, ranges checked, one line and exit 2 before data loads."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

import pytest

from sofp.runtime.errors import UsageError
from sofp.training.config import TrainConfig
from sofp.training.models.configs import CONFIGS
from sofp.training.settings import RANGES, Range, field_types, parse_settings


@dataclass(frozen=True)
class Every:
    """One field of each supported type."""

    flag: bool = True
    count: int = 1
    rate: float = 0.5
    name: str = "x"
    sizes: tuple[int, ...] = (1, 2)
    limit: float | None = None


@dataclass(frozen=True)
class Model:
    dim: int = 8
    dropout: float = 0.0


def parse(*items: str) -> tuple[dict, dict]:
    return parse_settings(list(items), Every, Model)


@pytest.mark.parametrize(("item", "expected"), [
    ("flag=false", {"flag": False}), ("flag=Yes", {"flag": True}), ("flag=1", {"flag": True}),
    ("count=7", {"count": 7}), ("rate=3e-4", {"rate": 3e-4}), ("rate=2", {"rate": 2.0}),
    ("name=a=b", {"name": "a=b"}), ("sizes=3,5,8", {"sizes": (3, 5, 8)}), ("sizes=[4]", {"sizes": (4,)}),
    ("limit=none", {"limit": None}), ("limit=0.25", {"limit": 0.25}),
])
def test_values_take_their_fields_type(item, expected):
    assert parse(item) == (expected, {})


@pytest.mark.parametrize(("item", "message"), [
    ("flag=nope", "flag is true or false, got 'nope'"),
    ("count=1.5", "count is an integer, got '1.5'"),
    ("rate=abc", "rate is a number, got 'abc'"),
    ("rate=nan", "rate is a number, got 'nan'"),
    ("sizes=3,x", "sizes is an integer, got 'x'"),
    ("sizes=", "sizes is comma-separated integers, got none"),
    ("limit=abc", "limit is a number, got 'abc'"),
    ("model.dim=abc", "dim is an integer, got 'abc'"),
    ("model.dim=0", "dim must be >= 1"),
    ("model.dropout=1", r"dropout must be in \[0, 1\)"),
    ("model.width=3", "the model has no setting 'width'; settings: dim, dropout"),
    ("model.num_classes=5", "not a setting"),
    ("colour=red", "unknown training setting; settings: count, flag, limit, name, rate, sizes, model.<field>"),
    ("flag", "expects KEY=VALUE"),
])
def test_bad_values_are_one_line(item, message):
    with pytest.raises(UsageError, match=message) as exc:
        parse(item)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(("item", "message"), [
    ("lr=0", "lr must be > 0"), ("batch_size=-1", "batch_size must be >= 1"), ("epochs=0", "epochs must be >= 1"),
    ("ema_decay=1", r"ema_decay must be in \[0, 1\)"), ("weight_decay=-0.1", "weight_decay must be >= 0"),
])
def test_train_config_ranges(item, message):
    with pytest.raises(UsageError, match=message):
        parse_settings([item], TrainConfig, CONFIGS["sofp"])


def test_every_real_field_round_trips_its_default():
    for cls in (TrainConfig, *CONFIGS.values()):
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for name, tp in field_types(cls).items():
            if typing.get_origin(tp) is dict or tp is dict:  # nested configs: refused, with one line
                with pytest.raises(UsageError, match=f"{name} cannot be set from the command line"):
                    parse_settings([f"{name}={{}}"], cls, Model)
                continue
            text = ",".join(map(str, defaults[name])) if isinstance(defaults[name], tuple) else str(defaults[name])
            train, _ = parse_settings([f"{name}={text}"], cls, Model)
            assert train == {name: defaults[name]}, (cls.__name__, name, tp)


def test_every_range_names_a_real_field():
    names = {f.name for cls in (TrainConfig, *CONFIGS.values()) for f in dataclasses.fields(cls)}
    assert set(RANGES) <= names
    assert str(Range(0, 1, high_open=True)) == "in [0, 1)" and 0.5 in Range(0, low_open=True) and 0 not in Range(1)


@pytest.mark.parametrize("item", ["lr=abc", "model.dim=abc", "batch_size=-1", "mirror_aug=nope",
                                  "model.heads=3", "strain_swap=1.5", "sam_rho=-0.1", "distill_weight=2",
                                  "region_swap=1.5", "f1_weight=-1", "domain_weight=-1", "balanced_batches=maybe",
                                  "consistency_weight=-0.5", "subject_weight_power=3",
                                  "partner_subject_weight_power=-1"])
def test_cli_refuses_before_loading_data(item, monkeypatch, capsys):
    from sofp.training import cli

    def no_loading(_args):
        raise AssertionError("data loaded before the settings were checked")

    monkeypatch.setattr(cli, "load_data", no_loading)
    assert cli.main(["loso", "--data", "synthetic", "--set", item]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --set") and "\n" not in err
