"""Train a facial-expression classifier: ``python -m emotion.train``.

The recipe defaults are those of the origin study: Adam, sparse categorical
cross-entropy, flip/rotation/zoom augmentation at about 10%, EarlyStopping and
ReduceLROnPlateau (halve) on validation loss with patience 5, the checkpoint of
the best validation loss kept, at most 40 epochs.

Everything goes to ``--output-dir``: ``model.keras`` (best validation loss,
without optimizer state), ``card.json`` (labels and recipe), ``history.csv``,
``training_curves.png`` and, while running, ``last.keras`` + ``state.json`` so
``--resume`` continues from the last finished epoch after a crash or a kill (or
extends a finished run when ``--epochs`` is raised).

Distillation: ``--teacher DIR`` (a saved model folder, e.g. an ensemble made by
``python -m emotion.ensemble``) turns each training target into
``alpha * one_hot(label) + (1 - alpha) * teacher(augmented image)``, so one
network can learn what several networks agree on. ``--teacher FILE.npz`` (a
soft-label file of ``python -m emotion.soft_labels``) does the same with the
teacher's probabilities for the clean face, computed once: no teacher graph
in the training loop, and it works for a serving-only teacher. ``--init-from
DIR`` starts from a trained model's weights instead of a random
initialisation; a narrower ``vgg_bn`` starts from the wider one's strongest
channels (``emotion.slim``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from emotion.augment import AugmentConfig, FaceBatches
from emotion.card import MODEL_FILE, ModelCard
from emotion.data import FaceDataset, load_dataset, parse_classes
from emotion.soft_labels import SoftLabels, is_soft_label_file, soft_label_identity

log = logging.getLogger(__name__)

LAST_FILE = "last.keras"
STATE_FILE = "state.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"


MONITORS = ("val_loss", "val_accuracy")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    output_dir: Path
    architecture: str = "vgg_bn"
    #: Validation source: ``None`` uses ``val_split`` of ``data`` (FER2013's PublicTest).
    val_data: Path | None = None
    train_split: str = "Training"
    val_split: str = "PublicTest"
    #: Fraction held out for validation when the source has no validation split.
    val_fraction: float = 0.1
    classes: tuple[str, ...] | None = None
    input_size: int = 48
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"  # "adam" or "sgd" (Nesterov momentum 0.9)
    #: Decoupled weight decay: each step shrinks every weight by ``learning_rate * weight_decay``.
    weight_decay: float = 0.0
    patience: int = 5
    lr_schedule: str = "plateau"  # "plateau" (halve on plateau) or "cosine"
    #: What picks the saved checkpoint (and stops early): the lowest ``val_loss`` or the highest
    #: ``val_accuracy``. Long runs grow overconfident, so their loss turns up while accuracy still
    #: rises; the calibration temperature fitted at shipping time undoes the overconfidence.
    monitor: str = "val_loss"
    flip: bool = True
    rotation: float = 0.1  # fraction of a full turn, as keras.layers.RandomRotation
    zoom: float = 0.1
    shift: float = 0.0
    erase: float = 0.0  # random erasing: probability per face
    brightness: float = 0.0
    contrast: float = 0.0
    label_smoothing: float = 0.0
    widths: tuple[int, ...] | None = None  # vgg_bn stage widths
    backbone_weights: str | None = None  # mobilenet_v2: None, "imagenet" or a .h5 path
    backbone_size: int = 96
    warmup_epochs: int = 3  # mobilenet_v2: head-only epochs before fine-tuning
    fine_tune_learning_rate: float = 1e-4
    max_train_samples: int | None = None
    #: Distillation: a model folder whose probabilities become (part of) the training targets.
    teacher: Path | None = None
    #: Weight of the true label in a distilled target; the teacher gets ``1 - distill_alpha``.
    distill_alpha: float = 0.3
    #: Start from this model folder's weights (same architecture and labels).
    init_from: Path | None = None
    #: Stop before an epoch that would end after this many seconds of training (over all
    #: resumes); with the cosine schedule the rate anneals over this time instead of ``epochs``.
    time_budget: float | None = None
    #: Threads that build training batches (augmentation) while the model trains.
    workers: int = 1
    seed: int = 0
    resume: bool = False
    verbose: int = 2

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not 0.0 <= self.weight_decay < 1.0:
            raise ValueError(f"weight_decay must be in [0, 1), got {self.weight_decay}")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        if self.lr_schedule not in ("plateau", "cosine"):
            raise ValueError(f"lr_schedule must be 'plateau' or 'cosine', got {self.lr_schedule!r}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if not 0.0 <= self.distill_alpha <= 1.0:
            raise ValueError(f"distill_alpha must be in [0, 1], got {self.distill_alpha}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be positive seconds, got {self.time_budget}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        self.augment_config()  # validates the augmentation settings

    def augment_config(self) -> AugmentConfig:
        return AugmentConfig(flip=self.flip, rotation=self.rotation, zoom=self.zoom, shift=self.shift,
                             erase=self.erase, brightness=self.brightness, contrast=self.contrast)

    @property
    def one_hot(self) -> bool:
        """Whether labels are one-hot (or soft) vectors: label smoothing and distillation need them."""
        return self.label_smoothing > 0 or self.teacher is not None


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    epochs_run: int
    best_val_loss: float
    best_val_accuracy: float
    history: dict[str, list[float]] = field(default_factory=dict)


# --------------------------------------------------------------------------- data

def holdout_split(data: FaceDataset, fraction: float, seed: int) -> tuple[FaceDataset, FaceDataset]:
    """A stratified random split into (train, validation)."""
    rng = np.random.default_rng(seed)
    val_idx: list[np.ndarray] = []
    for label in range(len(data.label_names)):
        idx = np.flatnonzero(data.labels == label)
        rng.shuffle(idx)
        val_idx.append(idx[: max(1, round(len(idx) * fraction))] if len(idx) > 1 else idx[:0])
    is_val = np.zeros(len(data), dtype=bool)
    is_val[np.concatenate(val_idx)] = True
    pick = lambda mask: FaceDataset(data.images[mask], data.labels[mask],  # noqa: E731
                                    data.label_names, data.source)
    return pick(~is_val), pick(is_val)


def load_training_data(config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    """Train and validation sets for ``config``, with the same label order."""
    train = load_dataset(config.data, split=config.train_split, size=config.input_size,
                         classes=config.classes)
    classes = config.classes or train.label_names
    val: FaceDataset | None = None
    if config.val_data is not None:
        val = load_dataset(config.val_data, split=config.val_split, size=config.input_size, classes=classes)
    elif not Path(config.data).is_dir() or (Path(config.data) / config.val_split).is_dir():
        try:  # the source's own validation split (FER2013's PublicTest)
            val = load_dataset(config.data, split=config.val_split, size=config.input_size, classes=classes)
        except ValueError:
            val = None
    if val is None:  # no validation split: hold a stratified fraction out
        train, val = holdout_split(train, config.val_fraction, config.seed)
    if val.label_names != train.label_names:
        raise ValueError(f"validation labels {val.label_names} differ from training labels "
                         f"{train.label_names}; pass --classes to align them")
    if config.max_train_samples is not None and len(train) > config.max_train_samples:
        rng = np.random.default_rng(config.seed)
        keep = np.sort(rng.choice(len(train), config.max_train_samples, replace=False))
        train = FaceDataset(train.images[keep], train.labels[keep], train.label_names, train.source)
    return train, val


# --------------------------------------------------------------------------- model

def build_for_config(config: TrainConfig, num_classes: int) -> Any:
    from emotion.models import build_model

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


def _phase_is_warmup(config: TrainConfig, epoch: int) -> bool:
    return len(_phases(config)) == 2 and epoch < config.warmup_epochs


# --------------------------------------------------------------------------- training

def _read_history(path: Path) -> dict[str, list[float]]:
    if not path.is_file():
        return {}
    import pandas as pd

    frame = pd.read_csv(path)
    return {str(c): frame[c].astype(float).tolist() for c in frame.columns}


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
    teacher, soft_targets = _teacher_for(config, train_set)
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
        recipe=_recipe(config),
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
            _copy_weights(model, Path(config.init_from), train_set.label_names, config.input_size)
        model = _prepare_phase(model, config, start_epoch, fresh=True)

    history = _read_history(history_path)
    best_so_far = _best(history, config.monitor)
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
                      callbacks=[_epoch_sync_callback(train_ds), *_callbacks(config, out, best_so_far, clock)],
                      verbose=config.verbose)
        if clock.out_of_time:
            log.info("time budget of %.0f s spent: stopped after epoch %d", config.time_budget,
                     len(_read_history(history_path).get("loss", [])))
            break
        best_so_far = _best(_read_history(history_path), config.monitor)
        # Early stopping may end a phase sooner; the next phase still starts at its own epoch.
        epoch = phase_end

    history = _read_history(history_path)
    best = _export_best(out)
    compile_model(best, config.learning_rate, config.label_smoothing, one_hot=one_hot)
    val_loss, val_acc = best.evaluate(FaceBatches(val_set, 256, one_hot=one_hot), verbose=0)
    card = card.with_metrics(validation_loss=float(val_loss), validation_accuracy=float(val_acc),
                             epochs_run=len(history.get("loss", [])))
    card.save(out)
    plot_curves(history, out / CURVES_FILE, title=f"{config.architecture}, batch {config.batch_size}")
    return TrainResult(out, len(history.get("loss", [])), float(val_loss), float(val_acc), history)


def _best(history: dict[str, list[float]], monitor: str) -> float | None:
    """The best value of ``monitor`` so far (for a resumed run's checkpoint), or None."""
    values = history.get(monitor)
    if not values:
        return None
    return min(values) if monitor == "val_loss" else max(values)


def _recipe(config: TrainConfig) -> dict[str, Any]:
    recipe = asdict(config)
    for key in ("data", "output_dir", "val_data", "resume", "verbose", "workers"):
        recipe.pop(key)
    recipe["loss"] = "categorical_crossentropy" if config.one_hot else "sparse_categorical_crossentropy"
    for key in ("teacher", "init_from"):
        recipe[key] = None if recipe[key] is None else str(recipe[key])
    if config.teacher is None:
        recipe.pop("distill_alpha")
    elif is_soft_label_file(Path(config.teacher)):
        # The path alone would let a rebuilt file (another teacher) slip into a resumed run.
        recipe.update(soft_label_identity(Path(config.teacher)))
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in recipe.items()}


