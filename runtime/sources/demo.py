"""The demo clip (``demo``): the astronaut's face with injected micro-movements (sofp.runtime.demo_clip)."""

from __future__ import annotations

from sofp.runtime.sources.base import Frame, FrameSource, ReadStatus


class DemoSource(FrameSource):
    """Plays :func:`sofp.runtime.demo_clip.make_demo_clip` frames; ``clip.truth`` holds the events.

    Timestamps are media time (index / fps), not wall clock: the demo runs as fast as the
    pipeline can go. ``fps`` overrides the clip's rate (default 100 frames/s).
    """

    def __init__(self, uri: str = "demo", *, width: int | None = None, height: int | None = None,
                 fps: float | None = None, seed: int = 0, clip=None) -> None:
        super().__init__()
        if clip is None:
            from sofp.runtime.demo_clip import make_demo_clip

            clip = make_demo_clip(seed=seed, fps=float(fps)) if fps else make_demo_clip(seed=seed)
        self.clip = clip
        self.name = "demo (astronaut, scikit-image)"
        self._fps = float(clip.fps)
        self._index = 0

    def read(self) -> tuple[ReadStatus, Frame | None]:
        if self._index >= len(self.clip.frames):
            return ReadStatus.END, None
        frame = Frame(self.clip.frames[self._index], self._index, self._index / self._fps)
        self._index += 1
        return ReadStatus.FRAME, frame

    def describe(self) -> dict:
        d = super().describe()
        d["frame_count"] = len(self.clip.frames)
        d["truth"] = [e.__dict__ if hasattr(e, "__dict__") else e for e in self.clip.truth]
        return d
