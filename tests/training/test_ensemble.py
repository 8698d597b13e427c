"""Ensembles: the averaged model behaves like one model with its own card."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from emotion.card import ModelCard, ModelCardError
from emotion.classifier import EmotionClassifier
from tests.conftest import ROOT
from tests.emotion.helpers import face
from training.data import FER2013_LABELS
from training.ensemble import make_ensemble
from training.models import build_vgg_bn

CARD = ModelCard(labels=FER2013_LABELS, input_size=48, architecture="vgg_bn", crop_margin=0.1)


def member(folder: Path, seed: int, card: ModelCard = CARD) -> Path:
    import keras

    keras.utils.set_random_seed(seed)
    folder.mkdir(parents=True)
    build_vgg_bn(widths=(8, 16), num_classes=len(card.labels)).save(folder / "model.keras")
    card.save(folder)
    return folder


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("members")
    return [member(root / "a", 1), member(root / "b", 2)]


def test_ensemble_output_is_the_mean_of_its_members(members: list[Path], tmp_path: Path) -> None:
    card = make_ensemble(members, tmp_path / "ens")
    assert card.labels == CARD.labels and card.architecture.startswith("ensemble of 2")
    assert [m["run"] for m in card.recipe["ensemble"]] == [str(m) for m in members]
    crops = np.stack([face("happy/05667.png"), face("sad/14767.png")])
    ensemble = EmotionClassifier(tmp_path / "ens").predict(crops, flip_average=False)
    parts = [EmotionClassifier(m).predict(crops, flip_average=False) for m in members]
    assert not np.allclose(parts[0], parts[1])
    np.testing.assert_allclose(ensemble, np.mean(parts, axis=0), atol=1e-5)


def test_members_must_agree(members: list[Path], tmp_path: Path) -> None:
    other = member(tmp_path / "c", 3, replace(CARD, input_size=40))
    with pytest.raises(ModelCardError, match="input_size"):
        make_ensemble([members[0], other], tmp_path / "ens")
    with pytest.raises(ModelCardError, match="at least two"):
        make_ensemble(members[:1], tmp_path / "ens")


def test_cli_bad_input(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "training.ensemble", "--runs", str(tmp_path / "x"), str(tmp_path),
                          "--output-dir", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2 and "no model card" in out.stderr and "Traceback" not in out.stderr
