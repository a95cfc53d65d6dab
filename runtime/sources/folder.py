"""A folder of frames (``img1.jpg, img2.jpg, ..., img10.jpg``) in numeric order at a rate the caller gives."""

from __future__ import annotations

import os
import re

import cv2

from sofp.runtime.errors import UsageError
from sofp.runtime.sources.base import Frame, FrameSource, ReadStatus

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


def numeric_sort_key(name: str) -> list:
    """``img10.jpg`` after ``img9.jpg``: digit runs compare as numbers, the rest as lower-case text."""
    return [(0, int(tok), "") if tok.isdigit() else (1, 0, tok.lower()) for tok in re.split(r"(\d+)", name)]


def list_frames(folder: str) -> list[str]:
    """Image files of ``folder`` (not recursive) in numeric order."""
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTS) and not n.startswith(".")]
    return [os.path.join(folder, n) for n in sorted(names, key=numeric_sort_key)]


class FolderSource(FrameSource):
    """Frames of a folder, sorted numerically (``img2`` before ``img10``); timestamps index / fps.

    A folder carries no timing, and every duration the spotter uses comes from the rate, so ``fps``
    is required (CASME II and SAMM: 200; SMIC-HS: 100). A file that does not decode is FAILED with
    ``error`` naming it.
    """

    def __init__(self, uri: str, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None) -> None:
        super().__init__()
        folder = uri[len("file://"):] if uri.startswith("file://") else uri
        if not os.path.isdir(folder):
            raise UsageError(f"frame folder {folder!r} not found")
        if not fps or fps <= 0:
            raise UsageError(f"frame folder {folder!r}: give its frame rate with --fps (a folder of images carries "
                             "no timing; e.g. --fps 200 for CASME II or SAMM)")
        self.files = list_frames(folder)
        if not self.files:
            raise UsageError(f"frame folder {folder!r} holds no images (looked for {', '.join(IMAGE_EXTS)})")
        self.name = f"folder {folder}"
        self._fps = float(fps)
        self._index = 0

    def read(self) -> tuple[ReadStatus, Frame | None]:
        if self._index >= len(self.files):
            return ReadStatus.END, None
        path = self.files[self._index]
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            self.error = f"frame {path!r} could not be decoded"
            return ReadStatus.FAILED, None
        frame = Frame(image, self._index, self._index / self._fps)
        self._index += 1
        return ReadStatus.FRAME, frame

    def describe(self) -> dict:
        d = super().describe()
        d["frame_count"] = len(self.files)
        return d
