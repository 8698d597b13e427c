"""Accuracy inside the real pipeline: ``python -m training.evaluate --pipeline``.

FER2013 faces are ready-made, tight 48x48 crops; in the product a face comes
from a 640x480 webcam frame through detection, eye alignment and cropping.
Here every face of a split is upscaled to a webcam face size, pasted into a
textured 640x480 frame at a random place, and sent through the classifier's
own ``analyze`` path. The result compares, on the same faces, the accuracy
after detection + alignment + crop with the accuracy on the original crops,
so a framing mismatch between training and use shows up as a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emotion.faces import iou
from training.data import load_dataset

FRAME_W, FRAME_H = 640, 480
#: Face side in the frame, px: a face at arm's length fills roughly 35-50% of a 480 px high frame.
FACE_SIDES = (170, 240)
#: A detection counts only when it overlaps the pasted face this much (intersection over union).
MIN_IOU = 0.3


@dataclass(frozen=True)
class PipelineResult:
    n: int
    found: int
    found_rate: float
    pipeline_accuracy: float  # on the faces found, after detect + align + crop
    direct_accuracy_found: float  # the same faces, original crops
    direct_accuracy_all: float
    crop_margin: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def background(rng: np.random.Generator) -> np.ndarray:
    """A smooth, lit-from-one-side grey texture: no flat colour a detector could exploit."""
    noise = rng.normal(0, 1, (FRAME_H // 16, FRAME_W // 16)).astype(np.float32)
    smooth = cv2.resize(noise, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(-1, 1, FRAME_W, dtype=np.float32)[None, :] * rng.uniform(-25, 25)
    base = rng.uniform(80, 170)
    return np.clip(base + 18 * smooth + ramp, 0, 255).astype(np.uint8)


def synthetic_frame(face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A BGR 640x480 frame holding ``face`` upscaled; returns the frame and the face's (x, y, side)."""
    side = int(rng.integers(*FACE_SIDES))
    x = int(rng.integers(FRAME_W // 2 - side // 2 - 120, FRAME_W // 2 - side // 2 + 120))
    y = int(rng.integers(max(0, FRAME_H // 2 - side // 2 - 60), min(FRAME_H - side, FRAME_H // 2 - side // 2 + 60)))
    grey = background(rng)
    grey[y: y + side, x: x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), (x, y, side)


def run_pipeline_evaluation(model_dir: Path, data_path: Path, split: str, *, limit: int | None = None,
                            seed: int = 0, crop_margin: float | None = None) -> PipelineResult:
    """Score ``split`` through detect + align + crop + classify, beside the direct scores on the same faces."""
    from emotion.classifier import EmotionClassifier
    from training.evaluate import align_to_model

    clf = EmotionClassifier(model_dir)
    margin = clf.card.crop_margin if crop_margin is None else crop_margin
    data = align_to_model(load_dataset(data_path, split=split, size=48), clf.labels)
    images, labels = data.images, data.labels
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    if len(labels) == 0:
        raise ValueError(f"no faces in split {split!r}")
    rng = np.random.default_rng(seed)
    crops, found_index = [], []
    for i, image in enumerate(images):
        frame, (x, y, side) = synthetic_frame(image, rng)
        faces = clf.detector.faces(frame, size=clf.input_size, margin=margin, max_faces=1)
        box = faces[0].box if faces else None
        if box is not None and iou((box.x, box.y, box.w, box.h), (x, y, side, side)) >= MIN_IOU:
            crops.append(faces[0].crop)
            found_index.append(i)
    found = np.array(found_index, dtype=np.int64)
    direct = clf.predict(images, batch_size=256).argmax(axis=1)
    direct_all = float((direct == labels).mean())
    if len(found) == 0:
        return PipelineResult(len(labels), 0, 0.0, 0.0, 0.0, direct_all, margin)
    piped = clf.predict(np.stack(crops), batch_size=256).argmax(axis=1)
    return PipelineResult(
        n=len(labels), found=len(found), found_rate=len(found) / len(labels),
        pipeline_accuracy=float((piped == labels[found]).mean()),
        direct_accuracy_found=float((direct[found] == labels[found]).mean()),
        direct_accuracy_all=direct_all, crop_margin=margin)
