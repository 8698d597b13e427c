"""Latency as the card records it: real timings of the real classifier."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.classifier import DEFAULT_MODEL_DIR
from emotion.runtime import TFLiteRunner
from tests.emotion.helpers import face
from training.latency import classifier_latency, cpu_name, cycling, timings_ms


def test_timings_count_only_the_timed_calls() -> None:
    calls = []
    ms = timings_ms(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and ms.shape == (5,) and (ms >= 0).all()
    with pytest.raises(ValueError, match="repeats"):
        timings_ms(lambda: None, repeats=0)


def test_cycling_walks_the_items_in_turn_and_wraps() -> None:
    seen: list[int] = []
    call = cycling(seen.append, [10, 20, 30], start=1)
    for _ in range(4):
        call()
    assert seen == [20, 30, 10, 20]
    with pytest.raises(ValueError, match="no items"):
        cycling(seen.append, [])


def test_the_runtime_runs_on_the_threads_it_is_given() -> None:
    model = DEFAULT_MODEL_DIR / "model.tflite"
    assert TFLiteRunner(model).threads == 1
    assert TFLiteRunner(model, threads=2).threads == 2
    with pytest.raises(ValueError, match="threads"):
        TFLiteRunner(model, threads=0)


def test_shipped_model_latency_is_measured_through_its_runtime() -> None:
    faces = np.stack([face("happy/05667.png")] * 3)
    result = classifier_latency(DEFAULT_MODEL_DIR, faces, repeats=20)
    assert result["runtime"] == "tflite" and result["threads"] == 1 and result["repeats"] == 20
    assert 0 < result["ms_per_face_b1_p50"] <= result["ms_per_face_b1_p95"]
    assert result["cpu"] == cpu_name() and result["cpu"]
    with pytest.raises(ValueError, match="no faces"):
        classifier_latency(DEFAULT_MODEL_DIR, faces[:0])
