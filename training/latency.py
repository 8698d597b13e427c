"""Classifier latency as the model card records it: milliseconds per face at batch 1.

The shipped runtime is a TFLite interpreter on one thread (``TFLiteRunner``),
so this measures one CPU core doing the work the app does for every snapshot:
prepare the crop, score it (and its mirror image when the card asks for flip
averaging), apply the temperature. It is one measurement at ship time; on a
shared machine the same call can run at half or twice the speed minutes later,
so comparisons with another model belong in ``python -m benchmarks.inference``,
which times both in alternating rounds of the same run.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def timings_ms(fn: Callable[[], object], repeats: int, warmup: int = 3) -> np.ndarray:
    """Wall-clock milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1000.0
    return out


def cycling(fn: Callable[[Any], object], items: Sequence[Any] | np.ndarray, start: int = 0) -> Callable[[], object]:
    """A call of ``fn`` on the next of ``items`` each time (from ``start``, wrapping around)."""
    if len(items) == 0:
        raise ValueError("nothing to time: no items")
    position = iter(range(start, 10**9))
    return lambda: fn(items[next(position) % len(items)])


def cpu_name() -> str:
    """The CPU model as the OS names it (for reading a recorded latency), or the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def classifier_latency(model_dir: Path, faces: np.ndarray, *, repeats: int = 300) -> dict[str, Any]:
    """Batch-1 latency of the model in ``model_dir`` as the app serves it, cycling through ``faces``."""
    from emotion.classifier import EmotionClassifier

    if len(faces) == 0:
        raise ValueError("no faces to time")
    clf = EmotionClassifier(model_dir)
    ms = timings_ms(cycling(clf.predict, [faces[i: i + 1] for i in range(len(faces))]), repeats=repeats)
    return {"ms_per_face_b1_p50": round(float(np.median(ms)), 3),
            "ms_per_face_b1_p95": round(float(np.percentile(ms, 95)), 3),
            "repeats": repeats, "runtime": clf.runtime, "test_time_flip": clf.card.test_time_flip,
            "threads": clf.threads, "cpu": cpu_name(), "measured": time.strftime("%Y-%m-%d")}
