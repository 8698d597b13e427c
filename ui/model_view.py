"""The Model page's pieces: the shipped model card, the check of a photo's header and a face's
probabilities (the photo itself is decoded and drawn on by :mod:`emotion.images`).

Every number shown comes from the card (``card.json``) and the figures saved
beside the model, so a newly shipped model shows its own numbers unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from campaigns.errors import MediaError
from campaigns.media import DEFAULT_MAX_IMAGE_PIXELS, check_pixels, image_header_size
from emotion.card import ModelCard
from emotion.classifier import Prediction
from emotion.images import MAX_PHOTO_BYTES, PhotoError

#: Figures the evaluation saves beside the model, with their captions.
FIGURES = (("confusion_matrix.png", "Confusion matrix"), ("reliability.png", "Reliability diagram"),
           ("training_curves.png", "Training curves"))
HEADLINE_SPLIT = "private_test"


def check_photo(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
    """Refuse a photo from its header, before it is decoded: one Pillow cannot read (PhotoError) or
    one that declares more than ``max_pixels`` (MediaError naming ``name``).

    A few kilobytes can declare a picture that takes gigabytes to decode, and OpenCV decodes more
    formats (TIFF, PPM...) than the page offers, so only a header read here goes on to be decoded.
    """
    if not data or len(data) > MAX_PHOTO_BYTES:
        return  # decode_photo refuses these in its own words
    try:
        width, height = image_header_size(data, name)
    except MediaError as exc:
        raise PhotoError("This file is not an image that can be read (PNG, JPEG or WebP); it may be corrupt.") from exc
    check_pixels(name, width, height, max_pixels)


def probability_figure(prediction: Prediction, title: str) -> go.Figure:
    """Bar chart of one face's probabilities in the card's label order."""
    figure = go.Figure(go.Bar(x=list(prediction.labels), y=list(prediction.probabilities),
                              marker_color=["#2ca02c" if k == prediction.top_label else "#7f7f7f"
                                            for k in prediction.labels]))
    figure.update_layout(title=title, yaxis_title="probability", yaxis_range=[0, 1], yaxis_tickformat=".0%",
                         height=300, margin={"t": 40, "b": 20})
    return figure


def split_metrics(card: ModelCard) -> pd.DataFrame:
    """One row per evaluated split in the card (accuracy, macro F1, ...), PrivateTest first."""
    rows = []
    for split, values in card.metrics.items():
        if isinstance(values, dict) and "accuracy" in values:
            rows.append({"split": split, **{k: v for k, v in values.items() if not isinstance(v, dict)}})
    rows.sort(key=lambda row: row["split"] != HEADLINE_SPLIT)
    return pd.DataFrame(rows)


def per_class_f1(card: ModelCard, split: str = HEADLINE_SPLIT) -> pd.DataFrame:
    """F1 of each label on ``split`` (empty when the card has none)."""
    scores: dict[str, Any] = card.metrics.get(split, {}).get("per_class_f1", {})
    return pd.DataFrame({"emotion": [k for k in card.labels if k in scores],
                         "F1": [float(scores[k]) for k in card.labels if k in scores]})


def in_use(card: ModelCard) -> dict[str, str]:
    """The card's in-use numbers as the page shows them (empty for a card without them):
    accuracy inside the real pipeline beside the direct accuracy on the same faces, and latency.
    A row whose numbers are missing or malformed in the card is left out."""
    shown: dict[str, str] = {}
    pipeline = card.metrics.get("pipeline")
    latency = card.metrics.get("latency")
    try:
        if isinstance(pipeline, dict) and pipeline.get("n"):
            faces = " ".join(str(part) for part in (f"{int(pipeline['n']):,}", pipeline.get("split"), "faces") if part)
            shown["Faces found in webcam-like frames"] = f"{float(pipeline['found_rate']):.1%} of {faces}"
            if pipeline.get("found"):
                piped, direct = float(pipeline["pipeline_accuracy"]), float(pipeline["direct_accuracy_found"])
                shown["Accuracy on them through the pipeline"] = (
                    f"{piped:.1%} (ready-made crops of the same faces: {direct:.1%}, "
                    f"difference {(piped - direct) * 100:+.1f} points)")
    except (KeyError, TypeError, ValueError):
        pass
    try:
        if isinstance(latency, dict) and "ms_per_face_b1_p50" in latency:
            one_thread = ", one thread" if latency.get("threads") == 1 else ""
            mirrored = ", with the mirror-image pass" if latency.get("test_time_flip") else ""
            shown["Classifier time per face"] = (
                f"{float(latency['ms_per_face_b1_p50']):.2f} ms median, "
                f"{float(latency['ms_per_face_b1_p95']):.2f} ms p95 (batch 1{mirrored}, {latency.get('runtime', '?')}"
                f"{one_thread}, {latency.get('cpu', 'unknown CPU')}, measured {latency.get('measured', '')})")
    except (KeyError, TypeError, ValueError):
        pass
    return shown


def show_card(card: ModelCard, folder: Path) -> None:
    """Headline numbers, per-class F1, training data, recipe and the saved figures."""
    headline = card.metrics.get(HEADLINE_SPLIT)
    if headline:
        cols = st.columns(4)
        cols[0].metric("PrivateTest accuracy", f"{headline['accuracy']:.1%}")
        cols[1].metric("Macro F1", f"{headline['macro_f1']:.3f}")
        if "uar" in headline:
            cols[2].metric("Unweighted recall", f"{headline['uar']:.3f}")
        if "ece" in headline:
            cols[3].metric("Calibration error (ECE)", f"{headline['ece']:.3f}")
        st.caption(f"On the held-out PrivateTest split ({headline.get('n', '?')} faces), as recorded in the card.")
    else:
        st.warning("The model card has no PrivateTest evaluation; run `python -m training.evaluate`.")
    st.markdown(f"**Architecture** `{card.architecture}` · input {card.input_size}×{card.input_size} "
                f"{card.color_mode} · **labels** {', '.join(card.labels)} · temperature {card.temperature:g}"
                f" · mirror averaging {'on' if card.test_time_flip else 'off'} · runtime "
                f"{'TFLite, int8 weights' if card.tflite_file else 'Keras'}")
    used = in_use(card)
    if used:
        st.subheader("In use")
        st.caption("Each face placed in a 640x480 frame goes through the app's own detection, eye alignment "
                   "and crop before it is classified; faces the detector misses are never scored.")
        st.table(pd.DataFrame({"measure": list(used), "value": list(used.values())}).set_index("measure"))
    f1 = per_class_f1(card)
    if not f1.empty:
        st.plotly_chart(go.Figure(go.Bar(x=f1["emotion"], y=f1["F1"])).update_layout(
            title="F1 per emotion (PrivateTest)", yaxis_range=[0, 1], height=320), key="f1")
    images = [(folder / name, caption) for name, caption in FIGURES if (folder / name).is_file()]
    # Two figures a row: the confusion matrix's cell numbers stay readable.
    for start in range(0, len(images), 2):
        for column, (path, caption) in zip(st.columns(2), images[start:start + 2], strict=False):
            column.image(str(path), caption=caption)
    with st.expander("All evaluations"):
        st.dataframe(split_metrics(card), hide_index=True)
    with st.expander("Training data and recipe"):
        st.json({"training_data": card.training_data, "recipe": card.recipe, "created": card.created},
                expanded=False)
