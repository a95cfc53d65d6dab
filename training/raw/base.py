"""What every raw-dataset reader yields: :class:`Clip` records, skip lines and a summary.

A reader turns a dataset as distributed (its folders, frame names and coding sheet) into clips.
Frame numbers are the integers in the frame file names (``img46.jpg`` -> 46,
``006_05562.jpg`` -> 5562), which is what the coding sheets of CASME II, SAMM and CAS(ME)^3 index.
Frames are sorted by that number, never in glob order (``img100`` sorts after ``img99``).

Nothing is dropped silently: every clip a reader cannot use becomes one line naming the clip and
the reason (:class:`ReadReport`), and a summary line counts them at the end.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sofp.runtime.errors import SofpError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Clip:
    """One annotated micro-expression clip.

    ``frames`` are the clip's frame files, onset to offset, sorted by ``numbers`` (the integer in
    each file name). ``onset``, ``apex`` and ``offset`` are frame numbers as the coding sheet gives
    them (elements of ``numbers``; onset/offset are the first/last); ``apex`` is None where the
    dataset does not annotate it (SMIC) or the sheet's cell is missing (preparation then finds it
    by peak motion). ``emotion`` is the canonical emotion name (see
    :func:`sofp.training.raw.class_maps.canonical_emotion`), or the raw cell text when it is not a
    known emotion. ``sample`` is the clip id, unique within a subject.
    """

    dataset: str
    subject: str
    sample: str
    frames: tuple[Path, ...]
    numbers: tuple[int, ...]
    onset: int
    apex: int | None
    offset: int
    emotion: str
    raw_emotion: str = ""

    @property
    def name(self) -> str:
        """``dataset subject/sample``, how a clip is named in every message."""
        return f"{self.dataset} {self.subject}/{self.sample}"

    def index(self, number: int) -> int:
        """Position in ``frames`` of frame ``number`` (ValueError when the clip lacks it)."""
        return self.numbers.index(number)

    def path(self, number: int) -> Path:
        """Path of frame ``number``."""
        return self.frames[self.index(number)]



@dataclass
class ReadReport:
    """Clips a reader skipped (one line each) and notes on clips it kept but changed."""

    dataset: str
    warn: Callable[[str], None] | None = None
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    rows: int = 0

    def _emit(self, line: str) -> None:
        (self.warn or _stderr)(line)

    def skip(self, clip_name: str, reason: str, kind: str | None = None) -> None:
        """Record (and print) ``skipped <clip>: <reason>``; ``kind`` groups the summary."""
        line = f"skipped {clip_name}: {reason}"
        self.skipped.append(line)
        self.reasons[kind or reason] += 1
        self._emit(line)

    def note(self, clip_name: str, text: str) -> None:
        """Record (and print) a change made to a kept clip (e.g. its apex will be estimated)."""
        line = f"note {clip_name}: {text}"
        self.notes.append(line)
        self._emit(line)

    def summary(self, kept: int) -> str:
        """One line: rows read, clips kept, skipped by reason, notes."""
        parts = [f"{self.dataset}: {kept} clips kept of {self.rows} rows/folders"]
        if self.skipped:
            detail = ", ".join(f"{n} {k}" for k, n in sorted(self.reasons.items(), key=lambda kv: -kv[1]))
            parts.append(f"{len(self.skipped)} skipped ({detail})")
        else:
            parts.append("0 skipped")
        if self.notes:
            parts.append(f"{len(self.notes)} notes")
        return "; ".join(parts)


@dataclass
class ReadResult:
    """A reader's output: kept clips plus the report of what was skipped."""

    clips: list[Clip]
    report: ReadReport

    def summary(self) -> str:
        return self.report.summary(len(self.clips))


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def frame_number(path: Path) -> int | None:
    """The frame number of a frame file: the last run of digits in its stem (None if none)."""
    found = _DIGITS.findall(path.stem)
    return int(found[-1]) if found else None


def list_frames(folder: Path, prefix: str | None = None) -> tuple[list[Path], list[int], str | None]:
    """Image files of ``folder`` sorted numerically -> (paths, numbers, problem or None).

    ``prefix``: only files whose name starts with it (CASME II cropped frames are ``reg_img*``).
    A problem (no frames, a name without a number, two files with the same number) is a
    one-phrase reason for the caller's skip line.
    """
    if not folder.is_dir():
        return [], [], f"frame folder {folder} does not exist"
    files = [
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and (prefix is None or p.name.startswith(prefix))
    ]
    if not files:
        return [], [], f"no frame images in {folder}"
    numbered = []
    for p in files:
        n = frame_number(p)
        if n is None:
            return [], [], f"frame file {p.name} has no frame number"
        numbered.append((n, p.name, p))
    numbered.sort()
    numbers = [n for n, _, _ in numbered]
    dup = [n for n, c in Counter(numbers).items() if c > 1]
    if dup:
        names = [name for n, name, _ in numbered if n == dup[0]]
        return [], [], f"two frame files numbered {dup[0]} in {folder} ({', '.join(names)})"
    return [p for _, _, p in numbered], numbers, None


