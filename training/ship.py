"""Promote a training run to the shipped model: ``python -m training.ship``.

    python -m training.ship --run runs/fer7_vgg --data ../shared/datasets/fer2013/fer2013.csv.gz

Copies ``model.keras`` and ``card.json`` from the run folder into
``--target`` (default ``emotion/shipped_model``), exports the serving runtime
(``model.tflite``, see ``emotion.runtime``), decides test-time flip
averaging (``--flip auto``: on when it helps PublicTest accuracy; ``off``
halves the cost per face) and fits the softmax temperature on PublicTest (the tuning split),
then measures PrivateTest once and records the numbers, with the confusion matrix, reliability diagram and
training curves, beside the model. Last it records how the model does in use: accuracy inside the
real pipeline (``training.pipeline``: PrivateTest faces in 640x480 frames through detect, align, crop)
and its latency per face (``training.latency``). ``--remeasure`` records only those two for a model
that is already shipped, leaving its tuning and PrivateTest numbers as they are. ``--serving-only``
then removes ``model.keras`` from the target, for models too large to commit as Keras files: the
runtime file serves, every number was measured through it, and the card names the run folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from emotion.card import MODEL_FILE, ModelCard
from emotion.classifier import DEFAULT_MODEL_DIR, apply_temperature
from emotion.runtime import TFLITE_FILE, export_tflite
from training.data import load_dataset
from training.evaluate import Evaluation, evaluate_probabilities, fit_temperature, predict_split, run_evaluation
from training.history import CURVES_FILE
from training.latency import classifier_latency
from training.pipeline import run_pipeline_evaluation

ARTEFACTS = (MODEL_FILE, CURVES_FILE)
#: The split the in-use measurements run on (the one the headline accuracy comes from).
IN_USE_SPLIT = "PrivateTest"
LATENCY_FACES = 300


def summary(result: Evaluation) -> dict[str, Any]:
    return {"n": result.n, "accuracy": round(result.accuracy, 4), "macro_f1": round(result.macro_f1, 4),
            "uar": round(result.uar, 4), "ece": round(result.ece, 4),
            "per_class_f1": {k: round(v.f1, 4) for k, v in result.per_class.items()}}


FLIP_CHOICES = ("auto", "on", "off")


def ship(run_dir: Path, data: Path, target: Path = DEFAULT_MODEL_DIR, *, tflite: bool = True,
         flip_policy: str = "auto", serving_only: bool = False) -> ModelCard:
    """Copy a run's model into ``target``, export its TFLite runtime, tune flip and temperature on
    PublicTest, measure PrivateTest once (through the runtime the app will use). With
    ``serving_only`` the Keras model is removed from ``target`` at the end (:func:`keep_runtime_only`)."""
    import keras

    if flip_policy not in FLIP_CHOICES:
        raise ValueError(f"flip must be one of {FLIP_CHOICES}, got {flip_policy!r}")
    if serving_only and not tflite:
        raise ValueError("a serving-only model needs its TFLite runtime: drop --keras-runtime")
    card = replace(ModelCard.load(run_dir), temperature=1.0, test_time_flip=False, tflite_file=None)
    target.mkdir(parents=True, exist_ok=True)
    for name in ARTEFACTS:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, target / name)
    (target / TFLITE_FILE).unlink(missing_ok=True)
    if tflite:
        export_tflite(keras.models.load_model(target / MODEL_FILE, compile=False), target / TFLITE_FILE)
        card = replace(card, tflite_file=TFLITE_FILE)
    card.save(target)

    # Everything below is tuned on PublicTest only: flip averaging if it helps
    # there, then the temperature that minimises its negative log-likelihood.
    public = {flip: predict_split(target, data, "PublicTest", flip_average=flip) for flip in (False, True)}
    scores = {flip: evaluate_probabilities(*public[flip]) for flip in public}
    flip = scores[True].accuracy > scores[False].accuracy if flip_policy == "auto" else flip_policy == "on"
    probs, y_true, labels = public[flip]
    temperature = round(fit_temperature(probs, y_true), 4)
    card = replace(card, test_time_flip=flip, temperature=temperature)
    card.save(target)
    calibrated = evaluate_probabilities(apply_temperature(probs, temperature), y_true, labels)
    private = run_evaluation(target, data, "PrivateTest", output_dir=target)
    card = card.with_metrics(
        public_test=summary(calibrated),
        public_test_uncalibrated=summary(scores[flip]),
        public_test_without_flip=summary(scores[False]),
        private_test=summary(private),
    )
    card.save(target)
    card = record_in_use(target, data)
    return keep_runtime_only(target, run_dir) if serving_only else card


def keep_runtime_only(target: Path, run_dir: Path) -> ModelCard:
    """Remove the Keras model from a shipped folder that serves through its TFLite file.

    For models too large to commit as Keras files (an ensemble of three 11 MB networks) the
    quantised runtime is what the app needs (a quarter of the size); the card keeps the recipe,
    every measurement and the run folder the Keras source stays in. Nothing measured changes:
    the numbers were taken through the runtime file."""
    card = ModelCard.load(target)
    if not card.tflite_file or not (target / card.tflite_file).is_file():
        raise ValueError(f"{target} has no runtime file to serve from; ship it with TFLite first")
    card = replace(card, model_file=None, recipe={**card.recipe, "source_run": str(run_dir)})
    card.save(target)
    (target / MODEL_FILE).unlink(missing_ok=True)
    return card


def record_in_use(target: Path, data: Path, *, limit: int | None = None) -> ModelCard:
    """Measure the shipped model in ``target`` as the app uses it and record it in its card:
    ``pipeline`` (face-found rate and accuracy after detect + align + crop beside the direct accuracy
    on the same faces) and ``latency`` (ms per face at batch 1). Nothing is tuned on these numbers."""
    card = ModelCard.load(target)
    pipeline = run_pipeline_evaluation(target, data, IN_USE_SPLIT, limit=limit)
    faces = load_dataset(data, split=IN_USE_SPLIT, size=card.input_size).images[:LATENCY_FACES]
    latency = classifier_latency(target, faces)
    card = card.with_metrics(pipeline={"split": IN_USE_SPLIT, **pipeline.to_dict()}, latency=latency)
    card.save(target)
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.ship", description=__doc__.split("\n")[0])
    p.add_argument("--run", type=Path, help="a training output directory")
    p.add_argument("--data", required=True, type=Path, help="the FER2013 CSV")
    p.add_argument("--target", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--keras-runtime", action="store_true",
                   help="serve the Keras graph instead of the (faster) quantised TFLite export")
    p.add_argument("--flip", choices=FLIP_CHOICES, default="auto",
                   help="test-time flip averaging: auto (when it helps PublicTest), on, or off (half the cost)")
    p.add_argument("--serving-only", action="store_true",
                   help="keep only the TFLite runtime in --target (the Keras model stays in --run)")
    p.add_argument("--remeasure", action="store_true",
                   help="only re-record the pipeline accuracy and latency of the model already in --target")
    args = p.parse_args(argv)
    if (args.run is None) != args.remeasure:
        p.error("give --run DIR to ship a run, or --remeasure to re-measure the model in --target")
    if args.remeasure and (args.flip != "auto" or args.keras_runtime or args.serving_only):
        p.error("--remeasure keeps the shipped model as it is: --flip, --keras-runtime and --serving-only "
                "apply when shipping a run")
    try:
        if args.remeasure:
            card = record_in_use(args.target, args.data)
            print(f"re-measured {args.target}: pipeline {card.metrics['pipeline']}; latency {card.metrics['latency']}")
            return 0
        card = ship(args.run, args.data, args.target, tflite=not args.keras_runtime, flip_policy=args.flip,
                    serving_only=args.serving_only)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"shipped {args.run} -> {args.target}: test-time flip {card.test_time_flip}; "
          f"PrivateTest {card.metrics['private_test']}; pipeline {card.metrics['pipeline']}; "
          f"latency {card.metrics['latency']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