def _prepare_phase(model: Any, config: TrainConfig, epoch: int, *, fresh: bool) -> Any:
    from emotion.models import set_backbone_trainable

    lr = config.learning_rate
    if config.architecture == "mobilenet_v2":
        warm = _phase_is_warmup(config, epoch)
        set_backbone_trainable(model, not warm)
        if not warm:
            lr = config.fine_tune_learning_rate
    if fresh or config.architecture == "mobilenet_v2":
        compile_model(model, lr, config.label_smoothing, one_hot=config.one_hot,
                      optimizer=config.optimizer, weight_decay=config.weight_decay)
    return model


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
    now = _recipe(config)
    changed = [k for k in SAME_ON_RESUME if before.get(k) != now.get(k)]
    if changed:
        raise ValueError(f"--resume with other {', '.join(changed)} than the run in {out} was trained with "
                         f"({', '.join(f'{k}={before.get(k)!r}' for k in changed)}); use a new --output-dir")


def _load_saved(folder: Path, labels: tuple[str, ...], role: str, input_size: int) -> Any:
    """The Keras model saved in ``folder`` (a run or a shipped model), checked against ``labels`` and
    the grey ``input_size`` crops being trained on."""
    import keras

    card = ModelCard.load(folder)
    if tuple(card.labels) != tuple(labels):
        raise ValueError(f"the {role} in {folder} has labels {card.labels}, the training data "
                         f"{labels}")
    if card.input_size != input_size or card.channels != 1:
        raise ValueError(f"the {role} in {folder} takes {card.input_size}x{card.input_size} {card.color_mode} "
                         f"crops, the training data are {input_size}x{input_size} grayscale")
    if card.model_file is None:
        hint = (" or write its soft labels with python -m emotion.soft_labels and pass that file"
                if role == "teacher" else "")
        raise ValueError(f"the {role} in {folder} is a serving-only export with no Keras model; point at "
                         f"the run it was shipped from ({card.recipe.get('source_run', 'see its card')}){hint}")
    return keras.models.load_model(folder / card.model_file, compile=False, safe_mode=False)


