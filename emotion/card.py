"""The model card: everything needed to use a saved model correctly, kept beside it.

A model folder holds ``model.keras`` and ``card.json`` (and, once shipped,
``model.tflite``, the runtime the app uses). The card is the one
place where the label order lives; the classifier, the evaluator and the app
read it from here and never re-type it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from emotion.runtime import TFLITE_FILE

CARD_FILE = "card.json"
MODEL_FILE = "model.keras"
CARD_SCHEMA = 1


class ModelCardError(ValueError):
    """A model folder whose card is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class ModelCard:
    labels: tuple[str, ...]
    input_size: int
    architecture: str
    color_mode: str = "grayscale"
    #: What the caller feeds: scaling happens inside the model.
    preprocessing: str = "grey face crop, uint8 0-255, resized to input_size; scaling inside the model"
    #: Face crop framing used by the pipeline (margin around the detector box, as a fraction).
    crop_margin: float = 0.0
    temperature: float = 1.0
    #: Average each face with its mirror image at inference (test-time augmentation).
    test_time_flip: bool = False
    training_data: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: The Keras model; ``None`` in a serving-only folder (``training.ship --serving-only``), which
    #: holds just the runtime file: the Keras source stays in the run folder named by the recipe.
    model_file: str | None = MODEL_FILE
    #: The serving runtime's file (``emotion.runtime``), when the model was shipped with one.
    tflite_file: str | None = None
    created: str = ""
    schema: int = CARD_SCHEMA

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ModelCardError(f"card labels must be at least two distinct names, got {self.labels}")
        if self.input_size < 8:
            raise ModelCardError(f"card input_size {self.input_size} is not a usable image size")
        if self.color_mode not in ("grayscale", "rgb"):
            raise ModelCardError(f"card color_mode must be 'grayscale' or 'rgb', got {self.color_mode!r}")
        if not self.temperature > 0:
            raise ModelCardError(f"card temperature must be positive, got {self.temperature}")
        if self.model_file is None and not self.tflite_file:
            raise ModelCardError("card names neither a Keras model file nor a runtime file")

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "grayscale" else 3

    def with_metrics(self, **metrics: Any) -> ModelCard:
        return replace(self, metrics={**self.metrics, **metrics})

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return json.dumps(data, indent=2, sort_keys=False)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CARD_FILE
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> ModelCard:
        path = Path(folder) / CARD_FILE
        if not path.is_file():
            raise ModelCardError(f"no model card at {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelCardError(f"model card {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelCardError(f"model card {path} must hold a JSON object")
        known = set(cls.__dataclass_fields__)
        try:
            data["labels"] = tuple(data["labels"])
            return cls(**{k: v for k, v in data.items() if k in known})
        except (KeyError, TypeError) as exc:
            raise ModelCardError(f"model card {path} is incomplete: {exc}") from exc


def model_id(folder: str | Path) -> str:
    """A short, stable id of a saved model: the folder name plus a hash of its files."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for name in (MODEL_FILE, TFLITE_FILE, CARD_FILE):
        file = folder / name
        if file.is_file():
            digest.update(file.read_bytes())
    return f"{folder.name}-{digest.hexdigest()[:10]}"
