"""Model (model owner): the shipped classifier's card, and trying it on a photo."""

from __future__ import annotations

import streamlit as st

from app_state import classifier, shipped_card
from campaigns.errors import MediaError
from emotion.card import ModelCardError
from emotion.classifier import DEFAULT_MODEL_DIR
from emotion.images import PhotoError, annotate, decode_photo, to_rgb
from ui import model_view as view

st.title("Model")
card = shipped_card()
if card is None:
    st.error(f"No readable model card in {DEFAULT_MODEL_DIR}. Ship a model with `python -m training.ship`.")
    st.stop()
view.show_card(card, DEFAULT_MODEL_DIR)

st.header("Try it")
st.caption("Photos are processed in memory and never stored.")
upload_tab, camera_tab = st.tabs(["Upload a photo", "Take a photo"])
with upload_tab:
    uploaded = st.file_uploader("Photo with one or more faces", type=["png", "jpg", "jpeg", "webp"])
with camera_tab:
    taken = st.camera_input("Camera")
photo = uploaded or taken
if photo is None:
    st.stop()

try:
    data = photo.getvalue()
    view.check_photo(data, photo.name)
    frame = decode_photo(data)
    model = classifier()
except MediaError as exc:
    st.error(str(exc))  # names the file itself
    st.stop()
except PhotoError as exc:
    st.error(f"{photo.name}: {exc}")
    st.stop()
except ModelCardError as exc:
    st.error(f"The shipped model cannot be loaded: {exc}")
    st.stop()
faces = model.analyze(frame)
boxed = to_rgb(annotate(frame, faces))
st.image(boxed, caption=f"{len(faces)} face(s) found", width=640)
if not faces:
    st.warning("No face found. Try a brighter, frontal photo where the face fills more of the picture.")
for i, face in enumerate(faces, start=1):
    st.plotly_chart(view.probability_figure(face.prediction, f"Face {i}: {face.top_label} "
                                            f"({face.top_probability:.0%}), quality {face.quality.verdict}"),
                    key=f"face_{i}")
