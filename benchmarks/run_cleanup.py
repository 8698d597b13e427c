"""What the Streamlit server does after every script run: Streamlit's clean-up vs the app's, side by side.

``python -m benchmarks.run_cleanup [--repeats 10] [--json]``

Streamlit ends every script run with ``keras.backend.clear_session()`` (Keras
is imported with TensorFlow) and ``gc.collect(2)`` (``runner.postScriptGC``);
the app replaces the first with a clean-up that skips Keras and switches the
second off (``compat.streamlit_cleanup``, ``.streamlit/config.toml``). Both are timed here
in a process that holds what the app server holds (TensorFlow, the shipped
classifier, OpenCV, the WebRTC stack), called in turn so a slow spell of the
machine falls on both alike. The participate page's timers run the script
twice a second per participant, so the per-run cost times two is the share of
a core (and of the GIL) one participant's page costs in clean-up alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from compat.streamlit_cleanup import clean_problem_modules, streamlit_clean_problem_modules


def streamlit_cleanup() -> None:
    """Streamlit 1.67's after-run clean-up with its shipped defaults."""
    streamlit_clean_problem_modules()()
    gc.collect(2)


def run(repeats: int) -> dict[str, Any]:
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    import app_state  # noqa: F401  (the WebRTC stack, as the server imports it: before TensorFlow)
    from emotion.classifier import EmotionClassifier

    classifier = EmotionClassifier()  # noqa: F841  (what the server keeps loaded: TensorFlow, Keras, the model)
    objects = len(gc.get_objects())
    peers: dict[str, Callable[[], None]] = {"streamlit": streamlit_cleanup, "app": clean_problem_modules}
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeats):
        for name, cleanup in peers.items():
            start = time.perf_counter()
            cleanup()
            times[name].append((time.perf_counter() - start) * 1000)
    return {"objects": objects, "repeats": repeats,
            "ms_per_run_median": {name: round(statistics.median(t), 2) for name, t in times.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run_cleanup", description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    try:
        result = run(args.repeats)
    except ValueError as exc:
        p.error(str(exc))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ms = result["ms_per_run_median"]
    print(f"after-run clean-up, {result['objects']:,} Python objects, median of {result['repeats']}:")
    print(f"{'':12}{'ms per run':>12}{'core share, 2 runs/s':>24}")
    for name, value in ms.items():
        print(f"{name:12}{value:>12.2f}{value * 2 / 1000:>24.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
