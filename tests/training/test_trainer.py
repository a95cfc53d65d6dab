import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from sofp.runtime.features import features_to_input
from sofp.training import loso as loso_mod
from sofp.training.data.augment import mirror
from sofp.training.data.synthetic import make_synthetic_set
from sofp.training.loso import loso_folds, run_loso
from sofp.training.metrics import summarise
from sofp.training.trainer import TrainConfig, train_groups, unstack

FAST = TrainConfig(epochs=12, batch_size=16, members=1, partner="")


@pytest.fixture(scope="module")
def synth():
    return make_synthetic_set(n_subjects=10, per_subject=12, seed=1)


def test_sofp_learns_synthetic_flows(synth):
    images = torch.from_numpy(features_to_input(synth.images))
    test = np.flatnonzero(np.isin(synth.subjects, ["synth/s00", "synth/s01", "synth/s02"]))
    train = np.setdiff1d(np.arange(len(synth)), test)
    res = train_groups(FAST, images, synth.labels, [train], [test], seed=0, n_classes=3)
    acc = (res.probs[-1, 0].argmax(-1) == synth.labels[test]).mean()
    assert acc >= 0.95
    model = unstack(FAST, res, 0, 3)  # the unstacked module predicts what the vectorised one did
    with torch.no_grad():
        p = 0.5 * (model(images[test]).softmax(-1) + model(mirror(images[test])).softmax(-1))
    assert model.region_encoders[0].encoder is model.region_encoders[1].encoder  # ties survive
    assert np.allclose(p.numpy(), res.probs[-1, 0], atol=1e-5)


def test_groups_are_independent_and_seed_repeats(synth):
    images = torch.from_numpy(features_to_input(synth.images))
    cfg = TrainConfig(epochs=1, batch_size=16).solo()
    evals = [np.arange(5), np.arange(5)]
    pools = [np.arange(0, 40), np.arange(40, 100)]  # unequal pools: group 1 sets the number of steps
    a = train_groups(cfg, images, synth.labels, pools, evals, seed=3, n_classes=3)
    b = train_groups(cfg, images, synth.labels, pools, evals, seed=3, n_classes=3)
    assert np.array_equal(a.probs, b.probs)
    # other data in group 1 (same size) leaves group 0 exactly as it was, weights and batch-norm
    # statistics alike: nothing flows between groups
    c = train_groups(cfg, images, synth.labels, [pools[0], np.arange(60, 120)], evals, seed=3, n_classes=3)
    stats = [k for k in a.buffers if k.endswith(("running_mean", "running_var"))]
    assert stats and not all(torch.equal(a.buffers[k][0], torch.zeros_like(a.buffers[k][0]))
                             for k in stats if k.endswith("running_mean"))  # they moved during training
    for state_a, state_c in ((a.params, c.params), (a.buffers, c.buffers)):
        for k in state_a:
            assert torch.equal(state_c[k][0], state_a[k][0]), k
    assert not all(torch.equal(c.params[k][1], a.params[k][1]) for k in a.params)
    assert not all(torch.equal(c.buffers[k][1], a.buffers[k][1]) for k in stats)


def test_no_fold_trains_on_its_held_out_subject(synth, tmp_path, monkeypatch):
    folds = loso_folds(synth.subjects)
    assert len(folds) == 10
    for f in folds:
        assert not set(synth.subjects[f.train]) & {f.subject}
        assert set(synth.subjects[f.test]) == {f.subject}
        assert len(f.train) + len(f.test) == len(synth)
    seen = []
    real = loso_mod.train_groups

    def spy(cfg, images, labels, pools, evals, *a, **k):
        for pool, ev in zip(pools, evals, strict=True):
            assert not set(synth.subjects[pool]) & set(synth.subjects[ev])
            seen.append(synth.subjects[ev][0])
        return real(cfg, images, labels, pools, evals, *a, **k)

    monkeypatch.setattr(loso_mod, "train_groups", spy)
    run_loso(synth, TrainConfig(epochs=1, batch_size=16).solo(), 0, tmp_path, chunk=4, progress=False)
    assert sorted(seen) == sorted(f.subject for f in folds)


