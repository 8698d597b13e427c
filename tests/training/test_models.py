"""Model builders: raw grey crops in, probabilities out, arguments validated early."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.models import build_mobilenet_v2, build_model, build_simple_cnn, build_vgg_bn


@pytest.mark.parametrize("builder, kwargs", [
    (build_simple_cnn, {}),
    (build_vgg_bn, {"widths": (8, 16)}),
    (build_mobilenet_v2, {"backbone_size": 64, "alpha": 0.35}),
])
def test_builders_take_raw_grey_crops_and_return_probabilities(builder, kwargs) -> None:
    model = builder(num_classes=5, **kwargs)
    assert model.input_shape == (None, 48, 48, 1)
    assert model.output_shape == (None, 5)
    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1)).astype("float32")
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (3, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert not model.compiled  # builders return uncompiled models


@pytest.mark.parametrize("call, message", [
    (lambda: build_simple_cnn(num_classes=1), "num_classes"),
    (lambda: build_simple_cnn(dropout=1.0), "dropout"),
    (lambda: build_vgg_bn(input_size=16), "input_size"),
    (lambda: build_vgg_bn(input_size=48, widths=(8,) * 7), "pooling"),
    (lambda: build_mobilenet_v2(backbone_size=100), "multiple of 32"),
    (lambda: build_model("resnet"), "unknown architecture"),
])
def test_builders_validate_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_mobilenet_missing_weights_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="backbone weights"):
        build_mobilenet_v2(weights=tmp_path / "nope.h5")


def test_mobilenet_loads_the_shared_imagenet_backbone(mobilenet_weights: Path) -> None:
    model = build_mobilenet_v2(weights=mobilenet_weights, backbone_size=96)
    kernel = model.get_layer("backbone").get_layer("Conv1").get_weights()[0]
    # ImageNet weights are far from a fresh Glorot init: compare with a random build.
    fresh = build_mobilenet_v2(weights=None, backbone_size=96).get_layer("backbone").get_layer("Conv1")
    assert not np.allclose(kernel, fresh.get_weights()[0])
