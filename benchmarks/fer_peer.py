"""The ``fer`` PyPI package (Justin Shenk) wrapped as a benchmark peer.

Benchmark-only dependency, installed without its declared dependencies (they would pull
PyTorch, opencv-contrib, moviepy, ...)::

    pip install --no-deps fer          # tested with fer 25.10.3

The default inference path of ``fer.fer.FER()`` (fer 25.10.3) is:

* detector: OpenCV Haar cascade ``cv2.data.haarcascades + "haarcascade_frontalface_default.xml"``
  (``mtcnn=False``), ``detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
  flags=cv2.CASCADE_SCALE_IMAGE, minSize=(50, 50))`` on ``cv2.cvtColor(frame, COLOR_BGR2GRAY)``;
* crop: each box is made square by growing its shorter side (centred), grown by
  ``offsets=(10, 10)`` pixels on every side, and cut from the grey frame after it has been padded by
  40 px on every side with the mean of the frame's two bottom rows;
* classifier input: the crop ``cv2.resize``-d (bilinear) to 64x64, ``float32``, ``x / 255``, then
  ``(x - 0.5) * 2`` (range [-1, 1]), channel axis added;
* classifier: NOT the Keras ``emotion_model.hdf5`` but, because ``use_tflite=True`` is the default,
  the bundled dynamic-range-quantised ``emotion_model_quantized.tflite`` run with
  ``tf.lite.Interpreter``: ``set_tensor`` + ``invoke`` + ``get_tensor`` once PER FACE (the model's
  input is fixed at ``[1, 64, 64, 1]``), no ``model.predict``;
* output: softmax over fer's labels (angry, disgust, fear, happy, sad, surprise, neutral, i.e.
  already FER2013's order); ``detect_emotions`` rounds each score to 2 decimals.

:meth:`FerPeer.classify` reuses fer's own preprocessing and fer's own ``FER._classify_emotions``
so that classifier-alone timings go through exactly the code fer runs. Importing this module imports
neither fer nor TensorFlow (fer's import calls ``logging.basicConfig(level=INFO)``); that happens on
first use.
"""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fer.fer import FER

__all__ = [
    "FER2013_LABELS",
    "FerPeer",
    "fer_label_to_fer2013_index",
    "fer_labels",
    "fer_to_fer2013_indices",
    "to_fer2013_order",
    "version",
]

#: FER2013's class order (the ``emotion`` column, 0-6).
FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Side of the grey FER2013 crops that :meth:`FerPeer.classify` accepts.
FER2013_SIDE = 48


def _fer_class() -> type[FER]:
    """Import fer's ``FER`` class lazily (the import loads TensorFlow)."""
    from fer.fer import FER

    return FER


def fer_labels() -> tuple[str, ...]:
    """fer's class labels in the order of its model's outputs, read from ``FER._get_labels()``."""
    labels: dict[int, str] = _fer_class()._get_labels()
    return tuple(labels[i] for i in sorted(labels))


def __getattr__(name: str) -> Any:
    """Provide ``FER_LABELS`` lazily, so that importing this module does not import fer."""
    if name == "FER_LABELS":
        return fer_labels()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fer_to_fer2013_indices(labels: tuple[str, ...] | None = None) -> np.ndarray:
    """Column indices ``idx`` such that ``probs_fer[..., idx]`` is in FER2013's order.

    ``labels`` defaults to fer's own labels; matching is by name, so a change of order in fer
    would be followed (and a change of names raises ``ValueError``).
    """
    labels = fer_labels() if labels is None else labels
    missing = set(FER2013_LABELS) - set(labels)
    if missing or len(labels) != len(FER2013_LABELS):
        raise ValueError(f"fer labels {labels} do not match FER2013 labels {FER2013_LABELS}")
    return np.array([labels.index(name) for name in FER2013_LABELS], dtype=np.intp)


