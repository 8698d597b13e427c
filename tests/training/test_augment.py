"""Augmentation and training batches (backend-neutral: numpy and OpenCV only)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import FER_FACES
from tests.emotion.helpers import read_grey
from training.augment import AugmentConfig, FaceBatches, augment_batch
from training.data import FaceDataset


def fixture_faces() -> FaceDataset:
    files = sorted(FER_FACES.glob("*/*.png"))
    names = tuple(sorted({f.parent.name for f in files}))
    images = np.stack([read_grey(f) for f in files])
    labels = np.array([names.index(f.parent.name) for f in files])
    return FaceDataset(images, labels, names, "fixtures")


def test_identity_config_returns_the_faces_as_float() -> None:
    faces = fixture_faces().images[:5]
    out = augment_batch(faces, AugmentConfig(flip=False, rotation=0, zoom=0), np.random.default_rng(0))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, faces.astype(np.float32))


def test_flip_alone_mirrors_about_half_the_faces_exactly() -> None:
    faces = fixture_faces().images
    out = augment_batch(faces, AugmentConfig(flip=True, rotation=0, zoom=0), np.random.default_rng(3))
    mirrored = [np.array_equal(o, f[:, ::-1].astype(np.float32)) for o, f in zip(out, faces, strict=True)]
    same = [np.array_equal(o, f.astype(np.float32)) for o, f in zip(out, faces, strict=True)]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert 0.25 < np.mean(mirrored) < 0.75


def test_rotation_turns_the_face_by_at_most_the_configured_angle() -> None:
    # A bright bar along the x axis through the centre: its angle after augmentation is the turn.
    bar = np.zeros((1, 48, 48), np.uint8)
    bar[0, 23:25, 4:44] = 255
    config = AugmentConfig(flip=False, rotation=0.05, zoom=0)  # 0.05 of a turn = 18 degrees
    angles = []
    for seed in range(40):
        out = augment_batch(bar, config, np.random.default_rng(seed))[0]
        ys, xs = np.nonzero(out > 128)
        slope = np.polyfit(xs - xs.mean(), ys - ys.mean(), 1)[0]
        angles.append(np.degrees(np.arctan(slope)))
    assert max(np.abs(angles)) <= 18.0 + 1.5
    assert max(np.abs(angles)) > 10.0  # the range is used, not only tiny turns


def test_photometric_changes_stay_in_range_and_erasing_changes_a_rectangle() -> None:
    faces = fixture_faces().images[:20]
    config = AugmentConfig(flip=False, rotation=0, zoom=0, brightness=0.3, contrast=0.3)
    out = augment_batch(faces, config, np.random.default_rng(0))
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert not np.allclose(out, faces)
    erased = augment_batch(faces, AugmentConfig(flip=False, rotation=0, zoom=0, erase=0.99),
                           np.random.default_rng(0))
    changed = np.mean([not np.array_equal(e, f) for e, f in zip(erased, faces, strict=True)])
    assert changed > 0.8
    diff = np.abs(erased[0] - faces[0]) > 0
    rows, cols = np.nonzero(diff.any(axis=1))[0], np.nonzero(diff.any(axis=0))[0]
    area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) / (48 * 48)
    assert area <= 0.2 * 1.2  # one rectangle of at most a fifth of the face (rounding aside)


@pytest.mark.parametrize("kwargs, message", [
    ({"rotation": 1.0}, "rotation"), ({"erase": -0.1}, "erase"), ({"contrast": 2}, "contrast"),
])
def test_bad_augmentation_settings_are_refused(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AugmentConfig(**kwargs)


def test_bad_batch_input_is_refused() -> None:
    with pytest.raises(ValueError, match="grey faces"):
        augment_batch(np.zeros((2, 48, 48, 3), np.uint8), AugmentConfig(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size"):
        FaceBatches(fixture_faces(), 0)


def test_an_epoch_of_batches_covers_every_face_once_in_a_new_order_each_epoch() -> None:
    data = fixture_faces()
    batches = FaceBatches(data, 8, shuffle=True, seed=5)
    assert len(batches) == int(np.ceil(len(data) / 8))

    def epoch_labels() -> np.ndarray:
        return np.concatenate([batches[i][1] for i in range(len(batches))])

    first = epoch_labels()
    np.testing.assert_array_equal(np.sort(first), np.sort(data.labels))
    x, y = batches[0]
    assert x.shape == (8, 48, 48, 1) and x.dtype == np.float32 and y.dtype == data.labels.dtype
    batches.epoch += 1
    second = epoch_labels()
    np.testing.assert_array_equal(np.sort(second), np.sort(data.labels))
    assert not np.array_equal(first, second)
    with pytest.raises(IndexError):
        batches[len(batches)]


def test_batches_are_reproducible_whatever_order_they_are_built_in() -> None:
    data = fixture_faces()
    config = AugmentConfig(rotation=0.05, zoom=0.1, shift=0.1, erase=0.5)
    a = FaceBatches(data, 8, augment=config, shuffle=True, seed=1, first_epoch=2)
    b = FaceBatches(data, 8, augment=config, shuffle=True, seed=1, first_epoch=2)
    for i in reversed(range(len(b))):
        b[i]  # noqa: B018 - build in another order first
    for i in range(len(a)):
        np.testing.assert_array_equal(a[i][0], b[i][0])
    c = FaceBatches(data, 8, augment=config, shuffle=True, seed=2, first_epoch=2)
    assert not np.array_equal(a[0][0], c[0][0])


def test_one_hot_labels() -> None:
    data = fixture_faces()
    _, y = FaceBatches(data, 6, one_hot=True)[0]
    np.testing.assert_array_equal(y.argmax(axis=1), data.labels[:6])
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
