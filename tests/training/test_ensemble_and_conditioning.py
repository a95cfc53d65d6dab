"""The shipped model's pieces: input conditioning, the one-graph ensemble, member seeds, flow perturbations."""

import numpy as np
import pytest
import torch

from sofp.training.data.augment import (
    mirror,
    random_erase,
    random_flow_noise,
    random_gain,
    random_region_swap,
    random_shift,
    random_strain_swap,
)
from sofp.training.data.perturb import PERTURBATIONS
from sofp.training.loso import member_seed, tuning_groups
from sofp.training.losses import cell_weights, class_weights, focal_loss, smoothed_onehot, soft_f1_loss, subject_weights
from sofp.training.models import build_model
from sofp.training.models.configs import StstnetConfig
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


def test_a_partner_weighs_its_share_against_the_members_mean():
    torch.manual_seed(0)
    members = [build_model("sofp").eval() for _ in range(2)]
    partner = build_model("ststnet", use_strain=False).eval()
    ens = Ensemble.of(members, "sofp", ("ststnet", partner, 0.4))
    x = torch.rand(5, 3, 28, 28)
    mean = torch.stack([m(x).softmax(-1) for m in members]).mean(0)
    assert torch.allclose(ens(x).softmax(-1), 0.6 * mean + 0.4 * partner(x).softmax(-1), atol=1e-6)
    rebuilt = build_model("ensemble", **ens.cfg.to_dict()).eval()
    rebuilt.load_state_dict(ens.state_dict())
    assert torch.equal(rebuilt(x), ens(x))
    x2 = x.clone()
    x2[:, 2] = torch.rand(5, 28, 28)  # another strain map: neither the members nor this partner read it
    assert torch.allclose(ens(x2), ens(x))


def test_ensemble_config_is_checked():
    with pytest.raises(ValueError, match="at least one member"):
        EnsembleConfig(members=0)
    with pytest.raises(ValueError, match="cannot be ensembles"):
        EnsembleConfig(member="ensemble")
    with pytest.raises(ValueError, match="partner_weight"):
        EnsembleConfig(partner="ststnet", partner_weight=1.0)  # the members would not count
    with pytest.raises(ValueError, match="partner_weight"):
        EnsembleConfig(partner_weight=0.3)  # a weight with no partner


def test_member_zero_is_the_single_model_and_member_seeds_never_collide():
    assert member_seed(5, 0) == 5
    seeds = {member_seed(s, m) for s in range(10) for m in range(5)}
    assert len(seeds) == 50


def test_the_partner_has_its_own_subject_weighting_and_the_members_keep_theirs():
    from sofp.training.config import TrainConfig
    from sofp.training.loso import schedules

    cfg = TrainConfig(subject_weight_power=0.5, partner_subject_weight_power=1.0, balance_datasets=True)
    plan = schedules(cfg, seed=7)
    assert [s for _, s in plan] == [member_seed(7, m) for m in range(4)]
    assert all(c.subject_weight_power == 0.5 and c.model == "sofp" for c, _ in plan[:3])
    partner = plan[3][0]
    assert partner.model == "ststnet" and partner.subject_weight_power == 1.0 and partner.partner == ""
    assert partner.balance_datasets  # every other training setting is the members'
    assert TrainConfig().partner_schedule().subject_weight_power == 0.0  # off by default


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


def test_strain_swap_takes_another_strain_of_the_same_group_and_leaves_u_and_v():
    x = torch.rand(2, 6, 3, 5, 5)
    y = random_strain_swap(x, torch.Generator().manual_seed(0), 1.0)
    assert torch.equal(y[..., :2, :, :], x[..., :2, :, :])
    for g in range(2):  # every strain map is one of its own group's; with p 1 the group's set is permuted
        donors = [next(c for c in range(6) if torch.equal(y[g, b, 2], x[g, c, 2])) for b in range(6)]
        assert sorted(donors) == list(range(6))
    half = random_strain_swap(x, torch.Generator().manual_seed(1), 0.5)
    kept = [torch.equal(half[g, b, 2], x[g, b, 2]) for g in range(2) for b in range(6)]
    assert 0 < sum(kept) < 12
    assert random_strain_swap(x, torch.Generator(), 0.0) is x


