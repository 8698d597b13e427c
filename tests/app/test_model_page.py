"""Model page: the shipped card's numbers and figures, and scoring a photo with the real model."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from streamlit.testing.v1 import AppTest

from app_state import classifier
from emotion.card import ModelCard
from emotion.classifier import DEFAULT_MODEL_DIR
from emotion.images import annotate
from tests.app.staff import assert_needs_login, jpeg, open_page, plotly_values, png, texts
from tests.emotion.helpers import face, frame_with_face
from ui import model_view

HAPPY = "happy/05667.png"


def _card_json() -> dict:
    return json.loads((DEFAULT_MODEL_DIR / "card.json").read_text())


def test_model_page_needs_a_login(new_app: Callable[..., AppTest]) -> None:
    assert_needs_login(new_app(), "model")


def test_the_card_numbers_and_figures_come_from_card_json(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "model")
    card = _card_json()
    private = card["metrics"]["private_test"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["PrivateTest accuracy"] == f"{private['accuracy']:.1%}"
    assert metrics["Macro F1"] == f"{private['macro_f1']:.3f}"
    details = texts(app, "markdown")[0]
    assert f"`{card['architecture']}`" in details and ", ".join(card["labels"]) in details
    f1 = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    assert f1["x"] == card["labels"]
    assert np.allclose(plotly_values(f1["y"]), [private["per_class_f1"][k] for k in card["labels"]])
    figures = [name for name, _ in model_view.FIGURES if (DEFAULT_MODEL_DIR / name).is_file()]
    assert "confusion_matrix.png" in figures
    assert [c for image in app.image for c in image.captions] == [
        caption for name, caption in model_view.FIGURES if name in figures]


def test_the_in_use_numbers_come_from_card_json(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "model")
    metrics = _card_json()["metrics"]
    pipeline, latency = metrics["pipeline"], metrics["latency"]
    table = app.table[0].value
    assert list(table.index) == ["Faces found in webcam-like frames", "Accuracy on them through the pipeline",
                                 "Classifier time per face"]
    values = table["value"].tolist()
    assert values[0].startswith(f"{pipeline['found_rate']:.1%} of {pipeline['n']:,} PrivateTest faces")
    assert values[1].startswith(f"{pipeline['pipeline_accuracy']:.1%} (ready-made crops of the same faces: "
                                f"{pipeline['direct_accuracy_found']:.1%}")
    assert values[2].startswith(f"{latency['ms_per_face_b1_p50']:.2f} ms median")


def test_a_card_without_in_use_numbers_shows_no_in_use_section() -> None:
    card = ModelCard.load(DEFAULT_MODEL_DIR)
    assert model_view.in_use(replace(card, metrics={"private_test": card.metrics["private_test"]})) == {}
    nothing_found = {"n": 10, "found": 0, "found_rate": 0.0, "split": "PrivateTest"}
    assert list(model_view.in_use(replace(card, metrics={"pipeline": nothing_found}))) == [
        "Faces found in webcam-like frames"]
    # A hand-edited card with broken numbers loses those rows, not the page.
    broken = {"pipeline": {"n": 10, "found": 3, "found_rate": "most"},
              "latency": {"ms_per_face_b1_p50": 1.0}}
    assert model_view.in_use(replace(card, metrics=broken)) == {}
    half = {"pipeline": {"n": 10, "found": 3, "found_rate": 0.3}, "latency": card.metrics["latency"]}
    assert list(model_view.in_use(replace(card, metrics=half))) == ["Faces found in webcam-like frames",
                                                                    "Classifier time per face"]


def test_an_uploaded_photo_is_scored_and_boxed(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "model")
    frame = frame_with_face(face(HAPPY))
    app.file_uploader[0].upload("me.png", png(frame), "image/png").run()
    assert not app.exception and not app.error, texts(app, "error")
    expected = classifier().analyze(frame)
    assert len(expected) == 1
    photo = app.image[-1]
    assert photo.captions == ["1 face(s) found"]
    chart = json.loads(app.get("plotly_chart")[-1].proto.spec)
    assert chart["data"][0]["x"] == list(classifier().labels)
    assert np.allclose(plotly_values(chart["data"][0]["y"]), expected[0].prediction.probabilities, atol=1e-6)
    assert chart["layout"]["title"]["text"].startswith(f"Face 1: {expected[0].top_label} ")


def test_a_camera_photo_is_scored(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "model")
    app.camera_input[0].set_value(("shot.jpg", jpeg(frame_with_face(face(HAPPY))), "image/jpeg")).run()
    assert not app.exception and not app.error
    assert app.image[-1].captions == ["1 face(s) found"]
    assert len(app.get("plotly_chart")) == 2  # per-class F1 and the face's probabilities


def test_a_file_that_is_not_an_image_gets_a_clear_message(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "model")
    app.file_uploader[0].upload("holiday.png", b"%PDF-1.4 not a picture", "image/png").run()
    assert not app.exception
    assert texts(app, "error") == ["holiday.png: This file is not an image that can be read (PNG, JPEG or WebP); "
                                   "it may be corrupt."]
    empty = np.full((240, 320, 3), 90, np.uint8)
    app.file_uploader[0].clear().upload("wall.png", png(empty), "image/png").run()
    assert texts(app, "warning")[0].startswith("No face found")
    assert app.image[-1].captions == ["0 face(s) found"]


def test_annotate_draws_on_a_copy() -> None:
    frame = frame_with_face(face(HAPPY))
    original = frame.copy()
    faces = classifier().analyze(frame)
    boxed = annotate(frame, faces)
    assert np.array_equal(frame, original) and not np.array_equal(boxed, original)
    b = faces[0].box
    assert tuple(boxed[b.y, b.x + b.w // 2]) == (0, 200, 0)  # the box's top edge
