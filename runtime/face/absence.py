"""Stretches of the stream without a face: said once per stretch while the stream runs, and in the summary."""

from __future__ import annotations

NO_FACE_WARN_S = 3.0
HINT = "is a face in view, lit and roughly frontal?"


class FaceAbsence:
    """Tracks frames without a face in stream time (s, from capture timestamps).

    ``update`` returns a line to print when a stretch without a face reaches ``warn_s`` and when
    the face comes back after such a stretch; otherwise None.
    """

    def __init__(self, warn_s: float = NO_FACE_WARN_S) -> None:
        self.warn_s = warn_s
        self.longest_s = 0.0
        self._since: float | None = None
        self._warned = False

    def update(self, timestamp: float, face: bool) -> str | None:
        if face:
            back = self._warned
            since, self._since, self._warned = self._since, None, False
            return f"face found again at {timestamp:.2f} s (none since {since:.2f} s)" if back else None
        if self._since is None:
            self._since = timestamp
        gap = timestamp - self._since
        self.longest_s = max(self.longest_s, gap)
        if gap >= self.warn_s and not self._warned:
            self._warned = True
            return (f"warning: no face found for {gap:.1f} s (since {self._since:.2f} s); nothing is spotted "
                    f"without one: {HINT}")
        return None

    def summary(self, frames: int, frames_with_face: int) -> str | None:
        """One warning line for the end of the run, or None when faces were found throughout."""
        if frames and not frames_with_face:
            return f"warning: no face was found in any of the {frames} frames, so nothing could be spotted: {HINT}"
        if self.longest_s >= self.warn_s:
            return (f"warning: no face in {frames - frames_with_face} of {frames} frames, for up to "
                    f"{self.longest_s:.1f} s at a time; movements then were not spotted")
        return None
