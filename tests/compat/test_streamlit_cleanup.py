"""The server's after-run clean-up: no full garbage collection and no Keras reset after every run."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import keras
import matplotlib
import pytest
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from compat import MARK
from compat.streamlit_cleanup import install_run_cleanup, run_cleanup_installed, streamlit_clean_problem_modules
from tests.conftest import ROOT

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)


@pytest.fixture
def keras_resets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Records calls of ``keras.backend.clear_session`` (instead of running it); the test starts with
    Streamlit's own clean-up (an earlier test's app run installed ours), and whatever was there is put
    back after it."""
    calls: list[bool] = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(True))
    monkeypatch.setattr(script_runner, "_clean_problem_modules", streamlit_clean_problem_modules())
    yield calls


def test_streamlits_own_cleanup_resets_keras_after_every_run(keras_resets: list[bool]) -> None:
    assert "keras" in sys.modules  # importing TensorFlow imports it: the app always has it
    streamlit_clean_problem_modules()()
    assert keras_resets == [True]


def test_the_app_cleanup_skips_keras_and_still_closes_figures(keras_resets: list[bool]) -> None:
    install_run_cleanup()
    install_run_cleanup()  # idempotent: one wrapper, not two
    assert run_cleanup_installed()
    assert not hasattr(script_runner._clean_problem_modules.__wrapped__, MARK)  # type: ignore[attr-defined]
    plt.figure()
    script_runner._clean_problem_modules()
    assert keras_resets == [] and plt.get_fignums() == []


def test_a_run_of_the_app_installs_it(keras_resets: list[bool], monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    monkeypatch.setenv("EMOTION_AB_DATA", str(tmp_path))
    monkeypatch.chdir(ROOT)
    assert not run_cleanup_installed()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not app.exception and run_cleanup_installed()
    assert keras_resets == []  # the run that installed it ended with the cheap clean-up


def test_the_shipped_config_turns_the_after_run_garbage_collection_off() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
