"""Face stage: Haar detection every N frames + tracking, smoothed square crop, head-motion removal.

``FaceCropper()(frame_bgr) -> FaceCrop | None``; ``Stabiliser().align(reference, gray)`` (or the
function ``align``) removes global head motion between crops.
"""

from sofp.runtime.face.box import FaceBox, FaceCrop
from sofp.runtime.face.cropper import DEFAULT_CROP, FaceCropper
from sofp.runtime.face.detector import HaarDetector, cascade_path
from sofp.runtime.face.stabilise import Stabiliser, align

__all__ = ["DEFAULT_CROP", "FaceBox", "FaceCrop", "FaceCropper", "HaarDetector", "Stabiliser", "align",
           "cascade_path"]
