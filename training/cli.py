"""sofp-train (also python -m sofp.training): LOSO evaluation, a fixed split, and the deployable model.

    sofp-train loso  --data ../shared/data/composite --model sofp --seed 0 --out runs/loso-sofp
    sofp-train split --data DIR --test-fraction 0.2 --out runs/split
    sofp-train all   --data DIR --out best.pt
    --data synthetic uses the built-in synthetic set (no download).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sofp.runtime.errors import UsageError, run_cli

if TYPE_CHECKING:  # torch, scikit-learn and the data code load only when a command runs (--help stays fast)
    import numpy as np

    from sofp.training.config import TrainConfig
    from sofp.training.data.flowset import FlowSet

DEVICES = ("auto", "cpu", "cuda")

RAW_HELP = {
    "prepare": "raw dataset (CASME II, SAMM, SMIC, CAS(ME)^3, DFME) -> flow images + labels.csv",
    "merge": "merge prepared datasets into one composite folder",
    "protocol": "run a dataset's evaluation protocol (LOSO per dataset, composite, DFME 10-fold)",
}


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return value


def bars() -> bool:
    """Progress bars only on a terminal: piped or logged, their carriage returns pile up on one line."""
    return sys.stderr.isatty()


def build_train_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from ``--model``, ``--epochs`` and ``--set key=value`` (``--set model.dim=48`` for the model):
    values typed and range-checked and the model's config built, without torch, so a bad setting fails in
    well under a second, before torch or the data load."""
    from sofp.training.config import TrainConfig
    from sofp.training.models.configs import CONFIGS, model_config
    from sofp.training.settings import parse_settings

    model_config(args.model)  # an unknown model name: one line listing the known ones
    items = args.set or []
    partner, _ = parse_settings([i for i in items if i.strip().startswith("partner=")], TrainConfig, CONFIGS["sofp"])
    name = partner.get("partner", TrainConfig.partner)
    train, model_cfg = parse_settings(items, TrainConfig, CONFIGS[args.model], CONFIGS[name] if name else None)
    if args.epochs is not None:
        train["epochs"] = args.epochs
    fields = train.pop("partner_fields", {})
    if fields or "partner" in train:  # partner.<field> on top of the default partner's config, if it is the same
        same = name == TrainConfig.partner
        train["partner_config"] = {**(TrainConfig().partner_config if same else {}), **fields}
    if args.model != TrainConfig.model:  # another model is a baseline: alone unless members or a partner are asked for
        train.setdefault("members", 1)
        if "partner" not in train and not fields:
            train.update(partner="", partner_config={})
    for what, built, cfg in ((args.model, args.model, model_cfg), ("the partner", name, train.get("partner_config"))):
        if not built or cfg is None:
            continue
        try:
            model_config(built, num_classes=3, **cfg)
        except ValueError as exc:
            settings = ", ".join(f"{k}={v}" for k, v in cfg.items())
            raise UsageError(f"--set: {what} cannot be built with {settings}: {exc}") from None
    cfg = TrainConfig(model=args.model, model_config=model_cfg, **train)
    if cfg.drop_hard > 0 and cfg.drop_epoch >= cfg.epochs:
        raise UsageError(f"--set: drop_epoch {cfg.drop_epoch} is not below epochs {cfg.epochs}: "
                         "nothing would be dropped")
    return cfg


def check_input_paths(args: argparse.Namespace) -> None:
    """A ``--data`` or ``--root`` path that does not exist is a usage error, said before anything heavy loads."""
    data = getattr(args, "data", None)
    for path in data if isinstance(data, list) else [data] if data else []:
        if path != "synthetic" and not Path(path).exists():
            raise UsageError(f"--data {path}: no such folder; give a flow-image folder with labels.csv, "
                             "or 'synthetic'")
    root = getattr(args, "root", None)
    if root is not None and not Path(root).expanduser().is_dir():
        raise UsageError(f"--root {root}: no such folder; give the folder that holds the dataset")


def load_data(args: argparse.Namespace) -> FlowSet:
    from sofp.training.data.flowset import load_flowset
    from sofp.training.data.synthetic import make_synthetic_set

    if args.data == "synthetic":
        return make_synthetic_set(seed=args.seed)
    return load_flowset(args.data, args.dataset)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but this PyTorch sees no CUDA GPU; use --device cpu or auto")
    return name


