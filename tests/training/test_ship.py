"""Promoting a run with ``training.ship``: runtime export, PublicTest tuning, PrivateTest measured once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from emotion.card import MODEL_FILE, ModelCard
from emotion.classifier import EmotionClassifier
from emotion.runtime import TFLITE_FILE
from tests.emotion.helpers import all_faces, read_grey
from tests.training.test_data import write_csv
from tests.training.test_ensemble import member
from training.data import FER2013_LABELS
from training.ship import main, ship


@pytest.fixture(scope="module")
def fixture_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 42 fixture faces as a FER2013 CSV, alternately PublicTest and PrivateTest."""
    rows = [(FER2013_LABELS.index(label), read_grey(path),
             ("PublicTest", "PrivateTest")[i % 2]) for i, (label, path) in enumerate(all_faces())]
    return write_csv(tmp_path_factory.mktemp("csv") / "fer.csv", rows)


def test_ship_exports_the_runtime_and_measures_through_it(fixture_csv: Path, tmp_path: Path) -> None:
    run = member(tmp_path / "run", seed=5)
    card = ship(run, fixture_csv, tmp_path / "shipped")
    assert card.tflite_file == TFLITE_FILE and (tmp_path / "shipped" / TFLITE_FILE).is_file()
    assert ModelCard.load(tmp_path / "shipped") == card
    assert card.metrics["private_test"]["n"] == 21 and card.metrics["public_test"]["n"] == 21
    assert card.temperature > 0 and isinstance(card.test_time_flip, bool)
    assert (tmp_path / "shipped" / "confusion_matrix.png").is_file()
    assert EmotionClassifier(tmp_path / "shipped").runtime == "tflite"
    # In use: the PrivateTest faces through detect + align + crop, and the time per face.
    pipeline, latency = card.metrics["pipeline"], card.metrics["latency"]
    assert pipeline["split"] == "PrivateTest" and pipeline["n"] == 21 and 0 < pipeline["found"] <= 21
    assert latency["runtime"] == "tflite" and latency["threads"] == 1
    assert 0 < latency["ms_per_face_b1_p50"] <= latency["ms_per_face_b1_p95"]

    # Shipping again with the Keras runtime removes the stale export and its card entry.
    keras_card = ship(run, fixture_csv, tmp_path / "shipped", tflite=False)
    assert keras_card.tflite_file is None and not (tmp_path / "shipped" / TFLITE_FILE).exists()
    assert EmotionClassifier(tmp_path / "shipped").runtime == "keras"


@pytest.mark.parametrize("policy, expected", [("on", True), ("off", False)])
def test_ship_can_fix_the_flip_choice(fixture_csv: Path, tmp_path: Path, policy: str, expected: bool) -> None:
    card = ship(member(tmp_path / "run", seed=6), fixture_csv, tmp_path / "shipped", flip_policy=policy)
    assert card.test_time_flip is expected
    assert EmotionClassifier(tmp_path / "shipped").card.test_time_flip is expected


def test_remeasure_records_only_the_in_use_numbers(fixture_csv: Path, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    card = ship(member(tmp_path / "run", seed=7), fixture_csv, shipped, flip_policy="off")
    tuned = replace(card, metrics={k: v for k, v in card.metrics.items() if k not in ("pipeline", "latency")})
    tuned.save(shipped)
    model_before = (shipped / MODEL_FILE).read_bytes()
    assert main(["--remeasure", "--target", str(shipped), "--data", str(fixture_csv)]) == 0
    again = ModelCard.load(shipped)
    assert again.metrics["private_test"] == card.metrics["private_test"]
    assert (again.temperature, again.test_time_flip) == (card.temperature, False)
    assert again.metrics["pipeline"]["n"] == 21 and again.metrics["latency"]["ms_per_face_b1_p50"] > 0
    assert (shipped / MODEL_FILE).read_bytes() == model_before


def test_ship_cli_needs_a_run_or_remeasure(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--data", "x.csv"], ["--run", "r", "--remeasure", "--data", "x.csv"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert "give --run DIR to ship a run, or --remeasure" in capsys.readouterr().err
    for extra in (["--flip", "on"], ["--keras-runtime"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["--remeasure", "--data", "x.csv", *extra])
        assert exit_info.value.code == 2
        assert "--remeasure keeps the shipped model as it is" in capsys.readouterr().err


def test_remeasure_of_a_folder_without_a_model_is_a_clear_error(fixture_csv: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--remeasure", "--target", str(tmp_path / "empty"), "--data", str(fixture_csv)]) == 2
    assert "no model card" in capsys.readouterr().err


def test_ship_refuses_an_unknown_flip_choice(fixture_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flip"):
        ship(tmp_path / "no-run", fixture_csv, tmp_path / "shipped", flip_policy="sometimes")


def test_a_serving_only_ship_keeps_the_runtime_and_predicts_the_same(fixture_csv: Path, tmp_path: Path) -> None:
    import numpy as np

    from training.teachers import load_teacher

    run = member(tmp_path / "run", seed=8)
    full = ship(run, fixture_csv, tmp_path / "full", flip_policy="off")
    lean = ship(run, fixture_csv, tmp_path / "lean", flip_policy="off", serving_only=True)
    assert not (tmp_path / "lean" / MODEL_FILE).exists() and (tmp_path / "lean" / TFLITE_FILE).is_file()
    assert lean.model_file is None and lean.recipe["source_run"] == str(run)
    assert lean.metrics["private_test"] == full.metrics["private_test"]  # measured through the runtime
    faces = np.stack([read_grey(p) for _, p in all_faces()[:6]])
    served, reference = EmotionClassifier(tmp_path / "lean"), EmotionClassifier(tmp_path / "full")
    assert served.runtime == "tflite"
    np.testing.assert_allclose(served.predict(faces), reference.predict(faces), atol=1e-6)
    # A serving-only folder cannot teach or seed training: the message names the run to use.
    with pytest.raises(ValueError, match="serving-only.*" + str(run)):
        load_teacher(tmp_path / "lean", lean.labels, lean.input_size)
    # Without its runtime file the folder is unusable, and says so.
    (tmp_path / "lean" / TFLITE_FILE).unlink()
    with pytest.raises(ValueError, match="missing"):
        EmotionClassifier(tmp_path / "lean")


def test_serving_only_needs_the_tflite_runtime(fixture_csv: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="TFLite"):
        ship(member(tmp_path / "run", seed=9), fixture_csv, tmp_path / "s", tflite=False, serving_only=True)
    with pytest.raises(SystemExit):
        main(["--remeasure", "--serving-only", "--data", str(fixture_csv)])
    assert "--serving-only" in capsys.readouterr().err
    with pytest.raises(ValueError, match="neither"):
        ModelCard(labels=("a", "b"), input_size=48, architecture="x", model_file=None)
