"""Loading labelled face datasets into memory.

Two sources are supported:

* the FER2013 CSV (``.csv`` or ``.csv.gz``; columns ``emotion``, ``pixels``,
  ``Usage``), whose integer labels follow :data:`FER2013_LABELS`;
* a class-per-folder image tree (the layout ``keras.utils.image_dataset_from_directory``
  reads), whose label names are the sub-folder names in sorted order.

Both give a :class:`FaceDataset` of grey ``uint8`` crops. The label order of a
*trained model* is not taken from here: it is saved in the model card beside
the model and read from there.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: The meaning of FER2013's integer ``emotion`` column (a property of the dataset).
FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER2013_SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
FER2013_SIZE = 48
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class FaceDataset:
    """Grey face crops with integer labels indexing ``label_names``."""

    images: np.ndarray  # (n, size, size) uint8
    labels: np.ndarray  # (n,) int64
    label_names: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be (n, h, w) uint8, got {self.images.shape} {self.images.dtype}")
        if len(self.images) != len(self.labels):
            raise ValueError("images and labels differ in length")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.label_names)):
            raise ValueError("a label is outside the label names")

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        return {name: int(c) for name, c in zip(self.label_names, counts, strict=False)}


def parse_classes(text: str | None) -> tuple[str, ...] | None:
    """Turn ``"happy,sad"`` into ``("happy", "sad")``; ``None``/empty means all."""
    if not text:
        return None
    classes = tuple(c.strip().lower() for c in text.split(",") if c.strip())
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes lists a class twice: {text!r}")
    if len(classes) < 2:
        raise ValueError(f"classes needs at least two classes, got {text!r}")
    return classes


def select_classes(data: FaceDataset, classes: tuple[str, ...] | None) -> FaceDataset:
    """Keep only ``classes`` and renumber labels in the order given."""
    if classes is None:
        return data
    unknown = [c for c in classes if c not in data.label_names]
    if unknown:
        raise ValueError(f"unknown classes {unknown}; this dataset has {list(data.label_names)}")
    old_to_new = np.full(len(data.label_names), -1, dtype=np.int64)
    for new, name in enumerate(classes):
        old_to_new[data.label_names.index(name)] = new
    mapped = old_to_new[data.labels]
    keep = mapped >= 0
    return FaceDataset(data.images[keep], mapped[keep], tuple(classes), data.source)


def load_fer2013(path: str | Path, split: str = "Training",
                 classes: tuple[str, ...] | None = None) -> FaceDataset:
    """Read one ``Usage`` split of the FER2013 CSV (plain or gzipped)."""
    path = Path(path)
    if split not in FER2013_SPLITS:
        raise ValueError(f"unknown split {split!r}; FER2013 has {FER2013_SPLITS}")
    if not path.is_file():
        raise FileNotFoundError(f"FER2013 CSV not found: {path}")
    try:
        frame = pd.read_csv(path, dtype={"emotion": "int64", "pixels": "string", "Usage": "string"})
    except (ValueError, OSError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} is not a readable FER2013 CSV: {exc}") from exc
    missing = {"emotion", "pixels", "Usage"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks the FER2013 columns {sorted(missing)}")
    frame = frame[frame["Usage"] == split]
    if frame.empty:
        raise ValueError(f"{path} has no rows with Usage == {split!r}")
    flat = np.array(" ".join(frame["pixels"].tolist()).split(), dtype=np.uint8)
    side = FER2013_SIZE
    if flat.size != len(frame) * side * side:
        raise ValueError(f"{path}: every 'pixels' cell must hold {side * side} values")
    labels = frame["emotion"].to_numpy(dtype=np.int64)
    data = FaceDataset(flat.reshape(-1, side, side), labels, FER2013_LABELS, f"{path}:{split}")
    return select_classes(data, classes)


def load_image_folder(path: str | Path, *, size: int = FER2013_SIZE,
                      classes: tuple[str, ...] | None = None) -> FaceDataset:
    """Read a class-per-folder image tree as grey ``size`` x ``size`` crops.

    Unreadable files are skipped with a warning (one corrupt image should not
    stop a long training run); a tree with no readable image raises.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    names = tuple(sorted(p.name.lower() for p in root.iterdir() if p.is_dir()))
    if len(names) < 2:
        raise ValueError(f"{root} needs at least two class sub-folders, found {list(names)}")
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped = 0
    for index, name in enumerate(names):
        folder = next(p for p in root.iterdir() if p.is_dir() and p.name.lower() == name)
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            grey = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            if grey is None:
                skipped += 1
                log.warning("skipping unreadable image %s", file)
                continue
            images.append(cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA))
            labels.append(index)
    if not images:
        raise ValueError(f"{root} holds no readable image")
    if skipped:
        log.warning("%d unreadable images skipped under %s", skipped, root)
    data = FaceDataset(np.stack(images), np.array(labels, dtype=np.int64), names, str(root))
    return select_classes(data, classes)


def load_dataset(path: str | Path, *, split: str = "Training", size: int = FER2013_SIZE,
                 classes: tuple[str, ...] | None = None) -> FaceDataset:
    """Load a FER2013 CSV split or an image folder, chosen by what ``path`` is.

    For an image folder, ``split`` picks a sub-folder of that name when one
    exists (``root/Training/happy/...``); otherwise the whole tree is used.
    """
    p = Path(path)
    if p.is_dir():
        sub = p / split
        return load_image_folder(sub if sub.is_dir() else p, size=size, classes=classes)
    if p.name.endswith((".csv", ".csv.gz")):
        data = load_fer2013(p, split, classes)
        if size != FER2013_SIZE:
            resized = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR)
                                for im in data.images])
            data = FaceDataset(resized, data.labels, data.label_names, data.source)
        return data
    if not p.exists():
        raise FileNotFoundError(f"dataset not found: {p}")
    raise ValueError(f"{p} is neither a FER2013 .csv/.csv.gz file nor a class-per-folder directory")


def holdout_split(data: FaceDataset, fraction: float, seed: int) -> tuple[FaceDataset, FaceDataset]:
    """A stratified random split into (train, validation)."""
    rng = np.random.default_rng(seed)
    val_idx: list[np.ndarray] = []
    for label in range(len(data.label_names)):
        idx = np.flatnonzero(data.labels == label)
        rng.shuffle(idx)
        val_idx.append(idx[: max(1, round(len(idx) * fraction))] if len(idx) > 1 else idx[:0])
    is_val = np.zeros(len(data), dtype=bool)
    is_val[np.concatenate(val_idx)] = True
    return subset(data, ~is_val), subset(data, is_val)


def subset(data: FaceDataset, keep: np.ndarray) -> FaceDataset:
    """The faces of ``data`` that ``keep`` (a mask or indices) selects, with the same labels."""
    return FaceDataset(data.images[keep], data.labels[keep], data.label_names, data.source)