def cmd_loso(args: argparse.Namespace) -> int:
    from sofp.training.loso import run_loso

    cfg = build_train_config(args)
    data = load_data(args)
    out = Path(args.out or f"runs/loso-{cfg.model}-seed{args.seed}")
    res = run_loso(data, cfg, args.seed, out, chunk=args.chunk, device=resolve_device(args.device), progress=bars(),
                   workers=args.workers)
    h, o = res["honest"], res["oracle"]
    what = (f"{cfg.members}-member {cfg.model} ensemble" + (f" + {cfg.partner}" if cfg.partner else "")
            if cfg.ensemble else cfg.model)
    partner = res.get("partner")
    oracle = (f"per-subject best epoch (optimistic) UF1 {o['uf1']:.4f} UAR {o['uar']:.4f}" if o
              else "members: " + ", ".join(f"UF1 {m['honest_uf1']:.4f}" for m in res["members"])
              + (f"; partner {partner['model']}: UF1 {partner['honest_uf1']:.4f}" if partner else ""))
    print(f"{what} LOSO seed {args.seed}: honest UF1 {h['uf1']:.4f} UAR {h['uar']:.4f} acc {h['accuracy']:.4f} "
          f"| {oracle} | {res['seconds']:.0f} s")
    for ds, m in h.get("per_dataset", {}).items():
        print(f"  {ds}: UF1 {m['uf1']:.4f} UAR {m['uar']:.4f} (n={m['n']})")
    print(f"results: {out / 'result.json'}")
    return 0


def _fit_one(cfg: TrainConfig, data: FlowSet, train_idx: np.ndarray, seed: int, device: str,
             eval_idx: np.ndarray | None = None):
    import torch

    from sofp.runtime.features import features_to_input
    from sofp.training.trainer import train_groups

    images = torch.from_numpy(features_to_input(data.images))
    evals = [eval_idx if eval_idx is not None else train_idx[:1]]
    res = train_groups(cfg, images, data.labels, [train_idx], evals, seed, len(data.label_names),
                       progress="train" if bars() else None, device=device, datasets=data.datasets,
                       subjects=data.subjects)
    return res, images


def cmd_split(args: argparse.Namespace) -> int:
    import numpy as np

    from sofp.training.loso import mix_probs, schedules
    from sofp.training.metrics import summarise
    from sofp.training.plots import plot_confusion

    cfg = build_train_config(args)
    data = load_data(args)
    subjects = sorted(set(data.subjects.tolist()))
    if args.test_subjects:
        test_subj = args.test_subjects.split(",")
        unknown = sorted(set(test_subj) - set(subjects))
        if unknown:
            raise UsageError(f"--test-subjects {','.join(unknown)} not in the data; subjects: {', '.join(subjects)}")
    else:
        rng = np.random.default_rng(args.seed)
        k = max(1, round(args.test_fraction * len(subjects)))
        test_subj = sorted(rng.choice(subjects, size=k, replace=False).tolist())
    test = np.flatnonzero(np.isin(data.subjects, test_subj))
    train = np.flatnonzero(~np.isin(data.subjects, test_subj))
    t0 = time.perf_counter()
    probs, losses = [], []
    for schedule, seed in schedules(cfg, args.seed):  # an ensemble: mixed as in LOSO
        res, _ = _fit_one(schedule, data, train, seed, resolve_device(args.device), test)
        probs.append(res.probs[-1, 0])
        losses.append(res.train_loss)
    pred = mix_probs(probs[: cfg.members], probs[-1] if cfg.partner else None, cfg.partner_weight).argmax(-1)
    summary = summarise(data.labels[test], pred, data.label_names, data.datasets[test])
    out = Path(args.out or f"runs/split-{cfg.model}-seed{args.seed}")
    out.mkdir(parents=True, exist_ok=True)
    result = {"model": cfg.model, "seed": args.seed, "config": cfg.to_dict(), "test_subjects": test_subj,
              "result": summary, "seconds": time.perf_counter() - t0,
              "train_loss": np.mean(losses, axis=0).tolist()}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    plot_confusion(summary["confusion"], data.label_names,
                   f"{cfg.model} split: UF1 {summary['uf1']:.3f} UAR {summary['uar']:.3f}", out / "confusion.png")
    print(f"{cfg.model} split ({len(test_subj)} test subjects, {len(test)} samples): "
          f"UF1 {summary['uf1']:.4f} UAR {summary['uar']:.4f} acc {summary['accuracy']:.4f}; {out / 'result.json'}")
    return 0


def loso_scores(paths: list[Path]) -> dict:
    """Honest LOSO scores of one configuration over seeds, from ``sofp-train loso`` result files."""
    import numpy as np

    runs = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"--scores: no LOSO result at {path}")
        runs.append(json.loads(path.read_text()))
    honest = [r["honest"] for r in runs]
    return {
        "protocol": "68-fold LOSO, fixed schedule, final-epoch EMA weights, mirror test-time averaging",
        "seeds": [r["seed"] for r in runs],
        "uf1": [h["uf1"] for h in honest], "uar": [h["uar"] for h in honest],
        "uf1_mean": float(np.mean([h["uf1"] for h in honest])), "uar_mean": float(np.mean([h["uar"] for h in honest])),
        "per_dataset": {ds: {m: float(np.mean([h["per_dataset"][ds][m] for h in honest])) for m in ("uf1", "uar")}
                        for ds in honest[0].get("per_dataset", {})},
    }


