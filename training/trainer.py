"""Train many independent models at once (one per fold, or one per seed) as a single vectorised model.

Each group g trains its own copy of the network on its own sample indices; parameters are stacked
with ``torch.func.stack_module_state`` and the forward pass is ``vmap``-ed over groups, so a 68-fold
LOSO costs one batched model instead of 68 small ones. Nothing is shared between groups: the loss
is a sum of per-group losses, AdamW is element-wise, batches are drawn per group, and no layer
computes statistics across groups.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from sofp.training.config import TrainConfig
from sofp.training.data.augment import (
    mirror,
    mixup,
    random_erase,
    random_flow_noise,
    random_gain,
    random_mirror,
    random_region_swap,
    random_shift,
    random_strain_swap,
)
from sofp.training.losses import cell_weights, class_weights, focal_loss, smoothed_onehot, soft_f1_loss, subject_weights
from sofp.training.models import build_model


@dataclass
class GroupResult:
    """What one vectorised run produced. probs: (epochs, G, T, C) held-out probabilities per epoch."""

    params: dict[str, torch.Tensor]  # EMA weights, stacked (G, ...)
    buffers: dict[str, torch.Tensor]
    probs: np.ndarray
    train_loss: np.ndarray  # (epochs,) mean over groups
    base: torch.nn.Module  # the architecture on the meta device, for functional calls with params/buffers


def _build_group(cfg: TrainConfig, n_groups: int, seed: int, n_classes: int, first_group: int):
    models = []
    for g in range(first_group, first_group + n_groups):
        torch.manual_seed(seed * 100_003 + g)
        models.append(build_model(cfg.model, num_classes=n_classes, **cfg.model_config))
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    return base, params, buffers


DOMAIN = "domain_head."  # the dataset classifier's parameters (domain_weight > 0), trained beside the model only


def _domain_targets(cfg: TrainConfig, datasets: np.ndarray | None, n: int) -> torch.Tensor:
    """(N, D) one-hot dataset of each sample when ``cfg.domain_weight`` > 0, else (N, 0)."""
    if cfg.domain_weight <= 0:
        return torch.zeros(n, 0)
    if datasets is None:
        raise ValueError("domain_weight needs each sample's dataset")
    _, index = np.unique(datasets, return_inverse=True)
    return torch.eye(int(index.max()) + 1)[torch.from_numpy(index)]


def _domain_head(cfg: TrainConfig, n_classes: int, n_groups: int, n_domains: int,
                 device: torch.device) -> dict[str, torch.Tensor]:
    """Per group, a linear dataset classifier on the model's pooled features (the head's input)."""
    probe = build_model(cfg.model, num_classes=n_classes, **cfg.model_config).eval()
    with torch.no_grad():
        width = probe(torch.zeros(1, 3, 28, 28), with_features=True)[2].shape[-1]
    weight = torch.randn(n_groups, n_domains, width) * width ** -0.5
    return {DOMAIN + "weight": weight.to(device).requires_grad_(),
            DOMAIN + "bias": torch.zeros(n_groups, n_domains, device=device, requires_grad=True)}


def padded_index(sets: list[np.ndarray], mode: Literal["edge", "wrap"] = "edge") -> np.ndarray:
    """(G, longest) sample indices: each group's set padded to the longest (``np.pad`` mode; "edge" repeats its
    last sample, "wrap" starts it again), so the groups stack for the vectorised model."""
    longest = max(len(s) for s in sets)
    return np.stack([np.pad(s, (0, longest - len(s)), mode=mode) for s in sets])


def _index_table(rng: np.random.Generator, pools: list[np.ndarray], steps: int, batch: int,
                 labels: np.ndarray | None = None) -> np.ndarray:
    """(steps, G, batch) sample indices: each group walks a fresh permutation of its own pool, or, given
    ``labels``, draws from it with replacement so that every class is drawn equally often on average."""
    out = np.empty((steps, len(pools), batch), np.int64)
    need = steps * batch
    for g, pool in enumerate(pools):
        if labels is not None:
            _, inverse, counts = np.unique(labels[pool], return_inverse=True, return_counts=True)
            chance = 1.0 / counts[inverse]
            out[:, g, :] = rng.choice(pool, size=need, p=chance / chance.sum()).reshape(steps, batch)
            continue
        reps = math.ceil(need / len(pool))
        out[:, g, :] = np.concatenate([rng.permutation(pool) for _ in range(reps)])[:need].reshape(steps, batch)
    return out


def predict_groups(
    base: torch.nn.Module, params: dict, buffers: dict, x: torch.Tensor, tta_mirror: bool
) -> torch.Tensor:
    """Probabilities (G, T, C) of each group's model on its own inputs x (G, T, 3, 28, 28)."""
    base.eval()

    def one(p, b, xi):
        return functional_call(base, (p, b), (xi,))

    with torch.no_grad():
        probs = vmap(one)(params, buffers, x).softmax(-1)
        if tta_mirror:
            probs = 0.5 * (probs + vmap(one)(params, buffers, mirror(x)).softmax(-1))
    return probs