def test_loso_resumes_after_a_kill(synth, tmp_path, monkeypatch):
    cfg = TrainConfig(epochs=1, batch_size=16).solo()
    real = loso_mod.train_groups
    calls = []

    def dies_on_second_chunk(*a, **k):
        calls.append(k["first_group"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(loso_mod, "train_groups", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        run_loso(synth, cfg, 0, tmp_path, chunk=4, progress=False)
    assert (tmp_path / "chunk_00.json").exists() and not (tmp_path / "chunk_01.json").exists()
    calls.clear()
    monkeypatch.setattr(loso_mod, "train_groups", lambda *a, **k: calls.append(k["first_group"]) or real(*a, **k))
    result = run_loso(synth, cfg, 0, tmp_path, chunk=4, progress=False)
    assert calls == [4, 8]  # chunk 0 was not trained again
    assert result["honest"]["n"] == len(synth)
    assert (tmp_path / "confusion.png").stat().st_size > 0 and (tmp_path / "curves.png").stat().st_size > 0


def test_resume_refuses_other_settings(synth, tmp_path):
    run_loso(synth, TrainConfig(epochs=1, batch_size=16).solo(), 0, tmp_path, chunk=10, progress=False)
    from sofp.runtime.errors import UsageError

    with pytest.raises(UsageError, match="other settings"):
        run_loso(synth, TrainConfig(epochs=2, batch_size=16).solo(), 0, tmp_path, chunk=10, progress=False)


def test_a_run_from_before_a_new_field_resumes_and_a_changed_default_does_not(synth, tmp_path):
    from dataclasses import replace

    from sofp.runtime.errors import UsageError

    cfg = TrainConfig(epochs=1, batch_size=16).solo()
    first = run_loso(synth, cfg, 0, tmp_path, chunk=10, progress=False)
    stored = json.loads((tmp_path / "config.json").read_text())
    del stored["train"]["scale_jitter"]  # as written by the code before the field existed
    (tmp_path / "config.json").write_text(json.dumps(stored))
    again = run_loso(synth, cfg, 0, tmp_path, chunk=10, progress=False)
    assert again["predictions"] == first["predictions"]
    with pytest.raises(UsageError, match="other settings"):  # not a default: a different configuration
        run_loso(synth, replace(cfg, scale_jitter=0.1), 0, tmp_path, chunk=10, progress=False)


def test_parallel_chunks_give_the_same_result(synth, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=16).solo()
    one = run_loso(synth, cfg, 0, tmp_path / "one", chunk=5, progress=False, workers=1)
    two = run_loso(synth, cfg, 0, tmp_path / "two", chunk=5, progress=False, workers=2)
    assert two["workers"] == 2
    assert np.array_equal(one["predictions"]["probs"], two["predictions"]["probs"])  # bit-identical


def test_ensemble_loso_is_the_mean_of_its_members_single_runs(synth, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=16, members=2, partner="")
    ens = run_loso(synth, cfg, 3, tmp_path / "ens", chunk=6, progress=False)
    single = TrainConfig(epochs=1, batch_size=16).solo()
    m0 = run_loso(synth, single, 3, tmp_path / "m0", chunk=6, progress=False)  # member 0 = the single model
    m1 = json.loads((tmp_path / "ens" / "member1" / "result.json").read_text())
    assert m1["seed"] == 1003
    assert np.allclose(json.loads((tmp_path / "ens" / "member0" / "result.json").read_text())["predictions"]["probs"],
                       m0["predictions"]["probs"])
    mean = (np.asarray(m0["predictions"]["probs"]) + np.asarray(m1["predictions"]["probs"])) / 2
    assert np.allclose(ens["predictions"]["probs"], mean, atol=1e-5)
    assert ens["oracle"] is None and set(ens["label_kept"]) == set(m0["label_kept"])


def test_a_partner_is_mixed_in_with_its_weight_and_its_own_seed(synth, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=16, members=2)  # the default partner (STSTNet), weight 0.4
    ens = run_loso(synth, cfg, 3, tmp_path / "ens", chunk=6, progress=False)
    runs = [json.loads((tmp_path / "ens" / d / "result.json").read_text()) for d in ("member0", "member1", "partner")]
    assert [r["seed"] for r in runs] == [3, 1003, 2003] and runs[2]["model"] == "ststnet"
    assert runs[2]["config"]["model_config"] == cfg.partner_config and runs[2]["config"]["partner"] == ""
    probs = [np.asarray(r["predictions"]["probs"]) for r in runs]
    w = cfg.partner_weight
    assert np.allclose(ens["predictions"]["probs"], (1 - w) * (probs[0] + probs[1]) / 2 + w * probs[2], atol=1e-5)
    assert ens["partner"]["model"] == "ststnet" and ens["partner"]["weight"] == w
    for name, perturbed in ens["perturbed_probs"].items():  # the perturbed probabilities are mixed alike
        mixed = (1 - w) * np.mean([r["perturbed_probs"][name] for r in runs[:2]], axis=0) + w * np.asarray(
            runs[2]["perturbed_probs"][name])
        assert np.allclose(perturbed, mixed, atol=2e-4)


def test_runs_stored_before_the_partner_existed_still_resume(synth, tmp_path):
    single = TrainConfig(epochs=1, batch_size=16).solo()
    run_loso(synth, single, 0, tmp_path, chunk=6, progress=False)
    stored = json.loads((tmp_path / "config.json").read_text())
    for key in ("partner", "partner_config", "partner_weight"):
        del stored["train"][key]  # as written by the code before the partner existed
    (tmp_path / "config.json").write_text(json.dumps(stored))
    run_loso(synth, single, 0, tmp_path, chunk=6, progress=False)  # no "other settings" refusal
    assert loso_mod._with_new_defaults(stored)["train"]["partner"] == ""  # not the new default: it had none


def test_result_keeps_every_prediction_and_its_scores_recompute(synth, tmp_path):
    res = run_loso(synth, TrainConfig(epochs=1, batch_size=16).solo(), 0, tmp_path, chunk=6, progress=False)
    p = res["predictions"]
    assert len(p["index"]) == len(synth) and sorted(p["index"]) == list(range(len(synth)))
    assert p["subject"] == synth.subjects[p["index"]].tolist() and p["true"] == synth.labels[p["index"]].tolist()
    assert p["file"] == [synth.files[i] for i in p["index"]]
    assert len(set(p["fold"])) == len(set(synth.subjects.tolist()))
    again = summarise(np.asarray(p["true"]), np.asarray(p["pred"]), synth.label_names)
    assert again["uf1"] == res["honest"]["uf1"] and again["uar"] == res["honest"]["uar"]
    assert all(0.0 <= v <= 1.0 for v in res["label_kept"].values())


def test_dataset_balancing_needs_the_datasets_and_trains_with_them(synth):
    images = torch.from_numpy(features_to_input(synth.images))
    cfg = TrainConfig(epochs=1, batch_size=16, members=1, partner="", balance_datasets=True, erase_px=6)
    pools, evals = [np.arange(20, len(synth))], [np.arange(20)]
    with pytest.raises(ValueError, match="dataset"):
        train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3)
    datasets = np.where(np.arange(len(synth)) % 2 == 0, "a", "b")
    res = train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3, datasets=datasets)
    assert np.isfinite(res.train_loss).all() and res.probs.shape == (1, 1, 20, 3)


def test_subject_weighting_needs_the_subjects_and_changes_training_only_when_on(synth):
    images = torch.from_numpy(features_to_input(synth.images))
    cfg = TrainConfig(epochs=2, batch_size=16, members=1, partner="", subject_weight_power=1.0)
    keep = np.flatnonzero(~np.isin(synth.subjects, ["synth/s00", "synth/s01"]) | (np.arange(len(synth)) % 4 == 0))
    pools, evals = [keep[keep >= 12]], [np.arange(12)]  # unequal subjects: two keep a quarter of their samples
    with pytest.raises(ValueError, match="subject"):
        train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3)
    on = train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3, subjects=synth.subjects)
    off = train_groups(replace(cfg, subject_weight_power=0.0), images, synth.labels, pools, evals, seed=0,
                       n_classes=3, subjects=synth.subjects)
    plain = train_groups(replace(cfg, subject_weight_power=0.0), images, synth.labels, pools, evals, seed=0,
                         n_classes=3)
    assert np.isfinite(on.train_loss).all() and not np.allclose(on.train_loss, off.train_loss)
    assert np.array_equal(off.probs, plain.probs)  # off, the subjects change nothing


