"""Average several trained models into one: ``python -m training.ensemble``.

    python -m training.ensemble --runs runs/fer7_vgg runs/fer7_vgg_s1 --output-dir runs/fer7_ensemble

Members must share labels, input size and colour mode (checked from their
cards). The result is one Keras model (input -> each member -> mean of the
softmax outputs) with a card of its own, so the classifier, the evaluator and
``training.ship`` treat it exactly like a single model. Averaging independently
trained networks is the cheapest reliable accuracy gain on FER2013 when the
training budget is a CPU: each member is trained within the time budget, and
the errors they do not share cancel out.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emotion.card import MODEL_FILE, ModelCard, ModelCardError
from training.history import CURVES_FILE


def check_compatible(cards: list[ModelCard]) -> None:
    """Raise ModelCardError unless every card has the first card's labels, input size and colour mode."""
    if len(cards) < 2:
        raise ModelCardError("an ensemble needs at least two member models")
    first = cards[0]
    for i, card in enumerate(cards[1:], start=2):
        for name in ("labels", "input_size", "color_mode", "crop_margin"):
            if getattr(card, name) != getattr(first, name):
                raise ModelCardError(f"member {i} has {name} {getattr(card, name)!r}, "
                                     f"member 1 has {getattr(first, name)!r}")


def build_ensemble(models: list[Any], input_size: int, channels: int) -> Any:
    """One uncompiled Keras model whose output is the mean of the members' softmax outputs."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, channels), name="face")
    # Re-wrap every member under a unique name: nested models are saved by name.
    outputs = [keras.Model(m.inputs[0], m.outputs[0], name=f"member_{i}")(inputs) for i, m in enumerate(models)]
    return keras.Model(inputs, layers.Average(name="mean_probability")(outputs), name="ensemble")


def make_ensemble(run_dirs: list[Path], output_dir: Path) -> ModelCard:
    """Build, save and describe the ensemble of the models in ``run_dirs``."""
    import keras

    cards = [ModelCard.load(d) for d in run_dirs]
    check_compatible(cards)
    models = []
    for d in run_dirs:
        if not (d / MODEL_FILE).is_file():
            raise FileNotFoundError(f"no {MODEL_FILE} in {d}")
        models.append(keras.models.load_model(d / MODEL_FILE, compile=False))
    first = cards[0]
    model = build_ensemble(models, first.input_size, first.channels)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save(output_dir / MODEL_FILE)
    if (run_dirs[0] / CURVES_FILE).is_file():
        shutil.copy2(run_dirs[0] / CURVES_FILE, output_dir / CURVES_FILE)
    members = [{"run": str(d), "architecture": c.architecture, "recipe": c.recipe,
                "training_metrics": c.metrics} for d, c in zip(run_dirs, cards, strict=True)]
    card = replace(first, architecture=f"ensemble of {len(cards)} x {first.architecture} (mean probability)",
                   recipe={"ensemble": members}, metrics={}, temperature=1.0, test_time_flip=False, tflite_file=None,
                   created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S%z"))
    card.save(output_dir)
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.ensemble", description=__doc__.split("\n")[0])
    p.add_argument("--runs", nargs="+", required=True, type=Path, help="training output folders")
    p.add_argument("--output-dir", required=True, type=Path)
    args = p.parse_args(argv)
    try:
        card = make_ensemble(args.runs, args.output_dir)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{card.architecture} -> {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
