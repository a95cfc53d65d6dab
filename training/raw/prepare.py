"""Raw dataset -> flow images + ``labels.csv`` in exactly the composite's format, with the runtime's code.

Per clip (:func:`process_clip`), with the runtime's own code:

1. Read the onset frame (grey) and find the face with the runtime's :class:`FaceCropper` (a fresh
   cropper per clip, so no tracking state leaks between clips). The clip's face box is that onset
   box; every frame of the clip is cropped with it (``FaceCropper.crop``: square, ``margin``
   around the box, ``crop_size`` px, 112 by default). ``face="full"`` uses the whole frame
   instead (releases that are already face crops); ``"auto"`` (default) does that only when no
   face is found, and says so for that clip (``face`` column of clips.csv).
2. Apex: the sheet's apex frame; where none can be used (SMIC; an empty, ``/`` or -1 cell; an apex
   equal to the onset or outside the clip: see ``Clip.fixes``) the frame of peak motion: every
   frame onset+1..offset is cropped, aligned to the onset crop, its flow from the onset measured
   with ``apex_flow`` (cpu-dis) and reduced to one number with the runtime's
   :func:`sofp.runtime.spotting.motion_magnitude`; the largest wins.
   ``apex="midpoint"`` takes the onset/offset midpoint instead, as some published work does.
3. Crop the apex frame and remove global head motion with the runtime's ``align(onset, apex)``.
4. Onset-to-apex flow with the pinned settings of ``runtime/flow/params.py`` (default
   ``torch-tvl1``: TV-L1 with OpenCV's CPU defaults, as the composite was made).
5. :func:`sofp.runtime.features.flow_to_features` -> 28 x 28 x 3 uint8 (u, v, strain; per-channel
   min-max), written as an RGB PNG (``flow/<subject>_<sample>.png``).

Clips run in parallel (``workers`` processes, each with its own flow backend) under a tqdm bar.
Each finished clip is appended to ``journal.jsonl``; a rerun skips clips whose journal entry and
PNG are valid, so an interrupted run resumes. At the end ``labels.csv`` (file, dataset, subject,
sample, label, emotion: the composite's columns; subject ``<dataset>/<subject>``; ``emotion``
holds the class name), ``clips.csv`` (every clip with onset/apex/offset, raw emotion, how the
apex was chosen and, in ``fixes``, every decision about an unusual annotation: corrected cell,
nearest frame, apex estimated) and ``prepare.json`` (settings, counts including ``fixes`` per
kind, timings) are written atomically.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sofp.runtime.errors import SofpError, UsageError
from sofp.runtime.features import FEATURE_SIZE, flow_to_features
from sofp.training.raw import read_dataset
from sofp.training.raw.base import Clip
from sofp.training.raw.class_maps import DEFAULT_CLASS_MAP, ClassMap, get_class_map

LABEL_COLUMNS = ("file", "dataset", "subject", "sample", "label", "emotion")
CLIP_COLUMNS = ("file", "dataset", "subject", "sample", "emotion", "raw_emotion", "onset", "apex", "offset",
                "apex_source", "fixes", "frames", "face", "flow", "seconds")
APEX_MODES = ("peak", "midpoint")
FACE_MODES = ("auto", "detect", "full")


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of one preparation run. ``None`` means the default (reader's, runtime's).

    ``flow``: flow backend name for the onset->apex flow (pinned parameters from runtime/flow/params.py);
    ``apex_flow``: backend for the peak-motion apex search (many frames per clip: a fast one);
    ``threads``: PyTorch/OpenCV threads per worker (1: parallelism comes from ``workers``; on a
    busy 2-core machine torch-tvl1 with 2 threads measured 10-40 x slower than with 1);
    ``apex``: ``peak`` or ``midpoint`` for clips without an annotated apex; ``face``: ``auto``,
    ``detect`` (skip clips with no face) or ``full`` (whole frame is the face); ``crop_size``: face
    crop side in px (None: the cropper's default); ``class_map``: map for labels.csv (default: the
    dataset's own, see class_maps.DEFAULT_CLASS_MAP); ``limit``: only the first N clips (trials);
    ``reader``: options for the dataset reader (sheet, frames, prefix, frames_template, columns).
    """

    dataset: str
    root: str
    out: str
    class_map: str | None = None
    flow: str = "torch-tvl1"
    apex_flow: str = "cpu-dis"
    apex: str = "peak"
    face: str = "auto"
    crop_size: int | None = None
    device: str | None = None
    workers: int = 1
    threads: int = 1
    limit: int | None = None
    reader: dict = field(default_factory=dict)
    progress: bool = True

    def __post_init__(self) -> None:
        if self.apex not in APEX_MODES:
            raise UsageError(f"--apex {self.apex!r} is not one of {', '.join(APEX_MODES)}")
        if self.face not in FACE_MODES:
            raise UsageError(f"--face {self.face!r} is not one of {', '.join(FACE_MODES)}")
        if self.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {self.workers}")
        if self.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {self.threads}")
        if self.crop_size is not None and self.crop_size < 16:
            raise UsageError(f"--crop-size must be >= 16 px, got {self.crop_size}")

    def pixel_settings(self) -> dict:
        """The settings that change a prepared image: a resumed run must use the same ones."""
        return {"flow": self.flow, "apex_flow": self.apex_flow, "apex": self.apex, "face": self.face,
                "crop_size": self.crop_size}