def _sharpness_aware_grad(params: dict[str, torch.Tensor], loss_fn: Callable[..., torch.Tensor], args: tuple,
                          rho: float, amp) -> None:
    """Replace each group's gradient (already in ``.grad``) by the gradient of ``loss_fn(*args).sum()`` at that
    group's weights moved by ``rho`` along its normalised gradient (SAM, Foret et al. 2021); the weights are
    restored."""
    with torch.no_grad():
        grads = {k: v.grad for k, v in params.items() if v.grad is not None}
        norm = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads.values()]).sum(0).sqrt()  # (groups,)
        saved = {k: params[k].detach().clone() for k in grads}
        for k, g in grads.items():
            params[k].add_(rho * g / (norm.view(-1, *[1] * (g.dim() - 1)) + 1e-12))
    for v in params.values():
        v.grad = None
    with amp:
        loss = loss_fn(*args).sum()
    loss.backward()
    with torch.no_grad():
        for k, w in saved.items():
            params[k].copy_(w)


def _teacher_targets(cfg: TrainConfig, images: torch.Tensor, labels: np.ndarray, onehot: torch.Tensor,
                     train_pools: list[np.ndarray], seed: int, n_classes: int, first_group: int,
                     device: str | torch.device, datasets: np.ndarray | None,
                     subjects: np.ndarray | None) -> torch.Tensor:
    """Per group, every sample's target mixed with a teacher's final probability: (G, N, C). The teacher is the
    shipped partner's model (``TrainConfig().partner``) on this schedule, trained first on the group's own pool
    (so on no held-out subject)."""
    shipped = TrainConfig()
    teacher = replace(cfg, partner=shipped.partner, partner_config=shipped.partner_config,
                      distill_weight=0.0).partner_schedule()
    res = train_groups(teacher, images, labels, train_pools, [p[:1] for p in train_pools], seed, n_classes,
                       first_group=first_group, device=device, datasets=datasets, subjects=subjects)
    every = images.unsqueeze(0).expand(len(train_pools), *images.shape)  # each group labels every sample, once
    probs = predict_groups(res.base, res.params, res.buffers, every, teacher.tta_mirror).float()  # (G, N, C)
    return (1.0 - cfg.distill_weight) * onehot + cfg.distill_weight * probs


def drop_hardest(probs: np.ndarray, labels: np.ndarray, pools: list[np.ndarray], share: float) -> list[np.ndarray]:
    """Each pool without, per class, the ``round(share x its count)`` samples whose probability of their own
    label is lowest. probs: (G, longest, C), group g's pool in its first ``len(pools[g])`` rows."""
    kept = []
    for g, pool in enumerate(pools):
        own = probs[g, np.arange(len(pool)), labels[pool]]
        drop = np.zeros(len(pool), bool)
        for c in np.unique(labels[pool]):
            rows = np.flatnonzero(labels[pool] == c)
            drop[rows[np.argsort(own[rows], kind="stable")[: round(share * len(rows))]]] = True
        kept.append(pool[~drop])
    return kept


