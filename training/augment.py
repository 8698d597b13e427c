"""Training batches and augmentation that run on any Keras backend.

The trainer feeds Keras a :class:`FaceBatches` (a ``keras.utils.PyDataset``)
instead of a ``tf.data`` pipeline, and augments with OpenCV on the CPU. Nothing
here calls TensorFlow, so the same ``python -m training.train`` runs with
``KERAS_BACKEND=jax`` (or ``torch``) on a GPU machine that has no TensorFlow,
and the saved ``model.keras`` loads here unchanged.

Every random draw comes from a generator seeded by ``(seed, epoch, batch)``:
batches are the same whatever order the loader threads build them in, and a
resumed run sees the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from training.data import FaceDataset


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes applied to each training face, independently."""

    flip: bool = True  # mirror left-right with probability 1/2
    rotation: float = 0.1  # up to this fraction of a full turn either way (as keras.layers.RandomRotation)
    zoom: float = 0.1  # scale by a factor in [1 - zoom, 1 + zoom]
    shift: float = 0.0  # move by up to this fraction of the side, in x and y independently
    erase: float = 0.0  # probability of replacing one random rectangle with noise (random erasing)
    brightness: float = 0.0  # add up to this fraction of the full range (255) either way
    contrast: float = 0.0  # scale around the face's mean by a factor in [1 - contrast, 1 + contrast]

    def __post_init__(self) -> None:
        for name in ("rotation", "zoom", "shift", "erase", "brightness", "contrast"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"augmentation {name} must be in [0, 1), got {value}")

    @property
    def is_identity(self) -> bool:
        return not self.flip and not any((self.rotation, self.zoom, self.shift, self.erase,
                                          self.brightness, self.contrast))


#: Area range (fraction of the face) and aspect-ratio range of an erased rectangle
#: (Zhong et al., "Random Erasing Data Augmentation", with the area capped for 48px faces).
ERASE_AREA = (0.02, 0.2)
ERASE_ASPECT = (0.3, 3.3)


def augment_batch(images: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Augmented float32 copies, in 0..255, of ``(n, h, w)`` grey faces."""
    if images.ndim != 3:
        raise ValueError(f"expected (n, h, w) grey faces, got shape {images.shape}")
    out = images.astype(np.float32, copy=True)
    if config.is_identity:
        return out
    n, h, w = out.shape
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    for i in range(n):
        angle = rng.uniform(-config.rotation, config.rotation) * 360.0
        scale = rng.uniform(1.0 - config.zoom, 1.0 + config.zoom)
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        matrix[0, 2] += rng.uniform(-config.shift, config.shift) * w
        matrix[1, 2] += rng.uniform(-config.shift, config.shift) * h
        if config.flip and rng.random() < 0.5:
            # mirror after the warp: x -> (w - 1) - x
            matrix[0] = -matrix[0]
            matrix[0, 2] += w - 1
        if angle or scale != 1.0 or config.shift or matrix[0, 0] < 0:
            out[i] = cv2.warpAffine(out[i], matrix, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT_101)
    if config.contrast:
        factor = rng.uniform(1.0 - config.contrast, 1.0 + config.contrast, (n, 1, 1)).astype(np.float32)
        mean = out.mean(axis=(1, 2), keepdims=True)
        out = (out - mean) * factor + mean
    if config.brightness:
        out += rng.uniform(-config.brightness, config.brightness, (n, 1, 1)).astype(np.float32) * 255.0
    if config.contrast or config.brightness:
        np.clip(out, 0.0, 255.0, out=out)
    if config.erase:
        for i in np.flatnonzero(rng.random(n) < config.erase):
            _erase(out[i], rng)
    return out


def _erase(face: np.ndarray, rng: np.random.Generator) -> None:
    h, w = face.shape
    area = rng.uniform(*ERASE_AREA) * h * w
    aspect = math.exp(rng.uniform(math.log(ERASE_ASPECT[0]), math.log(ERASE_ASPECT[1])))
    eh = min(h, max(1, round(math.sqrt(area * aspect))))
    ew = min(w, max(1, round(math.sqrt(area / aspect))))
    top, left = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
    face[top:top + eh, left:left + ew] = rng.uniform(0.0, 255.0, (eh, ew))


def _py_dataset_base() -> type:
    import keras

    return keras.utils.PyDataset  # type: ignore[no-any-return]


class FaceBatches(_py_dataset_base()):  # type: ignore[misc]
    """Batches of float32 ``(n, h, w, 1)`` faces in 0..255 with integer, one-hot or soft labels.

    ``augment`` changes each face of each batch (training); ``shuffle`` draws a
    new order for each value of ``epoch``, which the trainer sets at every
    epoch's start to Keras' own epoch number (``first_epoch`` until then).
    With a ``teacher`` model the labels are soft:
    ``distill_alpha`` of the one-hot label plus the rest of the teacher's
    probabilities for the same augmented faces; with ``soft_targets`` (one row
    of teacher probabilities per face of ``data``) the rest is that face's row.
    ``workers`` > 1 builds batches in that many threads (OpenCV releases the
    GIL while it warps).
    """

    def __init__(self, data: FaceDataset, batch_size: int, *, augment: AugmentConfig | None = None,
                 shuffle: bool = False, seed: int = 0, one_hot: bool = False, teacher: Any = None,
                 soft_targets: np.ndarray | None = None, distill_alpha: float = 0.3, workers: int = 1,
                 first_epoch: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(data) == 0:
            raise ValueError("no faces to batch")
        if teacher is not None and soft_targets is not None:
            raise ValueError("give a teacher model or soft targets, not both")
        if soft_targets is not None and soft_targets.shape != (len(data), len(data.label_names)):
            raise ValueError(f"soft targets of shape {soft_targets.shape} for {len(data)} faces and "
                             f"{len(data.label_names)} classes")
        super().__init__(workers=workers, use_multiprocessing=False)
        self.data = data
        self.batch_size = batch_size
        self.augment = None if augment is None or augment.is_identity else augment
        self.shuffle = shuffle
        self.seed = seed
        self.one_hot = one_hot or teacher is not None or soft_targets is not None
        self.teacher = teacher
        self.soft_targets = soft_targets
        self.distill_alpha = distill_alpha
        self.epoch = first_epoch
        self._order: tuple[int, np.ndarray] | None = None
        self._teacher_lock = threading.Lock()  # one model call at a time from the loader threads

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size)

    @property
    def num_batches(self) -> int:
        return len(self)

    def _indices(self, index: int) -> np.ndarray:
        n = len(self.data)
        if not self.shuffle:
            return np.arange(index * self.batch_size, min(n, (index + 1) * self.batch_size))
        order = self._order
        if order is None or order[0] != self.epoch:
            order = (self.epoch, np.random.default_rng([self.seed, self.epoch]).permutation(n))
            self._order = order
        return order[1][index * self.batch_size:(index + 1) * self.batch_size]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        idx = self._indices(index)
        faces = self.data.images[idx]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
            x = augment_batch(faces, self.augment, rng)
        else:
            x = faces.astype(np.float32)
        x = x[..., None]
        labels = self.data.labels[idx]
        if not self.one_hot:
            return x, labels
        y = np.eye(len(self.data.label_names), dtype=np.float32)[labels]
        if self.teacher is not None:
            with self._teacher_lock:
                soft = np.asarray(self.teacher(x, training=False), dtype=np.float32)
        elif self.soft_targets is not None:
            soft = self.soft_targets[idx]
        else:
            return x, y
        return x, self.distill_alpha * y + (1.0 - self.distill_alpha) * soft
