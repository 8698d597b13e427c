"""AppTest fixtures: a real Streamlit script runner over a real DuckDB file in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_config import DATA_ENV, PASSWORD_ENV
from tests.conftest import ROOT

PASSWORD = "test-password"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder and a known staff password for one test (the app reads its settings afresh in
    every test: ``tests/conftest.py``)."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.chdir(ROOT)
    return tmp_path


@pytest.fixture
def new_app(data_dir: Path) -> Callable[..., AppTest]:
    """Factory: an AppTest of app.py, optionally opened with query parameters."""

    def make(**query: str) -> AppTest:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for key, value in query.items():
            app.query_params[key] = value
        return app

    return make


def sign_in(app: AppTest, password: str = PASSWORD) -> AppTest:
    """Run the app, submit the login form and return it on the first staff page."""
    app.run()
    app.text_input[0].input(password)
    app.button[0].click()
    app.run()
    assert not app.exception, app.exception
    return app
