"""Leave-one-subject-out evaluation with resumable, vectorised fold training.

Honest protocol (the default and the headline): a fixed schedule, the final epoch's (EMA) model,
nothing about the held-out subject used for any choice. The "oracle" report re-scores the same run
taking, per held-out subject, the epoch that scored best on that very subject (what several
published scripts do); it is optimistic by construction and always reported apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sofp.runtime.errors import UsageError
from sofp.runtime.features import features_to_input
from sofp.training.data.flowset import FlowSet
from sofp.training.data.perturb import PERTURBATIONS
from sofp.training.metrics import summarise
from sofp.training.plots import plot_confusion, plot_curves
from sofp.training.trainer import GroupResult, TrainConfig, padded_index, predict_groups, train_groups

PERTURB_SEED = 7  # fixed: every configuration is measured on the same perturbed inputs


@dataclass(frozen=True)
class Fold:
    """One LOSO fold: the held-out subject, its sample indices and the training indices."""

    subject: str
    train: np.ndarray
    test: np.ndarray


def loso_folds(subjects: np.ndarray) -> list[Fold]:
    """One fold per subject (sorted); a fold's training set never contains its held-out subject."""
    folds = []
    for s in sorted(set(subjects.tolist())):
        test = np.flatnonzero(subjects == s)
        train = np.flatnonzero(subjects != s)
        folds.append(Fold(s, train, test))
    return folds


def tuning_groups(subjects: np.ndarray, k: int = 4, seed: int = 123) -> list[np.ndarray]:
    """The tuning split: the sorted subjects shuffled once (``seed``) and dealt into ``k`` groups; returns each
    group's sample indices (held out in turn by ``benchmarks/tuning.py``)."""
    names = np.array(sorted(set(subjects.tolist())))
    perm = np.random.default_rng(seed).permutation(len(names))
    return [np.flatnonzero(np.isin(subjects, names[perm[i::k]])) for i in range(k)]


def _oracle_epochs(epoch_preds: np.ndarray, y: np.ndarray) -> int:
    """Index of the first epoch with the most correct predictions on the held-out subject."""
    return int(np.argmax((epoch_preds == y[None, :]).sum(axis=1)))


def _fingerprint(data: FlowSet) -> dict:
    return {"n": len(data), "subjects": len(set(data.subjects.tolist())), "labels": list(data.label_names),
            "files_hash": hash_strings(data.files)}


def hash_strings(items: tuple[str, ...]) -> str:
    """Short stable hash of a list of names (the dataset's file list in a run's fingerprint)."""
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def _train_chunk(job: tuple) -> dict:
    """Train one chunk of folds; returns its record (what ``chunk_NN.json`` holds)."""
    data, cfg, seed, part, first, device, progress, threads = job
    if threads:
        torch.set_num_threads(threads)
    images = torch.from_numpy(features_to_input(data.images))
    t0 = time.perf_counter()
    res = train_groups(
        cfg, images, data.labels, [f.train for f in part], [f.test for f in part], seed, len(data.label_names),
        progress=f"folds {first + 1}-{first + len(part)}" if progress else None, first_group=first, device=device,
        datasets=data.datasets, subjects=data.subjects,
    )
    rec = {"seconds": time.perf_counter() - t0, "train_loss": res.train_loss.tolist(), "folds": []}
    perturbed = _perturbed_preds(res, cfg, images, part)
    for g, f in enumerate(part):
        probs = res.probs[:, g, : len(f.test)]  # (epochs, T, C)
        rec["folds"].append({
            "subject": f.subject, "test": f.test.tolist(),
            "final_probs": probs[-1].round(6).tolist(),
            "epoch_preds": probs.argmax(-1).tolist(),
            "perturbed_probs": {name: p[g, : len(f.test)].round(4).tolist() for name, p in perturbed.items()},
        })
    return rec


def _perturbed_preds(res: GroupResult, cfg: TrainConfig, images: torch.Tensor, part: list[Fold]) -> dict:
    """Each fold's final model's probabilities for its held-out samples under each flow perturbation:
    (G, T, C) per perturbation name."""
    idx = torch.from_numpy(padded_index([f.test for f in part]))
    x = images[idx]  # (G, T, 3, 28, 28)
    out = {}
    for k, (name, perturb) in enumerate(PERTURBATIONS.items()):
        xp = perturb(x.flatten(0, 1), PERTURB_SEED + k).view_as(x)
        out[name] = predict_groups(res.base, res.params, res.buffers, xp, cfg.tta_mirror).float().numpy()
    return out


MEMBER_SEED_STRIDE = 1000  # ensemble member m of seed s trains with seed s + 1000 m (member 0 = the single model)


def member_seed(seed: int, member: int) -> int:
    """The training seed of ensemble member ``member`` of an ensemble run with ``seed``."""
    return seed + MEMBER_SEED_STRIDE * member


