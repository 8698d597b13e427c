"""The TFLite serving runtime: export, the runner, and the classifier on it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from emotion.card import ModelCard, ModelCardError, model_id
from emotion.classifier import EmotionClassifier
from emotion.runtime import TFLITE_FILE, TFLiteRunner, export_tflite
from tests.emotion.helpers import face
from training.data import FER2013_LABELS
from training.models import build_vgg_bn

FACES = ["happy/09760.png", "sad/27113.png", "angry/25683.png", "neutral/09771.png"]


@pytest.fixture(scope="module")
def keras_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untrained model (random weights) with a card, served by Keras."""
    folder = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(3)
    build_vgg_bn(widths=(8, 16), num_classes=7).save(folder / "model.keras")
    ModelCard(labels=FER2013_LABELS, input_size=48, architecture="vgg_bn").save(folder)
    return folder


@pytest.fixture(scope="module")
def tflite_dir(keras_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same model and card plus its TFLite export, as ``training.ship`` leaves a model folder."""
    folder = tmp_path_factory.mktemp("tflite")
    shutil.copy2(keras_dir / "model.keras", folder / "model.keras")
    export_tflite(keras.models.load_model(folder / "model.keras", compile=False), folder / TFLITE_FILE)
    replace(ModelCard.load(keras_dir), tflite_file=TFLITE_FILE).save(folder)
    return folder


def crops() -> np.ndarray:
    return np.stack([face(name) for name in FACES])


def test_runner_handles_changing_batch_sizes(tflite_dir: Path) -> None:
    runner = TFLiteRunner(tflite_dir / TFLITE_FILE)
    assert runner.input_shape[1:] == (48, 48, 1) and runner.output_shape[-1] == 7
    batch = crops()[..., None].astype(np.float32)
    four = runner(batch)
    assert four.shape == (4, 7)
    np.testing.assert_allclose(four.sum(axis=1), 1.0, rtol=1e-5)
    # One face alone, then all four again: the same numbers whatever the batch size.
    np.testing.assert_allclose(runner(batch[1:2])[0], four[1], atol=1e-5)
    np.testing.assert_allclose(runner(batch), four, atol=1e-6)


def test_runner_cuts_large_batches_into_short_invokes(tflite_dir: Path) -> None:
    whole = TFLiteRunner(tflite_dir / TFLITE_FILE, max_rows=64)
    batch = np.concatenate([crops(), crops()[:, :, ::-1], crops()[:3]])[..., None].astype(np.float32)  # 11 rows
    expected = whole(batch)
    for rows in (1, 3, 4):  # runs of equal size, and a shorter last run
        cut = TFLiteRunner(tflite_dir / TFLITE_FILE, max_rows=rows)
        got = cut(batch)
        assert got.shape == (11, 7)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    with pytest.raises(ValueError, match="max_rows"):
        TFLiteRunner(tflite_dir / TFLITE_FILE, max_rows=0)


def test_the_quantised_runtime_agrees_with_keras(keras_dir: Path, tflite_dir: Path) -> None:
    reference, served = EmotionClassifier(keras_dir), EmotionClassifier(tflite_dir)
    assert (reference.runtime, served.runtime) == ("keras", "tflite")
    expected, got = reference.predict(crops()), served.predict(crops())
    assert got.shape == expected.shape == (4, 7)
    # int8 weights move each probability a little, and no more.
    assert np.abs(got - expected).max() < 0.05, np.abs(got - expected).max()
    np.testing.assert_allclose(served.predict(crops(), flip_average=True),
                               (got + served.predict(crops()[:, :, ::-1])) / 2, atol=1e-5)


def test_a_missing_damaged_or_mismatched_runtime_file_is_refused(tflite_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tflite_dir, folder)
    first_id = model_id(folder)
    (folder / TFLITE_FILE).write_bytes(b"TFL3 not really a model")
    assert model_id(folder) != first_id  # the runtime file is part of the model's identity
    with pytest.raises(ModelCardError, match="damaged"):
        EmotionClassifier(folder)
    (folder / TFLITE_FILE).unlink()
    with pytest.raises(ModelCardError, match="missing"):
        EmotionClassifier(folder)
    # A runtime exported from another network (two classes) than the card describes.
    other = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    export_tflite(other, folder / TFLITE_FILE)
    with pytest.raises(ModelCardError, match="2 classes"):
        EmotionClassifier(folder)
