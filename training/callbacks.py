"""The Keras callbacks of a training run: checkpoints, resume state, time budget, schedules.

After each epoch a run saves ``last.keras`` (the full model, with optimizer) and
``state.json`` (epochs done, seconds spent), so ``--resume`` continues from the
last finished epoch after a crash or a kill; ``model.keras`` keeps the epoch the
monitor picks.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from emotion.card import MODEL_FILE
from training.augment import FaceBatches
from training.config import TrainConfig
from training.history import HISTORY_FILE

LAST_FILE = "last.keras"
STATE_FILE = "state.json"


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


def epoch_sync(batches: FaceBatches) -> Any:
    """Number the batches' epochs as Keras does, at each epoch's start, before the loader threads
    start. The batches keep no count of their own: ``fit`` calls a dataset's ``on_epoch_end`` once
    before training, so such a count ran one ahead, and differently after a resume or a second phase."""
    import keras

    class EpochSync(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            batches.epoch = epoch

    return EpochSync()


def _time_budget(config: TrainConfig, clock: TrainingClock) -> Any:
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


def _save_state(out: Path, clock: TrainingClock) -> Any:
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


def run_callbacks(config: TrainConfig, out: Path, best_so_far: float | None, clock: TrainingClock) -> list[Any]:
    """Every callback of one ``fit`` call, in the order they must run."""
    import keras

    callbacks: list[Any] = []
    if config.time_budget is not None:  # first: it puts the epoch's rate in the logs CSVLogger writes
        callbacks.append(_time_budget(config, clock))
    callbacks += [
        keras.callbacks.ModelCheckpoint(
            out / MODEL_FILE, monitor=config.monitor, save_best_only=True,
            initial_value_threshold=best_so_far),
        keras.callbacks.CSVLogger(out / HISTORY_FILE, append=True),
        keras.callbacks.EarlyStopping(monitor=config.monitor, patience=config.patience),
        _save_state(out, clock),
    ]
    if config.lr_schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=config.monitor, factor=0.5,
                                                           patience=config.patience, verbose=1))
    elif config.time_budget is None:
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda e: cosine_rate(config.learning_rate, e / config.epochs)))
    return callbacks
