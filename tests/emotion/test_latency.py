"""Latency as the card records it: real timings of the real classifier."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.classifier import DEFAULT_MODEL_DIR
from emotion.latency import classifier_latency, cpu_name, timings_ms
from tests.emotion.helpers import face


def test_timings_count_only_the_timed_calls() -> None:
    calls = []
    ms = timings_ms(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and ms.shape == (5,) and (ms >= 0).all()
    with pytest.raises(ValueError, match="repeats"):
        timings_ms(lambda: None, repeats=0)


def test_shipped_model_latency_is_measured_through_its_runtime() -> None:
    faces = np.stack([face("happy/05667.png")] * 3)
    result = classifier_latency(DEFAULT_MODEL_DIR, faces, repeats=20)
    assert result["runtime"] == "tflite" and result["threads"] == 1 and result["repeats"] == 20
    assert 0 < result["ms_per_face_b1_p50"] <= result["ms_per_face_b1_p95"]
    assert result["cpu"] == cpu_name() and result["cpu"]
    with pytest.raises(ValueError, match="no faces"):
        classifier_latency(DEFAULT_MODEL_DIR, faces[:0])