def to_fer2013_order(probs: np.ndarray, labels: tuple[str, ...] | None = None) -> np.ndarray:
    """Reorder the last axis of fer probabilities (in ``labels``' order) into FER2013's order."""
    return np.asarray(probs)[..., fer_to_fer2013_indices(labels)]


def fer_label_to_fer2013_index(label: str) -> int:
    """FER2013 class index (0-6) of one of fer's label names."""
    return FER2013_LABELS.index(label)


def version() -> str:
    """The installed fer version string (without importing fer)."""
    return importlib.metadata.version("fer")


class FerPeer:
    """fer's bundled facial-expression model, driven exactly as ``FER()`` drives it by default."""

    def __init__(self, **fer_kwargs: Any) -> None:
        """Build ``FER(**fer_kwargs)``; with no arguments, fer's defaults (Haar + TFLite model).

        ``fer_kwargs`` exists only for side experiments (e.g. ``use_tflite=False`` runs the Keras
        ``emotion_model.hdf5`` through a direct ``model(x)`` call); the benchmark peer uses none.
        """
        self._fer: FER = _fer_class()(**fer_kwargs)
        self._labels: tuple[str, ...] = fer_labels()
        self._indices: np.ndarray = fer_to_fer2013_indices(self._labels)
        # fer keeps its classifier input size in a name-mangled attribute; it is (64, 64).
        width, height = self._fer._FER__emotion_target_size  # type: ignore[attr-defined]
        self._target_size: tuple[int, int] = (int(width), int(height))

    @property
    def fer(self) -> FER:
        """The wrapped ``fer.fer.FER`` instance."""
        return self._fer

    @property
    def backend(self) -> str:
        """``"tflite"`` (fer's default: per-face ``Interpreter.invoke``) or ``"keras"`` (``model(x)``)."""
        if self._fer.tfserving:
            return "tfserving"
        return "tflite" if self._fer.use_tflite else "keras"

    @property
    def input_size(self) -> tuple[int, int]:
        """Classifier input size (width, height) as fer passes it to ``cv2.resize``."""
        return self._target_size

    def preprocess(self, faces: np.ndarray) -> np.ndarray:
        """fer's preprocessing of grey face crops: resize to 64x64, /255, then to [-1, 1].

        Same operations, same order and same dtype as ``FER.detect_emotions`` (fer 25.10.3).
        """
        import cv2

        resized = [cv2.resize(face, self._target_size) for face in faces]
        x = np.array(resized, dtype="float32")
        x = x / 255.0
        x = (x - 0.5) * 2.0
        return x

    def classify(self, faces: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, 7)`` in FER2013's order for grey uint8 crops ``(n, 48, 48)``.

        Each crop is treated as fer's face crop: :meth:`preprocess` then fer's own
        ``FER._classify_emotions``, which with the default TFLite backend invokes the interpreter
        once per face (so batch n costs n invocations, as it does inside fer). Scores are not
        rounded (``detect_emotions`` rounds them to 2 decimals).
        """
        faces = np.asarray(faces)
        if faces.ndim != 3 or faces.shape[1:] != (FER2013_SIDE, FER2013_SIDE):
            raise ValueError(f"expected faces of shape (n, 48, 48), got {faces.shape}")
        if faces.dtype != np.uint8:
            raise ValueError(f"expected uint8 faces, got {faces.dtype}")
        if len(faces) == 0:
            return np.empty((0, len(FER2013_LABELS)), dtype=np.float32)
        preds = self._fer._classify_emotions(self.preprocess(faces))
        probs = np.asarray(preds, dtype=np.float32)
        return probs[:, self._indices]

    def analyze(self, frame_bgr: np.ndarray) -> list[dict[str, Any]]:
        """fer's default full-frame path, ``FER.detect_emotions(frame_bgr)``, results unchanged.

        Each result is ``{"box": (x, y, w, h), "emotions": {fer_label: score rounded to 0.01}}``;
        the box is the Haar detection before squaring/offsets.
        """
        return self._fer.detect_emotions(frame_bgr)
