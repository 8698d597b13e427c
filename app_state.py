"""Cached resources for the Streamlit app (one per server process)."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from campaigns.analysis import analyze
from campaigns.simulate import SimulationConfig, simulate
from campaigns.store import Store
from emotion.card import ModelCard, ModelCardError

DEMO_NAME = "Demo campaign"


@st.cache_resource
def store() -> Store:
    """The app's one DuckDB store; a demo campaign is created on first start.

    The data folder is ``$EMOTION_AB_DATA`` (default ``data/`` in the working directory).
    """
    data_dir = Path(os.environ.get("EMOTION_AB_DATA", "data"))
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Store.open(data_dir / "app.duckdb", media_dir=data_dir / "media")
    if not any(c.name == DEMO_NAME for c in db.campaigns()):
        simulate(db, SimulationConfig(participants=40, seed=0, name=DEMO_NAME))
    return db


@st.cache_resource
def shipped_card() -> ModelCard | None:
    from emotion.classifier import DEFAULT_MODEL_DIR

    try:
        return ModelCard.load(DEFAULT_MODEL_DIR)
    except ModelCardError:
        return None


def demo_analysis():  # type: ignore[no-untyped-def]
    return analyze(store().load(DEMO_NAME), n_resamples=2000)
