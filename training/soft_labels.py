"""A teacher's probabilities for every training face, written once: ``python -m training.soft_labels``.

    python -m training.soft_labels --data fer2013.csv.gz --split Training \\
        --model emotion/shipped_model --output runs/soft/training.npz
    python -m training.train --recipe ... --set teacher=runs/soft/training.npz

Distilling from a model folder (recipe key ``teacher = "DIR"``) runs the
teacher's Keras graph on every augmented batch. That needs the teacher's Keras
files, which a serving-only model (the shipped ensemble) does not have, and it
costs several student forward passes per face. A soft-label file holds the
teacher's probabilities for the clean faces instead: computed here through
the teacher's own serving path (its card's runtime, test-time flip and
temperature, so the targets are the calibrated probabilities the app shows),
about 1 MB for FER2013's Training split, so it travels where the model
cannot (a GPU machine without TensorFlow). The augmented copies of a face
share its clean face's probabilities; the flip-averaged teacher is mirror
symmetric, which suits the flips of augmentation.

Rows are matched to training faces by a hash of their pixels, not by
position, so a file fits any subset or order of the faces it was computed on
(``max_train_samples``, a shuffled copy), and a face it was not computed on
is refused by name instead of receiving another face's target. FER2013's
duplicated images share one hash and, having one image, one teacher output.
PrivateTest is refused: it is for the final report only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.data import FaceDataset, load_dataset

#: Splits a soft-label file may be computed on (targets are for training, never for the report).
REFUSED_SPLITS = ("PrivateTest",)
FORMAT = "emotion-soft-labels/1"
SUFFIX = ".npz"


def is_soft_label_file(path: Path) -> bool:
    """Whether a ``teacher`` path names a soft-label file (by its suffix) rather than a model folder."""
    return path.suffix == SUFFIX


def soft_label_identity(path: Path) -> dict[str, str]:
    """What a training recipe records of a soft-label file: its teacher and the file's SHA-256."""
    soft = SoftLabels.load(path)
    return {"teacher_model": soft.teacher, "teacher_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def image_keys(images: np.ndarray) -> np.ndarray:
    """One 64-bit key per face: BLAKE2b of its shape and pixels (``(n, h, w)`` uint8 -> ``(n,)`` uint64)."""
    images = np.ascontiguousarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"faces must be (n, h, w) uint8, got {images.shape} {images.dtype}")
    shape = f"{images.shape[1]}x{images.shape[2]}".encode()
    keys = np.empty(len(images), dtype=np.uint64)
    for i, face in enumerate(images):
        digest = hashlib.blake2b(face.tobytes(), digest_size=8, person=shape[:16]).digest()
        keys[i] = int.from_bytes(digest, "little")
    return keys


