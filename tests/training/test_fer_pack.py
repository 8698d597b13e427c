"""Packing FER2013's training splits for a GPU machine: lossless, and PrivateTest stays behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.emotion.helpers import all_faces, read_grey
from tests.training.test_data import write_csv
from training.data import FER2013_LABELS, load_fer2013
from training.fer_pack import main, pack, unpack


def test_pack_then_unpack_gives_the_same_training_splits_and_no_private_test(tmp_path: Path) -> None:
    splits = ("Training", "PublicTest", "PrivateTest")
    rows = [(FER2013_LABELS.index(label), read_grey(path), splits[i % 3])
            for i, (label, path) in enumerate(all_faces())]
    source = write_csv(tmp_path / "fer.csv.gz", rows, gz=True)
    packed = pack(source, tmp_path / "gpu" / "fer.xz")
    restored = unpack(packed, tmp_path / "restored.csv")
    for split in ("Training", "PublicTest"):
        a, b = load_fer2013(source, split), load_fer2013(restored, split)
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)
    with pytest.raises(ValueError, match="PrivateTest"):
        load_fer2013(restored, "PrivateTest")


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "x.xz")]) == 2
    assert "not found" in capsys.readouterr().err
    junk = tmp_path / "junk.xz"
    junk.write_bytes(b"not xz")
    assert main(["unpack", "--packed", str(junk), "--out", str(tmp_path / "o.csv")]) == 2
    assert "error" in capsys.readouterr().err
