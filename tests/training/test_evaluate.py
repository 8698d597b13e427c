"""Evaluation maths on known values."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.classifier import apply_temperature
from training.evaluate import (
    confusion_matrix,
    evaluate_probabilities,
    expected_calibration_error,
    fit_temperature,
    metrics_from_confusion,
    reliability_bins,
)


def test_confusion_matrix_counts() -> None:
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)


def test_metrics_from_a_known_confusion_matrix() -> None:
    # rows true, columns predicted
    cm = np.array([[5, 3, 2],
                   [1, 8, 1],
                   [0, 2, 8]])
    m = metrics_from_confusion(cm, ("a", "b", "c"))
    assert m["accuracy"] == pytest.approx(21 / 30)
    # precision = tp / column sum, recall = tp / row sum
    pa, pb, pc = 5 / 6, 8 / 13, 8 / 11
    ra, rb, rc = 5 / 10, 8 / 10, 8 / 10
    f1 = [2 * p * r / (p + r) for p, r in ((pa, ra), (pb, rb), (pc, rc))]
    assert m["per_class"]["a"].precision == pytest.approx(pa)
    assert m["per_class"]["b"].recall == pytest.approx(rb)
    assert m["per_class"]["c"].f1 == pytest.approx(f1[2])
    assert m["per_class"]["a"].support == 10
    assert m["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert m["uar"] == pytest.approx((ra + rb + rc) / 3)


def test_never_predicted_and_absent_classes() -> None:
    cm = np.array([[3, 0, 0], [2, 0, 0], [0, 0, 0]])  # class b never predicted, c absent
    m = metrics_from_confusion(cm, ("a", "b", "c"))
    assert m["per_class"]["b"].precision == 0.0 and m["per_class"]["b"].f1 == 0.0
    assert m["uar"] == pytest.approx((1.0 + 0.0) / 2)  # c has no support: left out


def test_ece_known_value() -> None:
    # Two bins used: confidence 0.9 (2 right of 2) and 0.6 (1 right of 2).
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 0, 0, 0])
    # bin 0.9: |0.9 - 1.0| = 0.1 (2 samples); bin 0.6: |0.6 - 0.5| = 0.1 (2 samples)
    assert expected_calibration_error(probs, y) == pytest.approx(0.1)
    conf, acc, counts = reliability_bins(probs, y)
    assert counts.sum() == 4 and counts[np.argmax(counts)] == 2
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, np.array([0, 1])) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        expected_calibration_error(np.zeros((0, 2)), np.array([], dtype=int))


def test_evaluate_probabilities_round_trip() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    probs = np.full((200, 3), 0.1)
    probs[np.arange(200), y] = 0.8  # always right with confidence 0.8
    result = evaluate_probabilities(probs, y, ("x", "y", "z"))
    assert result.accuracy == 1.0 and result.n == 200
    assert result.ece == pytest.approx(0.2)
    data = result.to_dict()
    assert set(data) >= {"accuracy", "macro_f1", "uar", "n", "per_class", "confusion_matrix", "labels", "ece"}
    assert data["per_class"]["x"]["support"] == int((y == 0).sum())


def test_fit_temperature_recovers_a_known_overconfidence() -> None:
    """Labels drawn from softmax(z / 2) while the model reports softmax(z): the fitted T is about 2."""
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, size=(20000, 5))
    true_probs = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(5, p=p) for p in true_probs])
    reported = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    t = fit_temperature(reported, y)
    assert t == pytest.approx(2.0, rel=0.05)
    calibrated = apply_temperature(reported, t)
    assert np.array_equal(calibrated.argmax(axis=1), reported.argmax(axis=1))
    assert expected_calibration_error(calibrated, y) < expected_calibration_error(reported, y) / 3


def test_fit_temperature_refuses_empty_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))
