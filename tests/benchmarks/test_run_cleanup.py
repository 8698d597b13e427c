"""The after-run clean-up benchmark: both peers timed in one process that holds what the server holds."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.run_cleanup import run
from tests.conftest import ROOT


def test_both_clean_ups_are_timed_side_by_side() -> None:
    result = run(2)
    assert result["repeats"] == 2 and result["objects"] > 100_000  # TensorFlow and the model are loaded
    assert set(result["ms_per_run_median"]) == {"streamlit", "app"}
    assert all(ms >= 0 for ms in result["ms_per_run_median"].values())


def test_bad_repeats_is_a_clear_error() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks.run_cleanup", "--repeats", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "must be at least 1" in out.stderr and "Traceback" not in out.stderr
