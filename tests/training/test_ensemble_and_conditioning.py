"""The shipped model's pieces: input conditioning, the one-graph ensemble, member seeds, flow perturbations."""

import numpy as np
import pytest
import torch

from sofp.training.data.augment import mirror, random_flow_noise, random_shift
from sofp.training.data.perturb import PERTURBATIONS
from sofp.training.loso import member_seed
from sofp.training.models import build_model
from sofp.training.models.ensemble import Ensemble, EnsembleConfig


def test_strain_is_ignored_by_default_and_used_when_asked():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 28, 28)
    y = x.clone()
    y[:, 2] = torch.rand(4, 28, 28)
    default = build_model("sofp").eval()
    assert torch.equal(default(x), default(y))
    torch.manual_seed(0)
    with_strain = build_model("sofp", use_strain=True).eval()
    assert not torch.allclose(with_strain(x), with_strain(y))


def test_centring_ignores_a_per_image_offset_and_keeps_the_mirror_identity():
    torch.manual_seed(0)
    model = build_model("sofp", scale=True).eval()
    x = torch.rand(3, 3, 28, 28) * 0.8
    shifted = x + torch.tensor([0.1, -0.05, 0.0]).view(1, 3, 1, 1)  # a different min-max zero per channel
    assert torch.allclose(model(x), model(shifted), atol=1e-5)
    sym = x.clone()
    sym[..., 14:] = mirror(x)[..., 14:]
    _, l_sym = model(sym, with_sym=True)
    assert l_sym.item() < 1e-10  # conditioning keeps mirrored quadrants identical to their partners


def test_blur_smooths_the_centred_channels_and_keeps_the_mirror_identity():
    from sofp.training.models.configs import SofpConfig

    torch.manual_seed(0)
    model = build_model("sofp", blur=0.8).eval()
    conditioning = model.global_encoder.conditioning
    x = torch.rand(3, 3, 28, 28)
    assert torch.allclose(conditioning(mirror(x)), mirror(conditioning(x)), atol=1e-6)
    sharp = build_model("sofp").eval().global_encoder.conditioning(x)
    rough = lambda t: (t[..., 1:, :] - t[..., :-1, :]).abs().mean()  # noqa: E731
    assert rough(conditioning(x)) < 0.5 * rough(sharp)  # white noise loses most of its pixel-to-pixel steps
    assert torch.allclose(conditioning(x).mean(dim=(-2, -1)), sharp.mean(dim=(-2, -1)), atol=0.02)
    tokens = [enc(x) for enc in model.region_encoders]
    assert torch.allclose(model.fuse(model.global_encoder(x), *tokens), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="sigma"):
        SofpConfig(blur=-1.0)
    with pytest.raises(ValueError, match="center"):
        SofpConfig(blur=1.0, center=False)


def test_split_encoders_compute_what_the_whole_model_does():
    model = build_model("sofp").eval()  # conditioning lives inside every encoder
    x = torch.rand(3, 3, 28, 28)
    tokens = [enc(x) for enc in model.region_encoders]
    assert torch.allclose(model.fuse(model.global_encoder(x), *tokens), model(x), atol=1e-6)


def test_ensemble_logits_are_the_log_of_the_members_mean_probability():
    torch.manual_seed(0)
    members = [build_model("sofp").eval() for _ in range(3)]
    ens = Ensemble.of(members, "sofp")
    x = torch.rand(5, 3, 28, 28)
    mean = torch.stack([m(x).softmax(-1) for m in members]).mean(0)
    assert torch.allclose(ens(x).softmax(-1), mean, atol=1e-6)
    assert torch.allclose(ens(x).exp().sum(-1), torch.ones(5), atol=1e-5)
    rebuilt = build_model("ensemble", **ens.cfg.to_dict()).eval()
    rebuilt.load_state_dict(ens.state_dict())
    assert torch.equal(rebuilt(x), ens(x))


def test_ensemble_config_is_checked():
    with pytest.raises(ValueError, match="at least one member"):
        EnsembleConfig(members=0)
    with pytest.raises(ValueError, match="cannot be ensembles"):
        EnsembleConfig(member="ensemble")


