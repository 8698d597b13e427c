"""The model shipped in emotion/shipped_model: loads, is small, and meets its bars, re-measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emotion.card import ModelCard
from emotion.classifier import DEFAULT_MODEL_DIR, EmotionClassifier
from tests.conftest import FER_FACES, ROOT
from tests.emotion.helpers import face, frame_with_face
from training.data import FER2013_LABELS
from training.evaluate import run_evaluation
from training.pipeline import run_pipeline_evaluation

MIN_PRIVATE_TEST_ACCURACY = 0.72  # the acceptance bars
MAX_PRIVATE_TEST_ECE = 0.05
MAX_MS_PER_FACE = 10.0  # the latency budget, batch 1, one thread


@pytest.fixture(scope="module")
def shipped() -> EmotionClassifier:
    return EmotionClassifier()


def test_shipped_model_is_complete_and_small() -> None:
    card = ModelCard.load(DEFAULT_MODEL_DIR)
    assert set(card.labels) == set(FER2013_LABELS)
    size_mb = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.iterdir()) / 1e6
    assert size_mb < 20, f"shipped model folder is {size_mb:.1f} MB"
    assert card.metrics["private_test"]["n"] == 3589 and card.metrics["pipeline"]["n"] == 3589
    assert card.temperature > 0 and card.metrics["public_test"]["ece"] <= 0.05  # fitted on PublicTest
    # The card records what the Model page shows; the tests below re-measure accuracy, ECE, faces
    # found and the pipeline gap, and benchmarks.inference re-times the classifier (a test does not
    # time things).
    assert card.metrics["latency"]["threads"] == 1
    assert card.metrics["latency"]["ms_per_face_b1_p50"] <= MAX_MS_PER_FACE


def test_shipped_model_is_served_by_its_tflite_runtime(shipped: EmotionClassifier) -> None:
    assert shipped.card.tflite_file and shipped.runtime == "tflite"


def test_shipped_model_scores_faces_in_a_frame(shipped: EmotionClassifier) -> None:
    results = shipped.analyze(frame_with_face(face("happy/05667.png")))
    assert len(results) == 1
    probs = np.array(results[0].prediction.probabilities)
    assert probs.shape == (7,) and probs.sum() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def private_test(fer_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    out = tmp_path_factory.mktemp("private")
    return run_evaluation(DEFAULT_MODEL_DIR, fer_csv, "PrivateTest", output_dir=out), out


def test_private_test_reproduces_the_card(private_test: tuple[Any, Path]) -> None:
    """Evaluating the shipped folder gives the numbers its card records, and beats the fer package (0.58)."""
    result, out = private_test
    recorded = ModelCard.load(DEFAULT_MODEL_DIR).metrics["private_test"]
    assert result.n == 3589
    assert result.accuracy == pytest.approx(recorded["accuracy"], abs=1e-3)
    assert result.macro_f1 == pytest.approx(recorded["macro_f1"], abs=1e-3)
    assert result.ece == pytest.approx(recorded["ece"], abs=1e-3)
    assert result.accuracy > 0.60
    assert (out / "confusion_matrix.png").is_file() and (out / "reliability.png").is_file()


def test_private_test_accuracy_and_calibration_meet_the_bars(private_test: tuple[Any, Path]) -> None:
    """The acceptance measurement itself: the full FER2013 PrivateTest split."""
    assert private_test[0].accuracy >= MIN_PRIVATE_TEST_ACCURACY, private_test[0].accuracy
    assert private_test[0].ece <= MAX_PRIVATE_TEST_ECE, private_test[0].ece


#: The pipeline runs on the first PIPELINE_FACES PrivateTest faces: these are the first frames of the
#: card's own full-split measurement (one generator, one seed, faces in order), at a twelfth of its
#: time. A subset's rates differ from the full split's by chance only: found rate by about
#: sqrt(0.87 * 0.13 / 300) = 0.02, the gap by about 0.02 (some 25 of the found faces are right in one
#: place only); the tolerances are three of those.
PIPELINE_FACES = 300
FOUND_TOLERANCE = 0.06
GAP_TOLERANCE = 0.06
MIN_FOUND_RATE = 0.85  # faces found in webcam-like frames, full split
MAX_PIPELINE_GAP = 0.02  # accuracy lost through detect + align + crop, full split


def test_faces_found_and_pipeline_gap_reproduce_the_card(fer_csv: Path) -> None:
    result = run_pipeline_evaluation(DEFAULT_MODEL_DIR, fer_csv, "PrivateTest", limit=PIPELINE_FACES)
    recorded = ModelCard.load(DEFAULT_MODEL_DIR).metrics["pipeline"]
    assert result.n == PIPELINE_FACES and result.crop_margin == recorded["crop_margin"]
    assert result.found_rate == pytest.approx(recorded["found_rate"], abs=FOUND_TOLERANCE), result
    gap, recorded_gap = (r["direct_accuracy_found"] - r["pipeline_accuracy"]
                         for r in (result.to_dict(), recorded))
    assert gap == pytest.approx(recorded_gap, abs=GAP_TOLERANCE), result
    # The bars hold for the full split the card measured, and within chance for the subset.
    assert recorded["found_rate"] >= MIN_FOUND_RATE and abs(recorded_gap) <= MAX_PIPELINE_GAP
    assert result.found_rate >= MIN_FOUND_RATE - FOUND_TOLERANCE and abs(gap) <= MAX_PIPELINE_GAP + GAP_TOLERANCE


def test_evaluate_cli_json(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--data", str(FER_FACES), "--split", "none",
         "--json", "--output-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["n"] == 42
    assert {"accuracy", "macro_f1", "uar", "per_class", "confusion_matrix", "labels", "ece"} <= set(report)
    assert report["labels"] == list(ModelCard.load(DEFAULT_MODEL_DIR).labels)
    assert sum(map(sum, report["confusion_matrix"])) == 42


def test_evaluate_cli_bad_input(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "training.evaluate", "--data", str(tmp_path / "x.csv")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "not found" in out.stderr and "Traceback" not in out.stderr