def cmd_all(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from sofp.training.checkpoint import save_checkpoint
    from sofp.training.loso import schedules
    from sofp.training.metrics import summarise
    from sofp.training.models import config_of
    from sofp.training.models.ensemble import Ensemble
    from sofp.training.trainer import unstack

    cfg = build_train_config(args)
    data = load_data(args)
    scores = loso_scores([Path(s) for s in args.scores]) if args.scores else {}
    train = np.arange(len(data))
    device = resolve_device(args.device)
    # members (and partner) train one after another, with the LOSO's seeds (members >= 1: --set checks it)
    plan = schedules(cfg, args.seed)
    fits = [_fit_one(schedule, data, train, seed, device) for schedule, seed in plan]
    trained = [unstack(schedule, res, 0, len(data.label_names)) for (schedule, _), (res, _) in zip(plan, fits,
                                                                                                   strict=True)]
    losses = [float(res.train_loss[-1]) for res, _ in fits]
    images = fits[0][1]  # every member's input: all samples
    members = trained[: cfg.members]
    partner = (cfg.partner, trained[-1], cfg.partner_weight) if cfg.partner else None
    model = Ensemble.of(members, cfg.model, partner) if cfg.ensemble else members[0]
    with torch.no_grad():
        fit = summarise(data.labels, model(images).argmax(-1).numpy(), data.label_names)
    meta = {
        "model_name": "ensemble" if cfg.ensemble else cfg.model,
        "model_config": config_of(model).to_dict(),
        "labels": list(data.label_names),
        "train": {"config": cfg.to_dict(), "seed": args.seed, "data": str(args.data), "samples": len(data),
                  "subjects": len(set(data.subjects.tolist())), "final_train_loss": float(np.mean(losses)),
                  "train_set_accuracy": fit["accuracy"], "tta_mirror": cfg.tta_mirror},
        "scores": scores,
    }
    path = save_checkpoint(args.out or "best.pt", model, meta)
    print(f"wrote {path} ({meta['model_name']}, {len(data)} samples, train-set accuracy {fit['accuracy']:.3f})")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sofp-train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", required=True,
                       help="flow-image folder with labels.csv (or <name>_<label>.png files), or 'synthetic'")
        p.add_argument("--dataset", help="dataset of a <name>_<label>.png folder: casme2, samm, smic, casme3, dfme")
        p.add_argument("--model", default="sofp",
                       help="sofp (default: the shipped layout, 3 members + an STSTNet partner) or ststnet (one "
                            "model alone unless --set members=N or --set partner=NAME asks for more)")
        p.add_argument("--seed", type=int, default=0, help="makes a run repeatable (default 0)")
        p.add_argument("--epochs", type=positive_int, help="training epochs (default: the fixed schedule's)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a training setting (lr=0.001) or a model one (model.dim=48); repeatable; "
                            "typed and range-checked")
        p.add_argument("--device", default="auto", choices=DEVICES,
                       help="auto (CUDA if present, else CPU), cpu or cuda")
        p.add_argument("--out", help="output folder (loso, split) or checkpoint path (all)")
        p.add_argument("--threads", type=positive_int, help="CPU threads for PyTorch (default: all cores)")

    p = sub.add_parser("loso", help="leave-one-subject-out evaluation (resumable)")
    common(p)
    p.add_argument("--chunk", type=positive_int, default=17,
                   help="folds trained together as one vectorised model (default 17)")
    p.add_argument("--workers", type=positive_int, default=min(2, os.cpu_count() or 1),
                   help="CPU processes training chunks at once, one thread each (default: 2 or the core count)")
    p.set_defaults(run=cmd_loso)
    p = sub.add_parser("split", help="train on some subjects, test on the others")
    common(p)
    p.add_argument("--test-subjects", help="comma-separated held-out subjects (e.g. casme2/sub01,samm/006)")
    p.add_argument("--test-fraction", type=fraction, default=0.2,
                   help="else this fraction of subjects, drawn by --seed")
    p.set_defaults(run=cmd_split)
    p = sub.add_parser("all", help="train on all data and write the deployable checkpoint (best.pt)")
    common(p)
    p.add_argument("--scores", nargs="+", metavar="RESULT.json",
                   help="LOSO result.json files of this configuration (one per seed) to record in the checkpoint")
    p.set_defaults(run=cmd_all)
    from sofp.training.raw.commands import COMMANDS

    for name, (add, run) in COMMANDS.items():
        p = sub.add_parser(name, help=RAW_HELP.get(name))
        add(p)
        p.set_defaults(run=run)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sofp-train``; returns the exit code (argparse's 2 for bad usage, 0 for --help)."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage line or the help
        return int(exc.code or 0)

    def body() -> int:
        check_input_paths(args)
        if hasattr(args, "set"):  # loso, split, all, protocol: a bad --model or --set is refused before torch loads
            build_train_config(args)
        if getattr(args, "threads", None):
            import torch

            torch.set_num_threads(args.threads)
        return args.run(args)

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
