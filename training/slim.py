"""Start a narrower ``vgg_bn`` from a trained wider one (network slimming).

A run whose recipe sets ``init_from = "DIR"`` and smaller ``widths`` than the model in
DIR copies, layer by layer, the channels whose batch-norm scale ``|gamma|`` is
largest (Liu et al., "Learning Efficient Convolutional Networks through
Network Slimming", 2017): a channel that batch norm scales down contributes
little to the next layer. The slimmed network starts far closer to its source
than a random one, so distilling it (``teacher``) needs fewer epochs than
training the same widths from scratch, which matters when the epochs run on a
CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _blocks(model: Any) -> tuple[list[tuple[Any, Any]], Any, Any, Any]:
    """``vgg_bn``'s (conv, batch norm) pairs in order, then its hidden dense layer, that layer's
    batch norm and the output layer; ``ValueError`` for any other layout."""
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if model.name != "vgg_bn" or len(norms) != len(convs) + 1 or len(dense) != 2:
        raise ValueError(f"slimming needs a vgg_bn model, got {model.name!r}")
    return list(zip(convs, norms[:-1], strict=True)), dense[0], norms[-1], dense[1]


def _strongest(norm: Any, keep: int) -> np.ndarray:
    """Indices (ascending) of the ``keep`` channels with the largest ``|gamma|`` of a batch norm."""
    gamma = np.abs(norm.get_weights()[0])
    return np.sort(np.argsort(-gamma, kind="stable")[:keep])


def slim_into(source: Any, target: Any) -> list[int]:
    """Copy trained ``source`` into the narrower (or equal) ``target`` of the same depth, in place.

    Returns the width kept in each layer. Raises ``ValueError`` if the two are not ``vgg_bn``
    networks of the same depth and classes, or ``target`` is wider anywhere.
    """
    src_blocks, src_hidden, src_hidden_norm, src_out = _blocks(source)
    dst_blocks, dst_hidden, dst_hidden_norm, dst_out = _blocks(target)
    if len(src_blocks) != len(dst_blocks) or src_out.units != dst_out.units:
        raise ValueError(f"cannot slim {len(src_blocks)} convolutions and {src_out.units} classes into "
                         f"{len(dst_blocks)} convolutions and {dst_out.units} classes")
    pairs = [*zip(src_blocks, dst_blocks, strict=True), ((src_hidden, src_hidden_norm), (dst_hidden, dst_hidden_norm))]
    kept_in = np.arange(source.input_shape[-1])
    widths = []
    for (src_layer, src_norm), (dst_layer, dst_norm) in pairs:
        (kernel,) = src_layer.get_weights()
        width = dst_norm.get_weights()[0].shape[0]
        if width > kernel.shape[-1]:
            raise ValueError(f"{dst_layer.name} has {width} channels, more than the {kernel.shape[-1]} "
                             f"of {src_layer.name}: slimming only narrows")
        kept = _strongest(src_norm, width)
        # Rows are the previous layer's kept channels (GlobalAveragePooling keeps them in order).
        dst_layer.set_weights([kernel[..., kept_in, :][..., kept]])
        dst_norm.set_weights([w[kept] for w in src_norm.get_weights()])
        kept_in = kept
        widths.append(width)
    out_kernel, out_bias = src_out.get_weights()
    dst_out.set_weights([out_kernel[kept_in], out_bias])
    return widths