def _teacher_for(config: TrainConfig, train_set: FaceDataset) -> tuple[Any, np.ndarray | None]:
    """The distillation teacher: ``(model, None)`` for a model folder, ``(None, targets)`` for a
    soft-label file (the teacher's probabilities for each training face), ``(None, None)`` without."""
    if config.teacher is None:
        return None, None
    path = Path(config.teacher)
    if is_soft_label_file(path):
        soft = SoftLabels.load(path)
        log.info("soft labels of %s for %d faces from %s", soft.teacher, len(soft), path)
        return None, soft.targets_for(train_set)
    return _load_teacher(path, train_set.label_names, config.input_size), None


def _load_teacher(folder: Path, labels: tuple[str, ...], input_size: int) -> Any:
    teacher = _load_saved(folder, labels, "teacher", input_size)
    teacher.trainable = False
    return teacher


def _copy_weights(model: Any, folder: Path, labels: tuple[str, ...], input_size: int) -> None:
    source = _load_saved(folder, labels, "--init-from model", input_size)
    try:
        model.set_weights(source.get_weights())
    except ValueError as exc:
        if model.name == source.name == "vgg_bn":  # narrower widths: keep the strongest channels
            from emotion.slim import slim_into

            widths = slim_into(source, model)
            log.info("weights initialised from %s, slimmed to widths %s", folder, widths)
            return
        raise ValueError(f"--init-from {folder}: its layers do not match the architecture being "
                         f"trained ({exc})") from None
    log.info("weights initialised from %s", folder)