# ----------------------------------------------------------------------------------------------
# The runtime's face / align / flow, behind one small object per worker process.
class ClipTools:
    """The runtime pieces one clip needs: a face cropper factory, ``align`` and two flow backends.

    Built from the runtime's modules by name (:meth:`from_config`); tests may pass their own.
    ``new_cropper() -> FaceCropper`` (callable on a BGR frame -> FaceCrop | None, and
    ``crop(gray, box) -> S x S uint8``); ``align(ref, gray) -> gray``;
    ``flow.compute`` / ``apex_flow.compute(prev, curr) -> H x W x 2 float32 px``.
    """

    def __init__(self, new_cropper: Callable[[], Any], align: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 flow: Any, apex_flow: Any) -> None:
        self.new_cropper = new_cropper
        self.align = align
        self.flow = flow
        self.apex_flow = apex_flow

    @classmethod
    def from_config(cls, cfg: PrepareConfig) -> ClipTools:
        from sofp.runtime.face import FaceCropper, align
        from sofp.runtime.flow import create_flow

        size = cfg.crop_size
        flow = _make_flow(create_flow, cfg.flow, cfg.device)
        apex_flow = flow if cfg.apex_flow == cfg.flow else _make_flow(create_flow, cfg.apex_flow, cfg.device)
        return cls(lambda: FaceCropper() if size is None else FaceCropper(size=size), align, flow, apex_flow)


def _make_flow(create_flow: Callable, name: str, device: str | None) -> Any:
    if device is None or name != "torch-tvl1":
        return create_flow(name)
    from sofp.runtime.flow.torch_tvl1 import TorchTvl1Flow

    return TorchTvl1Flow(device=device)


# ----------------------------------------------------------------------------------------------
class ClipError(Exception):
    """A clip that cannot be prepared (unreadable frame, no face): one line, the clip is skipped."""


