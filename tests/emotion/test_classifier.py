"""Model card round trip, EmotionClassifier loading, prediction and analyze."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from emotion.card import ModelCard, ModelCardError, model_id
from emotion.classifier import EmotionClassifier, Prediction, apply_temperature
from tests.emotion.helpers import face, frame_with_face
from training.data import FER2013_LABELS
from training.models import build_vgg_bn


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untrained model with a card: enough to test the plumbing, not accuracy."""
    folder = tmp_path_factory.mktemp("model")
    build_vgg_bn(widths=(8, 16), num_classes=7).save(folder / "model.keras")
    ModelCard(labels=FER2013_LABELS, input_size=48, architecture="vgg_bn", crop_margin=0.1).save(folder)
    return folder


@pytest.fixture(scope="module")
def classifier(model_dir: Path) -> EmotionClassifier:
    return EmotionClassifier(model_dir)


def copy_model(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(model_dir, target)
    return target


def test_card_round_trip(tmp_path: Path) -> None:
    card = ModelCard(labels=("happy", "sad"), input_size=64, architecture="x", temperature=1.3,
                     metrics={"accuracy": 0.7}, recipe={"epochs": 3})
    card.save(tmp_path)
    loaded = ModelCard.load(tmp_path)
    assert loaded == card
    assert json.loads((tmp_path / "card.json").read_text())["labels"] == ["happy", "sad"]
    assert loaded.with_metrics(ece=0.02).metrics == {"accuracy": 0.7, "ece": 0.02}


@pytest.mark.parametrize("content, message", [
    (None, "no model card"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"input_size": 48, "architecture": "x"}', "incomplete"),
    ('{"labels": ["a", "a"], "input_size": 48, "architecture": "x"}', "distinct"),
    ('{"labels": ["a", "b"], "input_size": 48, "architecture": "x", "temperature": 0}', "temperature"),
])
def test_bad_cards_are_refused(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "card.json").write_text(content)
    with pytest.raises(ModelCardError, match=message):
        ModelCard.load(tmp_path)


def test_classifier_refuses_a_card_that_disagrees_with_the_model(model_dir: Path, tmp_path: Path) -> None:
    folder = copy_model(model_dir, tmp_path)
    card = ModelCard.load(folder)
    ModelCard(labels=("happy", "sad"), input_size=48, architecture="vgg_bn").save(folder)
    with pytest.raises(ModelCardError, match="2 labels"):
        EmotionClassifier(folder)
    ModelCard(labels=card.labels, input_size=64, architecture="vgg_bn").save(folder)
    with pytest.raises(ModelCardError, match="input"):
        EmotionClassifier(folder)


def test_classifier_refuses_a_corrupt_or_missing_model(model_dir: Path, tmp_path: Path) -> None:
    folder = copy_model(model_dir, tmp_path)
    (folder / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelCardError, match="damaged"):
        EmotionClassifier(folder)
    (folder / "model.keras").unlink()
    with pytest.raises(ModelCardError, match="missing"):
        EmotionClassifier(folder)


def test_predict_shapes_and_probabilities(classifier: EmotionClassifier) -> None:
    crop = face("happy/09760.png")
    one = classifier.predict(crop)
    assert one.shape == (1, 7)
    np.testing.assert_allclose(one.sum(axis=1), 1.0, rtol=1e-6)
    batch = np.stack([crop, face("sad/27113.png"), crop])
    many = classifier.predict(batch)
    assert many.shape == (3, 7)
    np.testing.assert_allclose(many[0], many[2], rtol=1e-5)
    np.testing.assert_allclose(many[0], one[0], rtol=1e-4)
    # Other sizes and colour crops are resized / converted to the card's input.
    big_bgr = np.repeat(np.kron(crop, np.ones((2, 2), np.uint8))[:, :, None], 3, axis=2)
    np.testing.assert_allclose(classifier.predict(big_bgr)[0], one[0], atol=0.02)
    assert classifier.predict([crop, crop[:, :, None]]).shape == (2, 7)
    with pytest.raises(ValueError):
        classifier.predict([])
    with pytest.raises(ValueError):
        classifier.predict([np.zeros((0, 0), np.uint8)])


def test_flip_average_is_the_mean_of_both_views(classifier: EmotionClassifier) -> None:
    crop = face("angry/25683.png")
    plain = classifier.predict(crop)
    mirrored = classifier.predict(crop[:, ::-1])
    np.testing.assert_allclose(classifier.predict(crop, flip_average=True), (plain + mirrored) / 2, atol=1e-5)


def test_predict_is_thread_safe(classifier: EmotionClassifier) -> None:
    crops = np.stack([face(n) for n in ("happy/09760.png", "sad/27113.png", "angry/25683.png")])
    expected = classifier.predict(crops)
    outputs: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                outputs.append(classifier.predict(crops))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(outputs) == 60
    for out in outputs:
        np.testing.assert_allclose(out, expected, rtol=1e-4)


def test_temperature() -> None:
    p = np.array([[0.7, 0.2, 0.1]])
    assert apply_temperature(p, 1.0) is p
    hot, cold = apply_temperature(p, 2.0), apply_temperature(p, 0.5)
    assert hot[0, 0] < 0.7 < cold[0, 0]
    np.testing.assert_allclose(hot.sum(), 1.0)
    assert hot.argmax() == cold.argmax() == 0  # temperature never changes the top label


def test_analyze_returns_typed_results(classifier: EmotionClassifier) -> None:
    frame = frame_with_face(face("happy/09760.png"))
    results = classifier.analyze(frame)
    assert len(results) == 1
    r = results[0]
    assert r.prediction.labels == FER2013_LABELS
    assert r.top_label in FER2013_LABELS and 0 < r.top_probability <= 1
    assert r.quality.verdict == "ok" and 200 < r.box.w < 300
    assert sum(r.prediction.as_dict().values()) == pytest.approx(1.0)
    assert classifier.analyze(np.full((480, 640, 3), 90, np.uint8)) == []
    with pytest.raises(ValueError):
        classifier.analyze(np.zeros((0, 5), np.uint8))


def test_prediction_type() -> None:
    p = Prediction(("a", "b", "c"), (0.2, 0.5, 0.3))
    assert p.top_label == "b" and p.top_probability == 0.5 and p.top_index == 1


def test_model_id_changes_with_the_files(model_dir: Path, tmp_path: Path) -> None:
    folder = copy_model(model_dir, tmp_path)
    before = model_id(folder)
    ModelCard(labels=FER2013_LABELS, input_size=48, architecture="vgg_bn", temperature=1.5).save(folder)
    assert model_id(folder) != before and model_id(folder).startswith("copy-")