class TrainingClock:
    """Seconds spent training, carried over resumes, and whether a time budget ran out."""

    def __init__(self, seconds_before: float = 0.0) -> None:
        self.seconds_before = seconds_before
        self.started = time.monotonic()
        self.out_of_time = False

    @property
    def seconds(self) -> float:
        return self.seconds_before + time.monotonic() - self.started


def cosine_rate(base: float, fraction: float) -> float:
    """Cosine annealing from ``base`` at fraction 0 to 0 at fraction 1."""
    return 0.5 * base * (1 + math.cos(math.pi * min(max(fraction, 0.0), 1.0)))


def _epoch_sync_callback(batches: FaceBatches) -> Any:
    """Number the batches' epochs as Keras does, at each epoch's start, before the loader threads
    start. The batches keep no count of their own: ``fit`` calls a dataset's ``on_epoch_end`` once
    before training, so such a count ran one ahead, and differently after a resume or a second phase."""
    import keras

    class EpochSync(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            batches.epoch = epoch

    return EpochSync()


def _time_budget_callback(config: TrainConfig, clock: TrainingClock) -> Any:
    """Stop before an epoch that would overrun ``config.time_budget``; with the cosine schedule,
    set each epoch's rate by the fraction of the budget spent."""
    import keras

    budget = float(config.time_budget or 0.0)
    cosine = config.lr_schedule == "cosine"

    class TimeBudget(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.epoch_started = time.monotonic()
            if cosine:
                self.model.optimizer.learning_rate = cosine_rate(config.learning_rate, clock.seconds / budget)

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            if logs is not None and cosine:
                logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
            last = time.monotonic() - self.epoch_started  # the next epoch should take about as long
            if clock.seconds + last > budget:
                clock.out_of_time = True
                self.model.stop_training = True

    return TimeBudget()


def _save_state_callback(out: Path, clock: TrainingClock) -> Any:
    """After each epoch save the full model (with optimizer), the epoch count and the seconds
    spent, for --resume."""
    import keras

    class SaveState(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            tmp = out / ("tmp-" + LAST_FILE)
            self.model.save(tmp)
            tmp.replace(out / LAST_FILE)  # atomic: a kill never leaves half a checkpoint
            (out / STATE_FILE).write_text(json.dumps({"completed_epochs": epoch + 1,
                                                      "train_seconds": round(clock.seconds, 1)}))

    return SaveState()


def _callbacks(config: TrainConfig, out: Path, best_so_far: float | None, clock: TrainingClock) -> list[Any]:
    import keras

    callbacks: list[Any] = []
    if config.time_budget is not None:  # first: it puts the epoch's rate in the logs CSVLogger writes
        callbacks.append(_time_budget_callback(config, clock))
    callbacks += [
        keras.callbacks.ModelCheckpoint(
            out / MODEL_FILE, monitor=config.monitor, save_best_only=True,
            initial_value_threshold=best_so_far),
        keras.callbacks.CSVLogger(out / HISTORY_FILE, append=True),
        keras.callbacks.EarlyStopping(monitor=config.monitor, patience=config.patience),
        _save_state_callback(out, clock),
    ]
    if config.lr_schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=config.monitor, factor=0.5,
                                                           patience=config.patience, verbose=1))
    elif config.time_budget is None:
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda e: cosine_rate(config.learning_rate, e / config.epochs)))
    return callbacks


def _export_best(out: Path) -> Any:
    """Re-save the best checkpoint without optimizer state (a third of the size)."""
    import keras

    model = keras.models.load_model(out / MODEL_FILE, compile=False, safe_mode=False)
    model.save(out / MODEL_FILE)  # uncompiled -> no optimizer slots in the file
    return model