def _gray(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ClipError(f"frame {path} is not a readable image")
    return img


class _Cropper:
    """Crops every frame of a clip with the face box found on its onset frame.

    The runtime's FaceCropper finds the face on the onset frame; every other frame of the clip is
    cropped with that same box (``FaceCropper.crop``) and aligned to the onset crop by the
    runtime's ``align``, which removes global head motion. ``mode`` full (or auto with no face):
    the box is the frame's centred square, so the crop is the whole (pre-cropped) frame.
    """

    def __init__(self, tools: ClipTools, mode: str, onset_path: Path) -> None:
        from sofp.runtime.face import FaceBox

        self.cropper = tools.new_cropper()
        gray = _gray(onset_path)
        self.shape = gray.shape[:2]
        found = self.cropper(gray) if mode != "full" else None
        if found is not None:
            self.box, self.used = found.box, "detected"
        elif mode == "detect":
            raise ClipError("no face found on the onset frame (use --face auto or full for face-cropped releases)")
        else:
            h, w = gray.shape
            side = min(h, w) / (1.0 + self.cropper.margin)
            self.box, self.used = FaceBox.square(w / 2, h / 2, side), "full"
        self.onset = self.cropper.crop(gray, self.box)

    def __call__(self, path: Path) -> np.ndarray:
        """The crop of frame ``path`` (S x S uint8) with the onset's box (not yet aligned)."""
        gray = _gray(path)
        if gray.shape[:2] != self.shape:
            raise ClipError(f"frame {path} is {gray.shape[1]} x {gray.shape[0]}, the onset frame "
                            f"{self.shape[1]} x {self.shape[0]}")
        return self.cropper.crop(gray, self.box)


def find_apex(clip: Clip, tools: ClipTools, crop: _Cropper, mode: str) -> tuple[int, list[float]]:
    """Apex frame number for a clip with no annotated apex -> (number, motion px per frame after onset).

    ``peak``: argmax over frames onset+1..offset of the runtime's ``motion_magnitude`` of the
    ``apex_flow`` from the onset crop to the aligned crop. ``midpoint``: the frame halfway from
    onset to offset (no motion list).
    """
    numbers = clip.numbers
    if mode == "midpoint":
        return numbers[max(1, round((len(numbers) - 1) / 2))], []
    from sofp.runtime.spotting import motion_magnitude

    motion = []
    for number in numbers[1:]:
        aligned = tools.align(crop.onset, crop(clip.path(number)))
        motion.append(motion_magnitude(tools.apex_flow.compute(crop.onset, aligned)))
    return numbers[1 + int(np.argmax(motion))], motion


def clip_file(clip: Clip) -> str:
    """The image name of a clip, as the composite names its files: ``<subject>_<sample>.png``."""
    return f"{clip.subject}_{clip.sample}.png"


def process_clip(clip: Clip, tools: ClipTools, cfg: PrepareConfig) -> tuple[np.ndarray, dict]:
    """One clip -> (28 x 28 x 3 uint8 features (u, v, strain), record for the journal)."""
    t0 = time.perf_counter()
    crop = _Cropper(tools, cfg.face, clip.path(clip.onset))
    if clip.apex is not None:
        apex, source = clip.apex, "sheet"
    else:
        apex, _ = find_apex(clip, tools, crop, cfg.apex)
        source = cfg.apex
    aligned = tools.align(crop.onset, crop(clip.path(apex)))
    flow = tools.flow.compute(crop.onset, aligned)
    features = flow_to_features(flow)
    record = {
        "file": clip_file(clip), "dataset": clip.dataset, "subject": clip.subject,
        "sample": clip.sample, "emotion": clip.emotion, "raw_emotion": clip.raw_emotion,
        "onset": clip.onset, "apex": apex, "offset": clip.offset, "apex_source": source,
        "fixes": "; ".join(clip.fixes),
        "frames": len(clip.frames), "face": crop.used, "flow": getattr(tools.flow, "name", cfg.flow),
        "seconds": round(time.perf_counter() - t0, 4),
    }
    return features, record


def write_png(path: Path, features: np.ndarray) -> None:
    """Write (H, W, 3) uint8 (u, v, strain) as an RGB PNG, atomically (tmp file + rename)."""
    tmp = path.with_name(path.name + ".tmp.png")
    if not cv2.imwrite(str(tmp), np.ascontiguousarray(features[..., ::-1])):
        raise SofpError(f"could not write {tmp}")
    os.replace(tmp, path)


def valid_png(path: Path) -> bool:
    """True when ``path`` is a readable 28 x 28 x 3 uint8 image."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    return img is not None and img.dtype == np.uint8 and img.shape == (FEATURE_SIZE, FEATURE_SIZE, 3)


# ----------------------------------------------------------------------------------------------
# Worker processes: each builds its tools once.
_WORKER: dict[str, Any] = {}


def _set_threads(n: int) -> tuple[int | None, int]:
    """Set PyTorch (if imported) and OpenCV thread counts -> the previous ones."""
    old_torch = None
    torch = sys.modules.get("torch")
    if torch is not None:
        old_torch = torch.get_num_threads()
        torch.set_num_threads(n)
    old_cv = cv2.getNumThreads()
    cv2.setNumThreads(n)
    return old_torch, old_cv


def _init_worker(cfg: PrepareConfig) -> None:
    if cfg.flow.startswith("torch") or cfg.apex_flow.startswith("torch"):
        import torch  # noqa: F401  (so that its threads are set before the first flow)
    _set_threads(cfg.threads)
    _WORKER["cfg"] = cfg
    _WORKER["tools"] = ClipTools.from_config(cfg)


def _run_one(clip: Clip, flow_dir: str) -> tuple[dict | None, str | None]:
    cfg, tools = _WORKER["cfg"], _WORKER["tools"]
    return _prepare_one(clip, tools, cfg, Path(flow_dir))


def _prepare_one(clip: Clip, tools: ClipTools, cfg: PrepareConfig, flow_dir: Path) -> tuple[dict | None, str | None]:
    try:
        features, record = process_clip(clip, tools, cfg)
    except ClipError as exc:
        return None, f"skipped {clip.name}: {exc}"
    except SofpError as exc:
        return None, f"skipped {clip.name}: {exc}"
    write_png(flow_dir / record["file"], features)
    return record, None


# ----------------------------------------------------------------------------------------------
@dataclass
class PrepareResult:
    """What a run produced: records of prepared clips, lines of skipped ones, counts, timings."""

    out: Path
    records: list[dict]
    skipped: list[str]
    read_skipped: list[str]
    labelled: int
    excluded: Counter
    resumed: int
    seconds: float
    clip_seconds: list[float]

    def summary(self) -> str:
        med = statistics.median(self.clip_seconds) if self.clip_seconds else float("nan")
        excl = ", ".join(f"{n} {e}" for e, n in self.excluded.most_common()) or "none"
        return (f"prepared {len(self.records)} clips ({self.resumed} from an earlier run) into {self.out}: "
                f"{self.labelled} labelled, not in the class map: {excl}; "
                f"{len(self.read_skipped)} skipped while reading, {len(self.skipped)} while preparing; "
                f"{self.seconds:.1f} s, median {med:.3f} s per clip")


def _read_journal(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if not path.is_file():
        return done
    with path.open() as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the interruption
            if isinstance(rec, dict) and "file" in rec:
                done[rec["file"]] = rec
    return done


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    os.replace(tmp, path)


def record_class(record: dict, class_map: ClassMap) -> tuple[int | None, str]:
    """(class index, "") of a clip record, or (None, why it is left out: its emotion or ``clip <name>``)."""
    subject = record["subject"].rpartition("/")[2]
    idx = class_map.clip_index(record["dataset"], subject, record["sample"], record["emotion"])
    if idx is not None:
        return idx, ""
    if class_map.index(record["emotion"], record["dataset"]) is None:
        return None, record["emotion"]
    return None, f"clip {subject}/{record['sample']}"


def label_rows(records: Iterable[dict], class_map: ClassMap) -> tuple[list[dict], Counter]:
    """labels.csv rows (composite columns) of the records the class map keeps, + what it left out
    (emotions, and ``clip <subject>/<sample>`` for clips the map leaves out by name)."""
    rows, excluded = [], Counter()
    for r in records:
        idx, reason = record_class(r, class_map)
        if idx is None:
            excluded[reason] += 1
            continue
        subject = r["subject"] if "/" in r["subject"] else f"{r['dataset']}/{r['subject']}"
        rows.append({"file": r["file"], "dataset": r["dataset"], "subject": subject, "sample": r["sample"],
                     "label": idx, "emotion": class_map.labels[idx]})
    return rows, excluded


def _settings_guard(out: Path, cfg: PrepareConfig) -> None:
    path = out / "settings.json"
    want = {"dataset": cfg.dataset, **cfg.pixel_settings()}
    if path.is_file():
        try:
            have = json.loads(path.read_text())
        except json.JSONDecodeError:
            have = None
        if have is not None and have != want:
            diff = ", ".join(f"{k}={have.get(k)!r}" for k in want if have.get(k) != want[k])
            raise UsageError(f"{out} was prepared with other settings ({diff}); use another --out "
                             "or the same settings to resume")
    path.write_text(json.dumps(want, indent=1))


def prepare(cfg: PrepareConfig, *, tools: ClipTools | None = None, warn: Callable[[str], None] | None = None,
            clips: list[Clip] | None = None) -> PrepareResult:
    """Read ``cfg.dataset`` at ``cfg.root`` and write flow images + labels.csv under ``cfg.out``.

    ``tools``: ready runtime tools (then clips run in this process, whatever ``workers`` says);
    ``clips``: already-read clips (skips reading). Returns counts and timings; prints one line per
    skipped clip and a summary (``warn``: where lines go, default stderr).
    """
    from tqdm.auto import tqdm

    say = warn or (lambda line: tqdm.write(line, file=sys.stderr))  # lines print above the progress bar
    class_map = get_class_map(cfg.class_map or DEFAULT_CLASS_MAP.get(cfg.dataset, "composite"))
    t0 = time.perf_counter()
    read_skipped: list[str] = []
    if clips is None:
        result = read_dataset(cfg.dataset, cfg.root, warn=say, **cfg.reader)
        clips = result.clips
        read_skipped = list(result.report.skipped)
        say(result.summary())
    if cfg.limit is not None:
        clips = clips[:cfg.limit]
    if not clips:
        raise SofpError(f"no usable {cfg.dataset} clips under {cfg.root!r} (see the lines above)")

    out = Path(cfg.out)
    flow_dir = out / "flow"
    flow_dir.mkdir(parents=True, exist_ok=True)
    _settings_guard(out, cfg)
    journal_path = out / "journal.jsonl"
    done = _read_journal(journal_path)
    wanted = {clip_file(c): c for c in clips}
    records: dict[str, dict] = {f: r for f, r in done.items() if f in wanted and valid_png(flow_dir / f)}
    resumed = len(records)
    todo = [c for f, c in wanted.items() if f not in records]
    skipped: list[str] = []
    bar = tqdm(total=len(wanted), initial=resumed, desc=f"prepare {cfg.dataset}", unit="clip",
               disable=not cfg.progress)
    with journal_path.open("a") as journal:
        def finish(rec: dict | None, line: str | None) -> None:
            if line is not None:
                skipped.append(line)
                say(line)
            if rec is not None:
                records[rec["file"]] = rec
                journal.write(json.dumps(rec) + "\n")
                journal.flush()
            bar.update(1)

        if tools is not None or cfg.workers == 1:
            tools = tools or ClipTools.from_config(cfg)
            old_torch, old_cv = _set_threads(cfg.threads)
            try:
                for clip in todo:
                    finish(*_prepare_one(clip, tools, cfg, flow_dir))
            finally:
                if old_torch is not None:
                    sys.modules["torch"].set_num_threads(old_torch)
                cv2.setNumThreads(old_cv)
        elif todo:
            ctx = get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(cfg.workers, len(todo)), mp_context=ctx,
                                     initializer=_init_worker, initargs=(cfg,)) as pool:
                pending: set[Future] = set()
                queue = list(reversed(todo))
                while queue or pending:
                    while queue and len(pending) < 2 * cfg.workers:
                        pending.add(pool.submit(_run_one, queue.pop(), str(flow_dir)))
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        finish(*fut.result())
    bar.close()

    ordered = [records[f] for f in wanted if f in records]
    rows, excluded = label_rows(ordered, class_map)
    seconds = time.perf_counter() - t0
    clip_seconds = [float(r["seconds"]) for r in ordered if r["file"] not in done]
    res = PrepareResult(out, ordered, skipped, read_skipped, len(rows), excluded, resumed, seconds, clip_seconds)
    _write_csv(out / "labels.csv", LABEL_COLUMNS, rows)
    _write_csv(out / "clips.csv", CLIP_COLUMNS, ordered)
    meta = {
        "config": asdict(cfg), "class_map": class_map.name, "labels": list(class_map.labels),
        "counts": {"clips": len(wanted), "prepared": len(ordered), "labelled": len(rows),
                   "per_class": dict(Counter(r["emotion"] for r in rows)),
                   "excluded": dict(excluded), "skipped_reading": len(read_skipped),
                   "skipped_preparing": len(skipped), "resumed": resumed,
                   "face_full_frame": sum(r["face"] == "full" for r in ordered),
                   "apex_estimated": sum(r["apex_source"] != "sheet" for r in ordered),
                   "fixes": dict(Counter(f.partition(" (")[0] for r in ordered for f in _fixes(r)))},
        "skipped": read_skipped + skipped,
        "seconds": round(seconds, 2),
        "clip_seconds_median": round(statistics.median(clip_seconds), 4) if clip_seconds else None,
        "versions": _versions(),
    }
    tmp = out / "prepare.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out / "prepare.json")
    say(res.summary())
    empty = [name for name in class_map.labels if name not in meta["counts"]["per_class"]]
    if empty:
        say(f"warning: class(es) {', '.join(empty)} of class map {class_map.name} have no clip in "
            f"{out / 'labels.csv'}; training needs every class present (choose another --class-map, or relabel)")
    return res


def _fixes(record: dict) -> list[str]:
    """The annotation decisions of a prepared clip (``fixes`` of clips.csv, ``; ``-separated)."""
    return [f for f in record.get("fixes", "").split("; ") if f]


def _versions() -> dict:
    out = {"python": sys.version.split()[0], "numpy": np.__version__, "opencv": cv2.__version__}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:
        pass
    return out
