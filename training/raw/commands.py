"""``sofp-train prepare | merge | protocol``: raw datasets to results in two commands.

    sofp-train prepare casme2 --root /data/CASME2 --out prepared/casme2 --workers 2
    sofp-train protocol casme2-5 --data prepared/casme2 --out runs/casme2-5
    sofp-train merge prepared/smic prepared/casme2 prepared/samm --out prepared/composite
    sofp-train protocol composite --data prepared/smic --data prepared/casme2 --data prepared/samm

``COMMANDS`` maps each subcommand to (add its arguments, run it); sofp.training.cli registers them.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from sofp.runtime.errors import UsageError
from sofp.training.raw.class_maps import CLASS_MAPS, DEFAULT_CLASS_MAP
from sofp.training.raw.prepare import APEX_MODES, FACE_MODES, PrepareConfig

DATASETS = ("casme2", "samm", "smic", "casme3", "dfme")


def add_prepare(p: argparse.ArgumentParser) -> None:
    p.description = ("Read a micro-expression dataset as distributed and write flow images + labels.csv in the "
                     "composite's format, with the runtime's face crop, flow and features. Resumable.")
    p.add_argument("dataset", choices=DATASETS, help="which dataset's layout to read")
    p.add_argument("--root", required=True, help="the dataset's folder (holding its coding sheet and frames)")
    p.add_argument("--out", required=True, help="output folder (flow/, labels.csv, clips.csv, prepare.json)")
    p.add_argument("--class-map", choices=sorted(CLASS_MAPS),
                   help="labels.csv class map (default: the dataset's own: "
                        + ", ".join(f"{d} {m}" for d, m in DEFAULT_CLASS_MAP.items()) + ")")
    p.add_argument("--flow", default="torch-tvl1",
                   help="onset->apex flow backend, pinned settings (default torch-tvl1 = TV-L1, as the composite)")
    p.add_argument("--apex", choices=APEX_MODES, default="peak",
                   help="clips without an annotated apex (SMIC): frame of peak motion (default) or midpoint")
    p.add_argument("--apex-flow", default="cpu-dis", help="flow for the peak-motion apex search (default cpu-dis)")
    p.add_argument("--face", choices=FACE_MODES, default="auto",
                   help="auto: detect, whole frame when no face (said per clip); detect: skip such clips; "
                        "full: the frames are already face crops")
    p.add_argument("--crop-size", type=int, help="face crop side px (default: the runtime's, 112)")
    p.add_argument("--device", help="torch-tvl1 device: cpu, cuda (default: CUDA when available)")
    p.add_argument("--workers", type=int, default=1, help="clips prepared in parallel processes (default 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch/OpenCV threads per worker (default 1; use --workers for parallelism)")
    p.add_argument("--limit", type=int, help="only the first N clips (a trial run)")
    p.add_argument("--sheet", help="coding sheet (default: found under --root)")
    p.add_argument("--frames", help="frame root (default: found under --root)")
    p.add_argument("--prefix", help="only frame files whose name starts with this (e.g. reg_img)")
    p.add_argument("--frames-template", help="DFME: frame folder below the frame root, default {subject}/{sample}")
    p.add_argument("--columns", help="DFME: sheet columns, e.g. onset=StartFrame,apex=PeakFrame")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def prepare_config(args: argparse.Namespace) -> PrepareConfig:
    reader: dict = {k: getattr(args, k) for k in ("sheet", "frames", "prefix") if getattr(args, k)}
    if args.frames_template or args.columns:
        if args.dataset != "dfme":
            raise UsageError("--frames-template and --columns are for the dfme reader only")
        if args.frames_template:
            reader["frames_template"] = args.frames_template
        if args.columns:
            cols = {}
            for item in args.columns.split(","):
                key, sep, value = item.partition("=")
                if not sep:
                    raise UsageError(f"--columns expects key=Header pairs, got {item!r}")
                cols[key.strip()] = value.strip()
            reader["columns"] = cols
    return PrepareConfig(dataset=args.dataset, root=args.root, out=args.out, class_map=args.class_map,
                         flow=args.flow, apex_flow=args.apex_flow, apex=args.apex, face=args.face,
                         crop_size=args.crop_size, device=args.device, workers=args.workers, threads=args.threads,
                         limit=args.limit,
                         reader=reader, progress=not args.no_progress)


def run_prepare(args: argparse.Namespace) -> int:
    from sofp.training.raw.prepare import prepare

    prepare(prepare_config(args))
    return 0


def add_merge(p: argparse.ArgumentParser) -> None:
    p.description = "Merge prepared datasets into one folder (subjects become dataset/subject)."
    p.add_argument("prepared", nargs="+", help="prepared dataset folders")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--class-map", default="composite", choices=sorted(CLASS_MAPS), help="default composite")


def run_merge(args: argparse.Namespace) -> int:
    from sofp.training.raw.merge import merge

    merge(args.prepared, args.out, args.class_map)
    return 0


def add_protocol(p: argparse.ArgumentParser) -> None:
    from sofp.training.raw.protocols import PROTOCOLS

    p.description = ("Leave-one-subject-out evaluation of a named protocol on prepared data: "
                     + "; ".join(f"{n}: {q.doc}" for n, q in PROTOCOLS.items()))
    p.add_argument("protocol", choices=sorted(PROTOCOLS))
    p.add_argument("--data", action="append", required=True,
                   help="prepared dataset folder (repeat for the composite: smic, casme2, samm)")
    p.add_argument("--model", default="sofp", help="sofp (default) or ststnet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="training epochs (default: the trainer's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="training/model override, repeatable")
    p.add_argument("--device", default="auto")
    p.add_argument("--chunk", type=int, default=17, help="folds trained together (default 17)")
    p.add_argument("--out", help="output folder (default runs/<protocol>-<model>-seed<N>)")
    p.add_argument("--threads", type=int, help="CPU threads for PyTorch")


def run_protocol(args: argparse.Namespace) -> int:
    from sofp.training.cli import build_train_config, resolve_device
    from sofp.training.data.flowset import load_labels_csv
    from sofp.training.loso import run_loso
    from sofp.training.raw.protocols import fold_groups, get_protocol, protocol_data

    proto = get_protocol(args.protocol)
    cfg = build_train_config(args)
    out = Path(args.out or f"runs/{proto.name}-{cfg.model}-seed{args.seed}")
    root, labels = protocol_data(proto, args.data, out)
    data = load_labels_csv(root, labels)
    n_subjects = len(set(data.subjects.tolist()))
    groups = fold_groups(proto, data.subjects)
    if proto.folds != "loso":  # held-out groups of subjects: LOSO over the groups is the K-fold CV
        data = dataclasses.replace(data, subjects=groups)
    res = run_loso(data, cfg, args.seed, out / "loso", chunk=args.chunk, device=resolve_device(args.device))
    h = res["honest"]
    print(f"{proto.name} ({proto.doc}) {cfg.model} seed {args.seed}: {len(data)} samples, {n_subjects} subjects, "
          f"{len(set(groups.tolist()))} folds: honest UF1 {h['uf1']:.4f} UAR {h['uar']:.4f}; "
          f"{out / 'loso' / 'result.json'}")
    return 0


COMMANDS = {
    "prepare": (add_prepare, run_prepare),
    "merge": (add_merge, run_merge),
    "protocol": (add_protocol, run_protocol),
}
