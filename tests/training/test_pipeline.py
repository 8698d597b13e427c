"""Pipeline evaluation: synthetic webcam frames through detect + align + crop + classify."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from emotion.classifier import DEFAULT_MODEL_DIR
from tests.conftest import FER_FACES, ROOT
from tests.emotion.helpers import face
from training.pipeline import FRAME_H, FRAME_W, iou, run_pipeline_evaluation, synthetic_frame


def test_iou_known_values() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_synthetic_frame_holds_the_face_where_it_says() -> None:
    image = face("happy/05667.png")
    frame, (x, y, side) = synthetic_frame(image, np.random.default_rng(0))
    assert frame.shape == (FRAME_H, FRAME_W, 3)
    pasted = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[y: y + side, x: x + side]
    back = cv2.resize(pasted, (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(back.astype(int) - image.astype(int)).mean() < 6


def test_pipeline_on_fixture_faces_matches_direct_scoring() -> None:
    result = run_pipeline_evaluation(DEFAULT_MODEL_DIR, FER_FACES, "none")
    assert result.n == 42
    assert result.found_rate >= 0.6, result
    # The crops the pipeline makes must look like what the model was trained on.
    assert abs(result.pipeline_accuracy - result.direct_accuracy_found) <= 0.15, result


def test_evaluate_cli_pipeline_json(tmp_path: object) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--data", str(FER_FACES), "--split", "none", "--json",
         "--pipeline", "--limit", "12", "--output-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["pipeline"]["n"] == 12
    assert 0 <= report["pipeline"]["found_rate"] <= 1
