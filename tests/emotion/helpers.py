"""Synthetic frames built from the committed FER2013 fixture faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.conftest import FER_FACES

# Fixture faces on which the eye cascade finds both eyes upright and tilted by +-10 degrees
# when upscaled to webcam size (picked by running the detector over all fixtures).
EYE_FACES = ("angry/25683.png", "happy/05667.png", "neutral/01970.png", "surprise/03055.png",
             "fear/11958.png")


def face(name: str) -> np.ndarray:
    image = cv2.imread(str(FER_FACES / name), cv2.IMREAD_GRAYSCALE)
    assert image is not None, f"fixture {name} missing"
    return image


def read_grey(path: Path) -> np.ndarray:
    """A fixture image read as greyscale (``cv2.imread`` gives None for a missing or unreadable file)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None, f"cannot read {path}"
    return image


def all_faces() -> list[tuple[str, Path]]:
    return [(p.parent.name, p) for p in sorted(FER_FACES.glob("*/*.png"))]


def place(frame: np.ndarray, image: np.ndarray, x: int, y: int, side: int, angle: float = 0.0) -> np.ndarray:
    """Paste ``image`` upscaled to ``side`` pixels at (x, y), rotated by ``angle`` degrees (CCW)."""
    big = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC)
    if angle:
        matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
        big = cv2.warpAffine(big, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE)
    frame[y: y + side, x: x + side] = big if frame.ndim == 2 else big[:, :, None]
    return frame


def frame_with_face(image: np.ndarray, *, side: int = 220, angle: float = 0.0, channels: int = 3,
                    background: int = 120) -> np.ndarray:
    """A 640x480 frame (BGR by default) with one face in the middle."""
    grey = np.full((480, 640), background, np.uint8)
    place(grey, image, (640 - side) // 2, (480 - side) // 2, side, angle)
    if channels == 1:
        return grey
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR if channels == 3 else cv2.COLOR_GRAY2BGRA)
