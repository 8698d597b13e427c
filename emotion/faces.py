"""Faces in a frame: detect, align by the eye line, crop, and judge capture quality.

Detection uses the Haar cascades shipped in the ``opencv-python-headless`` 4.x
wheel (``cv2.data.haarcascades``), cross-checked in every frame by BlazeFace
(``emotion.blazeface``). OpenCV cascade objects are not
documented as thread-safe, so each thread gets its own pair (``threading.local``),
as BlazeFace gets its own interpreter; the app calls this from several WebRTC
worker threads at once.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FACE_CASCADE = "haarcascade_frontalface_default.xml"
EYE_CASCADE = "haarcascade_eye.xml"

# Quality thresholds for the camera check. Sharpness is measured on the face
# resized to SHARPNESS_SIDE pixels so it does not depend on the face's size.
SHARPNESS_SIDE = 96
MIN_BRIGHTNESS = 60.0  # mean grey level of the face, 0-255
MAX_BRIGHTNESS = 225.0
MIN_SHARPNESS = 40.0  # variance of the Laplacian
MIN_FACE_RATIO = 0.18  # face height / frame height
#: The neural detector (``emotion.blazeface``): its lowest accepted score, and how its box maps
#: onto the framing the classifier was trained on (FER2013's tight square crops). All three are
#: measured on 600 PublicTest faces placed in pipeline frames (``training.pipeline``): at 0.4
#: BlazeFace adds 12 points of faces found to the Haar cascade's 76% while adding 0.3 points of
#: faces invented in empty frames; the FER2013 square is 1.26 times the width of BlazeFace's box
#: (median) and centred 0.11 box heights higher.
FALLBACK_MIN_SCORE = 0.4
#: A cascade box and a BlazeFace box are the same face when they overlap this much (as the pipeline's
#: ``MIN_IOU``). Cascade boxes that no BlazeFace face confirms go last (see ``FaceDetector.detect``).
CROSS_CHECK_IOU = 0.3
FALLBACK_SIDE = 1.26
FALLBACK_RAISE = 0.11
MAX_EYE_ANGLE = 35.0  # degrees; a steeper "eye line" is a false eye detection
EYE_SEARCH_WIDTH = 200  # larger faces are shrunk to this width (px) before the eye search

VERDICT_OK = "ok"
VERDICT_NO_FACE = "no face"
VERDICT_TOO_DARK = "too dark"
VERDICT_TOO_BRIGHT = "too bright"
VERDICT_TOO_BLURRY = "too blurry"
VERDICT_MOVE_CLOSER = "move closer"


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in frame pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)


@dataclass(frozen=True)
class FaceQuality:
    face_ratio: float  # face height / frame height
    brightness: float  # mean grey level of the face, 0-255
    sharpness: float  # variance of the Laplacian of the face at SHARPNESS_SIDE px
    verdict: str


@dataclass(frozen=True)
class AlignedFace:
    """A face ready for the classifier: a square grey crop plus how it was made."""

    crop: np.ndarray  # (size, size) uint8
    box: FaceBox
    angle: float  # degrees the frame was rotated to level the eyes (0 without eyes)
    eyes_found: bool
    quality: FaceQuality


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def to_grey(frame: object, *, channel_order: str = "bgr") -> np.ndarray:
    """Return a 2-D uint8 grey image from a 1, 3 or 4 channel frame.

    Float frames are taken as 0..1 when their maximum is at most 1, else 0..255.
    Raises ``ValueError`` for anything that is not a non-empty image array.
    """
    if channel_order not in ("bgr", "rgb"):
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"expected an image as a numpy array, got {type(frame).__name__}")
    if frame.size == 0:
        raise ValueError("the image is empty")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise ValueError(f"expected an image of shape (h, w), (h, w, 1), (h, w, 3) or (h, w, 4), "
                         f"got {frame.shape}")
    if frame.dtype == np.bool_ or not (np.issubdtype(frame.dtype, np.integer)
                                       or np.issubdtype(frame.dtype, np.floating)):
        raise ValueError(f"unsupported pixel type {frame.dtype}")
    if frame.dtype != np.uint8:
        values = frame.astype(np.float64)
        if not np.isfinite(values).all():
            raise ValueError("the image holds NaN or infinite values")
        if np.issubdtype(frame.dtype, np.floating) and values.max() <= 1.0:
            values = values * 255.0
        frame = np.clip(values, 0, 255).astype(np.uint8)
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    code = {("bgr", 3): cv2.COLOR_BGR2GRAY, ("bgr", 4): cv2.COLOR_BGRA2GRAY,
            ("rgb", 3): cv2.COLOR_RGB2GRAY, ("rgb", 4): cv2.COLOR_RGBA2GRAY}[(channel_order, frame.shape[2])]
    return cv2.cvtColor(frame, code)


class FaceDetector:
    """Face detection (Haar cascade, cross-checked by BlazeFace), eye detection and
    eye-line alignment. ``fallback_min_score=None`` turns BlazeFace off (the cascade alone);
    ``cross_check=False`` runs BlazeFace only in frames where the cascade finds no face (the
    cheaper policy ``benchmarks.detector`` compares against).

    ``min_face_ratio`` is the smallest face (as a fraction of the frame's
    shorter side) the detector looks for; ``scale_factor`` and
    ``min_neighbors`` are the cascade's own knobs. Detection runs on a copy
    shrunk so its longer side is at most ``detect_max_side`` pixels (webcam faces
    are large; this makes the cascade about 4x cheaper at 640x480); eyes and
    crops use the full-resolution frame.
    """

    def __init__(self, *, min_face_ratio: float = 0.12, scale_factor: float = 1.1,
                 min_neighbors: int = 4, detect_max_side: int = 320,
                 cascade_dir: str | Path | None = None,
                 fallback_min_score: float | None = FALLBACK_MIN_SCORE, cross_check: bool = True) -> None:
        if detect_max_side < 64:
            raise ValueError(f"detect_max_side must be at least 64 pixels, got {detect_max_side}")
        if not 0 < min_face_ratio < 1:
            raise ValueError(f"min_face_ratio must be in (0, 1), got {min_face_ratio}")
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        self.min_face_ratio = min_face_ratio
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.detect_max_side = detect_max_side
        self._cascade_dir = Path(cascade_dir or cv2.data.haarcascades)  # type: ignore[attr-defined]
        for name in (FACE_CASCADE, EYE_CASCADE):
            if not (self._cascade_dir / name).is_file():
                raise FileNotFoundError(f"OpenCV cascade {name} not found in {self._cascade_dir}; "
                                        "install opencv-python-headless 4.x")
        self._local = threading.local()  # one cascade pair per thread
        #: BlazeFace's lowest accepted score; None turns it off (the cascade alone).
        self.fallback_min_score = fallback_min_score
        self._fallback = None
        if fallback_min_score is not None:
            from emotion.blazeface import BlazeFace

            self._fallback = BlazeFace(min_score=fallback_min_score)  # thread-safe itself
        self.cross_check = cross_check

    def _cascades(self) -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier]:
        pair = getattr(self._local, "pair", None)
        if pair is None:
            pair = (cv2.CascadeClassifier(str(self._cascade_dir / FACE_CASCADE)),
                    cv2.CascadeClassifier(str(self._cascade_dir / EYE_CASCADE)))
            self._local.pair = pair
        return pair

    def detect(self, grey: np.ndarray) -> list[FaceBox]:
        """Faces in a grey frame, in the frame's own pixels, the participant's face first.

        Both detectors look; BlazeFace's boxes are reframed to the cascade's framing (see
        ``FALLBACK_SIDE``). The order is: cascade faces that a BlazeFace face confirms, then
        BlazeFace faces the cascade missed, then cascade faces BlazeFace did not see, each group
        largest first. So a cascade false alarm on the background (a poster, a textured wall) no
        longer wins over the face BlazeFace sees, while a face only one detector finds is still
        found. On all 3,589 PrivateTest faces in pipeline frames this finds 86.6%, against 85.0%
        when BlazeFace looks only where the cascade finds nothing; BlazeFace costs about 3 ms per
        640x480 frame."""
        cascade = self.detect_haar(grey)
        if self._fallback is None or (cascade and not self.cross_check):
            return cascade
        neural = self._neural_boxes(grey)
        if not cascade or not neural:
            return cascade or neural

        def same_face(box: FaceBox, others: list[FaceBox]) -> bool:
            return any(iou((box.x, box.y, box.w, box.h), (o.x, o.y, o.w, o.h)) >= CROSS_CHECK_IOU for o in others)

        confirmed = [box for box in cascade if same_face(box, neural)]
        missed = [box for box in neural if not same_face(box, cascade)]
        unconfirmed = [box for box in cascade if box not in confirmed]
        return confirmed + missed + unconfirmed

    def _neural_boxes(self, grey: np.ndarray) -> list[FaceBox]:
        """BlazeFace's faces reframed as the cascade frames them, largest first; faces smaller than
        the cascade may find, or centred off the frame, are left out."""
        assert self._fallback is not None
        h, w = grey.shape[:2]
        min_side = max(24.0, min(h, w) * self.min_face_ratio)  # as the cascade's minSize, in frame pixels
        found = []
        for det in self._fallback.detect(grey):
            side = FALLBACK_SIDE * det.w
            cx, cy = det.x + det.w / 2.0, det.y + det.h / 2.0 - FALLBACK_RAISE * det.h
            if side < min_side or not (0 <= cx < w and 0 <= cy < h):
                continue
            found.append(FaceBox(round(cx - side / 2), round(cy - side / 2), round(side), round(side)))
        return sorted(found, key=lambda b: b.area, reverse=True)

    def detect_haar(self, grey: np.ndarray) -> list[FaceBox]:
        """Faces the Haar cascade finds in a grey frame, largest first."""
        h, w = grey.shape[:2]
        scale = min(1.0, self.detect_max_side / max(h, w))
        small = grey if scale == 1.0 else cv2.resize(grey, None, fx=scale, fy=scale,
                                                      interpolation=cv2.INTER_AREA)
        min_side = max(24, int(min(small.shape[:2]) * self.min_face_ratio))
        if min(small.shape[:2]) < min_side:
            return []
        # No histogram equalisation here: on textured backgrounds it lets many more windows
        # through the cascade's early stages (3x slower, measured) without finding more faces.
        faces = self._cascades()[0].detectMultiScale(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side))
        boxes = [FaceBox(round(x / scale), round(y / scale), round(fw / scale), round(fh / scale))
                 for (x, y, fw, fh) in faces]
        return sorted(boxes, key=lambda b: b.area, reverse=True)

    def find_eyes(self, grey: np.ndarray, box: FaceBox) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """Centres of the (image-left, image-right) eyes inside ``box``, or None.

        Only the upper part of the face is searched; a pair is accepted when one
        eye lies in each half of the face and the line between them is not
        steeper than :data:`MAX_EYE_ANGLE`.
        """
        # Clamp both ends: a box partly outside the frame must not wrap round (negative slice ends).
        top = grey[max(0, box.y): max(0, box.y + int(box.h * 0.6)), max(0, box.x): max(0, box.x + box.w)]
        if top.size == 0:
            return None
        # Search at a fixed face width: the eye cascade's cost no longer grows with the face.
        scale = min(1.0, EYE_SEARCH_WIDTH / top.shape[1])
        small = top if scale == 1.0 else cv2.resize(top, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        width = small.shape[1]
        eyes = self._cascades()[1].detectMultiScale(
            cv2.equalizeHist(small), scaleFactor=1.1, minNeighbors=4,
            minSize=(max(8, width // 10), max(8, width // 10)), maxSize=(width // 2, width // 2))
        centres = [(max(0, box.x) + (x + w / 2.0) / scale, max(0, box.y) + (y + h / 2.0) / scale, w * h)
                   for (x, y, w, h) in eyes]
        mid = box.x + box.w / 2.0
        left = [c for c in centres if c[0] < mid]
        right = [c for c in centres if c[0] >= mid]
        if not left or not right:
            return None
        le = max(left, key=lambda c: c[2])
        re = max(right, key=lambda c: c[2])
        angle = math.degrees(math.atan2(re[1] - le[1], re[0] - le[0]))
        if abs(angle) > MAX_EYE_ANGLE or re[0] - le[0] < box.w * 0.2:
            return None
        return (le[0], le[1]), (re[0], re[1])

    def align(self, grey: np.ndarray, box: FaceBox, *, size: int, margin: float = 0.0) -> AlignedFace:
        """Rotate the frame about the face centre so the eyes are level, then crop a
        square of side ``box side * (1 + margin)`` and resize it to ``size``.

        Without a usable eye pair the crop is taken unrotated (angle 0).
        """
        if size < 8:
            raise ValueError(f"crop size must be at least 8 pixels, got {size}")
        if margin <= -0.5:
            raise ValueError(f"margin must be greater than -0.5, got {margin}")
        eyes = self.find_eyes(grey, box)
        angle = 0.0
        if eyes is not None:
            (lx, ly), (rx, ry) = eyes
            angle = math.degrees(math.atan2(ry - ly, rx - lx))
        crop = crop_rotated(grey, box, size=size, margin=margin, angle=angle)
        return AlignedFace(crop, box, angle, eyes is not None, assess_quality(grey, box))

    def faces(self, frame: np.ndarray, *, size: int, margin: float = 0.0, max_faces: int | None = None,
              channel_order: str = "bgr") -> list[AlignedFace]:
        """Detect, align and crop every face in ``frame`` (the participant's face first, see ``detect``)."""
        grey = to_grey(frame, channel_order=channel_order)
        boxes = self.detect(grey)
        if max_faces is not None:
            boxes = boxes[:max_faces]
        return [self.align(grey, b, size=size, margin=margin) for b in boxes]


def crop_rotated(grey: np.ndarray, box: FaceBox, *, size: int, margin: float, angle: float) -> np.ndarray:
    """A ``size`` x ``size`` crop centred on ``box``, rotated by ``angle`` degrees.

    Large faces are first shrunk with area interpolation (no aliasing), then one
    affine warp rotates and crops; borders are replicated.
    """
    side = max(box.w, box.h) * (1.0 + margin)
    cx, cy = box.center
    # Cut a padded square around the face (room for the rotation), shrink it to ~2x size.
    half = side * 0.75
    x0, y0 = int(math.floor(cx - half)), int(math.floor(cy - half))
    x1, y1 = int(math.ceil(cx + half)), int(math.ceil(cy + half))
    h, w = grey.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    src = grey
    if pad:
        src = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    roi = src[y0 + pad: y1 + pad, x0 + pad: x1 + pad]
    scale = 1.0
    if roi.shape[0] > 3 * size:
        scale = (2 * size) / roi.shape[0]
        roi = cv2.resize(roi, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rcx, rcy = (cx - x0) * scale, (cy - y0) * scale
    matrix = cv2.getRotationMatrix2D((rcx, rcy), angle, size / (side * scale))
    matrix[0, 2] += size / 2.0 - rcx
    matrix[1, 2] += size / 2.0 - rcy
    return cv2.warpAffine(roi, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def assess_quality(grey: np.ndarray, box: FaceBox | None) -> FaceQuality:
    """Face size, brightness and sharpness with a verdict a camera check can show."""
    if box is None:
        return FaceQuality(0.0, float(grey.mean()) if grey.size else 0.0, 0.0, VERDICT_NO_FACE)
    face = grey[max(0, box.y): box.y + box.h, max(0, box.x): box.x + box.w]
    if face.size == 0:
        return FaceQuality(0.0, 0.0, 0.0, VERDICT_NO_FACE)
    ratio = box.h / grey.shape[0]
    brightness = float(face.mean())
    norm = cv2.resize(face, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(norm, cv2.CV_64F).var())
    if brightness < MIN_BRIGHTNESS:
        verdict = VERDICT_TOO_DARK
    elif brightness > MAX_BRIGHTNESS:
        verdict = VERDICT_TOO_BRIGHT
    elif sharpness < MIN_SHARPNESS:
        verdict = VERDICT_TOO_BLURRY
    elif ratio < MIN_FACE_RATIO:
        verdict = VERDICT_MOVE_CLOSER
    else:
        verdict = VERDICT_OK
    return FaceQuality(float(ratio), brightness, sharpness, verdict)


def check_frame(frame: np.ndarray, detector: FaceDetector, *, channel_order: str = "bgr") -> FaceQuality:
    """Quality of the participant's face in ``frame``, the first ``detect`` finds (the camera check's one call)."""
    grey = to_grey(frame, channel_order=channel_order)
    boxes = detector.detect(grey)
    return assess_quality(grey, boxes[0] if boxes else None)