def test_gain_scales_u_and_v_about_their_means_within_its_range_and_keeps_the_mirror_identity():
    x = 0.5 + 0.05 * torch.randn(2, 4, 3, 28, 28)  # small spread: no clipping at gains up to e^0.5
    y = random_gain(x, torch.Generator().manual_seed(0), 0.5)
    assert y.shape == x.shape and torch.equal(y[..., 2, :, :], x[..., 2, :, :])
    cx = x[..., :2, :, :] - x[..., :2, :, :].mean((-2, -1), True)
    cy = y[..., :2, :, :] - y[..., :2, :, :].mean((-2, -1), True)
    gain = (cy.flatten(-2) / cx.flatten(-2)).median(-1).values  # one gain per sample and channel
    assert torch.allclose(cy, gain[..., None, None] * cx, atol=1e-5)
    assert (gain > np.exp(-0.5) - 1e-4).all() and (gain < np.exp(0.5) + 1e-4).all() and gain.std() > 0.05
    assert torch.allclose(random_gain(mirror(x), torch.Generator().manual_seed(0), 0.5), mirror(y), atol=1e-6)
    assert random_gain(x, torch.Generator(), 0.0) is x


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


def test_erase_sets_one_square_per_chosen_sample_to_its_channel_means():
    x = torch.rand(2, 200, 3, 28, 28)
    y = random_erase(x, torch.Generator().manual_seed(0), 8)
    changed = (y != x).any(dim=-3).flatten(0, 1)  # (400, 28, 28): the erased pixels
    touched = changed.flatten(1).any(1)
    assert 0.35 < float(touched.float().mean()) < 0.65  # p = 0.5
    for m in changed[touched][:20]:
        rows, cols = m.any(1).nonzero().flatten(), m.any(0).nonzero().flatten()
        assert len(rows) == len(cols) <= 8 and int(m.sum()) == len(rows) ** 2  # one square of side <= 8
    flat_x, flat_y = x.flatten(0, 1), y.flatten(0, 1)
    i = int(touched.nonzero()[0])
    r, c = changed[i].nonzero()[0]
    assert torch.allclose(flat_y[i, :, r, c], flat_x[i].mean(dim=(-2, -1)))
    assert random_erase(x, torch.Generator(), 0) is x


def test_region_swap_gives_a_lower_face_of_the_same_class_moved_to_the_recipients_means():
    x = torch.rand(3, 64, 3, 28, 28)
    labels = torch.randint(0, 3, (3, 64), generator=torch.Generator().manual_seed(1))
    y = random_region_swap(x, labels, torch.Generator().manual_seed(0), 0.5)
    assert torch.equal(y[..., :14, :], x[..., :14, :])  # the upper face is never touched
    swapped = (y != x).flatten(2).any(-1)
    assert 0.35 < float(swapped.float().mean()) < 0.65
    g, i = (int(v) for v in swapped.nonzero()[0])
    shift = x[g, i].mean(dim=(-2, -1), keepdim=True)
    donors = [j for j in range(64) if labels[g, j] == labels[g, i] and j != i
              and torch.allclose(y[g, i, :, 14:], (x[g, j, :, 14:] - x[g, j].mean(dim=(-2, -1), keepdim=True)
                                                   + shift).clamp(0, 1))]
    assert donors  # some other sample of its class gave it its lower half
    assert random_region_swap(x, labels, torch.Generator(), 0.0) is x


def test_soft_f1_loss_is_zero_for_confident_right_answers_and_large_for_wrong_ones():
    target = torch.eye(3)[torch.tensor([0, 1, 2, 0])]
    assert float(soft_f1_loss(target * 50, target)) < 1e-6
    assert float(soft_f1_loss(target.roll(1, dims=1) * 50, target)) > 0.99
    logits = torch.zeros(4, 3, requires_grad=True)
    soft_f1_loss(logits, target).backward()
    assert logits.grad is not None and float((logits.grad * target).sum()) < 0  # raising the true logit helps


def test_cell_weights_give_every_dataset_class_cell_the_same_total():
    labels = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    cells = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    w = cell_weights(labels, cells)
    assert np.isclose(w.mean(), 1.0)
    totals = {(c, lab): w[(cells == c) & (labels == lab)].sum() for c, lab in zip(cells, labels, strict=True)}
    assert np.allclose(list(totals.values()), 2.0)


def test_subject_weights_move_from_equal_weights_to_equal_subject_totals():
    subjects = np.array(["a"] * 6 + ["b"] * 2 + ["c"])
    assert np.allclose(subject_weights(subjects, 0.0), 1.0)
    for power in (0.5, 1.0):
        w = subject_weights(subjects, power)
        assert np.isclose(w.mean(), 1.0) and w[0] == w[5] and w[6] == w[7]
        assert np.isclose(w[8] / w[0], 6.0 ** power) and np.isclose(w[6] / w[0], 3.0 ** power)
    totals = [subject_weights(subjects, 1.0)[subjects == s].sum() for s in "abc"]
    assert np.allclose(totals, totals[0])  # power 1: every subject weighs the same in all


