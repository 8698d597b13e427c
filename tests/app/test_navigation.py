"""Who sees which page: login for staff, the participate page only through a campaign link."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import sign_in


def test_staff_pages_need_a_login(new_app: Callable[..., AppTest]) -> None:
    app = new_app()
    app.run()
    assert not app.exception, app.exception
    assert app.text_input[0].label == "Password"
    assert not [b for b in app.sidebar.button if b.label == "Sign out"]


def test_wrong_password_is_refused(new_app: Callable[..., AppTest]) -> None:
    app = sign_in(new_app(), "not it")
    assert app.error[0].value == "Wrong password."
    assert app.text_input[0].label == "Password"


def test_right_password_opens_the_staff_pages(new_app: Callable[..., AppTest], data_dir: Path) -> None:
    app = sign_in(new_app())
    assert [b.label for b in app.sidebar.button] == ["Sign out"]
    app.sidebar.button[0].click().run()
    assert app.text_input[0].label == "Password"


def test_a_generated_password_is_saved_for_the_owner(new_app: Callable[..., AppTest], data_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMOTION_AB_PASSWORD")
    app = new_app()
    app.run()
    saved = data_dir / "admin_password.txt"
    assert saved.is_file() and oct(saved.stat().st_mode & 0o777) == "0o600"
    assert "generated" in app.info[0].value
    sign_in(app, saved.read_text().strip())
    assert [b.label for b in app.sidebar.button] == ["Sign out"]


@pytest.mark.parametrize("configured_in", ["secrets", "environment"])
def test_a_configured_password_overrides_an_old_generated_one(new_app: Callable[..., AppTest], data_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              configured_in: str) -> None:
    # A password generated on an earlier start is still on disk; the configured one is in force,
    # so the page must not point staff to the file, whose password no longer opens the app.
    (data_dir / "admin_password.txt").write_text("old-generated\n")
    app = new_app()
    if configured_in == "secrets":
        monkeypatch.delenv("EMOTION_AB_PASSWORD")
        app.secrets["app_password"] = "from-config"
    else:
        monkeypatch.setenv("EMOTION_AB_PASSWORD", "from-config")
    app.run()
    assert not app.exception, app.exception
    assert not [i.value for i in app.info if "generated" in i.value]
    assert sign_in(app, "old-generated").error[0].value == "Wrong password."
    sign_in(app, "from-config")
    assert [b.label for b in app.sidebar.button] == ["Sign out"]


def test_a_participant_link_never_shows_staff_pages(new_app: Callable[..., AppTest]) -> None:
    app = new_app(c="no-such-token")
    app.run()
    assert not app.exception, app.exception
    assert not app.text_input or app.text_input[0].label != "Password"
    assert not app.sidebar.button


@pytest.mark.parametrize("query", [{}, {"c": "no-such-token"}])
def test_a_bad_setting_stops_every_page_with_its_reason(new_app: Callable[..., AppTest],
                                                        monkeypatch: pytest.MonkeyPatch, query: dict[str, str]) -> None:
    monkeypatch.setenv("EMOTION_AB_PUBLIC_URL", "ads.example.org")
    app = new_app(**query)
    app.run()
    assert not app.exception, app.exception
    assert "EMOTION_AB_PUBLIC_URL must be an http:// or https:// address" in app.error[0].value
    assert not app.text_input and not app.sidebar.button
