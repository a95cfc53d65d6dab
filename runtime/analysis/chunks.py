"""Cutting a long video into overlapping chunks, and stitching their events back so that each movement is
reported exactly once.

Chunk ``k`` *owns* frames ``[k L, (k + 1) L)``: it reports the movements whose onset lies there. It
decodes from ``k L - lead_in`` (the lead-in) to ``(k + 1) L + tail`` (the tail). Both margins come from
the spotting parameters (:func:`chunk_margins`), not from a fixed number:

* lead-in: the spotter's state at frame ``k L`` must be the one a single pass has there. That state
  reaches back ``history_frames`` (reference lag + the longest movement + hold + settle time: a
  movement or a pose change still in progress at ``k L``) and its adaptive thresholds come from the
  last ``window_s`` of quiet samples, so the lead-in is ``history_frames + window + smoothing delay``.
* tail: a movement whose onset is owned must also end inside the decoded frames: its onset lies at most
  ``history_frames`` before the first moving sample, which lasts at most ``max_duration_s``, and it
  is reported ``hold_s`` plus the smoothing delay after that.

The face tracker's state (the box's running average, its locked size, the detection schedule) also
carries history, and sub-pixel box differences change the motion signal. So an analysis restarts the
face tracker at every chunk's first frame (:func:`restart_frames`), whether the video is cut or analysed in
one pass: from there on a chunk and a single pass see identical crops, and after the lead-in the
spotter is in the same state. A video no longer than the chunk length has no restarts at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sofp.runtime.spotting import SpotConfig, Spotter

T = TypeVar("T")


@dataclass(frozen=True)
class Margins:
    """Frames decoded before (``lead_in``) and after (``tail``) the frames a chunk owns."""

    lead_in: int
    tail: int

    @property
    def overlap(self) -> int:
        """Frames decoded twice around each cut (lead-in of the next chunk + tail of this one)."""
        return self.lead_in + self.tail


def chunk_margins(fps: float, spot: SpotConfig) -> Margins:
    """The lead-in and tail (frames) a chunk needs at ``fps`` frames/s with spotting parameters ``spot``."""
    s = Spotter(fps, spot)
    window = max(8, math.ceil(spot.window_s * fps))  # the quiet samples the thresholds are estimated from
    lead_in = s.history_frames + window + s.delay
    tail = s.history_frames + math.ceil((spot.max_duration_s + spot.hold_s) * fps) + s.delay + 2
    return Margins(lead_in, tail)


@dataclass(frozen=True)
class Chunk:
    """Frames ``[start, stop)`` are decoded, ``[own_start, own_stop)`` owned; ``stop`` None: to the end."""

    index: int
    start: int
    own_start: int
    own_stop: int | None
    stop: int | None

    def owns(self, frame: int) -> bool:
        return self.own_start <= frame and (self.own_stop is None or frame < self.own_stop)


def plan_chunks(n_frames: int, chunk_frames: int | None, margins: Margins,
                cuts: Sequence[int] | None = None) -> list[Chunk]:
    """Chunks for a video of ``n_frames`` (0: unknown length, one chunk), cut every ``chunk_frames``
    frames (None or 0: not cut), or at the given frame ``cuts`` (tests place them on movements)."""
    if cuts is None:
        if not chunk_frames or n_frames <= 0 or n_frames <= chunk_frames:
            cuts = []
        else:
            k = math.ceil(n_frames / chunk_frames)
            cuts = [round(i * n_frames / k) for i in range(1, k)]  # equal lengths, none shorter than the rest
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < max(n_frames, 1)), None]
    chunks = []
    for i in range(len(edges) - 1):
        own_start, own_stop = edges[i], edges[i + 1]
        start = max(0, own_start - margins.lead_in)
        stop = None if own_stop is None else min(own_stop + margins.tail, n_frames)
        chunks.append(Chunk(i, start, own_start, own_stop, stop))
    return chunks


def restart_frames(chunks: Sequence[Chunk]) -> tuple[int, ...]:
    """The frames at which the face tracker restarts, in every chunk and in a single pass alike."""
    return tuple(sorted({c.start for c in chunks if c.start > 0}))


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def stitch(found: Sequence[tuple[Chunk, Sequence[T]]], interval: Callable[[T], tuple[int, int]]) -> list[T]:
    """The movements of a whole video from its chunks' events, each once, in onset order.

    ``interval(event) -> (onset, offset)`` frames. An event counts for the chunk that owns its onset.
    Where the chunks disagree near a cut (only when a lead-in did not converge, e.g. movement all
    through it): one movement reported by two chunks with onsets on either side of the cut is kept
    once (the earlier chunk's), and one that each neighbour placed on the other's side is kept from the
    earlier chunk (it saw the onset with its settled state).
    """
    owned, strays = [], []
    for chunk, events in found:
        for ev in events:
            (owned if chunk.owns(interval(ev)[0]) else strays).append((chunk, ev))
    kept: list[tuple[Chunk, T]] = []
    for chunk, ev in sorted(owned, key=lambda p: interval(p[1])):
        if not any(c.index != chunk.index and _overlap(interval(ev), interval(e)) for c, e in kept):
            kept.append((chunk, ev))
    for chunk, ev in strays:
        late = chunk.own_stop is not None and interval(ev)[0] >= chunk.own_stop
        partner = any(c.index == chunk.index + 1 and interval(e)[0] < c.own_start
                      and _overlap(interval(ev), interval(e)) for c, e in strays)
        if late and partner and not any(_overlap(interval(ev), interval(e)) for _, e in kept):
            kept.append((chunk, ev))
    return [ev for _, ev in sorted(kept, key=lambda p: interval(p[1]))]