def test_class_weight_power_moves_from_equal_weights_to_inverse_frequency():
    labels = np.array([0] * 8 + [1] * 2 + [2] * 2)  # class 0 four times as frequent
    for power, ratio in [(1.0, 4.0), (0.5, 2.0), (0.0, 1.0)]:
        w = class_weights(labels, 4, power)
        assert np.isclose(w[:3].sum() + w[3], 4.0) and w[3] == 0.0  # mean 1 over the 4 classes, absent class 0
        assert np.isclose(w[1] / w[0], ratio) and w[1] == w[2]


def test_label_smoothing_moves_a_share_of_each_target_to_the_uniform_distribution():
    labels = np.array([2, 0])
    assert torch.equal(smoothed_onehot(labels, 3, 0.0), torch.eye(3)[[2, 0]])  # off: exactly one-hot
    t = smoothed_onehot(labels, 3, 0.3)
    assert torch.allclose(t, torch.tensor([[0.1, 0.1, 0.8], [0.8, 0.1, 0.1]]))


def test_sample_weights_scale_each_samples_focal_term():
    logits, target = torch.randn(4, 3), torch.eye(3)[torch.tensor([0, 1, 2, 0])]
    w = torch.ones(3)
    per = torch.stack([focal_loss(logits[i:i + 1], target[i:i + 1], w, 2.0) for i in range(4)])
    sw = torch.tensor([0.0, 1.0, 2.0, 1.0])
    assert torch.allclose(focal_loss(logits, target, w, 2.0, sw), (per * sw).mean())
    assert torch.allclose(focal_loss(logits, target, w, 2.0, torch.ones(4)), focal_loss(logits, target, w, 2.0))


def test_tuning_groups_partition_the_subjects():
    subjects = np.repeat([f"s{i:02d}" for i in range(10)], 3)
    groups = tuning_groups(subjects)
    assert sorted(np.concatenate(groups).tolist()) == list(range(30))
    assert all(len(set(subjects[g]) & set(subjects[h])) == 0 for i, g in enumerate(groups) for h in groups[i + 1:])
    assert [g.tolist() for g in groups] == [g.tolist() for g in tuning_groups(subjects)]


def test_magnitude_channel_is_the_centred_flow_norm_and_keeps_the_mirror_identity():
    torch.manual_seed(0)
    model = build_model("sofp", magnitude=True).eval()
    x = torch.rand(3, 3, 28, 28)
    cond = model.global_encoder.conditioning
    uv = x[:, :2] - x[:, :2].mean(dim=(-2, -1), keepdim=True)
    assert torch.allclose(cond(x)[:, 2], 0.5 + uv.pow(2).sum(1).add(1e-8).sqrt(), atol=1e-6)
    assert torch.allclose(cond(mirror(x)), mirror(cond(x)), atol=1e-6)
    with pytest.raises(ValueError, match="magnitude"):
        build_model("sofp", magnitude=True, use_strain=True)


def test_median_centring_puts_each_channels_median_at_half_and_keeps_the_mirror_identity():
    torch.manual_seed(0)
    cond = build_model("sofp", center_stat="median").eval().global_encoder.conditioning
    x = torch.rand(3, 3, 28, 28)
    flat = cond(x)[:, :2].flatten(-2).sort(dim=-1).values
    assert torch.allclose(0.5 * (flat[..., 391] + flat[..., 392]), torch.full((3, 2), 0.5), atol=1e-6)
    assert torch.allclose(cond(mirror(x)), mirror(cond(x)), atol=1e-6)
    with pytest.raises(ValueError, match="center_stat"):
        build_model("sofp", center_stat="mode")


def test_ststnet_switches_ignore_strain_and_a_per_image_offset_and_keep_the_mirror_identity():
    torch.manual_seed(0)
    model = build_model("ststnet", use_strain=False, center=True, blur=0.7).eval()
    x = torch.rand(4, 3, 28, 28)
    other = x.clone()
    other[:, 2] = torch.rand(4, 28, 28)
    other[:, :2] += 0.1  # a per-image offset of u and v: centring removes it
    assert torch.allclose(model(other), model(x), atol=1e-5)
    assert torch.allclose(model.condition(mirror(x)), mirror(model.condition(x)), atol=1e-6)
    with pytest.raises(ValueError, match="blur needs center"):
        StstnetConfig(blur=0.7)


def test_ststnet_average_pooling_averages_each_window_without_the_padding():
    model = build_model("ststnet", pool="avg", branches=(1,)).eval()
    pool = model.branches[0][3]
    x = torch.arange(36.0).view(1, 1, 6, 6)
    out = pool(x)  # windows of 3 x 3, stride 3, one pixel of padding: the corner window holds 2 x 2 pixels
    assert out.shape == (1, 1, 2, 2) and out[0, 0, 0, 0] == x[0, 0, :2, :2].mean()
    assert isinstance(build_model("ststnet").branches[0][3], torch.nn.MaxPool2d)
    with pytest.raises(ValueError, match="pool must be max or avg"):
        StstnetConfig(pool="median")


