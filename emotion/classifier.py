"""The emotion classifier: a saved Keras model plus its model card, from one folder.

``EmotionClassifier(model_dir)`` loads ``model.keras`` and ``card.json`` and
refuses a folder whose card and model disagree. When the card names a TFLite
export (``emotion.runtime``, written by ``training.ship``), inference runs
there; otherwise on the Keras graph. ``predict`` scores face crops;
``analyze`` runs the whole path from a frame (detect, align, crop, classify).

Thread safety: one instance is shared by every Streamlit session of a server
process. The compiled inference function is called under a lock, so
concurrent callers are serialised instead of racing inside TensorFlow; each
call is a few milliseconds, and callers batch where they can.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emotion.card import ModelCard, ModelCardError, model_id
from emotion.faces import AlignedFace, FaceBox, FaceDetector, FaceQuality
from emotion.runtime import TFLiteRunner

#: The model shipped with the project; every tool's default ``--model``.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "shipped_model"


@dataclass(frozen=True)
class Prediction:
    """Probabilities for one face, in the model card's label order."""

    labels: tuple[str, ...]
    probabilities: tuple[float, ...]

    @property
    def top_index(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def top_label(self) -> str:
        return self.labels[self.top_index]

    @property
    def top_probability(self) -> float:
        return float(self.probabilities[self.top_index])

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.labels, self.probabilities, strict=False))


@dataclass(frozen=True)
class FaceResult:
    """One face found in a frame and what the model made of it."""

    box: FaceBox
    quality: FaceQuality
    angle: float
    eyes_found: bool
    prediction: Prediction

    @property
    def top_label(self) -> str:
        return self.prediction.top_label

    @property
    def top_probability(self) -> float:
        return self.prediction.top_probability


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale softmax outputs as if their logits were divided by ``temperature``."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)


