"""Recipes: the shipped members are reproducible from the files, and every setting is reachable."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from emotion.card import ModelCard
from emotion.classifier import DEFAULT_MODEL_DIR
from tests.conftest import FER_FACES, ROOT
from training.config import (
    RUN_KEYS,
    TrainConfig,
    card_recipe,
    config_from,
    parse_override,
    read_recipe,
    split_sweep,
)
from training.train import main

RECIPES = ROOT / "training" / "recipes"
#: The shipped ensemble's members (their run folders, as its card names them) and their recipes.
MEMBER_RECIPES = {"runs/gpu3/sgd128": "shipped_sgd128.toml", "runs/gpu2/s13": "shipped_adam_s13.toml",
                  "runs/gpu2/s11": "shipped_adam_s11.toml"}


def member_config(name: str) -> TrainConfig:
    return config_from(read_recipe(RECIPES / name), data=Path("fer2013.csv"), output_dir=Path("runs/x"))


def test_every_member_of_the_shipped_ensemble_has_its_recipe() -> None:
    members = ModelCard.load(DEFAULT_MODEL_DIR).recipe["ensemble"]
    assert sorted(m["run"] for m in members) == sorted(MEMBER_RECIPES)
    assert sorted(p.name for p in RECIPES.glob("*.toml")) >= sorted(MEMBER_RECIPES.values())


@pytest.mark.parametrize("run", sorted(MEMBER_RECIPES))
def test_a_member_recipe_is_the_config_its_card_records(run: str) -> None:
    recorded = next(m for m in ModelCard.load(DEFAULT_MODEL_DIR).recipe["ensemble"] if m["run"] == run)["recipe"]
    config = member_config(MEMBER_RECIPES[run])
    recipe = card_recipe(config)
    assert {k: recipe.get(k) for k in recorded} == recorded
    # A setting the card does not record (added to the trainer after the run) is at its default.
    defaults = card_recipe(TrainConfig(data=Path("x"), output_dir=Path("y")))
    assert {k: v for k, v in recipe.items() if k not in recorded} == {
        k: defaults[k] for k in recipe if k not in recorded}


def test_recipe_values_take_their_fields_types() -> None:
    config = member_config("shipped_sgd128.toml")
    assert config.widths == (48, 96, 192, 384) and isinstance(config.time_budget, float)
    assert json.loads(json.dumps(card_recipe(config)))["time_budget"] == 400.0


@pytest.mark.parametrize("text, key, value", [
    ("erase=0.25", "erase", 0.25),
    ("flip=false", "flip", False),
    ("monitor=val_accuracy", "monitor", "val_accuracy"),
    ("widths=32,64,128,256", "widths", "32,64,128,256"),
    ("widths=[32, 64]", "widths", [32, 64]),
    ("teacher=.gpu/soft.npz", "teacher", ".gpu/soft.npz"),
    ("max-train-samples=500", "max_train_samples", 500),
])
def test_overrides_are_read_as_toml_values_or_strings(text: str, key: str, value: object) -> None:
    assert parse_override(text) == (key, value)


def test_every_feature_is_reachable_through_recipe_keys(tmp_path: Path) -> None:
    settings = dict(parse_override(t) for t in (
        "widths=32,64,128,256", "teacher=runs/ens3", "distill_alpha=0.4", "init_from=runs/wide",
        "classes=Happy,sad", "architecture=mobilenet_v2", "backbone_weights=imagenet", "batch_sizes=16,32",
        "label_smoothing=0.1", "val_data=faces/val", "time_budget=60"))
    rest, sweep = split_sweep(settings)
    config = config_from(rest, data=FER_FACES, output_dir=tmp_path, resume=True)
    assert sweep == (16, 32)
    assert config.widths == (32, 64, 128, 256) and config.teacher == Path("runs/ens3")
    assert config.init_from == Path("runs/wide") and config.classes == ("happy", "sad")
    assert config.distill_alpha == 0.4 and config.one_hot and config.resume
    assert config.val_data == Path("faces/val") and config.time_budget == 60.0
    unset = config_from({**rest, "teacher": parse_override("teacher=")[1]}, data=FER_FACES, output_dir=tmp_path)
    assert unset.teacher is None
    # Every field but the run's own is a recipe key.
    recipe_file = tmp_path / "all.toml"
    recipe_file.write_text("\n".join(f"{f.name} = 1" for f in fields(TrainConfig) if f.name not in RUN_KEYS))
    assert set(read_recipe(recipe_file)) == {f.name for f in fields(TrainConfig)} - set(RUN_KEYS)


@pytest.mark.parametrize("text, message", [
    ("epochs = 0", "epochs must be >= 1"),
    ("output_dir = 'runs/x'", "command line"),
    ("optimiser = 'sgd'", "did you mean 'optimizer'"),
    ("widths = [32, 'x']", "widths must be a list of int"),
    ("flip = 1", "flip must be bool"),
    ("epochs = 2.5", "epochs must be int"),
    ("classes = ['happy']", "at least two"),
    ("batch_sizes = [0]", "batch_sizes must be positive"),
    ("epochs = ", "not valid TOML"),
])
def test_bad_recipes_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=message):
        rest, _ = split_sweep(read_recipe(path))
        config_from(rest, data=FER_FACES, output_dir=tmp_path)


def test_a_recipe_trains_from_the_command_line(tmp_path: Path) -> None:
    """The command end to end: a recipe (with a sweep and a class subset), overrides on top."""
    recipe = tmp_path / "tiny.toml"
    recipe.write_text('architecture = "simple_cnn"\nepochs = 3\nval_fraction = 0.25\n'
                      'classes = ["happy", "sad", "surprise"]\nbatch_sizes = [8, 16]\n')
    out = tmp_path / "run"
    assert main(["--recipe", str(recipe), "--data", str(FER_FACES), "--output-dir", str(out), "--epochs", "1",
                 "--seed", "3", "--set", "rotation=0.05"]) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert [r["batch_size"] for r in summary["results"]] == [8, 16]
    card = ModelCard.load(out)
    assert card.labels == ("happy", "sad", "surprise") and card.architecture == "simple_cnn"
    assert (card.recipe["epochs"], card.recipe["seed"], card.recipe["rotation"]) == (1, 3, 0.05)
    assert card.recipe["batch_size"] == summary["best_batch_size"] and (out / "model.keras").is_file()
