"""AppTest fixtures: a real Streamlit script runner over a real DuckDB file in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from accounts.passwords import hash_password
from accounts.signin import FIRST_ADMIN
from accounts.signin import sign_in as accounts_sign_in
from accounts.throttle import Throttle
from app_config import DATA_ENV, PASSWORD_ENV
from app_state import STAFF_TOKEN, cookie_key
from app_state import store as app_store
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


def sign_in(app: AppTest, password: str = PASSWORD, username: str = FIRST_ADMIN, role: str | None = None,
            client: str = "apptest") -> AppTest:
    """Sign in as ``username`` and return the app on its first staff page.

    AppTest cannot send the session cookie, so this does what the ``/auth/sign-in`` route does
    (``accounts.signin.sign_in``: throttle, password check, a server-side session) and hands the
    signed token to the session as ``STAFF_TOKEN``; the app checks it exactly like the cookie. With
    ``role``, the account is created first (with ``password``). A refused sign-in leaves the app on
    the sign-in page with the route's error code in its query, as the route would redirect.
    """
    app.run()  # a fresh data folder gets its store and first admin
    if role is not None:
        app_store().add_staff_user(username, role, hash_password(password))
    result = accounts_sign_in(app_store(), cookie_key(), username, password, client, throttle=Throttle())
    if result.staff is None:
        app.query_params["error"] = result.error or "wrong"
    else:
        app.session_state[STAFF_TOKEN] = result.cookie
    app.run()
    assert not app.exception, app.exception
    return app