def check_clip(
    report: ReadReport,
    *,
    dataset: str,
    subject: str,
    sample: str,
    folder: Path,
    onset: int | None,
    apex: int | None,
    offset: int | None,
    emotion: str,
    raw_emotion: str = "",
    prefix: str | None = None,
    apex_annotated: bool = True,
    lister: Callable[[Path, str | None], tuple[list[Path], list[int], str | None]] | None = None,
) -> Clip | None:
    """Build a :class:`Clip` from a sheet row after checking its frames; None (and a line) if unusable.

    Checks: the folder has numbered frames; onset (and offset, apex when given) are frames of the
    folder; onset <= apex <= offset. ``onset=None`` means the first frame, ``offset=None`` the
    last (SMIC). A missing apex of a dataset that annotates it is kept with a note: preparation
    estimates it by peak motion. The clip keeps the frames onset..offset only (a CAS(ME)^3 folder
    holds a whole recording). ``lister``: a cached :func:`list_frames` when clips share folders.
    """
    name = f"{dataset} {subject}/{sample}"
    frames, numbers, problem = (lister or list_frames)(folder, prefix)
    if problem:
        report.skip(name, problem, "missing frames")
        return None
    onset = numbers[0] if onset is None else onset
    offset_eff = numbers[-1] if offset is None else offset
    for what, value in (("onset", onset), ("offset", offset_eff)):
        if value not in numbers:
            report.skip(name, f"{what} frame {value} is not among frames {numbers[0]}..{numbers[-1]}"
                        f" of {folder}", f"{what} outside clip")
            return None
    if offset_eff < onset:
        report.skip(name, f"offset {offset_eff} is before onset {onset}", "offset before onset")
        return None
    if apex is not None:
        if apex not in numbers or not onset <= apex <= offset_eff:
            report.skip(name, f"apex frame {apex} is outside onset..offset {onset}..{offset_eff}"
                        f" or missing from {folder}", "apex outside clip")
            return None
        if apex == onset:
            report.skip(name, f"apex frame {apex} equals onset: no onset-to-apex motion", "apex at onset")
            return None
    elif apex_annotated:
        report.note(name, "apex not annotated in the sheet: it will be the frame of peak motion")
    if offset_eff == onset:
        report.skip(name, f"clip has one frame ({onset})", "one-frame clip")
        return None
    lo, hi = numbers.index(onset), numbers.index(offset_eff)
    gaps = sorted(set(range(onset, offset_eff + 1)) - set(numbers[lo:hi + 1]))
    if gaps:
        shown = ", ".join(map(str, gaps[:5])) + (", ..." if len(gaps) > 5 else "")
        report.note(name, f"{len(gaps)} frame(s) missing inside onset..offset ({shown}); kept")
    return Clip(dataset, subject, sample, tuple(frames[lo:hi + 1]), tuple(numbers[lo:hi + 1]), onset, apex,
                offset_eff, emotion, raw_emotion or emotion)


def require_dir(root: str | Path, what: str) -> Path:
    """``root`` as a Path; a SofpError one-liner when it is not a readable directory."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise SofpError(f"{what} root {str(path)!r} is not a directory; "
                        "give the folder that holds the dataset")
    try:
        next(iter(path.iterdir()), None)
    except OSError as exc:
        raise SofpError(f"{what} root {str(path)!r} is not readable: {exc.strerror}") from None
    return path


def find_file(root: Path, patterns: Iterable[str], what: str, given: str | Path | None = None) -> Path:
    """The coding sheet: ``given`` if set, else the first match of ``patterns`` under ``root``.

    Searches ``root`` and then its sub-folders (sorted). A SofpError one-liner if none matches.
    """
    if given is not None:
        path = Path(given).expanduser()
        if not path.is_absolute() and not path.exists():
            path = root / path
        if not path.is_file():
            raise SofpError(f"{what} {str(path)!r} does not exist")
        return path
    patterns = list(patterns)
    for pattern in patterns:
        hits = sorted(root.glob(pattern))
        if hits:
            return hits[0]
    for pattern in patterns:
        hits = sorted(p for p in root.rglob(pattern) if p.is_file())
        if hits:
            return hits[0]
    raise SofpError(f"no {what} under {str(root)!r} (looked for {', '.join(patterns)}); pass it with --sheet")