def test_sharpness_aware_gradient_is_taken_at_each_groups_own_ascent_point():
    from sofp.training.trainer import _sharpness_aware_grad

    w0 = torch.tensor([[1.0, 2.0], [0.0, -3.0]])  # two groups; loss = sum_g sum (w_g^3) / 3, grad = w^2
    params = {"w": w0.clone().requires_grad_()}
    loss = (params["w"] ** 3 / 3).sum()
    loss.backward()
    _sharpness_aware_grad(params, lambda w: w ** 3 / 3, (params["w"],), 0.1, torch.autocast("cpu", enabled=False))
    g = w0 ** 2
    ascent = w0 + 0.1 * g / g.norm(dim=1, keepdim=True)  # each group normalised by its own gradient's norm
    assert torch.allclose(params["w"].grad, ascent ** 2)
    assert torch.equal(params["w"].detach(), w0)  # the weights are restored


def test_sharpness_aware_training_runs_and_differs(synth):
    images = torch.from_numpy(features_to_input(synth.images))
    cfg = TrainConfig(epochs=1, batch_size=16).solo()
    runs = [train_groups(c, images, synth.labels, [np.arange(40)], [np.arange(5)], seed=0, n_classes=3)
            for c in (cfg, TrainConfig(epochs=1, batch_size=16, sam_rho=0.05).solo())]
    assert np.isfinite(runs[1].train_loss).all() and not np.allclose(runs[0].probs, runs[1].probs)