def train_groups(
    cfg: TrainConfig,
    images: torch.Tensor,
    labels: np.ndarray,
    train_pools: list[np.ndarray],
    eval_sets: list[np.ndarray],
    seed: int,
    n_classes: int,
    progress: str | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
    first_group: int = 0,
    device: str | torch.device = "cpu",
    datasets: np.ndarray | None = None,
    subjects: np.ndarray | None = None,
) -> GroupResult:
    """Train one model per group on ``train_pools[g]`` (sample indices into ``images``).

    images: (N, 3, 28, 28) float32 in [0, 1]; labels: (N,) int. After every epoch each group's EMA
    model predicts its ``eval_sets[g]`` (padded to the longest set); those probabilities are
    returned for curves and for the optional per-subject best-epoch report, never used for a
    choice inside this function. ``datasets`` (N,) names each sample's dataset; ``cfg.balance_datasets``
    needs it; ``subjects`` (N,) names each sample's subject, and ``cfg.subject_weight_power`` needs it.
    Group g's initial weights depend on (seed, first_group + g) only.
    On CUDA the forward pass runs under bfloat16 autocast (mixed precision); augmentation random
    numbers are drawn on the CPU so a seed gives the same batches on any device.
    """
    device = torch.device(device)
    n_groups = len(train_pools)
    gen = torch.Generator().manual_seed(seed * 1_000 + first_group)
    torch.manual_seed(seed * 1_000 + first_group)
    rng = np.random.default_rng(seed * 1_000 + first_group)
    base, params, buffers = _build_group(cfg, n_groups, seed, n_classes, first_group)
    params = {k: v.detach().to(device).requires_grad_() for k, v in params.items()}
    buffers = {k: v.to(device) for k, v in buffers.items()}
    ema = {k: v.detach().clone() for k, v in params.items()}
    if cfg.balance_datasets:
        if datasets is None:
            raise ValueError("balance_datasets needs each sample's dataset")
        weights = torch.ones(n_groups, n_classes, device=device)
        sample_w = np.zeros((n_groups, len(labels)), np.float32)  # per group: its own pool's cell weights
        for g, p in enumerate(train_pools):
            sample_w[g, p] = cell_weights(labels[p], datasets[p])
    else:
        weights = torch.from_numpy(
            np.stack([class_weights(labels[p], n_classes, cfg.class_weight_power) for p in train_pools])).to(device)
        sample_w = np.ones((n_groups, len(labels)), np.float32)
    if cfg.subject_weight_power > 0:
        if subjects is None:
            raise ValueError("subject_weight_power needs each sample's subject")
        for g, p in enumerate(train_pools):
            sample_w[g, p] *= subject_weights(subjects[p], cfg.subject_weight_power)
    sample_w_t = torch.from_numpy(sample_w)
    domains = _domain_targets(cfg, datasets, len(labels))  # (N, D) one-hot datasets, D = 0 when not asked for
    if domains.shape[1]:
        params.update(_domain_head(cfg, n_classes, n_groups, domains.shape[1], device))
    labels_t = torch.from_numpy(labels)
    onehot = smoothed_onehot(labels, n_classes, cfg.label_smoothing)
    soft = (_teacher_targets(cfg, images, labels, onehot, train_pools, seed, n_classes, first_group, device, datasets,
                             subjects) if cfg.distill_weight > 0 else None)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    eval_idx = padded_index(eval_sets)
    x_eval = images[torch.from_numpy(eval_idx)].to(device)

    steps = math.ceil(max(len(p) for p in train_pools) / cfg.batch_size)
    total = steps * cfg.epochs
    warm = steps * cfg.warmup_epochs
    opt = torch.optim.AdamW(params.values(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: (t + 1) / warm if t < warm else 0.5 * (1 + math.cos(math.pi * (t - warm) / max(1, total - warm)))
    )

    def loss_one(p, b, xb, tb, w, xv):
        target = tb[:, :n_classes]
        model_p = {k: v for k, v in p.items() if not k.startswith(DOMAIN)}
        h = None
        if domains.shape[1]:
            logits, sym, h = functional_call(base, (model_p, b), (xb,), {"with_features": True})
        else:
            logits, sym = functional_call(base, (model_p, b), (xb,), {"with_sym": True})
        loss = focal_loss(logits, target, w, cfg.focal_gamma, tb[:, -1]) + cfg.sym_weight * sym
        if cfg.consistency_weight > 0:  # the same (mixed) samples mirrored and shifted again should score alike
            other = functional_call(base, (model_p, b), (xv,)).softmax(-1)
            loss = loss + cfg.consistency_weight * (logits.softmax(-1) - other).pow(2).sum(-1).mean()
        if cfg.f1_weight > 0:
            loss = loss + cfg.f1_weight * soft_f1_loss(logits, target)
        if h is not None:  # the head learns the dataset; the reversed gradient teaches the features to hide it
            reversed_h = h.detach() - (h - h.detach())
            dom_logits = reversed_h @ p[DOMAIN + "weight"].T + p[DOMAIN + "bias"]
            loss = loss - cfg.domain_weight * (tb[:, n_classes:-1] * dom_logits.log_softmax(-1)).sum(-1).mean()
        return loss

    grouped_loss = vmap(loss_one, randomness="different")
    all_probs, losses = [], []
    bar = tqdm(range(cfg.epochs), desc=progress or "train", unit="epoch", leave=False, disable=progress is None)
    step = 0
    for epoch in bar:
        if cfg.drop_hard > 0 and epoch == cfg.drop_epoch:
            x_pool = images[torch.from_numpy(padded_index(train_pools))].to(device)
            pool_probs = predict_groups(base, ema, buffers, x_pool, cfg.tta_mirror).float().cpu().numpy()
            train_pools = drop_hardest(pool_probs, labels, train_pools, cfg.drop_hard)
        base.train()
        table = torch.from_numpy(_index_table(rng, train_pools, steps, cfg.batch_size,
                                              labels if cfg.balanced_batches else None))
        epoch_loss = 0.0
        for s in range(steps):
            idx = table[s]
            sw = torch.gather(sample_w_t, 1, idx)[..., None]  # mixed with the targets, as their last column
            target = onehot[idx] if soft is None else soft[torch.arange(n_groups)[:, None], idx]
            xb, tb = images[idx], torch.cat([target, domains[idx], sw], dim=-1)
            if cfg.mirror_aug:
                xb = random_mirror(xb, gen)
            xb = random_shift(xb, gen, cfg.shift_px, cfg.scale_jitter)
            xb = random_flow_noise(xb, gen, cfg.flow_noise)
            xb = random_gain(xb, gen, cfg.gain_jitter)
            xb = random_strain_swap(xb, gen, cfg.strain_swap)
            xb = random_erase(xb, gen, cfg.erase_px)
            xb = random_region_swap(xb, labels_t[idx], gen, cfg.region_swap)
            xb, tb = mixup(xb, tb, gen, cfg.mixup_alpha)
            xb = xb.to(device)
            view = random_shift(mirror(xb.cpu()), gen, cfg.shift_px).to(device) if cfg.consistency_weight > 0 else xb
            args = (params, buffers, xb, tb.to(device), weights, view)
            with amp:
                loss = grouped_loss(*args).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.sam_rho > 0:
                _sharpness_aware_grad(params, grouped_loss, args, cfg.sam_rho, amp)
            opt.step()
            sched.step()
            step += 1
            decay = min(cfg.ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for k, v in ema.items():
                    v.lerp_(params[k].detach(), 1 - decay)
            epoch_loss += loss.item() / n_groups
        losses.append(epoch_loss / steps)
        all_probs.append(predict_groups(base, ema, buffers, x_eval, cfg.tta_mirror).float().cpu().numpy())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    ema = {k: v.cpu() for k, v in ema.items()}
    buffers = {k: v.cpu() for k, v in buffers.items()}
    return GroupResult(ema, buffers, np.stack(all_probs), np.asarray(losses), base)


def unstack(cfg: TrainConfig, result: GroupResult, group: int, n_classes: int) -> torch.nn.Module:
    """Group ``group``'s EMA model as an ordinary module in eval mode (tied weights stay tied)."""
    model = build_model(cfg.model, num_classes=n_classes, **cfg.model_config)
    stacked = {**result.params, **result.buffers}
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            tensor.copy_(stacked[name][group])
    return model.eval()
