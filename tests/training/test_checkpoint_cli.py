import json

import pytest
import torch

from sofp.runtime.errors import UsageError
from sofp.training.checkpoint import load_checkpoint, read_meta, save_checkpoint
from sofp.training.cli import main
from sofp.training.models import build_model

META = {"model_name": "sofp", "labels": ["negative", "positive", "surprise"]}


def saved(tmp_path, name="m.pt"):
    model = build_model("sofp").eval()
    return model, save_checkpoint(tmp_path / name, model, {**META, "model_config": model.cfg.to_dict()})


def test_round_trip_and_weights_only(tmp_path):
    model, path = saved(tmp_path)
    raw = torch.load(path, weights_only=True)  # plain data only: no code runs on load
    assert raw["format"] == "sofp-edge-checkpoint"
    ck = load_checkpoint(path)
    x = torch.rand(3, 3, 28, 28)
    assert torch.equal(ck.model(x), model(x))
    assert ck.meta["labels"] == META["labels"] and len(ck.meta["sha256"]) == 64
    assert read_meta(path)["input_spec"]["channels"] == ["u", "v", "strain"]


@pytest.mark.parametrize("content,match", [
    (b"", "not a PyTorch checkpoint"),
    (b"\x89PNG garbage", "not a PyTorch checkpoint"),
])
def test_corrupt_files_are_one_line(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=match) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_truncated_foreign_missing_and_unsafe(tmp_path):
    _, path = saved(tmp_path)
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:4000])
    with pytest.raises(UsageError, match=r"corrupt or truncated|not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(UsageError, match=r"not a SOFP Edge checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": "sofp-edge-checkpoint", "obj": ValueError("x")}, tmp_path / "code.pt")
    with pytest.raises(UsageError, match=r"refusing to unpickle code"):
        load_checkpoint(tmp_path / "code.pt")
    with pytest.raises(UsageError, match=r"no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")


def test_mismatched_weights_or_spec(tmp_path):
    _, path = saved(tmp_path)
    raw = torch.load(path, weights_only=True)
    raw["meta"]["model_config"]["dim"] = 48
    torch.save(raw, tmp_path / "other.pt")
    with pytest.raises(UsageError, match=r"weights do not fit model 'sofp'"):
        load_checkpoint(tmp_path / "other.pt")
    raw = torch.load(path, weights_only=True)
    raw["meta"]["input_spec"] = {**raw["meta"]["input_spec"], "height": 64}
    torch.save(raw, tmp_path / "spec.pt")
    with pytest.raises(UsageError, match=r"expects input"):
        load_checkpoint(tmp_path / "spec.pt")


def test_cli_all_writes_a_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "best.pt"
    assert main(["all", "--data", "synthetic", "--epochs", "2", "--out", str(out), "--device", "cpu"]) == 0
    ck = load_checkpoint(out)
    assert ck.meta["train"]["samples"] == 108 and ck.meta["labels"] == META["labels"]
    assert ck.meta["model_config"]["partner"] == "ststnet" and len(ck.model.members) == 3  # the shipped layout


def test_cli_split_and_loso(tmp_path, capsys):
    assert main(["split", "--data", "synthetic", "--epochs", "1", "--out", str(tmp_path / "s")]) == 0
    assert json.loads((tmp_path / "s" / "result.json").read_text())["result"]["n"] > 0
    assert main(["loso", "--data", "synthetic", "--epochs", "1", "--chunk", "12", "--out", str(tmp_path / "l")]) == 0
    assert (tmp_path / "l" / "confusion.png").exists()
    assert "\r" not in capsys.readouterr().err  # not a terminal: no progress bars piling up on one line


@pytest.mark.parametrize("argv,match", [
    (["loso", "--data", "synthetic", "--set", "learning_rate=1"], "--set learning_rate: unknown training setting"),
    (["loso", "--data", "synthetic", "--set", "model.width=3"], "has no setting 'width'"),
    (["loso", "--data", "synthetic", "--model", "vit"], "unknown model 'vit'"),
    (["loso", "--data", "/nonexistent/folder"], "no such folder"),
    (["loso", "--data", "synthetic", "--set", "partner.width=3"], "the partner has no setting 'width'"),
    (["loso", "--data", "synthetic", "--set", "partner=", "--set", "partner.center=true"], "there is no partner"),
    (["loso", "--data", "synthetic", "--set", "partner.center=false"], "the partner cannot be built"),
    (["loso", "--data", "synthetic", "--set", "partner=vit"], "partner must be one of"),
])
def test_cli_bad_usage_exits_2_with_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and match in err


def test_partner_settings_go_on_top_of_the_default_partners_config():
    from sofp.training.cli import build_train_config, parse_args
    from sofp.training.config import TrainConfig

    def cfg(*sets: str) -> TrainConfig:
        return build_train_config(parse_args(["loso", "--data", "synthetic", *[a for s in sets for a in ("--set", s)]]))

    assert cfg() == TrainConfig()
    assert cfg("partner.blur=1.2").partner_config == {**TrainConfig().partner_config, "blur": 1.2}
    assert cfg("partner=sofp", "partner.dim=16").partner_config == {"dim": 16}  # another partner: its own defaults
    assert (cfg("partner=").partner, cfg("partner=").partner_config) == ("", {})
    assert not cfg("partner=", "members=1").ensemble


def test_another_model_is_trained_alone_unless_asked_for_more():
    from sofp.training.cli import build_train_config, parse_args
    from sofp.training.config import TrainConfig

    def cfg(*sets: str) -> TrainConfig:
        argv = ["loso", "--data", "synthetic", "--model", "ststnet", *[a for s in sets for a in ("--set", s)]]
        return build_train_config(parse_args(argv))

    assert cfg() == TrainConfig(model="ststnet").solo()  # the baseline, as benchmarks/accuracy.py trains it
    assert (cfg("members=3").members, cfg("members=3").partner) == (3, "")
    assert cfg("partner=ststnet").partner_config == TrainConfig().partner_config and cfg("partner=ststnet").members == 1
    assert cfg("partner.blur=1.2").partner == "ststnet"  # a partner setting asks for the default partner