class EmotionClassifier:
    """A trained facial-expression model with its card."""

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL_DIR, *,
                 detector: FaceDetector | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.card = ModelCard.load(self.model_dir)
        expected_in = (None, self.card.input_size, self.card.input_size, self.card.channels)
        classes = len(self.card.labels)
        self.runtime = "keras"
        #: CPU threads one prediction may use (None: TensorFlow's own pool, the Keras runtime).
        self.threads: int | None = None
        self._infer: Callable[[np.ndarray], np.ndarray]
        model = None if self.card.model_file is None else self._keras_model(expected_in, classes)
        if self.card.tflite_file:
            # The Keras model (if any) served only to check the card; the runtime file does the work,
            # so the Keras model is not kept (the graph below holds it in the Keras case).
            runner = self._tflite_runner(expected_in, classes)
            self._infer, self.runtime, self.threads = runner, "tflite", runner.threads
        else:
            import tensorflow as tf

            if model is None:  # the card's own check makes this unreachable
                raise ModelCardError("card names neither a Keras model file nor a runtime file")
            spec = tf.TensorSpec((None, *expected_in[1:]), tf.float32)
            # One traced graph for every batch size: no retracing, no predict() overhead.
            graph = tf.function(lambda x: model(x, training=False), input_signature=[spec])
            self._infer = lambda x: graph(x).numpy()
        self._lock = threading.Lock()
        self.detector = detector or FaceDetector()
        self.model_id = model_id(self.model_dir)

    def _keras_model(self, expected_in: tuple[int | None, ...], classes: int) -> Any:
        """The card's Keras model, checked against the card."""
        import keras

        model_path = self.model_dir / str(self.card.model_file)
        if not model_path.is_file():
            raise ModelCardError(f"model file {model_path} named by the card is missing")
        try:
            model = keras.models.load_model(model_path, compile=False)
        except Exception as exc:  # keras raises many types for a damaged file
            raise ModelCardError(f"cannot load {model_path}: it is damaged or not a Keras model "
                                 f"({type(exc).__name__}: {exc})") from exc
        if tuple(model.input_shape) != expected_in:
            raise ModelCardError(f"card says input {expected_in[1:]}, model takes {model.input_shape[1:]}")
        if model.output_shape[-1] != classes:
            raise ModelCardError(f"card lists {classes} labels {list(self.card.labels)}, "
                                 f"model outputs {model.output_shape[-1]} classes")
        return model

    def _tflite_runner(self, expected_in: tuple[int | None, ...], classes: int) -> TFLiteRunner:
        """The card's TFLite file, checked against the card like the Keras model."""
        path = self.model_dir / str(self.card.tflite_file)
        if not path.is_file():
            raise ModelCardError(f"runtime file {path} named by the card is missing")
        try:
            runner = TFLiteRunner(path)
        except ValueError as exc:
            raise ModelCardError(str(exc)) from exc
        if runner.input_shape[1:] != expected_in[1:] or runner.output_shape[-1] != classes:
            raise ModelCardError(f"{path.name} takes {runner.input_shape[1:]} and outputs {runner.output_shape[-1]} "
                                 f"classes; the card says {expected_in[1:]} and {classes}")
        return runner

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    @property
    def input_size(self) -> int:
        return self.card.input_size

    def prepare(self, crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Stack crops into the model's float32 ``(n, size, size, channels)`` input.

        Accepts one crop or many, grey or 3-channel (BGR), any size (resized).
        """
        if isinstance(crops, np.ndarray):
            # (h, w) and (h, w, c) are one crop; (n, h, w) and (n, h, w, c) are a batch.
            one = crops.ndim == 2 or (crops.ndim == 3 and crops.shape[-1] in (1, 3, 4))
            items = [crops] if one else list(crops)
        else:
            items = list(crops)
        if not items:
            raise ValueError("no face crops given")
        size, channels = self.card.input_size, self.card.channels
        batch = np.empty((len(items), size, size, channels), dtype=np.float32)
        for i, item in enumerate(items):
            image = np.asarray(item)
            if image.size == 0 or image.ndim not in (2, 3):
                raise ValueError(f"crop {i} is not an image (shape {image.shape})")
            if image.ndim == 3 and image.shape[2] == 1:
                image = image[:, :, 0]
            if image.ndim == 3 and image.shape[2] == 4:
                image = image[:, :, :3]
            if channels == 1 and image.ndim == 3:
                image = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_BGR2GRAY)
            elif channels == 3 and image.ndim == 2:
                image = np.repeat(image[:, :, None], 3, axis=2)
            if image.shape[:2] != (size, size):
                image = cv2.resize(image.astype(np.uint8), (size, size), interpolation=cv2.INTER_AREA)
            batch[i] = image.reshape(size, size, channels)
        return batch

    def predict(self, crops: np.ndarray | Sequence[np.ndarray], *, flip_average: bool | None = None,
                batch_size: int = 64) -> np.ndarray:
        """Calibrated probabilities ``(n, len(labels))`` for face crops.

        ``flip_average`` also scores each mirrored crop and averages the two;
        ``None`` follows the model card's ``test_time_flip``.
        """
        if flip_average is None:
            flip_average = self.card.test_time_flip
        batch = self.prepare(crops)
        outputs = []
        for start in range(0, len(batch), batch_size):
            chunk = batch[start: start + batch_size]
            if flip_average:
                chunk = np.concatenate([chunk, chunk[:, :, ::-1, :]])
            with self._lock:
                probs = self._infer(chunk)
            if flip_average:
                half = len(probs) // 2
                probs = (probs[:half] + probs[half:]) / 2.0
            outputs.append(probs)
        return apply_temperature(np.concatenate(outputs).astype(np.float64), self.card.temperature)

    def predictions(self, crops: np.ndarray | Sequence[np.ndarray], **kwargs: object) -> list[Prediction]:
        """Like :meth:`predict`, as typed :class:`Prediction` objects."""
        probs = self.predict(crops, **kwargs)  # type: ignore[arg-type]
        return [Prediction(self.labels, tuple(float(p) for p in row)) for row in probs]

    def analyze(self, frame: np.ndarray, *, max_faces: int | None = None,
                channel_order: str = "bgr") -> list[FaceResult]:
        """Detect, align, crop and classify every face in ``frame`` (the participant's face first)."""
        faces: list[AlignedFace] = self.detector.faces(
            frame, size=self.card.input_size, margin=self.card.crop_margin,
            max_faces=max_faces, channel_order=channel_order)
        if not faces:
            return []
        preds = self.predictions([f.crop for f in faces])
        return [FaceResult(f.box, f.quality, f.angle, f.eyes_found, p) for f, p in zip(faces, preds, strict=False)]
