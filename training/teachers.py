"""Trained models a new run draws on: a distillation teacher and starting weights.

``teacher`` (a recipe key) turns each training target into
``distill_alpha * one_hot(label) + (1 - distill_alpha) * teacher(augmented face)``,
so one network can learn what several agree on. The teacher is a saved model
folder (e.g. an ensemble made by ``python -m training.ensemble``) or a
soft-label file of ``python -m training.soft_labels``: the teacher's
probabilities for each clean face, computed once, so no teacher graph runs in
the training loop and a serving-only model can teach. ``init_from`` starts
from a trained model's weights instead of a random initialisation; a narrower
``vgg_bn`` starts from the wider one's strongest channels (``training.slim``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from emotion.card import ModelCard
from training.config import TrainConfig
from training.data import FaceDataset
from training.soft_labels import SoftLabels, is_soft_label_file

log = logging.getLogger(__name__)


def load_saved(folder: Path, labels: tuple[str, ...], role: str, input_size: int) -> Any:
    """The Keras model saved in ``folder`` (a run or a shipped model), checked against ``labels`` and
    the grey ``input_size`` crops being trained on."""
    import keras

    card = ModelCard.load(folder)
    if tuple(card.labels) != tuple(labels):
        raise ValueError(f"the {role} in {folder} has labels {card.labels}, the training data "
                         f"{labels}")
    if card.input_size != input_size or card.channels != 1:
        raise ValueError(f"the {role} in {folder} takes {card.input_size}x{card.input_size} {card.color_mode} "
                         f"crops, the training data are {input_size}x{input_size} grayscale")
    if card.model_file is None:
        hint = (" or write its soft labels with python -m training.soft_labels and pass that file"
                if role == "teacher" else "")
        raise ValueError(f"the {role} in {folder} is a serving-only export with no Keras model; point at "
                         f"the run it was shipped from ({card.recipe.get('source_run', 'see its card')}){hint}")
    return keras.models.load_model(folder / card.model_file, compile=False, safe_mode=False)


def teacher_for(config: TrainConfig, train_set: FaceDataset) -> tuple[Any, np.ndarray | None]:
    """The distillation teacher: ``(model, None)`` for a model folder, ``(None, targets)`` for a
    soft-label file (the teacher's probabilities for each training face), ``(None, None)`` without."""
    if config.teacher is None:
        return None, None
    path = Path(config.teacher)
    if is_soft_label_file(path):
        soft = SoftLabels.load(path)
        log.info("soft labels of %s for %d faces from %s", soft.teacher, len(soft), path)
        return None, soft.targets_for(train_set)
    return load_teacher(path, train_set.label_names, config.input_size), None


def load_teacher(folder: Path, labels: tuple[str, ...], input_size: int) -> Any:
    """A teacher model folder's Keras model, frozen."""
    teacher = load_saved(folder, labels, "teacher", input_size)
    teacher.trainable = False
    return teacher


def copy_weights(model: Any, folder: Path, labels: tuple[str, ...], input_size: int) -> None:
    """Start ``model`` from the weights of the model in ``folder`` (``init_from``)."""
    source = load_saved(folder, labels, "init_from model", input_size)
    try:
        model.set_weights(source.get_weights())
    except ValueError as exc:
        if model.name == source.name == "vgg_bn":  # narrower widths: keep the strongest channels
            from training.slim import slim_into

            widths = slim_into(source, model)
            log.info("weights initialised from %s, slimmed to widths %s", folder, widths)
            return
        raise ValueError(f"init_from {folder}: its layers do not match the architecture being "
                         f"trained ({exc})") from None
    log.info("weights initialised from %s", folder)
