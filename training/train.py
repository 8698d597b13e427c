"""Train a facial-expression classifier: ``python -m training.train --recipe FILE``.

    python -m training.train --recipe training/recipes/shipped_sgd128.toml \\
        --data ../shared/datasets/fer2013/fer2013.csv.gz --output-dir runs/sgd128

The recipe (``training.config``) says what to train; the command line says on
which data, where to, and may override a few settings (``--epochs``,
``--time-budget``, ``--seed``, any key with ``--set KEY=VALUE``).

Everything goes to ``--output-dir``: ``model.keras`` (the epoch the monitor
picks, without optimizer state), ``card.json`` (labels and recipe),
``history.csv``, ``training_curves.png`` and, while running, ``last.keras`` +
``state.json`` so ``--resume`` continues from the last finished epoch after a
crash or a kill (or extends a finished run when ``--epochs`` is raised).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from emotion.card import MODEL_FILE, ModelCard
from training.augment import FaceBatches
from training.callbacks import LAST_FILE, STATE_FILE, TrainingClock, epoch_sync, run_callbacks
from training.config import TrainConfig, card_recipe, config_from, parse_override, read_recipe, split_sweep
from training.data import FaceDataset, holdout_split, load_dataset, subset
from training.history import CURVES_FILE, HISTORY_FILE, best_value, plot_curves, read_history
from training.teachers import copy_weights, teacher_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    epochs_run: int
    best_val_loss: float
    best_val_accuracy: float
    history: dict[str, list[float]] = field(default_factory=dict)


def load_training_data(config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    """Train and validation sets for ``config``, with the same label order."""
    train_set = load_dataset(config.data, split=config.train_split, size=config.input_size,
                             classes=config.classes)
    classes = config.classes or train_set.label_names
    val: FaceDataset | None = None
    if config.val_data is not None:
        val = load_dataset(config.val_data, split=config.val_split, size=config.input_size, classes=classes)
    elif not Path(config.data).is_dir() or (Path(config.data) / config.val_split).is_dir():
        try:  # the source's own validation split (FER2013's PublicTest)
            val = load_dataset(config.data, split=config.val_split, size=config.input_size, classes=classes)
        except ValueError:
            val = None
    if val is None:  # no validation split: hold a stratified fraction out
        train_set, val = holdout_split(train_set, config.val_fraction, config.seed)
    if val.label_names != train_set.label_names:
        raise ValueError(f"validation labels {val.label_names} differ from training labels "
                         f"{train_set.label_names}; set classes to align them")
    if config.max_train_samples is not None and len(train_set) > config.max_train_samples:
        rng = np.random.default_rng(config.seed)
        train_set = subset(train_set, np.sort(rng.choice(len(train_set), config.max_train_samples, replace=False)))
    return train_set, val


# --------------------------------------------------------------------------- model

def build_for_config(config: TrainConfig, num_classes: int) -> Any:
    from training.models import build_model

    kwargs: dict[str, Any] = {"input_size": config.input_size, "num_classes": num_classes}
    if config.architecture == "vgg_bn" and config.widths:
        kwargs["widths"] = config.widths
    if config.architecture == "mobilenet_v2":
        kwargs["weights"] = config.backbone_weights
        kwargs["backbone_size"] = config.backbone_size
    return build_model(config.architecture, **kwargs)


def compile_model(model: Any, learning_rate: float, label_smoothing: float = 0.0, *,
                  one_hot: bool = False, optimizer: str = "adam", weight_decay: float = 0.0) -> None:
    """Adam (or SGD with Nesterov momentum) + cross-entropy. Label smoothing and distillation need
    one-hot (or soft) labels (Keras' sparse loss has neither), so the datasets switch to one-hot when
    either is on."""
    import keras

    loss: Any = (keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
                 if label_smoothing or one_hot else keras.losses.SparseCategoricalCrossentropy())
    decay = weight_decay or None
    opt: Any = (keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=decay)
                if optimizer == "sgd" else keras.optimizers.Adam(learning_rate, weight_decay=decay))
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])


def _phases(config: TrainConfig) -> list[tuple[int, int]]:
    """Epoch ranges trained by one ``fit`` each: MobileNetV2 warms its head up first."""
    if config.architecture == "mobilenet_v2" and 0 < config.warmup_epochs < config.epochs:
        return [(0, config.warmup_epochs), (config.warmup_epochs, config.epochs)]
    return [(0, config.epochs)]


def _prepare_phase(model: Any, config: TrainConfig, epoch: int, *, fresh: bool) -> Any:
    from training.models import set_backbone_trainable

    lr = config.learning_rate
    if config.architecture == "mobilenet_v2":
        warm = len(_phases(config)) == 2 and epoch < config.warmup_epochs
        set_backbone_trainable(model, not warm)
        if not warm:
            lr = config.fine_tune_learning_rate
    if fresh or config.architecture == "mobilenet_v2":
        compile_model(model, lr, config.label_smoothing, one_hot=config.one_hot,
                      optimizer=config.optimizer, weight_decay=config.weight_decay)
    return model


# --------------------------------------------------------------------------- training

def train(config: TrainConfig) -> TrainResult:
    """Train one model as ``config`` says and leave its artefacts in ``config.output_dir``."""
    import keras

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    state_path, last_path, history_path = out / STATE_FILE, out / LAST_FILE, out / HISTORY_FILE
    resuming = config.resume and state_path.is_file() and last_path.is_file()
    if resuming:
        _check_same_targets(out, config)
    if config.resume and not resuming:
        log.warning("nothing to resume in %s: starting from scratch", out)
    train_set, val_set = load_training_data(config)
    log.info("train %d faces %s; validation %d faces", len(train_set), train_set.class_counts(),
             len(val_set))
    # A teacher that cannot teach these faces is refused here, before a previous run is cleared.
    teacher, soft_targets = teacher_for(config, train_set)
    if not resuming:
        for stale in (state_path, last_path, history_path, out / MODEL_FILE):
            stale.unlink(missing_ok=True)
    keras.utils.set_random_seed(config.seed)
    card = ModelCard(
        labels=train_set.label_names,
        input_size=config.input_size,
        architecture=config.architecture,
        training_data={"train": train_set.source, "train_counts": train_set.class_counts(),
                       "validation": val_set.source, "validation_counts": val_set.class_counts()},
        recipe=card_recipe(config),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    card.save(out)

    start_epoch, seconds_before = 0, 0.0
    if resuming:
        state = json.loads(state_path.read_text())
        start_epoch = int(state["completed_epochs"])
        seconds_before = float(state.get("train_seconds", 0.0))
        model = keras.models.load_model(last_path, compile=True, safe_mode=False)
        log.info("resuming after epoch %d from %s", start_epoch, last_path)
    else:
        model = build_for_config(config, len(train_set.label_names))
        if config.init_from is not None:
            copy_weights(model, Path(config.init_from), train_set.label_names, config.input_size)
        model = _prepare_phase(model, config, start_epoch, fresh=True)

    best_so_far = best_value(read_history(history_path), config.monitor)
    one_hot = config.one_hot
    train_ds = FaceBatches(train_set, config.batch_size, augment=config.augment_config(), shuffle=True,
                           seed=config.seed, one_hot=one_hot, teacher=teacher, soft_targets=soft_targets,
                           distill_alpha=config.distill_alpha, workers=config.workers,
                           first_epoch=start_epoch)
    val_ds = FaceBatches(val_set, max(config.batch_size, 128), one_hot=one_hot)
    clock = TrainingClock(seconds_before)

    epoch = start_epoch
    for phase_start, phase_end in _phases(config):
        if epoch >= phase_end:
            continue
        if config.time_budget is not None and clock.seconds >= config.time_budget:
            clock.out_of_time = True  # e.g. resumed after the budget was spent: no further epoch
        else:
            if epoch == phase_start > 0:  # entering the fine-tuning phase: unfreeze, recompile
                model = _prepare_phase(model, config, epoch, fresh=False)
            model.fit(train_ds, validation_data=val_ds, initial_epoch=epoch, epochs=phase_end,
                      callbacks=[epoch_sync(train_ds), *run_callbacks(config, out, best_so_far, clock)],
                      verbose=config.verbose)
        if clock.out_of_time:
            log.info("time budget of %.0f s spent: stopped after epoch %d", config.time_budget,
                     len(read_history(history_path).get("loss", [])))
            break
        best_so_far = best_value(read_history(history_path), config.monitor)
        # Early stopping may end a phase sooner; the next phase still starts at its own epoch.
        epoch = phase_end

    history = read_history(history_path)
    best = _export_best(out)
    compile_model(best, config.learning_rate, config.label_smoothing, one_hot=one_hot)
    val_loss, val_acc = best.evaluate(FaceBatches(val_set, 256, one_hot=one_hot), verbose=0)
    card = card.with_metrics(validation_loss=float(val_loss), validation_accuracy=float(val_acc),
                             epochs_run=len(history.get("loss", [])))
    card.save(out)
    plot_curves(history, out / CURVES_FILE, title=f"{config.architecture}, batch {config.batch_size}")
    return TrainResult(out, len(history.get("loss", [])), float(val_loss), float(val_acc), history)


#: Recipe entries a resumed run must share with the run it continues (they define its targets).
SAME_ON_RESUME = ("architecture", "classes", "input_size", "label_smoothing", "teacher", "teacher_sha256",
                  "distill_alpha", "monitor", "optimizer", "weight_decay")


def _check_same_targets(out: Path, config: TrainConfig) -> None:
    """Refuse to resume a run with other targets than it was trained on (the checkpoint's loss and
    half its epochs would belong to another recipe)."""
    try:
        before = ModelCard.load(out).recipe
    except (OSError, ValueError):
        return  # no readable card: nothing to compare with
    now = card_recipe(config)
    changed = [k for k in SAME_ON_RESUME if before.get(k) != now.get(k)]
    if changed:
        raise ValueError(f"--resume with other {', '.join(changed)} than the run in {out} was trained with "
                         f"({', '.join(f'{k}={before.get(k)!r}' for k in changed)}); use a new --output-dir")


def _export_best(out: Path) -> Any:
    """Re-save the best checkpoint without optimizer state (a third of the size)."""
    import keras

    model = keras.models.load_model(out / MODEL_FILE, compile=False, safe_mode=False)
    model.save(out / MODEL_FILE)  # uncompiled -> no optimizer slots in the file
    return model


def sweep_batch_sizes(config: TrainConfig, sizes: list[int] | tuple[int, ...]) -> dict[str, Any]:
    """Train once per batch size (each in ``output_dir/bsN``) and promote the best
    validation loss to ``output_dir``."""
    results = []
    for bs in sizes:
        run = train(replace(config, batch_size=bs, output_dir=Path(config.output_dir) / f"bs{bs}"))
        results.append({"batch_size": bs, "val_loss": run.best_val_loss,
                        "val_accuracy": run.best_val_accuracy, "epochs": run.epochs_run})
        log.info("batch %d: val loss %.4f, val accuracy %.4f", bs, run.best_val_loss,
                 run.best_val_accuracy)
    best = min(results, key=lambda r: r["val_loss"])
    src = Path(config.output_dir) / f"bs{best['batch_size']}"
    for name in (MODEL_FILE, "card.json", CURVES_FILE, HISTORY_FILE):
        shutil.copy2(src / name, Path(config.output_dir) / name)
    summary = {"results": results, "best_batch_size": best["batch_size"]}
    (Path(config.output_dir) / "sweep.json").write_text(json.dumps(summary, indent=2))
    return summary


# --------------------------------------------------------------------------- CLI

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0],
                                epilog="Recipe keys: the fields of training.config.TrainConfig.")
    p.add_argument("--recipe", type=Path, help="a TOML recipe (training/recipes/*.toml); default: the "
                                               "origin study's settings")
    p.add_argument("--data", type=Path,
                   help="FER2013 CSV (.csv/.csv.gz) or a class-per-folder image directory "
                        "(default: the recipe's data)")
    p.add_argument("--output-dir", type=Path, help="default: runs/<recipe name>")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop before an epoch would end past this many seconds of training; "
                        "the cosine schedule then anneals over this time (epochs is a cap)")
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override any recipe key, e.g. --set widths=32,64,128,256 --set teacher=soft.npz "
                        "(repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from the last finished epoch")
    return p


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's settings with the command line's overrides applied."""
    settings = read_recipe(args.recipe) if args.recipe else {}
    for key in ("epochs", "time_budget", "seed"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings.update(parse_override(text) for text in args.overrides)
    if args.data is not None:
        settings["data"] = args.data
    return settings


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings, sweep = split_sweep(settings_from_args(args))
        output_dir = args.output_dir or (Path("runs") / args.recipe.stem if args.recipe else None)
        config = config_from(settings, output_dir=output_dir, resume=args.resume,
                             verbose=1 if sys.stdout.isatty() else 2)
        if sweep:
            print(json.dumps(sweep_batch_sizes(config, sweep), indent=2))
        else:
            result = train(config)
            print(f"kept checkpoint ({config.monitor}): validation loss {result.best_val_loss:.4f}, "
                  f"accuracy {result.best_val_accuracy:.4f}; {result.epochs_run} epochs -> {result.output_dir}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
