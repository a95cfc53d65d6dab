"""A stream without a face says so once per stretch while it runs, and in the summary."""

from __future__ import annotations

from sofp.runtime.face.absence import FaceAbsence


def test_one_warning_per_stretch_and_a_summary():
    watch = FaceAbsence(warn_s=3.0)
    notes = [watch.update(i / 10, face=not 20 <= i < 70) for i in range(100)]  # no face from 2.0 s to 6.9 s
    said = [(i, n) for i, n in enumerate(notes) if n]
    assert [i for i, _ in said] == [50, 70]
    assert said[0][1].startswith("warning: no face found for 3.0 s (since 2.00 s)")
    assert said[1][1] == "face found again at 7.00 s (none since 2.00 s)"
    assert watch.summary(100, 50) == ("warning: no face in 50 of 100 frames, for up to 4.9 s at a time; "
                                      "movements then were not spotted")


def test_short_gaps_are_quiet_and_no_face_at_all_is_said():
    watch = FaceAbsence(warn_s=3.0)
    assert not any(watch.update(i / 10, face=i % 20 != 0) for i in range(100))
    assert watch.summary(100, 95) is None
    blind = FaceAbsence()
    for i in range(10):
        blind.update(i / 100, face=False)
    assert blind.summary(10, 0).startswith("warning: no face was found in any of the 10 frames")
