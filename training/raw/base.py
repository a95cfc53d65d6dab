"""What every raw-dataset reader yields: :class:`Clip` records, skip lines and a summary.

A reader turns a dataset as distributed (its folders, frame names and coding sheet) into clips.
Frame numbers are the integers in the frame file names (``img46.jpg`` -> 46,
``006_05562.jpg`` -> 5562), which is what the coding sheets of CASME II, SAMM and CAS(ME)^3 index.
Frames are sorted by that number, never in glob order (``img100`` sorts after ``img99``).

Nothing is dropped silently: every clip a reader cannot use becomes one line naming the clip and
the reason (:class:`ReadReport`), and a summary line counts them at the end. Clips with unusual
annotations are kept where public loaders keep them, and each decision is a note plus an entry
of :attr:`Clip.fixes` (``<kind> (<what was done>)``, kinds in :data:`FIX_KINDS`), which
preparation lists per clip in ``clips.csv`` and counts in ``prepare.json``.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sofp.runtime.errors import SofpError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
FIX_KINDS = {
    "corrected": "a known bad cell replaced from the corrections table (training/raw/corrections.py)",
    "onset_nearest": "onset frame not on disk: the nearest existing frame inside onset..offset",
    "offset_nearest": "offset frame not on disk: the nearest existing frame inside onset..offset",
    "apex_nearest": "apex frame not on disk: the nearest existing frame after the onset",
    "apex_at_onset": "sheet apex equals the onset: apex estimated from motion at preparation",
    "apex_outside": "sheet apex outside onset..offset: apex estimated from motion at preparation",
    "apex_missing": "apex cell empty, not a number or -1: apex estimated from motion at preparation",
}
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Clip:
    """One annotated micro-expression clip.

    ``frames`` are the clip's frame files, onset to offset, sorted by ``numbers`` (the integer in
    each file name). ``onset``, ``apex`` and ``offset`` are frame numbers as the coding sheet gives
    them (elements of ``numbers``; onset/offset are the first/last); ``apex`` is None where the
    dataset does not annotate it (SMIC) or the sheet's apex cannot be used (preparation then finds
    it by peak motion). ``emotion`` is the canonical emotion name (see
    :func:`sofp.training.raw.class_maps.canonical_emotion`), or the raw cell text when it is not a
    known emotion. ``sample`` is the clip id, unique within a subject. ``fixes``: what was decided
    about the clip's annotation, ``<kind> (<detail>)`` with a kind of :data:`FIX_KINDS`.
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
    fixes: tuple[str, ...] = ()

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

    def decide(self, clip_name: str, fixes: list[str], kind: str, text: str, detail: str | None = None) -> None:
        """Note a decision about a kept clip's annotation and add ``<kind> (<detail or text>)`` to ``fixes``."""
        assert kind in FIX_KINDS, kind
        self.note(clip_name, text)
        fixes.append(f"{kind} ({detail or text})")

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
    fixes: Iterable[str] = (),
) -> Clip | None:
    """Build a :class:`Clip` from a sheet row after checking its frames; None (and a line) if unusable.

    ``onset=None`` means the folder's first frame, ``offset=None`` its last (SMIC). The clip keeps
    the frames onset..offset only (a CAS(ME)^3 folder holds a whole recording). Skipped: a folder
    without numbered frames, offset before onset, fewer than two frames of onset..offset on disk.
    Kept, with a decision noted and added to the clip's ``fixes`` (as public loaders keep them):
    an onset/offset frame not on disk -> the nearest existing frame inside onset..offset; an apex
    equal to the onset, outside onset..offset, or missing where the dataset annotates apexes ->
    None (preparation estimates it from motion); an apex frame not on disk -> the nearest existing
    frame after the onset. ``fixes``: decisions already made (a corrected cell). ``lister``: a
    cached :func:`list_frames` when clips share folders.
    """
    name = f"{dataset} {subject}/{sample}"
    frames, numbers, problem = (lister or list_frames)(folder, prefix)
    if problem:
        report.skip(name, problem, "missing frames")
        return None
    first = numbers[0] if onset is None else onset
    last = numbers[-1] if offset is None else offset
    if last < first:
        report.skip(name, f"offset {last} is before onset {first}", "offset before onset")
        return None
    lo, hi = bisect.bisect_left(numbers, first), bisect.bisect_right(numbers, last)
    if hi - lo < 2:
        have = f"{numbers[0]}..{numbers[-1]}" if numbers[0] != numbers[-1] else str(numbers[0])
        report.skip(name, f"{hi - lo} frame(s) of onset..offset {first}..{last} in {folder} (it has frames {have})",
                    "outside clip" if hi == lo else "one-frame clip")
        return None
    fixes = list(fixes)
    for kind, given, found in (("onset", first, numbers[lo]), ("offset", last, numbers[hi - 1])):
        if found != given:
            report.decide(name, fixes, f"{kind}_nearest",
                          f"{kind} frame {given} is not in {folder}: the nearest frame inside the clip, {found}",
                          f"{given} -> {found}")
    inside = numbers[lo + 1:hi]  # the frames an apex can be: after the onset, up to the offset
    if apex is None:
        if apex_annotated:
            report.decide(name, fixes, "apex_missing",
                          "apex not annotated in the sheet: it will be the frame of peak motion", "not annotated")
    elif apex == first:
        report.decide(name, fixes, "apex_at_onset",
                      f"apex {apex} equals the onset: it will be the frame of peak motion", f"apex {apex}")
        apex = None
    elif not first < apex <= last:
        report.decide(name, fixes, "apex_outside",
                      f"apex {apex} is outside onset..offset {first}..{last}: it will be the frame of peak motion",
                      f"apex {apex}")
        apex = None
    elif apex not in inside:
        wanted = apex
        found = min(inside, key=lambda n: (abs(n - wanted), n))
        report.decide(name, fixes, "apex_nearest",
                      f"apex frame {apex} is not in {folder}: the nearest frame after the onset, {found}",
                      f"{apex} -> {found}")
        apex = found
    gaps = sorted(set(range(numbers[lo], numbers[hi - 1] + 1)) - set(numbers[lo:hi]))
    if gaps:
        shown = ", ".join(map(str, gaps[:5])) + (", ..." if len(gaps) > 5 else "")
        report.note(name, f"{len(gaps)} frame(s) missing inside onset..offset ({shown}); kept")
    return Clip(dataset, subject, sample, tuple(frames[lo:hi]), tuple(numbers[lo:hi]), numbers[lo], apex,
                numbers[hi - 1], emotion, raw_emotion or emotion, tuple(fixes))


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