def test_distillation_targets_mix_the_label_with_a_teacher_trained_on_the_pool_only(synth, monkeypatch):
    from sofp.training import trainer

    images = torch.from_numpy(features_to_input(synth.images))
    pools = [np.arange(0, 60), np.arange(60, 120)]
    seen = {}
    real = trainer.train_groups

    def spy(cfg, images, labels, train_pools, eval_sets, *args, **kwargs):
        if cfg.model == "ststnet":
            seen.update(pools=train_pools, cfg=cfg)
        return real(cfg, images, labels, train_pools, eval_sets, *args, **kwargs)

    monkeypatch.setattr(trainer, "train_groups", spy)
    cfg = TrainConfig(epochs=1, batch_size=16, distill_weight=0.25).solo()
    onehot = torch.eye(3)[torch.from_numpy(synth.labels)]
    soft = trainer._teacher_targets(cfg, images, synth.labels, onehot, pools, 0, 3, 0, "cpu", None, None)
    assert soft.shape == (2, len(synth), 3) and torch.allclose(soft.sum(-1), torch.ones(2, len(synth)))
    assert seen["pools"] is pools and seen["cfg"].distill_weight == 0.0  # the teacher: own pools, no teacher itself
    assert seen["cfg"].model_config == TrainConfig().partner_config
    teacher = real(seen["cfg"], images, synth.labels, pools, [np.arange(len(synth))] * 2, 0, 3)
    assert torch.allclose(soft, 0.75 * onehot + 0.25 * torch.from_numpy(teacher.probs[-1]).float())


def test_drop_hardest_removes_each_classs_least_likely_share_per_group():
    from sofp.training.trainer import drop_hardest

    labels = np.array([0, 0, 0, 0, 1, 1, 0, 1])
    pools = [np.array([0, 1, 2, 3, 4, 5]), np.array([6, 7])]
    probs = np.full((2, 6, 2), 0.5)
    probs[0, :4, 0] = [0.9, 0.2, 0.8, 0.1]  # own-label probabilities of class 0 in group 0: 1 and 3 are hardest
    probs[0, 4:6, 1] = [0.3, 0.7]
    kept = drop_hardest(probs, labels, pools, 0.5)
    assert kept[0].tolist() == [0, 2, 5]  # two of four class-0 samples, one of two class-1 samples
    assert kept[1].tolist() == [6, 7]  # round(0.5 x 1) = 0: a class of one keeps its sample


