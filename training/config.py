"""What one training run does: :class:`TrainConfig`, read from a recipe file.

A recipe is a TOML file of ``TrainConfig`` fields (``training/recipes/*.toml``)::

    architecture = "vgg_bn"
    widths = [48, 96, 192, 384]
    optimizer = "sgd"

Keys left out keep their defaults, which are those of the origin study: Adam,
sparse categorical cross-entropy, flip/rotation/zoom augmentation at about 10%,
early stopping and halving the rate on a validation-loss plateau (patience 5),
at most 40 epochs. A recipe may also hold ``batch_sizes = [16, 32, 64]``: one
run per batch size, the best validation loss promoted. Where a run writes and
whether it resumes belong to the command line, not to the recipe.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the augmentation module imports Keras; a recipe loads without it
    from training.augment import AugmentConfig

MONITORS = ("val_loss", "val_accuracy")
OPTIMIZERS = ("adam", "sgd")
LR_SCHEDULES = ("plateau", "cosine")
#: Set per invocation (``--output-dir``, ``--resume``, the terminal), never by a recipe.
RUN_KEYS = ("output_dir", "resume", "verbose")
#: A recipe key that is not a ``TrainConfig`` field: train once per batch size.
SWEEP_KEY = "batch_sizes"


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
    #: Distillation: a model folder or a soft-label file whose probabilities join the targets.
    teacher: Path | None = None
    #: Weight of the true label in a distilled target; the teacher gets ``1 - distill_alpha``.
    distill_alpha: float = 0.3
    #: Start from this model folder's weights (same architecture and labels; a narrower
    #: ``vgg_bn`` starts from the wider one's strongest channels, ``training.slim``).
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
        checks = (
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.learning_rate > 0, f"learning_rate must be positive, got {self.learning_rate}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}"),
            (0.0 <= self.weight_decay < 1.0, f"weight_decay must be in [0, 1), got {self.weight_decay}"),
            (self.monitor in MONITORS, f"monitor must be one of {MONITORS}, got {self.monitor!r}"),
            (self.lr_schedule in LR_SCHEDULES,
             f"lr_schedule must be 'plateau' or 'cosine', got {self.lr_schedule!r}"),
            (0.0 <= self.label_smoothing < 0.5,
             f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}"),
            (0.0 <= self.distill_alpha <= 1.0, f"distill_alpha must be in [0, 1], got {self.distill_alpha}"),
            (0.0 < self.val_fraction < 0.5, f"val_fraction must be in (0, 0.5), got {self.val_fraction}"),
            (self.time_budget is None or self.time_budget > 0,
             f"time_budget must be positive seconds, got {self.time_budget}"),
            (self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.augment_config()  # validates the augmentation settings

    def augment_config(self) -> AugmentConfig:
        from training.augment import AugmentConfig

        return AugmentConfig(flip=self.flip, rotation=self.rotation, zoom=self.zoom, shift=self.shift,
                             erase=self.erase, brightness=self.brightness, contrast=self.contrast)

    @property
    def one_hot(self) -> bool:
        """Whether labels are one-hot (or soft) vectors: label smoothing and distillation need them."""
        return self.label_smoothing > 0 or self.teacher is not None


def card_recipe(config: TrainConfig) -> dict[str, Any]:
    """The recipe as a run's model card records it: the settings that shape the model, the loss,
    and for a soft-label teacher the file's identity."""
    from training.soft_labels import is_soft_label_file, soft_label_identity

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


# --------------------------------------------------------------------------- recipe files

def read_recipe(path: Path) -> dict[str, Any]:
    """The settings of a recipe file; ``ValueError`` naming the file for bad TOML or keys."""
    try:
        settings = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"recipe not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"recipe {path} is not valid TOML: {exc}") from None
    _check_keys(settings, f"recipe {path}")
    return settings


def parse_override(text: str) -> tuple[str, Any]:
    """``"key=value"`` from the command line: the value read as TOML (``0.5``, ``true``,
    ``[32, 64]``), else as a plain string (``monitor=val_accuracy``, ``widths=32,64``); an empty
    value unsets an optional key."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise ValueError(f"--set takes KEY=VALUE, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    _check_keys({key: value}, "--set")
    return key, value


def _check_keys(settings: dict[str, Any], where: str) -> None:
    known = [f.name for f in fields(TrainConfig) if f.name not in RUN_KEYS] + [SWEEP_KEY]
    for key in settings:
        if key in RUN_KEYS:
            raise ValueError(f"{where}: {key} is set on the command line, not in a recipe")
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            raise ValueError(f"{where}: unknown key {key!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))


def config_from(settings: dict[str, Any], **run: Any) -> TrainConfig:
    """A validated :class:`TrainConfig` from recipe ``settings`` (without ``batch_sizes``) and the
    run's own keys (``data``, ``output_dir``, ``resume``, ...), each value checked against its field."""
    hints = typing.get_type_hints(TrainConfig)
    values = {**settings, **run}
    for key in ("data", "output_dir"):
        if values.get(key) is None:
            raise ValueError(f"no {key}: give --{key.replace('_', '-')}")
    return TrainConfig(**{key: _coerce(key, value, hints[key]) for key, value in values.items()})


def split_sweep(settings: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, ...] | None]:
    """The settings without ``batch_sizes``, and the sweep they ask for, if any
    (``batch_sizes = [16, 32, 64]``)."""
    rest = {k: v for k, v in settings.items() if k != SWEEP_KEY}
    if settings.get(SWEEP_KEY) is None:
        return rest, None
    sizes = _coerce(SWEEP_KEY, settings[SWEEP_KEY], tuple[int, ...])
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{SWEEP_KEY} must be positive integers, got {list(sizes)}")
    return rest, sizes


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` of field ``key`` (TOML ints for floats, lists for tuples,
    strings for paths and comma-separated lists); ``ValueError`` for anything else."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if (value is None or value == "") and type(None) in options:  # `--set teacher=` unsets a key
        return None
    target = next(t for t in options if t is not type(None))
    if key == "classes" and isinstance(value, str | list):
        from training.data import parse_classes

        return parse_classes(value if isinstance(value, str) else ",".join(map(str, value)))
    if typing.get_origin(target) is tuple:
        item = typing.get_args(target)[0]
        parts = value.split(",") if isinstance(value, str) else value
        if isinstance(parts, list | tuple):
            try:
                items = [int(p) if isinstance(p, str) and item is int else p for p in parts]
                if all(isinstance(p, item) and not isinstance(p, bool) for p in items):
                    return tuple(items)
            except ValueError:
                pass
        raise ValueError(f"{key} must be a list of {item.__name__}, got {value!r}")
    if target is Path and isinstance(value, str | Path):
        return Path(value)
    if target is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, target) and (target is bool or not isinstance(value, bool)):
        return value
    raise ValueError(f"{key} must be {getattr(target, '__name__', target)}, got {value!r}")