def test_member_zero_is_the_single_model_and_member_seeds_never_collide():
    assert member_seed(5, 0) == 5
    seeds = {member_seed(s, m) for s in range(10) for m in range(5)}
    assert len(seeds) == 50


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_perturbations_keep_the_input_format_and_change_it(name):
    x = torch.rand(6, 3, 28, 28)
    y = PERTURBATIONS[name](x, 0)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.allclose(x, y)
    assert torch.equal(y, PERTURBATIONS[name](x, 0))  # a seed repeats it


def test_strain_swap_gives_every_sample_another_samples_strain():
    x = torch.rand(7, 3, 28, 28)
    y = PERTURBATIONS["strain_swap"](x, 3)
    assert torch.equal(y[:, :2], x[:, :2])
    sources = [int(torch.nonzero((x[:, 2] == y[i, 2]).flatten(1).all(1))[0]) for i in range(7)]
    assert sorted(sources) == list(range(7)) and all(s != i for i, s in enumerate(sources))


def test_flow_noise_augmentation_renormalises_u_and_v_and_leaves_strain():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 3, 28, 28)
    y = random_flow_noise(x, gen, 0.2)
    assert y.shape == x.shape and torch.equal(y[..., 2, :, :], x[..., 2, :, :])
    flat = y[..., :2, :, :].flatten(-2)
    assert np.allclose(flat.amin(-1).numpy(), 0, atol=1e-6) and np.allclose(flat.amax(-1).numpy(), 1, atol=1e-6)
    assert random_flow_noise(x, gen, 0.0) is x


def test_shift_without_zoom_draws_exactly_what_a_shift_alone_drew():
    """Adding the zoom option must not change any earlier configuration's random stream (its results)."""
    x = torch.rand(2, 3, 3, 28, 28)
    got = random_shift(x, torch.Generator().manual_seed(5), 1.5, 0.0)
    shift = (torch.rand(6, 2, generator=torch.Generator().manual_seed(5)) * 2 - 1) * 1.5
    theta = torch.zeros(6, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = shift * 2 / 28
    grid = torch.nn.functional.affine_grid(theta, [6, 3, 28, 28], align_corners=False)
    want = torch.nn.functional.grid_sample(x.reshape(6, 3, 28, 28), grid, padding_mode="border", align_corners=False)
    assert torch.allclose(got, want.reshape(x.shape), atol=1e-6)


def test_zoom_magnifies_within_its_range():
    ramp = torch.linspace(0, 1, 28).expand(64, 3, 28, 28).contiguous()  # value = column position
    out = random_shift(ramp, torch.Generator().manual_seed(0), 0.0, 0.2)
    slope = (out[:, 0, 14, 16] - out[:, 0, 14, 11]) / (ramp[0, 0, 14, 16] - ramp[0, 0, 14, 11])  # centre: no border
    zoom = 1 / slope  # magnified by z: the ramp climbs z times slower
    assert float(zoom.min()) >= 0.8 - 1e-4 and float(zoom.max()) <= 1.2 + 1e-4
    assert float(zoom.min()) < 0.9 and float(zoom.max()) > 1.1  # drawn per sample, in and out
    assert random_shift(ramp, torch.Generator(), 0.0, 0.0) is ramp


def test_a_version_1_checkpoint_loads_as_the_model_it_was(tmp_path):
    from sofp.runtime.features import INPUT_SPEC
    from sofp.training.checkpoint import load_checkpoint

    torch.manual_seed(0)
    model = build_model("sofp", center=False, use_strain=True).eval()
    config = {k: v for k, v in model.cfg.to_dict().items() if k not in ("encoder", "center", "scale", "use_strain")}
    state = {k.replace("global_encoder.encoder.", "global_encoder."): v for k, v in model.state_dict().items()}
    meta = {"model_name": "sofp", "model_config": config, "labels": ["negative", "positive", "surprise"],
            "input_spec": INPUT_SPEC}
    torch.save({"format": "sofp-edge-checkpoint", "version": 1, "state_dict": state, "meta": meta}, tmp_path / "v1.pt")
    loaded = load_checkpoint(tmp_path / "v1.pt").model
    x = torch.rand(4, 3, 28, 28)
    assert torch.equal(loaded(x), model(x))
