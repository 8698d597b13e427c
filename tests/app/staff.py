"""Helpers shared by the staff page tests: open a page signed in, read the app's own store."""

from __future__ import annotations

import base64
import html
import re

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_state import store
from campaigns.store import Store
from tests.app.conftest import sign_in


def open_page(app: AppTest, page: str) -> AppTest:
    """Sign in and switch to ``pages/<page>.py``; fails on any exception."""
    sign_in(app)
    if page != "campaigns":
        app.switch_page(f"pages/{page}.py").run()
    assert not app.exception, app.exception
    return app


def sign_in_form(app: AppTest) -> str | None:
    """The HTML of the sign-in form on the page (it posts to /auth/sign-in), or None."""
    forms = [str(e.proto.body) for e in app.get("html") if 'action="/auth/sign-in"' in e.proto.body]
    return forms[0] if forms else None


def sign_in_target(app: AppTest) -> str | None:
    """Where the sign-in form sends the visitor after signing in (its hidden ``next`` field)."""
    form = sign_in_form(app)
    found = re.search(r'name="next" value="([^"]*)"', form or "")
    return html.unescape(found.group(1)) if found else None


def assert_needs_login(app: AppTest, page: str) -> None:
    """Before signing in every staff address shows the sign-in form; after it the page opens."""
    app.run()
    assert sign_in_form(app) is not None
    assert not app.title or app.title[0].value != page.capitalize()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(f"pages/{page}.py")
    # (AppTest runs a switched-to page's script directly, without app.py, so
    # signing out again is covered on the root page by test_navigation.py.)
    open_page(app, page)
    assert app.title[0].value == page.capitalize()


def app_store() -> Store:
    """The store the app under test uses (the same cached object, so reads see its writes)."""
    return store()


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def texts(app: AppTest, kind: str) -> list[str]:
    """The values of every element of ``kind`` (markdown, caption, error...)."""
    return [str(getattr(e, "value", "")) for e in app.get(kind)]


def plotly_values(values: list | dict) -> np.ndarray:
    """Numbers of a Plotly JSON array, which plotly may send as typed binary (``bdata``)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values, dtype=float)
