"""The soak benchmark: its criteria catch a leak, a drift or a bad event; a short run of the same code path.

The committed 1-hour result is benchmarks/results/soak.md; the 2-minute check is
``python benchmarks/soak.py --minutes 2 --out /tmp/soak`` (not in the suite: it alone would take a fifth
of CI's 10 minutes).
"""

import json
import sys
from pathlib import Path

import pytest

from sofp.runtime.events import Event, event_problems

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import soak  # noqa: E402


def _samples(n=20, rss=lambda i: 150.0, fds=lambda i: 11, threads=lambda i: 7, fps=lambda i: 200.0):
    out, frames = [], 0
    for i in range(n):
        out.append({"t_s": 10.0 * i, "rss_mib": rss(i), "fds": fds(i), "threads": threads(i), "frames": frames,
                    "cpu_s": 10.0 * i, "loadavg_1m": 1.0})
        frames += round(10 * fps(i))
    return out


def test_steady_samples_meet_every_criterion():
    a = soak.analyse(_samples(), warmup_s=30)
    assert all(a["criteria"].values()), a["criteria"]
    assert a["rss_mib"]["growth"] == 0 and a["fps"]["drift"] == 0


@pytest.mark.parametrize("kind, samples, failed", [
    ("leak 0.5 MiB per sample", _samples(rss=lambda i: 150.0 + 0.5 * i), "rss_growth <= 2 %"),
    ("one fd more", _samples(fds=lambda i: 11 + (i >= 15)), "no fd growth"),
    ("a thread more", _samples(threads=lambda i: 7 + (i >= 10)), "no thread growth"),
    ("10 % slower at the end", _samples(fps=lambda i: 200.0 if i < 12 else 180.0), "fps drift <= 5 % (wall)"),
])
def test_each_criterion_catches_its_fault(kind, samples, failed):
    c = soak.analyse(samples, warmup_s=30)["criteria"]
    assert not c[failed], kind
    assert all(v for k, v in c.items() if k != failed), (kind, c)


def test_a_warmup_rise_is_not_growth():
    a = soak.analyse(_samples(rss=lambda i: 100.0 if i < 3 else 150.0), warmup_s=30)
    assert a["criteria"]["rss_growth <= 2 %"]


def _event(**over):
    d = Event(10, 14, 20, 0.1, 0.14, 0.2, "surprise", {"negative": 0.1, "positive": 0.2, "surprise": 0.7},
              0.8, (1.0, 2.0, 3.0, 4.0), 1.5).to_dict()
    d.update(over)
    return d


@pytest.mark.parametrize("over, expect", [
    ({}, None),
    ({"apex_frame": 25}, "frames not ordered"),
    ({"offset_time": 0.05}, "times not ordered"),
    ({"probabilities": {"negative": 0.5, "positive": 0.2, "surprise": 0.7}}, "sum to"),
    ({"label": "anger"}, "is not one of"),
    ({"magnitude": float("nan")}, "magnitude"),
    ({"onset_frame": 1.5}, "onset_frame"),
    ({"face_box": [1, 2]}, "face_box"),
    ({"type": "frame"}, "not an event"),
])
def test_event_problems(over, expect):
    problems = event_problems(_event(**over))
    if expect is None:
        assert problems == []
    else:
        assert any(expect in p for p in problems), problems


def test_check_events_reports_a_torn_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(_event()) + "\n" + json.dumps(_event(onset_frame=30, apex_frame=31,
                                                                      offset_frame=40))[:50] + "\n")
    e = soak.check_events(path, [], 100, 0, 100)
    assert e["valid"] == 1 and e["invalid"] == 1 and "not JSON" in e["problems"][0]


def test_short_soak_runs_the_whole_pipeline(tmp_path):
    """24 s of the same code path as the 1-hour run: looping clip, run_stream, sampler, analysis, outputs."""
    doc = soak.run_soak(soak.SoakConfig(seconds=24, interval_s=2, warmup_s=10, clip_seconds=2.0,
                                        out_dir=str(tmp_path), command="test"))
    assert doc["exit_code"] == 0 and doc["loops"] >= 1, (doc["frames"], doc["loops"])
    assert doc["events"]["invalid"] == 0 and doc["events"]["valid"] >= 1 and doc["events"]["ordered"]
    c = doc["analysis"]["criteria"]
    assert c["no fd growth"] and c["no thread growth"] and c["rss_growth <= 2 %"], doc["analysis"]
    assert len(doc["samples"]) >= 10
    for name in ("soak.json", "soak.md", "soak.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "soak.json").read_text())["frames"] == doc["frames"]


def test_cpus_outside_the_machine_are_a_usage_error(tmp_path):
    with pytest.raises(soak.UsageError, match="--cpus 4096: cannot pin"):
        soak.main(["--minutes", "1", "--cpus", "4096", "--out", str(tmp_path)])


def test_the_report_says_where_the_soak_ran():
    doc = {"machine": {"cores": 2}}
    assert soak._cpus(doc) == "not recorded"
    assert soak._cpus({**doc, "cpu_affinity": [0]}).startswith("CPU 0 of 2 (pinned")
    assert soak._cpus({**doc, "cpu_affinity": [0, 1]}) == "CPUs 0, 1 (all)"


def test_the_last_sample_never_repeats_the_threads_last_moment():
    """CI once got the thread's sample and the closing one at the same t_s: a zero-length window."""

    class _Frames:
        frames = 0

    for _ in range(20):
        sampler = soak.Sampler(_Frames(), interval_s=0.01, seconds=1)  # type: ignore[arg-type]
        with sampler:
            soak.time.sleep(0.03)
            sampler.finish()
        gaps = [b["t_s"] - a["t_s"] for a, b in zip(sampler.samples, sampler.samples[1:], strict=False)]
        assert min(gaps) >= 0.005, gaps
