"""The inference runtime of a shipped model: a TFLite export of ``model.keras``.

``model.keras`` stays the source of truth (training, ensembling, the model
card's shape checks); a model too large to commit as Keras files ships
serving-only (``training.ship --serving-only``): the folder keeps this runtime
file and the card, and the Keras source stays in the run folder the card names.
For serving, ``training.ship`` also writes
``model.tflite``: the same network converted with TFLite's dynamic-range
quantisation (weights stored as int8, activations quantised on the fly,
computed by XNNPACK's int8 kernels). Measured on these 2-core machines at one
thread, it scores a 48x48 face about six times faster than the Keras graph
(``python -m benchmarks.inference``), so a single server can keep up with many
participants. The card records the file, and the card's metrics are measured
through this runtime, so the numbers a user reads are the numbers the app
gets.

A ``TFLiteRunner`` is not thread-safe (one interpreter, one set of tensors):
``EmotionClassifier`` calls it under its lock.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

TFLITE_FILE = "model.tflite"
#: Rows (faces, or faces and their mirrors) per ``invoke``. Larger batches are cut into runs of this
#: size: measured on these machines at one thread, the shipped ensemble scores a face in 3.4 ms in
#: invokes of 2-4 rows but 4.5-5.9 ms in invokes of 64 rows (its activations then no longer fit
#: the core's cache), and a change of batch size costs the interpreter only about 0.04 ms.
INVOKE_ROWS = 4


def export_tflite(model: Any, path: Path) -> Path:
    """Convert a Keras model to a dynamic-range-quantised TFLite file at ``path``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights, float I/O
    path.write_bytes(converter.convert())
    return path


def tflite_interpreter(path: Path, *, threads: int = 1) -> Any:
    """A TFLite interpreter for ``path`` with its tensors allocated, using ``threads`` CPU threads."""
    import tensorflow as tf

    with warnings.catch_warnings():
        # tf.lite.Interpreter announces its move to the ai-edge-litert package; it still ships
        # with (and is tested against) the pinned TensorFlow, so no second runtime is installed.
        warnings.simplefilter("ignore", UserWarning)
        try:
            interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"cannot load {path}: it is damaged or not a TFLite model ({exc})") from exc
    interpreter.allocate_tensors()
    return interpreter


class TFLiteRunner:
    """Runs a TFLite model on float32 batches of any size, ``max_rows`` rows per invoke; returns
    its float outputs."""

    def __init__(self, path: Path, *, threads: int = 1, max_rows: int = INVOKE_ROWS) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.max_rows = max_rows
        #: CPU threads the interpreter may use; one by default, so concurrent sessions do not contend.
        self.threads = threads
        self._interpreter = tflite_interpreter(path, threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._interpreter.get_input_details()[0]["shape_signature"])

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._interpreter.get_output_details()[0]["shape_signature"])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) <= self.max_rows:
            return self._invoke(batch)
        return np.concatenate([self._invoke(batch[i: i + self.max_rows])
                               for i in range(0, len(batch), self.max_rows)])

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        # The interpreter keeps the last batch size and only resizes when it changes (the app
        # calls with the same small batch again and again).
        if len(batch) != self._batch:
            self._interpreter.resize_tensor_input(self._input, batch.shape, strict=False)
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(batch, dtype=np.float32))
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output))