@pytest.mark.parametrize("name, kw", [("sofp", {}), ("ststnet", {"use_strain": False, "center": True})])
def test_recomputed_strain_is_the_centred_flows_strain_whatever_the_stored_one_says(name, kw):
    torch.manual_seed(0)
    model = build_model(name, strain_from_flow=True, **kw).eval()
    x = torch.rand(2, 3, 28, 28)
    other = x.clone()
    other[:, 2] = torch.rand(2, 28, 28)  # another flow implementation's strain map: not read
    assert torch.equal(model(x), model(other))
    condition = model.global_encoder.conditioning if name == "sofp" else model.condition
    u, v = (c - c.mean(axis=(-2, -1), keepdims=True) for c in (x[:, 0].numpy(), x[:, 1].numpy()))
    (uy, ux), (vy, vx) = np.gradient(u, axis=(1, 2)), np.gradient(v, axis=(1, 2))
    strain = 2.0 * np.sqrt(ux ** 2 + vy ** 2 + 0.5 * (uy + vx) ** 2)
    got = condition(x)[:, 2].numpy() - 0.5
    assert np.allclose(got[:, 1:-1, 1:-1], strain[:, 1:-1, 1:-1], atol=1e-5)  # central differences inside
    assert torch.allclose(condition(mirror(x)), mirror(condition(x)), atol=1e-6)
    with pytest.raises(ValueError, match="strain_from_flow needs"):
        build_model(name, strain_from_flow=True, use_strain=True, center=True)


def test_orientation_channels_bin_the_centred_flow_by_direction_and_mirror_onto_the_mirrored_bins():
    model = build_model("ststnet", use_strain=False, center=True, orientation_bins=8).eval()
    x = torch.full((1, 3, 28, 28), 0.5)
    x[0, 0, 10:14, 10:14] += 0.3  # rightward motion in one patch: bin 0 (direction 0), its neighbours cos(45)^3
    bins = model.condition(x)[0, 3:]
    assert bins.shape == (8, 28, 28)
    there = bins[:, 12, 12]
    assert there[0] > 0.1 and torch.allclose(there[[1, 7]], there[0] * 0.5 ** 1.5)
    assert there[2:7].abs().max() < 1e-6
    torch.manual_seed(0)
    x = torch.rand(2, 3, 28, 28)
    a, b = model.condition(mirror(x)), model.condition(x)
    mirrored_bins = b[:, 3:][:, [(4 - k) % 8 for k in range(8)]].flip(-1)  # direction pi - theta
    assert torch.allclose(a, torch.cat([mirror(b[:, :3]), mirrored_bins], 1), atol=1e-6)
    assert model(x).shape == (2, 3)
    with pytest.raises(ValueError, match="orientation_bins"):
        StstnetConfig(center=True, orientation_bins=3)


def test_ststnet_scale_gives_each_centred_channel_the_same_spread_as_sofps():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 28, 28) * torch.tensor([0.2, 1.0, 1.0]).view(1, 3, 1, 1)  # u with a fifth of the contrast
    st = build_model("ststnet", use_strain=False, center=True, scale=True).eval()
    sofp = build_model("sofp", scale=True).eval()
    assert torch.allclose(st.condition(x), sofp.global_encoder.conditioning(x), atol=1e-6)
    spread = st.condition(x)[:, :2].std(dim=(-2, -1))
    assert torch.allclose(spread, torch.full((2, 2), 0.25), atol=5e-3)  # up to the RMS's epsilon
    with pytest.raises(ValueError, match="scale needs center"):
        StstnetConfig(scale=True)


def test_asymmetry_channel_is_zero_for_a_mirror_symmetric_motion_and_keeps_the_mirror_identity():
    model = build_model("ststnet", use_strain=False, center=True, asymmetry=True).eval()
    torch.manual_seed(0)
    x = torch.rand(2, 3, 28, 28)
    sym = x.clone()
    sym[..., 14:] = mirror(x)[..., 14:]  # the right half is the left half's mirror image: no one-sided motion
    sym[..., :14] = mirror(sym)[..., :14]
    assert torch.allclose(model.condition(sym)[:, 2], torch.full((2, 28, 28), 0.5), atol=1e-3)
    assert (model.condition(x)[:, 2] - 0.5).mean() > 0.05
    assert torch.allclose(model.condition(mirror(x)), mirror(model.condition(x)), atol=1e-6)
    with pytest.raises(ValueError, match="asymmetry needs"):
        StstnetConfig(asymmetry=True, center=True)
    with pytest.raises(ValueError, match="strain_from_flow needs"):
        StstnetConfig(asymmetry=True, strain_from_flow=True, center=True, use_strain=False)
