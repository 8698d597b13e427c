"""The after-run clean-up benchmark: both peers timed in one process that holds what the server holds,
and each timed clean-up did its work (Streamlit's reset Keras, closed figures and collected; ours closed
figures only)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections import Counter
from typing import Any

import keras
import matplotlib
import pytest

from benchmarks.run_cleanup import run
from tests.conftest import ROOT

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the clean-up steps the benchmark runs; each still does its work (the originals are called)."""
    seen: Counter[str] = Counter()

    def spy(name: str, original: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen[name if not args else f"{name}{args}"] += 1
            return original(*args, **kwargs)

        return call

    monkeypatch.setattr(keras.backend, "clear_session", spy("clear_session", keras.backend.clear_session))
    monkeypatch.setattr(plt, "close", spy("close", plt.close))
    monkeypatch.setattr(gc, "collect", spy("collect", gc.collect))
    return seen


def test_both_clean_ups_are_timed_side_by_side_and_both_ran(calls: Counter[str]) -> None:
    result = run(2)
    assert result["repeats"] == 2 and result["objects"] > 100_000  # TensorFlow and the model are loaded
    assert set(result["ms_per_run_median"]) == {"streamlit", "app"}
    assert all(ms >= 0 for ms in result["ms_per_run_median"].values())
    # Streamlit's clean-up: one Keras reset and one full collection per run; both close the figures.
    assert calls["clear_session"] == 2 and calls["collect(2,)"] == 2
    assert calls["close('all',)"] == 4


def test_bad_repeats_is_a_clear_error() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks.run_cleanup", "--repeats", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "must be at least 1" in out.stderr and "Traceback" not in out.stderr