def test_dropping_hard_samples_trains_on_fewer_and_differs(synth, monkeypatch):
    from sofp.training import trainer

    images = torch.from_numpy(features_to_input(synth.images))
    pools, evals = [np.arange(40, len(synth))], [np.arange(20)]
    seen = []
    real = trainer._index_table
    monkeypatch.setattr(trainer, "_index_table", lambda rng, p, *a: seen.append(len(p[0])) or real(rng, p, *a))
    cfg = TrainConfig(epochs=3, batch_size=16, members=1, partner="", drop_hard=0.25, drop_epoch=1)
    dropped = train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3)
    assert seen[0] == len(pools[0]) and seen[1] == seen[2] < len(pools[0]) * 0.8  # from epoch 1 on
    plain = train_groups(TrainConfig(epochs=3, batch_size=16).solo(), images, synth.labels, pools, evals, seed=0,
                         n_classes=3)
    assert np.allclose(plain.probs[0], dropped.probs[0]) and not np.allclose(plain.probs[-1], dropped.probs[-1])


def test_region_swap_and_the_soft_f1_and_consistency_terms_train_and_change_the_loss(synth):
    images = torch.from_numpy(features_to_input(synth.images))
    pools, evals = [np.arange(20, len(synth))], [np.arange(20)]
    losses = {}
    for name, extra in [("plain", {}), ("swap", {"region_swap": 0.5}), ("f1", {"f1_weight": 0.5}),
                        ("consistency", {"consistency_weight": 1.0})]:
        cfg = TrainConfig(epochs=1, batch_size=16, members=1, partner="", **extra)
        res = train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3)
        assert np.isfinite(res.train_loss).all()
        losses[name] = float(res.train_loss[0])
    assert losses["swap"] != losses["plain"] and losses["f1"] > losses["plain"] and losses["consistency"] > 0
    assert losses["consistency"] != losses["plain"]


@pytest.mark.parametrize("model", ["sofp", "ststnet"])
def test_domain_adversarial_training_keeps_the_dataset_head_out_of_the_model(synth, model):
    images = torch.from_numpy(features_to_input(synth.images))
    pools, evals = [np.arange(20, len(synth))], [np.arange(20)]
    cfg = TrainConfig(model=model, epochs=1, batch_size=16, members=1, partner="", domain_weight=0.3)
    with pytest.raises(ValueError, match="dataset"):
        train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3)
    datasets = np.where(np.arange(len(synth)) % 2 == 0, "a", "b")
    res = train_groups(cfg, images, synth.labels, pools, evals, seed=0, n_classes=3, datasets=datasets)
    plain = train_groups(replace(cfg, domain_weight=0.0), images, synth.labels, pools, evals, seed=0, n_classes=3)
    assert np.isfinite(res.train_loss).all() and res.train_loss[0] != plain.train_loss[0]
    assert set(res.params) == set(plain.params)  # what ships is the model alone
    unstack(cfg, res, 0, 3)


def test_balanced_batches_draw_every_class_about_equally_often_from_each_groups_own_pool():
    from sofp.training.trainer import _index_table

    labels = np.array([0] * 80 + [1] * 15 + [2] * 5)
    pools = [np.arange(100), np.arange(50, 100)]
    table = _index_table(np.random.default_rng(0), pools, steps=200, batch=32, labels=labels)
    counts = np.bincount(labels[table[:, 0].ravel()], minlength=3) / table[:, 0].size
    assert np.allclose(counts, 1 / 3, atol=0.03)
    assert set(table[:, 1].ravel()) <= set(pools[1].tolist())
    plain = _index_table(np.random.default_rng(0), pools, steps=4, batch=32)
    assert sorted(plain[:, 0].ravel()[:100].tolist()) == list(range(100))  # one pass over the pool, no repeats
