"""Network slimming: a narrower vgg_bn started from a wider trained one's strongest channels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from tests.conftest import FER_FACES
from training.config import TrainConfig
from training.models import build_simple_cnn, build_vgg_bn
from training.slim import slim_into
from training.train import train


def faces(n: int = 6) -> np.ndarray:
    return np.random.default_rng(4).integers(0, 256, (n, 48, 48, 1)).astype("float32")


def randomised(model: keras.Model, seed: int) -> keras.Model:
    """Give every weight (batch-norm statistics included) a random value, as training would."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if w.ndim == 1
                       else rng.normal(0, 0.2, w.shape).astype("float32") for w in model.get_weights()])
    return model


def silence(model: keras.Model, keep: dict[str, np.ndarray]) -> None:
    """Zero the batch-norm scale and shift of every channel not in ``keep`` (by batch-norm name):
    those channels then output ReLU(0) = 0 and feed nothing downstream."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            drop = np.setdiff1d(np.arange(len(gamma)), keep[layer.name])
            gamma[drop], beta[drop] = 0.0, 0.0
            layer.set_weights([gamma, beta, mean, var])


def test_same_widths_copy_the_network_unchanged() -> None:
    source = randomised(build_vgg_bn(widths=(8, 16)), 1)
    target = build_vgg_bn(widths=(8, 16))
    assert slim_into(source, target) == [8, 8, 16, 16, 16]
    np.testing.assert_allclose(target(faces(), training=False), source(faces(), training=False), atol=1e-6)


def test_dropping_silent_channels_keeps_the_function() -> None:
    source = randomised(build_vgg_bn(widths=(8, 16)), 2)
    rng = np.random.default_rng(3)
    norms = [layer for layer in source.layers if isinstance(layer, keras.layers.BatchNormalization)]
    narrow = {8: 4, 16: 8}  # each width halved
    keep = {n.name: np.sort(rng.choice(n.gamma.shape[0], narrow[n.gamma.shape[0]], replace=False)) for n in norms}
    silence(source, keep)
    target = build_vgg_bn(widths=(4, 8))
    assert slim_into(source, target) == [4, 4, 8, 8, 8]
    # The kept channels are the ones left audible, and the slim network computes the same function.
    first = [layer for layer in target.layers if isinstance(layer, keras.layers.BatchNormalization)][0]
    np.testing.assert_array_equal(first.get_weights()[0], norms[0].get_weights()[0][keep[norms[0].name]])
    np.testing.assert_allclose(target(faces(), training=False), source(faces(), training=False), atol=1e-5)


@pytest.mark.parametrize("target", [
    lambda: build_vgg_bn(widths=(16, 16)),  # wider first stage
    lambda: build_vgg_bn(widths=(4, 8, 8)),  # another depth
    lambda: build_vgg_bn(widths=(4, 8), num_classes=3),
    lambda: build_simple_cnn(),
])
def test_only_a_narrower_vgg_bn_of_the_same_shape_is_filled(target) -> None:
    with pytest.raises(ValueError, match="slim|narrows|vgg_bn"):
        slim_into(build_vgg_bn(widths=(8, 16)), target())


def test_a_narrower_run_starts_from_a_wider_trained_run(tmp_path: Path) -> None:
    base: dict[str, Any] = dict(data=FER_FACES, architecture="vgg_bn", epochs=1, batch_size=16, val_fraction=0.25,
                                verbose=0)
    wide = train(TrainConfig(output_dir=tmp_path / "wide", widths=(8, 16), **base))
    narrow = TrainConfig(output_dir=tmp_path / "narrow", widths=(4, 8), init_from=wide.output_dir,
                         learning_rate=1e-9, **base)  # a step too small to move the weights visibly
    train(narrow)
    source = keras.models.load_model(wide.output_dir / "model.keras", compile=False)
    slimmed = keras.models.load_model(narrow.output_dir / "model.keras", compile=False)
    src_norm, dst_norm = source.get_layer("s0_bn0"), slimmed.get_layer("s0_bn0")
    kept = np.sort(np.argsort(-np.abs(src_norm.get_weights()[0]))[:4])
    np.testing.assert_allclose(slimmed.get_layer("s0_conv0").get_weights()[0],
                               source.get_layer("s0_conv0").get_weights()[0][..., kept], atol=1e-5)
    np.testing.assert_allclose(dst_norm.get_weights()[0], src_norm.get_weights()[0][kept], atol=1e-5)
