"""A video file read from any frame on: the chunks of a long video start where they own their frames."""

from __future__ import annotations

import cv2

from sofp.runtime.errors import SofpError
from sofp.runtime.sources.video import VideoSource


class SeekableVideo(VideoSource):
    """:class:`VideoSource` that can start at frame ``index`` (frame indices and timestamps as if read
    from the start; a container that cannot seek to the exact frame is one line)."""

    def seek(self, index: int) -> None:
        """Make frame ``index`` the next one :meth:`read` returns."""
        if index == self._index:
            return
        cap = self._cap
        if cap is None:
            raise SofpError(f"{self.name}: closed")
        cap.set(cv2.CAP_PROP_POS_FRAMES, float(index))
        landed = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
        if landed != index:
            raise SofpError(f"{self.name}: cannot seek to frame {index} (landed on {landed}); analyse it in one "
                            "piece with --chunk-s 0")
        self._index = index
        self._last_t = -1.0