def plot_curves(history: dict[str, list[float]], path: Path, *, title: str = "") -> Path:
    """Accuracy and loss per epoch, train vs validation, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=False):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values:
                ax.plot(epochs, values, style, label=("validation " if prefix else "train ") + metric)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def sweep_batch_sizes(config: TrainConfig, batch_sizes: list[int]) -> dict[str, Any]:
    """Train once per batch size (each in ``output_dir/bsN``) and promote the best
    validation loss to ``output_dir``."""
    results = []
    for bs in batch_sizes:
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

def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emotion.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, type=Path,
                   help="FER2013 CSV (.csv/.csv.gz) or a class-per-folder image directory")
    p.add_argument("--output-dir", required=True, type=Path)
    p.add_argument("--architecture", default="vgg_bn", choices=("simple_cnn", "vgg_bn", "mobilenet_v2"))
    p.add_argument("--val-data", type=Path, help="separate validation data (default: the PublicTest split)")
    p.add_argument("--classes", help="keep only these classes, e.g. happy,sad")
    p.add_argument("--input-size", type=int, default=48)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batch-sizes", type=_int_list, help="sweep, e.g. 16,32,64 (overrides --batch-size)")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                   help="adam, or sgd with Nesterov momentum 0.9")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="decoupled weight decay per step, times the learning rate")
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--lr-schedule", choices=("plateau", "cosine"), default="plateau")
    p.add_argument("--monitor", choices=MONITORS, default="val_loss",
                   help="keep the checkpoint of the lowest validation loss or highest accuracy")
    p.add_argument("--rotation", type=float, default=0.1)
    p.add_argument("--zoom", type=float, default=0.1)
    p.add_argument("--shift", type=float, default=0.0)
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--erase", type=float, default=0.0,
                   help="random erasing: probability that a face gets one rectangle of noise")
    p.add_argument("--brightness", type=float, default=0.0, help="random brightness, fraction of 255")
    p.add_argument("--contrast", type=float, default=0.0, help="random contrast, fraction")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--widths", type=_int_list, help="vgg_bn stage widths, e.g. 24,48,96,192")
    p.add_argument("--backbone-weights",
                   help="mobilenet_v2: 'imagenet' or the path of the no-top .h5 weights file")
    p.add_argument("--backbone-size", type=int, default=96)
    p.add_argument("--warmup-epochs", type=int, default=3)
    p.add_argument("--fine-tune-learning-rate", type=float, default=1e-4)
    p.add_argument("--max-train-samples", type=int)
    p.add_argument("--teacher", type=Path,
                   help="distil from this model folder, or from a soft-label file of emotion.soft_labels "
                        "(the teacher's probabilities join the targets)")
    p.add_argument("--distill-alpha", type=float, default=0.3,
                   help="weight of the true label in a distilled target (default 0.3)")
    p.add_argument("--init-from", type=Path, help="start from this model folder's weights")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop before an epoch would end past this many seconds of training; "
                        "the cosine schedule then anneals over this time (raise --epochs as a cap)")
    p.add_argument("--workers", type=int, default=1, help="threads that build training batches")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the last finished epoch")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = TrainConfig(
            data=args.data, output_dir=args.output_dir, architecture=args.architecture,
            val_data=args.val_data, classes=parse_classes(args.classes), input_size=args.input_size,
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
            optimizer=args.optimizer, weight_decay=args.weight_decay,
            patience=args.patience, lr_schedule=args.lr_schedule, monitor=args.monitor, flip=not args.no_flip,
            rotation=args.rotation, zoom=args.zoom, shift=args.shift, erase=args.erase,
            brightness=args.brightness, contrast=args.contrast, label_smoothing=args.label_smoothing,
            widths=tuple(args.widths) if args.widths else None,
            backbone_weights=args.backbone_weights, backbone_size=args.backbone_size,
            warmup_epochs=args.warmup_epochs, fine_tune_learning_rate=args.fine_tune_learning_rate,
            max_train_samples=args.max_train_samples, teacher=args.teacher,
            distill_alpha=args.distill_alpha, init_from=args.init_from,
            time_budget=args.time_budget, workers=args.workers, seed=args.seed, resume=args.resume,
            verbose=1 if sys.stdout.isatty() else 2,
        )
        if args.batch_sizes:
            summary = sweep_batch_sizes(config, args.batch_sizes)
            print(json.dumps(summary, indent=2))
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
