"""Short real training runs on the committed fixture faces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emotion.card import ModelCard
from tests.conftest import FER_FACES
from training.augment import FaceBatches
from training.callbacks import cosine_rate
from training.config import TrainConfig
from training.data import FaceDataset, holdout_split
from training.models import build_simple_cnn
from training.teachers import copy_weights
from training.train import build_for_config, load_training_data, main, sweep_batch_sizes, train


def small_config(tmp_path: Path, architecture: str, **overrides) -> TrainConfig:
    base: dict[str, Any] = dict(data=FER_FACES, output_dir=tmp_path / architecture, architecture=architecture, epochs=1,
                batch_size=16, val_fraction=0.25, verbose=0)
    if architecture == "vgg_bn":
        base["widths"] = (8, 16)
    if architecture == "mobilenet_v2":
        base.update(backbone_size=64, warmup_epochs=1, epochs=2)
    base.update(overrides)
    return TrainConfig(**base)


def augmented_faces(tmp_path: Path, n_per_class: int = 30) -> Path:
    """~200 images: the 42 fixture faces plus shifted/flipped copies, as a class folder tree."""
    import cv2

    root = tmp_path / "faces"
    rng = np.random.default_rng(0)
    for path in sorted(FER_FACES.glob("*/*.png")):
        (root / path.parent.name).mkdir(parents=True, exist_ok=True)
    for label_dir in sorted(FER_FACES.iterdir()):
        files = sorted(label_dir.glob("*.png"))
        for i in range(n_per_class):
            image = cv2.imread(str(files[i % len(files)]), cv2.IMREAD_GRAYSCALE)
            assert image is not None
            if i >= len(files):
                image = np.roll(image, int(rng.integers(-3, 4)), axis=int(rng.integers(0, 2)))
                if rng.random() < 0.5:
                    image = image[:, ::-1]
            cv2.imwrite(str(root / label_dir.name / f"{i:03d}.png"), image)
    return root


@pytest.mark.parametrize("architecture", ["simple_cnn", "vgg_bn", "mobilenet_v2"])
def test_one_epoch_smoke_run(tmp_path: Path, architecture: str) -> None:
    data = augmented_faces(tmp_path)
    config = small_config(tmp_path, architecture, data=data)
    result = train(config)
    out = config.output_dir
    for name in ("model.keras", "card.json", "history.csv", "training_curves.png"):
        assert (out / name).is_file(), name
    card = ModelCard.load(out)
    assert card.labels == tuple(sorted(p.name for p in FER_FACES.iterdir()))
    assert card.architecture == architecture and card.input_size == 48
    assert card.training_data["train_counts"] and card.recipe["batch_size"] == 16
    assert result.epochs_run == config.epochs and np.isfinite(result.best_val_loss)
    assert 0.0 <= result.best_val_accuracy <= 1.0
    assert card.metrics["validation_accuracy"] == pytest.approx(result.best_val_accuracy)


def test_binary_subset_and_resume(tmp_path: Path) -> None:
    data = augmented_faces(tmp_path, n_per_class=20)
    config = small_config(tmp_path, "simple_cnn", data=data, classes=("happy", "sad"), epochs=1)
    train(config)
    assert ModelCard.load(config.output_dir).labels == ("happy", "sad")
    state = json.loads((config.output_dir / "state.json").read_text())
    assert state["completed_epochs"] == 1
    longer = TrainConfig(**{**config.__dict__, "epochs": 3, "resume": True})
    result = train(longer)
    # the first epoch is not trained again: the history has each epoch exactly once
    assert result.history["epoch"] == [0.0, 1.0, 2.0]


def test_distilled_targets_mix_the_label_and_the_teacher() -> None:
    teacher = build_simple_cnn(num_classes=3)
    rng = np.random.default_rng(1)
    data = FaceDataset(rng.integers(0, 256, (10, 48, 48)).astype(np.uint8), np.array([0, 1, 2, 0, 1] * 2),
                       ("a", "b", "c"), "random")
    x, y = FaceBatches(data, 10, teacher=teacher, distill_alpha=0.25)[0]
    expected = 0.25 * np.eye(3)[data.labels] + 0.75 * np.asarray(teacher(x, training=False))
    np.testing.assert_allclose(np.asarray(y), expected, atol=1e-6)
    np.testing.assert_allclose(np.asarray(y).sum(axis=1), 1.0, atol=1e-6)


def test_a_distilled_run_starts_from_the_given_weights_and_records_its_teacher(tmp_path: Path) -> None:
    data = augmented_faces(tmp_path, n_per_class=10)
    first = small_config(tmp_path, "vgg_bn", data=data, output_dir=tmp_path / "teacher")
    train(first)
    import keras

    fresh = build_for_config(first, 7)
    copy_weights(fresh, first.output_dir, ModelCard.load(first.output_dir).labels, 48)
    trained = keras.models.load_model(first.output_dir / "model.keras", compile=False)
    for mine, theirs in zip(fresh.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)

    student = small_config(tmp_path, "vgg_bn", data=data, output_dir=tmp_path / "student",
                           teacher=first.output_dir, init_from=first.output_dir, distill_alpha=0.4)
    result = train(student)
    recipe = ModelCard.load(student.output_dir).recipe
    assert recipe["teacher"] == str(first.output_dir) and recipe["init_from"] == str(first.output_dir)
    assert recipe["distill_alpha"] == 0.4 and recipe["loss"] == "categorical_crossentropy"
    assert np.isfinite(result.best_val_loss)
    # Resuming with other targets would mix two recipes in one run: refused, the run untouched.
    for changed in ({"distill_alpha": 0.9}, {"teacher": None}):
        with pytest.raises(ValueError, match="--resume with other"):
            train(TrainConfig(**{**student.__dict__, "epochs": 2, "resume": True, **changed}))
    assert json.loads((student.output_dir / "state.json").read_text())["completed_epochs"] == 1


def test_a_teacher_or_start_model_with_other_labels_is_refused(tmp_path: Path) -> None:
    data = augmented_faces(tmp_path, n_per_class=4)  # labels in folder (alphabetical) order
    shipped = Path(__file__).resolve().parents[2] / "emotion" / "shipped_model"  # FER2013's order
    for option in ("teacher", "init_from"):
        with pytest.raises(ValueError, match="labels"):
            train(small_config(tmp_path, "vgg_bn", data=data, **{option: shipped}))
    with pytest.raises(ValueError, match="distill_alpha"):
        small_config(tmp_path, "vgg_bn", data=data, distill_alpha=1.5)


def test_batch_size_sweep_promotes_the_best(tmp_path: Path) -> None:
    data = augmented_faces(tmp_path, n_per_class=10)
    config = small_config(tmp_path, "simple_cnn", data=data)
    summary = sweep_batch_sizes(config, [8, 32])
    assert [r["batch_size"] for r in summary["results"]] == [8, 32]
    best = min(summary["results"], key=lambda r: r["val_loss"])
    assert summary["best_batch_size"] == best["batch_size"]
    assert (config.output_dir / "model.keras").is_file() and (config.output_dir / "sweep.json").is_file()


def test_holdout_split_is_stratified() -> None:
    from training.data import load_image_folder

    data = load_image_folder(FER_FACES)
    train_set, val_set = holdout_split(data, 0.34, seed=1)
    assert len(train_set) + len(val_set) == len(data)
    assert all(count == 2 for count in val_set.class_counts().values())


def test_cli_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--output-dir", str(tmp_path / "o")]
    assert main(["--data", str(tmp_path / "none.csv"), *out]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["--data", str(FER_FACES), *out, "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert main(out) == 2  # no recipe with data and no --data
    assert "--data" in capsys.readouterr().err
    assert main(["--data", str(FER_FACES), "--recipe", str(tmp_path / "none.toml"), *out]) == 2
    assert "recipe not found" in capsys.readouterr().err
    for setting in ("time_budget=0", "erase=1.5", "weight_decay=-1", "workers=0", "batch_sizes=16,x",
                    "optimizer=rmsprop", "widths=32,x"):
        assert main(["--data", str(FER_FACES), *out, "--set", setting]) == 2
        assert setting.split("=")[0] in capsys.readouterr().err
    assert main(["--data", str(FER_FACES), *out, "--set", "eras=0.5"]) == 2
    assert "did you mean 'erase'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--data", str(FER_FACES), *out, "--erase", "0.5"])  # settings are recipe keys, not flags


def test_the_accuracy_monitor_keeps_the_most_accurate_epoch_with_sgd(tmp_path: Path) -> None:
    import keras
    import pandas as pd

    data = augmented_faces(tmp_path, n_per_class=10)
    config = small_config(tmp_path, "simple_cnn", data=data, epochs=3, monitor="val_accuracy",
                          optimizer="sgd", learning_rate=0.01, weight_decay=1e-3)
    train(config)
    history = pd.read_csv(config.output_dir / "history.csv")
    card = ModelCard.load(config.output_dir)
    assert card.recipe["optimizer"] == "sgd" and card.recipe["monitor"] == "val_accuracy"
    # The kept model scores the best epoch's validation accuracy (the first such epoch).
    _, val = load_training_data(config)
    model = keras.models.load_model(config.output_dir / "model.keras", compile=False)
    probs = model.predict(FaceBatches(val, 64), verbose=0)
    assert float((probs.argmax(axis=1) == val.labels).mean()) == pytest.approx(
        history["val_accuracy"].max(), abs=1e-6)


def test_training_sees_each_epochs_own_batches_after_a_resume(tmp_path: Path) -> None:
    """The batches of epoch k are the same in an unbroken run and in one resumed before epoch k
    (Keras numbers the epochs; the dataset's own count would run one ahead)."""
    from training import augment

    seen: dict[str, list[int]] = {}
    original = augment.FaceBatches.__getitem__

    def spy(self, index):  # record which epoch each first batch was built for
        if index == 0 and self.augment is not None:
            seen.setdefault(run, []).append(self.epoch)
        return original(self, index)

    data = augmented_faces(tmp_path, n_per_class=4)
    augment.FaceBatches.__getitem__ = spy  # type: ignore[method-assign]  # a spy patched in for this test only
    try:
        run = "unbroken"
        train(small_config(tmp_path, "simple_cnn", data=data, epochs=3, output_dir=tmp_path / "a"))
        run = "resumed"
        first = small_config(tmp_path, "simple_cnn", data=data, epochs=1, output_dir=tmp_path / "b")
        train(first)
        train(TrainConfig(**{**first.__dict__, "epochs": 3, "resume": True}))
    finally:
        augment.FaceBatches.__getitem__ = original  # type: ignore[method-assign]  # restoring the original
    # Keras may build the first batch once more to learn its shape (the TensorFlow backend does);
    # batches depend only on (seed, epoch, index), so a repeat builds the same batch.
    def epochs(calls: list[int]) -> list[int]:
        return [e for i, e in enumerate(calls) if i == 0 or e != calls[i - 1]]

    assert epochs(seen["unbroken"]) == [0, 1, 2], seen
    assert epochs(seen["resumed"]) == [0, 1, 2], seen


def test_cosine_rate_runs_from_the_base_rate_to_zero() -> None:
    assert cosine_rate(1e-3, 0.0) == pytest.approx(1e-3)
    assert cosine_rate(1e-3, 0.5) == pytest.approx(5e-4)
    assert cosine_rate(1e-3, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert cosine_rate(1e-3, 3.0) == pytest.approx(0.0, abs=1e-12)  # past the budget: stays at 0


def test_a_time_budget_stops_the_run_and_is_carried_over_a_resume(tmp_path: Path) -> None:
    data = augmented_faces(tmp_path, n_per_class=10)
    # A budget shorter than one epoch: the first epoch runs, then the run stops instead of
    # starting a second one that would end past the budget.
    config = small_config(tmp_path, "simple_cnn", data=data, epochs=20, lr_schedule="cosine",
                          time_budget=0.01, patience=100)
    result = train(config)
    assert result.epochs_run == 1
    state = json.loads((config.output_dir / "state.json").read_text())
    assert state["completed_epochs"] == 1 and state["train_seconds"] > 0.01
    assert ModelCard.load(config.output_dir).recipe["time_budget"] == 0.01
    # Resumed with a budget the first run already spent: no further epoch is trained.
    again = train(TrainConfig(**{**config.__dict__, "resume": True}))
    assert again.epochs_run == 1
    assert json.loads((config.output_dir / "state.json").read_text())["completed_epochs"] == 1


def test_with_a_time_budget_the_cosine_rate_follows_time_not_epochs(tmp_path: Path) -> None:
    data = augmented_faces(tmp_path, n_per_class=10)
    config = small_config(tmp_path, "simple_cnn", data=data, epochs=2, lr_schedule="cosine",
                          time_budget=3600, patience=100)
    result = train(config)
    assert result.epochs_run == 2  # the epoch cap ends it, long before the budget
    # Seconds into an hour: both epochs at (nearly) the full rate. Per epoch, the second would get half.
    for rate in result.history["learning_rate"]:
        assert rate == pytest.approx(config.learning_rate, rel=1e-3)
