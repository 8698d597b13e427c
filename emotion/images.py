"""Photos scored outside a webcam stream (the Model page's "Try it"): decoded in memory, and the
faces found drawn on a copy. OpenCV stays here, so the page and its view never import it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from emotion.classifier import FaceResult

#: Photos are decoded in memory; anything larger is not a camera photo.
MAX_PHOTO_BYTES = 20 * 1024 * 1024
#: Colour of the boxes and labels (BGR, as the frame).
BOX_COLOUR = (0, 200, 0)


class PhotoError(ValueError):
    """An upload that cannot be used as a photo."""


def decode_photo(data: bytes, max_bytes: int = MAX_PHOTO_BYTES) -> np.ndarray:
    """BGR pixels of an uploaded photo, or PhotoError saying what is wrong. Nothing is written to disk."""
    if not data:
        raise PhotoError("The file is empty.")
    if len(data) > max_bytes:
        raise PhotoError(f"The file is {len(data) / 1e6:.1f} MB; photos up to {max_bytes / 1e6:.0f} MB are accepted.")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise PhotoError("This file is not an image that can be read (PNG, JPEG or WebP); it may be corrupt.")
    return image


def annotate(frame: np.ndarray, faces: Sequence[FaceResult]) -> np.ndarray:
    """A copy of ``frame`` with each face boxed, numbered and labelled with its top emotion."""
    out = frame.copy()
    thickness = max(2, round(max(out.shape[:2]) / 300))
    for i, face in enumerate(faces, start=1):
        b = face.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), BOX_COLOUR, thickness)
        text = f"{i}: {face.top_label} {face.top_probability:.0%}"
        scale = max(0.5, b.w / 250)
        cv2.putText(out, text, (b.x, max(b.y - 8, 15)), cv2.FONT_HERSHEY_SIMPLEX, scale, BOX_COLOUR,
                    max(1, thickness // 2), cv2.LINE_AA)
    return out


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """The RGB pixels of a BGR frame (what a browser shows)."""
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
