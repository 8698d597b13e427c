"""Model builders for facial-expression classification.

Each builder is one function with keyword arguments, validates them early and
returns an *uncompiled* Keras model whose preprocessing lives inside the model:
every model takes grey face crops of shape ``(size, size, 1)`` with pixel values
in 0..255 and outputs one probability per label (softmax). Keeping the scaling
inside the graph means the classifier, the evaluator and the app feed the same
raw crops and can never disagree about normalisation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
from keras import layers

ARCHITECTURES = ("simple_cnn", "vgg_bn", "mobilenet_v2")


def _check_common(input_size: int, num_classes: int) -> None:
    if input_size < 32:
        raise ValueError(f"input_size must be at least 32 pixels, got {input_size}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")


def build_simple_cnn(
    *, input_size: int = 48, num_classes: int = 7, dropout: float = 0.2
) -> keras.Model:
    """The small CNN of the origin study: Rescaling, 3 x (Conv2D + MaxPooling2D),
    Flatten, Dense, dropout, softmax."""
    _check_common(input_size, num_classes)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="simple_cnn")


def build_vgg_bn(
    *,
    input_size: int = 48,
    num_classes: int = 7,
    widths: tuple[int, ...] = (32, 64, 128, 256),
    dropout: float = 0.4,
) -> keras.Model:
    """A VGG-style CNN with batch norm, sized for 48x48 faces on a CPU.

    Each stage is two 3x3 conv + BN + ReLU layers followed by 2x2 max pooling;
    global average pooling and one hidden dense layer feed the softmax. This is
    the shape of the strongest published single CNNs on FER2013 (VGG variants
    with BN), trimmed so one epoch fits in a few CPU minutes.
    """
    _check_common(input_size, num_classes)
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"widths must be positive, got {widths}")
    if input_size // (2 ** len(widths)) < 1:
        raise ValueError(f"{len(widths)} pooling stages do not fit a {input_size}px input")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for stage, filters in enumerate(widths):
        for i in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              name=f"s{stage}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"s{stage}_bn{i}")(x)
            x = layers.ReLU(name=f"s{stage}_relu{i}")(x)
        x = layers.MaxPooling2D(name=f"s{stage}_pool")(x)
        # Light spatial dropout between stages; the heavy dropout is in the head.
        x = layers.Dropout(0.1, name=f"s{stage}_drop")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(widths[-1], use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="vgg_bn")


def build_mobilenet_v2(
    *,
    input_size: int = 48,
    num_classes: int = 7,
    backbone_size: int = 96,
    weights: str | Path | None = None,
    alpha: float = 1.0,
    dropout: float = 0.2,
) -> keras.Model:
    """MobileNetV2 transfer learning: grey crop -> resize -> RGB -> ImageNet backbone
    -> global pooling -> dense softmax head.

    ``weights`` is ``None`` (random init, for tests), ``"imagenet"`` (Keras
    downloads them; not possible offline) or a path to the no-top ``.h5`` file.
    The backbone is returned trainable; :func:`set_backbone_trainable` freezes
    it for the head-only warm-up phase.
    """
    _check_common(input_size, num_classes)
    if backbone_size < 32 or backbone_size % 32:
        raise ValueError(f"backbone_size must be a multiple of 32, >= 32, got {backbone_size}")
    if weights not in (None, "imagenet"):
        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(f"backbone weights file not found: {weights}")
        weights = str(weights)
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Resizing(backbone_size, backbone_size)(inputs)
    x = layers.Concatenate()([x, x, x])  # grey -> the RGB the backbone expects
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(x)  # MobileNetV2's [-1, 1]
    backbone = keras.applications.MobileNetV2(
        input_shape=(backbone_size, backbone_size, 3),
        include_top=False,
        weights=weights,
        alpha=alpha,
        name="backbone",
    )
    x = backbone(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v2")


def set_backbone_trainable(model: keras.Model, trainable: bool, *, fine_tune_from: int = 0) -> None:
    """Freeze or unfreeze a MobileNetV2 model's backbone.

    With ``trainable=True`` the layers before ``fine_tune_from`` stay frozen, so
    fine-tuning can be limited to the top of the backbone.
    """
    backbone = model.get_layer("backbone")
    backbone.trainable = trainable
    if trainable:
        for layer in backbone.layers[:fine_tune_from]:
            layer.trainable = False


def build_model(architecture: str, **kwargs: Any) -> keras.Model:
    """Build one of :data:`ARCHITECTURES` by name."""
    builders = {
        "simple_cnn": build_simple_cnn,
        "vgg_bn": build_vgg_bn,
        "mobilenet_v2": build_mobilenet_v2,
    }
    if architecture not in builders:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {ARCHITECTURES}")
    return builders[architecture](**kwargs)
