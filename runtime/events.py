"""What the pipeline emits: spotted-and-classified micro-expressions, per-frame telemetry, JSON Lines.

An :class:`Event` is one spotted interval with its classification; times are capture timestamps
(s) of the source, frames are source frame indices. :class:`JsonLinesWriter` writes one JSON
object per line and flushes after each, so an interrupted run keeps every event emitted before.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from sofp.runtime.errors import SofpError, UsageError

STAGES = ("face", "align", "flow", "spot", "infer")


@dataclass(frozen=True)
class Event:
    """One micro-expression: onset/apex/offset frame index and capture time (s), the predicted label,
    every class's probability, the motion magnitude at the apex (px of the motion crop) and the
    face box (x, y, w, h px) at the apex."""

    onset_frame: int
    apex_frame: int
    offset_frame: int
    onset_time: float
    apex_time: float
    offset_time: float
    label: str
    probabilities: dict[str, float]
    magnitude: float
    face_box: tuple[float, float, float, float] | None = None
    latency_ms: float | None = None  # from the offset frame's arrival to the event (ms)

    @property
    def duration(self) -> float:
        """Onset to offset (s)."""
        return self.offset_time - self.onset_time

    @property
    def confidence(self) -> float:
        return float(self.probabilities.get(self.label, math.nan))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d = {"type": "event", **d, "duration": self.duration}
        for k in ("onset_time", "apex_time", "offset_time", "duration", "magnitude"):
            d[k] = round(float(d[k]), 6)
        d["probabilities"] = {k: round(float(v), 6) for k, v in self.probabilities.items()}
        if self.face_box is not None:
            d["face_box"] = [round(float(v), 2) for v in self.face_box]
        if self.latency_ms is not None:
            d["latency_ms"] = round(float(self.latency_ms), 3)
        return d

    def summary(self) -> str:
        """One human line: 'surprise 0.91  frames 120-131-150  1.200-1.500 s  1.8 px'."""
        return (f"{self.label:<10s} p={self.confidence:.2f}  frames {self.onset_frame}-{self.apex_frame}-"
                f"{self.offset_frame}  {self.onset_time:.3f}-{self.offset_time:.3f} s  "
                f"({1000 * self.duration:.0f} ms)  {self.magnitude:.2f} px")


@dataclass
class FrameTelemetry:
    """Per-frame record: stage timings (ms), whether a face was found, the motion signal (px)."""

    index: int
    timestamp: float
    face: bool = False
    tracked: bool = False
    magnitude: float | None = None
    threshold: float | None = None
    state: str = ""
    events: int = 0
    stages_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    total_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "frame", "index": self.index, "timestamp": round(self.timestamp, 6),
                             "face": self.face, "tracked": self.tracked, "state": self.state,
                             "events": self.events, "total_ms": round(self.total_ms, 4)}
        d["magnitude"] = None if self.magnitude is None else round(self.magnitude, 5)
        d["threshold"] = None if self.threshold is None or math.isinf(self.threshold) else round(self.threshold, 5)
        d["stages_ms"] = {k: round(v, 4) for k, v in self.stages_ms.items()}
        return d


def _default(o: object) -> Any:
    item = getattr(o, "item", None)
    if callable(item):  # NumPy scalars
        return item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class JsonLinesWriter:
    """Writes dicts (or objects with ``to_dict``) as JSON Lines to a file or stdout, one whole line per write.

    A file is written unbuffered, one ``os.write`` loop per line, so every line on disk is complete once
    ``write`` returns. When the disk fills up (ENOSPC) or the file becomes unwritable mid-run, the partial
    line is cut off again (the file ends at the last whole line) and :class:`SofpError` says so in one line
    (exit 1): what was written stays valid JSON Lines. A file that cannot be opened is a UsageError (exit 2).
    """

    def __init__(self, target: str | Path | IO[str] | None) -> None:
        self._fd: int | None = None
        self._f: IO[str] | None = None
        self.name = "stdout"
        if target is None or target == "-":
            self._f = sys.stdout
        elif isinstance(target, (str, Path)):
            path = Path(target)
            self.name = str(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}; give a writable file") from None
        else:
            self._f = target
            self.name = getattr(target, "name", "stream")
        self._good = 0  # bytes of whole lines on disk
        self.count = 0

    def write(self, record: Any) -> None:
        d = record.to_dict() if hasattr(record, "to_dict") else record
        line = json.dumps(d, default=_default, separators=(",", ":")) + "\n"
        try:
            if self._fd is None:
                assert self._f is not None
                self._f.write(line)
                self._f.flush()
            else:
                raw = line.encode("utf-8")
                data = memoryview(raw)
                while data:
                    data = data[os.write(self._fd, data):]
                self._good += len(raw)
        except OSError as exc:
            kept = self._cut_partial_line()
            raise SofpError(f"cannot write {self.name} ({exc.strerror or exc}) after {self.count} lines; "
                            f"{kept}; free space or fix the file's location and run again") from None
        self.count += 1

    def _cut_partial_line(self) -> str:
        """Truncate the file to its last whole line; says what is kept."""
        if self._fd is None:
            return "lines already written are kept"
        try:
            os.ftruncate(self._fd, self._good)
        except OSError:
            return f"the first {self.count} lines are whole (a partial last line may follow)"
        return f"the {self.count} lines written are kept whole"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JsonLinesWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_EVENT_NUMBERS = ("onset_time", "apex_time", "offset_time", "duration", "magnitude")


def event_problems(d: dict[str, Any]) -> list[str]:
    """What is wrong with one event record as :meth:`Event.to_dict` writes it (empty: a complete, valid event).

    Checked: every field present with its type; frames and times ordered onset <= apex <= offset; duration =
    offset - onset; probabilities finite in [0, 1], summing to 1 (1e-3) and naming ``label``; face box 4 numbers."""
    if not isinstance(d, dict) or d.get("type") != "event":
        return ["not an event record (no type 'event')"]
    problems = [f"{k} missing or not an integer" for k in ("onset_frame", "apex_frame", "offset_frame")
                if not isinstance(d.get(k), int) or isinstance(d.get(k), bool)]
    problems += [f"{k} missing or not a finite number" for k in _EVENT_NUMBERS
                 if not isinstance(d.get(k), (int, float)) or not math.isfinite(d[k])]
    if problems:
        return problems
    if not d["onset_frame"] <= d["apex_frame"] <= d["offset_frame"]:
        problems.append(f"frames not ordered: {d['onset_frame']}, {d['apex_frame']}, {d['offset_frame']}")
    if not d["onset_time"] <= d["apex_time"] <= d["offset_time"]:
        problems.append(f"times not ordered: {d['onset_time']}, {d['apex_time']}, {d['offset_time']}")
    if abs(d["duration"] - (d["offset_time"] - d["onset_time"])) > 1e-5:
        problems.append(f"duration {d['duration']} != offset_time - onset_time")
    probs = d.get("probabilities")
    if not isinstance(probs, dict) or not probs:
        return [*problems, "probabilities missing"]
    values = list(probs.values())
    if not all(isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        problems.append(f"probabilities not in [0, 1]: {probs}")
    elif abs(sum(values) - 1.0) > 1e-3:
        problems.append(f"probabilities sum to {sum(values):.6f}, not 1")
    if d.get("label") not in probs:
        problems.append(f"label {d.get('label')!r} is not one of {sorted(probs)}")
    box = d.get("face_box")
    if box is not None and (not isinstance(box, list) or len(box) != 4
                            or not all(isinstance(v, (int, float)) for v in box)):
        problems.append(f"face_box {box!r} is not 4 numbers")
    return problems


def read_jsonl(path: str | Path) -> list[dict]:
    """Every JSON object of a JSON Lines file (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