def schedules(cfg: TrainConfig, seed: int) -> list[tuple[TrainConfig, int]]:
    """Every model a schedule trains, with its seed: the members, then the partner (if any, the next seed)."""
    plan = [(cfg.solo(), member_seed(seed, m)) for m in range(cfg.members)]
    if cfg.partner:
        plan.append((cfg.partner_schedule(), member_seed(seed, cfg.members)))
    return plan


def mix_probs(members: list[np.ndarray], partner: np.ndarray | None, weight: float) -> np.ndarray:
    """An ensemble's probability (as its graph computes it): the members' mean, mixed with the partner's at
    ``weight`` when there is a partner."""
    mean = np.mean(members, axis=0)
    return mean if partner is None else (1.0 - weight) * mean + weight * partner


# fields whose default is not what the code did before they existed
BEFORE_FIELD = {"partner": "", "partner_config": {}}


def _with_new_defaults(stored: dict) -> dict:
    """A stored run's settings with training fields added since then at what the code did before they existed:
    their default, or ``BEFORE_FIELD``'s value (a field whose default changed the shipped configuration)."""
    train = stored.get("train")
    if isinstance(train, dict):
        before = {**TrainConfig().to_dict(), **BEFORE_FIELD}
        stored = {**stored, "train": {**{k: v for k, v in before.items() if k not in train}, **train}}
    return stored


def run_loso(
    data: FlowSet,
    cfg: TrainConfig,
    seed: int,
    out_dir: str | Path,
    chunk: int = 17,
    device: str = "cpu",
    progress: bool = True,
    workers: int = 1,
) -> dict:
    """Run (or resume) LOSO of ``cfg`` with ``seed`` on ``data``; results in ``out_dir/result.json``.

    Folds train ``chunk`` at a time as one vectorised model; each finished chunk is saved, so a
    killed run resumes at the first unfinished chunk. With ``workers`` > 1 (CPU only), chunks train
    in that many processes with one PyTorch thread each (on a 2-core machine, faster than one
    process with two threads); results do not depend on ``workers``. Returns the result dict.
    """
    out = Path(out_dir)
    if cfg.ensemble:
        return _run_ensemble(data, cfg, seed, out, chunk, device, progress, workers)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"train": cfg.to_dict(), "seed": seed, "chunk": chunk, "data": _fingerprint(data)}
    cfg_path = out / "config.json"
    if cfg_path.exists():
        if _with_new_defaults(json.loads(cfg_path.read_text())) != settings:
            raise UsageError(f"{out} holds a LOSO run with other settings; use a new --out or delete it")
    else:
        cfg_path.write_text(json.dumps(settings, indent=1))
    folds = loso_folds(data.subjects)
    chunks = [folds[i : i + chunk] for i in range(0, len(folds), chunk)]
    paths = [out / f"chunk_{c:02d}.json" for c in range(len(chunks))]
    todo = [c for c, path in enumerate(paths) if not path.exists()]
    bar = tqdm(total=len(folds), desc=f"LOSO {cfg.model} seed {seed}", unit="fold", disable=not progress)
    bar.update(sum(len(chunks[c]) for c in range(len(chunks)) if c not in todo))
    t0 = time.perf_counter()
    parallel = workers > 1 and len(todo) > 1 and torch.device(device).type == "cpu"
    jobs = [(data, cfg, seed, chunks[c], c * chunk, device, progress and not parallel, 1 if parallel else None)
            for c in todo]
    with contextlib.ExitStack() as stack:
        if parallel:
            pool = stack.enter_context(ProcessPoolExecutor(min(workers, len(todo)), mp_context=get_context("spawn")))
            records_iter = pool.map(_train_chunk, jobs)
        else:
            records_iter = map(_train_chunk, jobs)
        for c, rec in zip(todo, records_iter, strict=True):
            paths[c].write_text(json.dumps(rec))
            bar.update(len(chunks[c]))
    bar.close()
    records = [json.loads(path.read_text()) for path in paths]
    result = _summarise_run(data, cfg, seed, records)
    result["label_kept"] = label_kept(result)
    result["wall_seconds"] = time.perf_counter() - t0
    result["workers"] = workers if parallel else 1
    (out / "result.json").write_text(json.dumps(result, indent=1))
    plot_confusion(result["honest"]["confusion"], data.label_names,
                   f"{cfg.model} LOSO seed {seed}: UF1 {result['honest']['uf1']:.3f} UAR {result['honest']['uar']:.3f}",
                   out / "confusion.png")
    plot_curves(result["curves"], f"{cfg.model} LOSO seed {seed}", out / "curves.png")
    return result


