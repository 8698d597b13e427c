"""The detector benchmark runs on a few PrivateTest faces, reports every setting, and counts the
faces the shipped detector finds as the pipeline evaluation does on the same frames."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.detector import SETTINGS
from emotion.classifier import DEFAULT_MODEL_DIR
from emotion.faces import FaceDetector
from tests.conftest import ROOT
from training.pipeline import background, run_pipeline_evaluation, synthetic_frame


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.detector", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_detector_benchmark_reports_found_and_invented_faces(fer_csv: Path) -> None:
    out = run("--data", str(fer_csv), "--faces", "12", "--faceless", "6", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["faces"], result["faceless_frames"]) == (12, 6)
    assert list(result["settings"]) == list(SETTINGS)
    for row in result["settings"].values():
        assert 0 <= row["found_rate"] <= 1 and 0 <= row["invented_rate"] <= 1 and row["ms_per_frame_p50"] > 0
    # Real FER2013 faces: the shipped settings find most of them.
    assert result["settings"]["shipped"]["found_rate"] >= 0.5
    # The fallback only looks where the cascade found nothing: it can add faces, never lose one.
    assert result["settings"]["shipped"]["found_rate"] >= result["settings"]["Haar alone"]["found_rate"]
    # Its frames are the pipeline evaluation's (same seed, same order): the faces the shipped
    # settings find are those the classifier's detector finds there, face for face.
    pipeline = run_pipeline_evaluation(DEFAULT_MODEL_DIR, fer_csv, "PrivateTest", limit=12)
    assert result["settings"]["shipped"]["found_rate"] * 12 == pytest.approx(pipeline.found)
    # And a faceless frame counts as invented exactly when a detector with those settings sees a face.
    rng = np.random.default_rng(0)
    for _ in range(12):  # the face frames draw from the generator first
        synthetic_frame(np.zeros((48, 48), np.uint8), rng)
    empty = [background(rng) for _ in range(6)]
    for name, row in result["settings"].items():
        detector = FaceDetector(**SETTINGS[name])
        assert row["invented_rate"] * 6 == pytest.approx(sum(bool(detector.detect(frame)) for frame in empty))


def test_detector_benchmark_bad_arguments_are_clear_errors(tmp_path: Path, fer_csv: Path) -> None:
    missing = run("--data", str(tmp_path / "nope.csv.gz"))
    assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
    empty = run("--data", str(fer_csv), "--faces", "0")
    assert empty.returncode == 2 and "must be at least 1" in empty.stderr and "Traceback" not in empty.stderr
    not_fer = tmp_path / "sales.csv"
    not_fer.write_text("region,revenue\nnorth,3\n")
    wrong = run("--data", str(not_fer))
    assert wrong.returncode == 2 and "lacks the FER2013 columns" in wrong.stderr and "Traceback" not in wrong.stderr
