"""Chunks of a long video: margins derived from the spotting parameters, a plan that owns every frame once,
stitching that reports each movement once, and cuts on movements that give the events of one pass."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sofp.runtime.analysis.chunks import Chunk, Margins, chunk_margins, plan_chunks, restart_frames, stitch
from sofp.runtime.analysis.worker import ChunkJob, analyse_chunk
from sofp.runtime.pipeline import PipelineConfig
from sofp.runtime.spotting import SpotConfig, Spotter, interval_iou


def test_margins_follow_the_spotting_parameters():
    base = SpotConfig()
    m = chunk_margins(100.0, base)
    s = Spotter(100.0, base)
    assert m.lead_in >= s.history_frames + round(base.window_s * 100)  # the state and the thresholds' history
    assert m.tail >= round((base.max_duration_s + base.hold_s) * 100)  # the longest movement ends inside
    longer = chunk_margins(100.0, dataclasses.replace(base, window_s=base.window_s + 1.0))
    assert longer.lead_in - m.lead_in == 100 and longer.tail == m.tail
    slower = chunk_margins(100.0, dataclasses.replace(base, max_duration_s=base.max_duration_s + 0.5))
    assert slower.lead_in - m.lead_in == 50 and abs(slower.tail - m.tail - 100) <= 1  # ceil of 0.55 s vs 1.05 s
    assert chunk_margins(50.0, base).lead_in < m.lead_in  # frames, from seconds and the rate


@given(n=st.integers(0, 5000), every=st.one_of(st.none(), st.integers(1, 2000)),
       lead=st.integers(0, 500), tail=st.integers(0, 500))
def test_every_frame_is_owned_once(n, every, lead, tail):
    chunks = plan_chunks(n, every, Margins(lead, tail))
    assert chunks[0].own_start == 0 and chunks[-1].own_stop is None
    for a, b in itertools.pairwise(chunks):
        assert a.own_stop == b.own_start and a.own_start < a.own_stop
        assert a.stop == min(a.own_stop + tail, n) and b.start == max(0, b.own_start - lead)
    if every and n > every:
        sizes = [c.own_stop - c.own_start for c in chunks[:-1]] + [n - chunks[-1].own_start]
        assert max(sizes) <= every and max(sizes) - min(sizes) <= 1
    assert restart_frames(chunks) == tuple(sorted({c.start for c in chunks if c.start}))


def _chunks(cuts: list[int]) -> list[Chunk]:
    return plan_chunks(1000, None, Margins(50, 50), cuts=cuts)


def _iv(e: tuple[int, int]) -> tuple[int, int]:
    return e


def test_stitch_keeps_owned_events_once():
    a, b = _chunks([500])
    # both chunks saw both movements; each counts for the chunk that owns its onset
    got = stitch([(a, [(100, 120), (495, 530), (505, 520)]), (b, [(495, 530), (505, 520), (800, 820)])], _iv)
    assert got == [(100, 120), (495, 530), (800, 820)]  # (505, 520) overlaps the earlier chunk's (495, 530)


def test_stitch_recovers_a_movement_each_chunk_gave_the_other():
    a, b = _chunks([500])
    got = stitch([(a, [(501, 530)]), (b, [(498, 530)])], _iv)
    assert got == [(501, 530)]  # the earlier chunk's view, once


def test_stitch_drops_a_lead_in_event_the_owner_did_not_see():
    a, b = _chunks([500])
    assert stitch([(a, []), (b, [(470, 490)])], _iv) == []  # half-seen in the lead-in: not a movement


@given(st.lists(st.tuples(st.integers(0, 950), st.integers(3, 40)), max_size=12), st.lists(st.integers(1, 999),
                                                                                          max_size=5))
def test_stitch_of_consistent_chunks_is_the_one_pass(movements, cuts):
    """When every chunk sees what a single pass sees, stitching returns exactly the single pass."""
    events, last = [], -1
    for onset, length in sorted(movements):
        if onset > last:
            events.append((onset, onset + length))
            last = onset + length
    chunks = _chunks(cuts)
    seen = [(c, [e for e in events if c.start <= e[0] and (c.stop is None or e[1] < c.stop)]) for c in chunks]
    assert stitch(seen, _iv) == events


def _summary(found):
    return [(ev.onset_frame, ev.apex_frame, ev.offset_frame, ev.label,
             tuple(round(p, 6) for p in ev.probabilities.values())) for ev, _ in found]


def test_cuts_on_movements_give_the_events_of_one_pass(six_movements):
    """Cuts at a spotted onset, a spotted apex and a spotted offset: the chunks, stitched, give the events,
    the trace and the evidence of one pass over the whole video (with the same face-tracker restarts)."""
    config = PipelineConfig(threads=1)
    video = str(six_movements.path)
    plain = analyse_chunk(ChunkJob(video, Chunk(0, 0, 0, None, None), (), config))
    assert len(plain.events) >= 5
    first, second, third = (ev for ev, _ in plain.events[1:4])
    cuts = [first.onset_frame, second.apex_frame, third.offset_frame]
    margins = chunk_margins(six_movements.fps, config.spot)
    chunks = plan_chunks(400, None, margins, cuts=cuts)
    assert len(chunks) == 4 and all(c.start < c.own_start for c in chunks[1:])
    restarts = restart_frames(chunks)
    one = analyse_chunk(ChunkJob(video, Chunk(0, 0, 0, None, None), restarts, config))
    parts = [analyse_chunk(ChunkJob(video, c, restarts, config)) for c in chunks]
    stitched = stitch([(p.chunk, p.events) for p in parts], lambda e: (e[0].onset_frame, e[0].offset_frame))
    assert _summary(stitched) == _summary(one.events)
    for (_, a), (_, b) in zip(stitched, one.events, strict=True):
        assert np.array_equal(a.onset, b.onset) and np.array_equal(a.apex, b.apex)
        assert np.array_equal(a.features, b.features)
    assert np.array_equal(np.concatenate([p.times for p in parts]), one.times)
    assert np.array_equal(np.concatenate([p.magnitude for p in parts]), one.magnitude, equal_nan=True)
    # and the same movements as a pass without restarts (the live runtime's): each found once, same labels
    for ev, _ in plain.events:
        match = [e for e, _ in stitched if interval_iou((e.onset_frame, e.offset_frame),
                                                        (ev.onset_frame, ev.offset_frame)) >= 0.5]
        assert len(match) == 1