@dataclass(frozen=True)
class SoftLabels:
    """A teacher's probabilities (in ``labels`` order) for the faces whose keys are ``keys``."""

    labels: tuple[str, ...]
    keys: np.ndarray  # (n,) uint64, see image_keys
    probabilities: np.ndarray  # (n, len(labels)) float32, rows sum to 1
    teacher: str  # the teacher's model id
    source: str  # the faces they were computed on
    image_size: tuple[int, int] = (48, 48)  # (height, width) of the faces the keys were computed on

    def __post_init__(self) -> None:
        if self.probabilities.shape != (len(self.keys), len(self.labels)):
            raise ValueError(f"{len(self.keys)} keys and {len(self.labels)} labels, but probabilities "
                             f"of shape {self.probabilities.shape}")

    def __len__(self) -> int:
        return len(self.keys)

    def targets_for(self, data: FaceDataset) -> np.ndarray:
        """The teacher's probabilities for each face of ``data``, in ``data.label_names`` order.

        When ``data`` keeps a subset of the teacher's classes, the kept columns are renormalised
        (the teacher's belief restricted to those classes). Raises ``ValueError`` for a face the
        file does not hold, or a class the teacher does not know.
        """
        if tuple(data.images.shape[1:]) != self.image_size:
            raise ValueError(f"the soft labels are for {self.image_size[0]}x{self.image_size[1]} faces, the "
                             f"training faces are {data.images.shape[1]}x{data.images.shape[2]}")
        unknown = [name for name in data.label_names if name not in self.labels]
        if unknown:
            raise ValueError(f"the soft labels know {list(self.labels)}, not {unknown}")
        columns = [self.labels.index(name) for name in data.label_names]
        rows = {int(k): i for i, k in enumerate(self.keys)}
        wanted = image_keys(data.images)
        missing = [i for i, k in enumerate(wanted) if int(k) not in rows]
        if missing:
            raise ValueError(f"{len(missing)} of {len(data)} training faces (the first: face {missing[0]} of "
                             f"{data.source}) are not in the soft labels, which were computed on {self.source}")
        probs = self.probabilities[[rows[int(k)] for k in wanted]][:, columns].astype(np.float32)
        total = probs.sum(axis=1, keepdims=True)
        if np.any(total <= 0):
            raise ValueError("the teacher gives no probability to any kept class for some faces")
        return probs / total

    def save(self, path: Path) -> Path:
        """Write the file atomically: a killed run leaves the old file or none, never half of one."""
        meta = {"format": FORMAT, "labels": list(self.labels), "teacher": self.teacher, "source": self.source,
                "image_size": list(self.image_size)}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as f:  # np.savez would append .npz to a name without it
            np.savez_compressed(f, keys=self.keys, probabilities=self.probabilities.astype(np.float32),
                                meta=np.array(json.dumps(meta)))
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: Path) -> SoftLabels:
        """Read a file written by :meth:`save`; ``ValueError`` for anything else."""
        if not path.is_file():
            raise FileNotFoundError(f"no soft-label file at {path} (write one with python -m training.soft_labels)")
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):  # a lone .npy array
                raise ValueError("not an .npz archive")
            with loaded as f:
                meta = json.loads(str(f["meta"]))
                keys, probs = f["keys"], f["probabilities"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            # json.JSONDecodeError is a ValueError; a cut or corrupted copy raises the zip and zlib errors
            raise ValueError(f"{path} is not a soft-label file or is damaged ({type(exc).__name__}: {exc})") from None
        found = meta.get("format") if isinstance(meta, dict) else meta
        if found != FORMAT:
            raise ValueError(f"{path} is not a soft-label file (format {found!r}, expected {FORMAT!r})")
        if keys.dtype != np.uint64 or probs.dtype != np.float32:
            raise ValueError(f"{path} is damaged: keys {keys.dtype}, probabilities {probs.dtype}")
        try:
            height, width = meta["image_size"]
            return cls(tuple(meta["labels"]), keys, probs, str(meta["teacher"]), str(meta["source"]),
                       (int(height), int(width)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is damaged ({type(exc).__name__}: {exc})") from None


def compute(classifier: Any, data: FaceDataset, *, batch_size: int = 256) -> SoftLabels:
    """The probabilities ``classifier`` (an ``EmotionClassifier``) serves for every face of ``data``."""
    if len(data) == 0:
        raise ValueError("no faces to label")
    probs = np.concatenate([classifier.predict(data.images[i: i + batch_size])
                            for i in range(0, len(data), batch_size)]).astype(np.float32)
    keys = image_keys(data.images)
    # Faces are matched by key, so two keys must be equal only for one image (FER2013's duplicates):
    # equal keys with different outputs would mean a hash collision, which would mislabel a face.
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if not np.allclose(probs, probs[first][inverse], atol=1e-5):
        raise ValueError("two different faces share a key: soft labels cannot tell them apart")
    return SoftLabels(tuple(classifier.labels), keys, probs, classifier.model_id, data.source,
                      (int(data.images.shape[1]), int(data.images.shape[2])))


def main(argv: list[str] | None = None) -> int:
    from emotion.classifier import DEFAULT_MODEL_DIR, EmotionClassifier

    p = argparse.ArgumentParser(prog="python -m training.soft_labels", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, type=Path, help="FER2013 CSV or class-per-folder dataset")
    p.add_argument("--split", default="Training", help="FER2013 split (default Training)")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="teacher model folder (default: shipped)")
    p.add_argument("--output", required=True, type=Path, help="soft-label file to write (.npz)")
    args = p.parse_args(argv)
    if args.split in REFUSED_SPLITS:
        print(f"error: {args.split} is kept for the final report; compute soft labels on Training",
              file=sys.stderr)
        return 2
    try:
        classifier = EmotionClassifier(args.model)
        data = load_dataset(args.data, split=args.split, size=classifier.input_size)
        soft = compute(classifier, data)
        soft.save(args.output)
    except (ValueError, OSError) as exc:  # ModelCardError is a ValueError; OSError: an unwritable --output
        print(f"error: {exc}", file=sys.stderr)
        return 2
    agree = float((soft.targets_for(data).argmax(axis=1) == data.labels).mean())
    print(f"{len(soft)} faces of {data.source} labelled by {soft.teacher} -> {args.output} "
          f"(teacher agrees with the label on {agree:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
