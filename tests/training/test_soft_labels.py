"""Soft-label files: a teacher's probabilities computed once, matched to training faces by pixels."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from emotion.card import ModelCard
from emotion.classifier import EmotionClassifier
from tests.conftest import FER_FACES
from tests.emotion.helpers import all_faces, read_grey
from tests.training.test_data import write_csv
from training.augment import FaceBatches
from training.config import TrainConfig
from training.data import FER2013_LABELS, FaceDataset, load_dataset
from training.soft_labels import SoftLabels, compute, image_keys, main
from training.train import train


@pytest.fixture(scope="module")
def faces() -> FaceDataset:
    return load_dataset(FER_FACES)  # 42 real FER2013 faces, labels in folder (alphabetical) order


@pytest.fixture(scope="module")
def shipped() -> EmotionClassifier:
    return EmotionClassifier()


@pytest.fixture(scope="module")
def soft(faces: FaceDataset, shipped: EmotionClassifier) -> SoftLabels:
    return compute(shipped, faces, batch_size=16)


def test_keys_follow_the_pixels_not_the_position(faces: FaceDataset) -> None:
    keys = image_keys(faces.images)
    assert keys.dtype == np.uint64 and len(set(keys.tolist())) == len(faces)
    np.testing.assert_array_equal(image_keys(faces.images[::-1]), keys[::-1])
    changed = faces.images[:1].copy()
    changed[0, 0, 0] ^= 1  # one grey level of one pixel
    assert image_keys(changed)[0] != keys[0]
    with pytest.raises(ValueError, match="uint8"):
        image_keys(faces.images.astype(np.float32))


def test_the_file_holds_what_the_teacher_serves(faces: FaceDataset, shipped: EmotionClassifier,
                                                soft: SoftLabels, tmp_path: Path) -> None:
    assert soft.labels == shipped.labels and soft.teacher == shipped.model_id and len(soft) == len(faces)
    np.testing.assert_allclose(soft.probabilities, shipped.predict(faces.images), atol=1e-6)
    loaded = SoftLabels.load(soft.save(tmp_path / "soft.npz"))
    assert (loaded.labels, loaded.teacher, loaded.source) == (soft.labels, soft.teacher, soft.source)
    np.testing.assert_array_equal(loaded.keys, soft.keys)
    np.testing.assert_array_equal(loaded.probabilities, soft.probabilities)


def test_targets_follow_each_face_and_the_training_label_order(faces: FaceDataset, soft: SoftLabels) -> None:
    # The training data holds the faces in another order and its own (alphabetical) label order.
    order = np.random.default_rng(3).permutation(len(faces))[:20]
    subset = FaceDataset(faces.images[order], faces.labels[order], faces.label_names, "subset")
    targets = soft.targets_for(subset)
    columns = [soft.labels.index(name) for name in faces.label_names]
    np.testing.assert_allclose(targets, soft.probabilities[order][:, columns], atol=1e-6)
    # A subset of classes gets the teacher's belief restricted to them.
    keep = [i for i, name in enumerate(faces.label_names) if name in ("happy", "sad")]
    two = FaceDataset(faces.images[:6], np.zeros(6, dtype=np.int64), tuple(faces.label_names[i] for i in keep), "two")
    expected = soft.probabilities[:6][:, [soft.labels.index(n) for n in two.label_names]]
    np.testing.assert_allclose(soft.targets_for(two), expected / expected.sum(axis=1, keepdims=True), atol=1e-6)


def test_faces_or_classes_the_file_does_not_hold_are_refused(faces: FaceDataset, soft: SoftLabels) -> None:
    other = faces.images[:3].copy()
    other[1] = 255 - other[1]
    with pytest.raises(ValueError, match="1 of 3 training faces .*face 1"):
        soft.targets_for(FaceDataset(other, faces.labels[:3], faces.label_names, "other"))
    with pytest.raises(ValueError, match="contempt"):
        soft.targets_for(FaceDataset(faces.images[:2], np.array([0, 0]), ("contempt", "happy"), "x"))


def test_files_that_are_not_soft_labels_are_refused(tmp_path: Path) -> None:
    (tmp_path / "text.npz").write_text("not a numpy file")
    with pytest.raises(ValueError, match="not a soft-label file"):
        SoftLabels.load(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", keys=np.zeros(2, np.uint64), probabilities=np.zeros((2, 2), np.float32),
             meta=np.array(json.dumps({"format": "something-else/1"})))
    with pytest.raises(ValueError, match="something-else"):
        SoftLabels.load(tmp_path / "other.npz")
    np.savez(tmp_path / "bare.npz", keys=np.zeros(2, np.uint64), probabilities=np.zeros((2, 2), np.float32),
             meta=np.array(json.dumps({"format": "emotion-soft-labels/1"})))
    with pytest.raises(ValueError, match="damaged"):
        SoftLabels.load(tmp_path / "bare.npz")
    with pytest.raises(FileNotFoundError, match="no soft-label file"):
        SoftLabels.load(tmp_path / "absent.npz")
    np.save(tmp_path / "lone.npy", np.zeros(3))
    (tmp_path / "lone.npy").rename(tmp_path / "lone.npz")
    with pytest.raises(ValueError, match="not an .npz"):
        SoftLabels.load(tmp_path / "lone.npz")
    with pytest.raises(ValueError, match="shape"):
        SoftLabels(("a", "b"), np.zeros(3, np.uint64), np.zeros((3, 3), np.float32), "t", "s")


def test_a_cut_or_corrupted_copy_is_refused_and_a_save_is_atomic(soft: SoftLabels, tmp_path: Path) -> None:
    whole = soft.save(tmp_path / "soft.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])  # a copy that stopped half way
    flipped = bytearray(whole)
    flipped[len(whole) // 3] ^= 0xFF  # one damaged byte inside the compressed probabilities
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    for name in ("cut.npz", "flipped.npz"):
        with pytest.raises(ValueError, match="damaged"):
            SoftLabels.load(tmp_path / name)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_faces_of_another_size_are_named_as_such(soft: SoftLabels, faces: FaceDataset) -> None:
    small = np.stack([cv2.resize(f, (40, 40)) for f in faces.images[:3]])
    with pytest.raises(ValueError, match="48x48 faces, the training faces are 40x40"):
        soft.targets_for(FaceDataset(small, faces.labels[:3], faces.label_names, "small"))


class Unsteady:
    """A classifier that answers the same face differently each time: the only way to make two
    equal keys carry different probabilities, which a real hash collision would do."""

    labels = ("a", "b")
    model_id = "unsteady"

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        p = self.rng.uniform(size=(len(crops), 2))
        return p / p.sum(axis=1, keepdims=True)


def test_equal_keys_with_different_outputs_are_refused(faces: FaceDataset) -> None:
    twice = FaceDataset(np.concatenate([faces.images[:2], faces.images[:1]]), np.zeros(3, dtype=np.int64), ("a", "b"))
    with pytest.raises(ValueError, match="share a key"):
        compute(Unsteady(), twice)


def test_distilled_batches_mix_the_label_and_the_faces_own_row(faces: FaceDataset, soft: SoftLabels) -> None:
    targets = soft.targets_for(faces)
    batches = FaceBatches(faces, 8, shuffle=True, seed=2, soft_targets=targets, distill_alpha=0.25)
    _, y = batches[1]
    idx = batches._indices(1)
    expected = 0.25 * np.eye(len(faces.label_names))[faces.labels[idx]] + 0.75 * targets[idx]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        FaceBatches(faces, 8, teacher=object(), soft_targets=targets)
    with pytest.raises(ValueError, match="shape"):
        FaceBatches(faces, 8, soft_targets=targets[:5])


def test_a_run_learns_the_targets_of_its_soft_label_file(faces: FaceDataset, soft: SoftLabels,
                                                         tmp_path: Path) -> None:
    # A teacher that calls every face "surprise", and a student that listens only to it (alpha 0):
    # if the file's targets reach training, the student ends up calling every face "surprise".
    surprise = np.zeros_like(soft.probabilities)
    surprise[:, soft.labels.index("surprise")] = 1.0
    path = replace(soft, probabilities=surprise).save(tmp_path / "teacher.npz")
    config = TrainConfig(data=FER_FACES, output_dir=tmp_path / "student", architecture="simple_cnn", epochs=4,
                         batch_size=8, learning_rate=3e-3, val_fraction=0.25, verbose=0, teacher=path,
                         distill_alpha=0.0, flip=False, rotation=0.0, zoom=0.0)
    result = train(config)
    card = ModelCard.load(config.output_dir)
    assert card.recipe["teacher"] == str(path) and card.recipe["loss"] == "categorical_crossentropy"
    assert card.recipe["teacher_model"] == soft.teacher and len(card.recipe["teacher_sha256"]) == 64
    model = keras.models.load_model(config.output_dir / "model.keras", compile=False)
    said = np.asarray(model(faces.images[..., None].astype("float32"), training=False)).argmax(axis=1)
    assert np.mean([card.labels[i] == "surprise" for i in said]) > 0.9, result.history
    # The same path with other contents (a rebuilt file) cannot continue the run.
    soft.save(path)
    with pytest.raises(ValueError, match="--resume with other teacher_sha256"):
        train(TrainConfig(**{**config.__dict__, "epochs": 5, "resume": True}))
    # Soft labels of other faces cannot teach this data: refused before any training.
    stranger = SoftLabels(soft.labels, soft.keys + np.uint64(1), soft.probabilities, soft.teacher, "elsewhere")
    other = TrainConfig(**{**config.__dict__, "output_dir": tmp_path / "other",
                           "teacher": stranger.save(tmp_path / "stranger.npz")})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model.keras").write_bytes(b"a previous run's model")
    with pytest.raises(ValueError, match="computed on elsewhere"):
        train(other)
    assert (tmp_path / "other" / "model.keras").read_bytes() == b"a previous run's model"  # nothing cleared
    with pytest.raises(FileNotFoundError, match="no soft-label file"):
        train(TrainConfig(**{**config.__dict__, "output_dir": tmp_path / "typo", "teacher": tmp_path / "techer.npz"}))


def test_the_command_writes_a_file_and_keeps_privatetest_for_the_report(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(FER2013_LABELS.index(label), read_grey(path),
             "PrivateTest" if i % 3 == 0 else "Training") for i, (label, path) in enumerate(all_faces())]
    fixture_csv = write_csv(tmp_path / "fer.csv", rows)
    assert main(["--data", str(fixture_csv), "--split", "PrivateTest", "--output", str(tmp_path / "p.npz")]) == 2
    assert "final report" in capsys.readouterr().err and not (tmp_path / "p.npz").exists()
    assert main(["--data", str(fixture_csv), "--output", str(tmp_path / "t.npz")]) == 0
    assert "labelled by shipped_model" in capsys.readouterr().out
    written = SoftLabels.load(tmp_path / "t.npz")
    assert len(written) == len(load_dataset(fixture_csv)) == 28 and written.source.endswith(":Training")
    assert main(["--data", str(tmp_path / "absent.csv"), "--output", str(tmp_path / "x.npz")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["--data", str(fixture_csv), "--output", str(tmp_path)]) == 2  # a folder, not a file
    assert "error:" in capsys.readouterr().err