def _run_ensemble(data: FlowSet, cfg: TrainConfig, seed: int, out: Path, chunk: int, device: str, progress: bool,
                  workers: int) -> dict:
    """LOSO of an ensemble: each member is an ordinary (resumable) LOSO run in ``out/member<m>`` with its
    own seed, the partner (if any) one in ``out/partner`` with the next member seed; the ensemble's
    probability for a held-out sample is the members' mean, mixed with the partner's by ``partner_weight``.

    No per-subject oracle is computed for an ensemble (only each member's argmax per epoch is stored).
    """
    runs = [run_loso(data, schedule, s, out / (f"member{m}" if m < cfg.members else "partner"), chunk, device,
                     progress, workers) for m, (schedule, s) in enumerate(schedules(cfg, seed))]
    members, partner = runs[: cfg.members], (runs[-1] if cfg.partner else None)

    def mixed(name: str | None = None) -> np.ndarray:
        def probs_of(r: dict) -> np.ndarray:
            return np.asarray(r["predictions"]["probs"] if name is None else r["perturbed_probs"][name])
        return mix_probs([probs_of(r) for r in members], None if partner is None else probs_of(partner),
                         cfg.partner_weight)

    index = np.asarray(members[0]["predictions"]["index"])
    if partner is not None and not np.array_equal(index, partner["predictions"]["index"]):
        raise RuntimeError(f"{out}: the partner's held-out samples are not in the members' order")
    probs = mixed()
    pred = probs.argmax(-1)
    what = f"{cfg.members}-member {cfg.model}" + (f" + {cfg.partner}" if partner is not None else "")
    result = {
        "model": cfg.model, "seed": seed, "config": cfg.to_dict(),
        "honest": summarise(data.labels[index], pred, data.label_names, data.datasets[index]),
        "oracle": None,
        "members": [{"seed": r["seed"], "honest_uf1": r["honest"]["uf1"], "honest_uar": r["honest"]["uar"]}
                    for r in members],
        "partner": (None if partner is None else
                    {"model": cfg.partner, "seed": partner["seed"], "weight": cfg.partner_weight,
                     "honest_uf1": partner["honest"]["uf1"], "honest_uar": partner["honest"]["uar"]}),
        "curves": {k: np.mean([r["curves"][k] for r in members], axis=0).tolist() for k in members[0]["curves"]},
        "seconds": float(sum(r["seconds"] for r in runs)),
        "wall_seconds": float(sum(r["wall_seconds"] for r in runs)),
        "predictions": prediction_table(data, index, probs),
        "perturbed_probs": {name: mixed(name).round(4).tolist() for name in members[0]["perturbed_probs"]},
    }
    result["label_kept"] = label_kept(result)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    plot_confusion(result["honest"]["confusion"], data.label_names,
                   f"{what} LOSO seed {seed}: UF1 {result['honest']['uf1']:.3f} UAR {result['honest']['uar']:.3f}",
                   out / "confusion.png")
    return result


def label_kept(result: dict) -> dict[str, float]:
    """Fraction of held-out samples whose label under each flow perturbation equals their label."""
    pred = np.asarray(result["predictions"]["pred"])
    return {name: float((np.asarray(p).argmax(-1) == pred).mean()) for name, p in result["perturbed_probs"].items()}


def prediction_table(data: FlowSet, index: np.ndarray, probs: np.ndarray) -> dict:
    """Every held-out prediction, enough to recompute UF1/UAR: sample index and file, subject (whose fold
    held it out), LOSO fold number (subjects in sorted order), dataset, true and predicted label, probabilities."""
    fold_of = {s: i for i, s in enumerate(sorted(set(data.subjects.tolist())))}
    return {"index": index.tolist(), "file": [data.files[i] for i in index],
            "subject": data.subjects[index].tolist(), "fold": [fold_of[s] for s in data.subjects[index].tolist()],
            "dataset": data.datasets[index].tolist(), "true": data.labels[index].tolist(),
            "pred": probs.argmax(-1).tolist(), "probs": np.round(probs, 6).tolist()}


def _summarise_run(data: FlowSet, cfg: TrainConfig, seed: int, records: list[dict]) -> dict:
    folds = [f for r in records for f in r["folds"]]
    test = np.concatenate([np.asarray(f["test"]) for f in folds])
    y = data.labels[test]
    final = np.concatenate([np.asarray(f["final_probs"]).argmax(-1) for f in folds])
    oracle = []
    for f in folds:
        ep = np.asarray(f["epoch_preds"])
        oracle.append(ep[_oracle_epochs(ep, data.labels[np.asarray(f["test"])])])
    epoch_preds = np.concatenate([np.asarray(f["epoch_preds"]) for f in folds], axis=1)  # (epochs, N)
    curves = {
        "train_loss": np.mean([r["train_loss"] for r in records], axis=0).tolist(),
        "heldout_uf1": [summarise(y, p, data.label_names)["uf1"] for p in epoch_preds],
        "heldout_uar": [summarise(y, p, data.label_names)["uar"] for p in epoch_preds],
    }
    return {
        "model": cfg.model,
        "seed": seed,
        "config": cfg.to_dict(),
        "honest": summarise(y, final, data.label_names, data.datasets[test]),
        "oracle": summarise(y, np.concatenate(oracle), data.label_names, data.datasets[test]),
        "curves": curves,
        "seconds": float(sum(r["seconds"] for r in records)),
        "predictions": prediction_table(data, test, np.concatenate([np.asarray(f["final_probs"]) for f in folds])),
        "perturbed_probs": {name: np.concatenate([np.asarray(f["perturbed_probs"][name]) for f in folds]).tolist()
                            for name in folds[0]["perturbed_probs"]},
    }
