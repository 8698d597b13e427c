"""Dataset loaders on tiny CSV and folder fixtures; class subsetting and label mapping."""

from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import FER_FACES
from training.data import (
    FER2013_LABELS,
    FaceDataset,
    load_dataset,
    load_fer2013,
    load_image_folder,
    parse_classes,
    select_classes,
)


def write_csv(path: Path, rows: list[tuple[int, np.ndarray, str]], *, gz: bool = False) -> Path:
    text = "emotion,pixels,Usage\n" + "".join(
        f"{label},{' '.join(str(int(v)) for v in image.ravel())},{usage}\n" for label, image, usage in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def tiny_rows() -> list[tuple[int, np.ndarray, str]]:
    rng = np.random.default_rng(0)
    usages = ["Training"] * 6 + ["PublicTest"] * 2 + ["PrivateTest"] * 2
    return [(i % 7, rng.integers(0, 256, (48, 48)), u) for i, u in enumerate(usages)]


@pytest.mark.parametrize("gz", [False, True])
def test_fer2013_csv_splits_and_pixels(tmp_path: Path, tiny_rows: list, gz: bool) -> None:
    path = write_csv(tmp_path / ("fer.csv.gz" if gz else "fer.csv"), tiny_rows, gz=gz)
    train = load_fer2013(path, "Training")
    assert len(train) == 6 and train.images.shape == (6, 48, 48) and train.images.dtype == np.uint8
    assert train.label_names == FER2013_LABELS
    assert list(train.labels) == [0, 1, 2, 3, 4, 5]
    assert np.array_equal(train.images[3], tiny_rows[3][1].astype(np.uint8))
    assert len(load_fer2013(path, "PrivateTest")) == 2


def test_class_subset_renumbers_in_the_given_order(tmp_path: Path, tiny_rows: list) -> None:
    path = write_csv(tmp_path / "fer.csv", tiny_rows)
    binary = load_fer2013(path, "Training", classes=parse_classes("sad,happy"))
    assert binary.label_names == ("sad", "happy")
    # row 3 is happy (3) and row 4 is sad (4) in FER2013's numbering
    assert list(binary.labels) == [1, 0]
    assert np.array_equal(binary.images[0], tiny_rows[3][1].astype(np.uint8))


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n", "lacks the FER2013 columns"),
    ("emotion,pixels,Usage\n0,1 2 3,Training\n", "2304 values"),
    ("emotion,pixels,Usage\n0," + " ".join(["1"] * 2304) + ",PublicTest\n", "no rows with Usage"),
])
def test_bad_csv_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_fer2013(path, "Training")


def test_corrupt_gzip_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "fer.csv.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(ValueError, match="not a readable FER2013 CSV"):
        load_fer2013(bad)
    with pytest.raises(FileNotFoundError):
        load_fer2013(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="unknown split"):
        load_fer2013(bad, "Validation")


def test_image_folder_fixture() -> None:
    data = load_image_folder(FER_FACES)
    assert data.label_names == tuple(sorted(FER2013_LABELS))
    assert len(data) == 42 and data.images.shape[1:] == (48, 48)
    assert data.class_counts() == {name: 6 for name in sorted(FER2013_LABELS)}
    resized = load_image_folder(FER_FACES, size=64, classes=("happy", "sad"))
    assert resized.images.shape == (12, 64, 64) and resized.label_names == ("happy", "sad")


def test_image_folder_skips_unreadable_files(tmp_path: Path) -> None:
    for name in ("happy", "sad"):
        (tmp_path / name).mkdir()
        cv2.imwrite(str(tmp_path / name / "a.png"), np.full((60, 50, 3), 100, np.uint8))
    (tmp_path / "sad" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "sad" / "notes.txt").write_text("ignored")
    data = load_image_folder(tmp_path)
    assert len(data) == 2 and data.images.shape == (2, 48, 48)


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "only").mkdir()
    with pytest.raises(ValueError, match="two class"):
        load_image_folder(tmp_path)
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError, match="no readable image"):
        load_image_folder(tmp_path)


def test_load_dataset_dispatch(tmp_path: Path, tiny_rows: list) -> None:
    csv = write_csv(tmp_path / "fer.csv", tiny_rows)
    assert len(load_dataset(csv, split="PublicTest")) == 2
    assert load_dataset(csv, split="Training", size=32).images.shape == (6, 32, 32)
    assert len(load_dataset(FER_FACES)) == 42
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(ValueError, match="neither"):
        load_dataset(tmp_path / "data.json")


def test_select_and_parse_classes_errors() -> None:
    data = FaceDataset(np.zeros((2, 4, 4), np.uint8), np.array([0, 1]), ("a", "b"))
    with pytest.raises(ValueError, match="unknown classes"):
        select_classes(data, ("a", "zebra"))
    assert parse_classes(None) is None and parse_classes("") is None
    assert parse_classes(" Happy , sad ") == ("happy", "sad")
    for bad in ("happy", "happy,happy"):
        with pytest.raises(ValueError):
            parse_classes(bad)
    with pytest.raises(ValueError, match="outside"):
        FaceDataset(np.zeros((1, 4, 4), np.uint8), np.array([5]), ("a", "b"))


def test_real_fer2013_counts(fer_csv: Path) -> None:
    """The shared copy holds the documented split sizes (skips without ../shared)."""
    private = load_fer2013(fer_csv, "PrivateTest")
    assert len(private) == 3589
    assert private.class_counts()["happy"] == 879
