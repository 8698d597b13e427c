"""Who sees which page: the sign-in for staff (by role once signed in), the participate page only
through a campaign link. The cookie itself is exercised in a real browser (tests/e2e)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_state import STAFF_TOKEN
from tests.app.conftest import PASSWORD, sign_in
from tests.app.staff import app_store, sign_in_form, sign_in_target

OTHER_PASSWORD = "another-long-password"


def sidebar_buttons(app: AppTest) -> list[str]:
    return [b.label for b in app.sidebar.button]


def test_staff_pages_need_a_login(new_app: Callable[..., AppTest]) -> None:
    app = new_app()
    app.run()
    assert not app.exception, app.exception
    form = sign_in_form(app)
    assert form is not None and 'name="username"' in form and 'type="password"' in form
    assert sign_in_target(app) == "/"
    assert "Sign out" not in sidebar_buttons(app)


def test_the_sign_in_keeps_the_address_asked_for(new_app: Callable[..., AppTest]) -> None:
    # After a refused attempt the route sends the visitor back with the page they asked for in ``next``
    # (a deep link itself is followed in a real browser: tests/e2e/test_staff_sign_in.py).
    app = new_app(next="/results?campaign=3", error="wrong")
    app.run()
    assert sign_in_target(app) == "/results?campaign=3"
    assert app.error[0].value == "Wrong username or password."


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "/\\evil.example", "/auth/sign-out"])
def test_the_sign_in_never_sends_a_visitor_off_the_site(new_app: Callable[..., AppTest], target: str) -> None:
    app = new_app(next=target)
    app.run()
    assert sign_in_target(app) == "/"


def test_wrong_password_is_refused(new_app: Callable[..., AppTest]) -> None:
    app = sign_in(new_app(), "not it")
    assert app.error[0].value == "Wrong username or password."
    assert sign_in_form(app) is not None
    assert "Sign out" not in sidebar_buttons(app)


def test_a_throttled_sign_in_says_how_long_to_wait(new_app: Callable[..., AppTest]) -> None:
    app = new_app(error="throttled", wait="8")
    app.run()
    assert app.error[0].value == "Too many attempts: try again in 8 s."


def test_an_error_code_cannot_inject_a_message(new_app: Callable[..., AppTest]) -> None:
    app = new_app(error="Your account is locked, call +1 555")
    app.run()
    assert not app.error


def test_right_password_opens_the_staff_pages_and_sign_out_ends_the_session(
        new_app: Callable[..., AppTest]) -> None:
    app = sign_in(new_app())
    assert sidebar_buttons(app) == ["Sign out"]
    assert "Signed in as admin (admin)" in [c.value for c in app.sidebar.caption]
    token = app.session_state[STAFF_TOKEN]
    app.sidebar.button[0].click().run()
    assert sign_in_form(app) is not None
    # The session is gone on the server: the old token opens nothing any more.
    app.session_state[STAFF_TOKEN] = token
    app.run()
    assert sign_in_form(app) is not None
    assert [e.action for e in app_store().audit_entries()][:2] == ["sign_out", "sign_in"]


def test_pages_follow_the_role(new_app: Callable[..., AppTest]) -> None:
    admin = sign_in(new_app())
    admin.switch_page("pages/admin.py").run()
    assert not admin.exception, admin.exception
    assert admin.title[0].value == "Users & audit"

    analyst = sign_in(new_app(), OTHER_PASSWORD, username="ana", role="analyst")
    assert "Signed in as ana (analyst)" in [c.value for c in analyst.sidebar.caption]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        analyst.switch_page("pages/admin.py")
    analyst.switch_page("pages/results.py").run()
    assert not analyst.exception, analyst.exception


def test_a_disabled_account_is_signed_out_at_once(new_app: Callable[..., AppTest]) -> None:
    app = sign_in(new_app(), OTHER_PASSWORD, username="mark", role="marketer")
    assert sidebar_buttons(app) == ["Sign out"]
    app_store().set_staff_disabled("mark", True)
    app.run()
    assert sign_in_form(app) is not None


def test_a_generated_password_is_saved_for_the_owner(new_app: Callable[..., AppTest], data_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMOTION_AB_PASSWORD")
    app = new_app()
    app.run()
    saved = data_dir / "admin_password.txt"
    assert saved.is_file() and oct(saved.stat().st_mode & 0o777) == "0o600"
    assert "generated" in app.info[0].value
    assert 'value="admin"' in (sign_in_form(app) or "")  # a fresh install's one account is filled in
    sign_in(app, saved.read_text().strip())
    assert sidebar_buttons(app) == ["Sign out"]


@pytest.mark.parametrize("configured_in", ["secrets", "environment"])
def test_a_configured_password_overrides_an_old_generated_one(new_app: Callable[..., AppTest], data_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              configured_in: str) -> None:
    # A password generated by an older version is still on disk; the configured one is the first
    # admin's, so the page must not point staff to the file, whose password opens nothing.
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
    assert sign_in(app, "old-generated").error[0].value == "Wrong username or password."
    sign_in(app, "from-config")
    assert sidebar_buttons(app) == ["Sign out"]


def test_a_participant_link_never_shows_staff_pages(new_app: Callable[..., AppTest]) -> None:
    app = new_app(c="no-such-token")
    app.run()
    assert not app.exception, app.exception
    assert sign_in_form(app) is None
    assert not app.sidebar.button


def test_a_participant_link_stays_a_participant_link_for_signed_in_staff(new_app: Callable[..., AppTest]) -> None:
    app = sign_in(new_app())
    app.query_params["c"] = "no-such-token"
    app.run()
    assert not app.exception, app.exception
    assert not app.sidebar.button


@pytest.mark.parametrize("query", [{}, {"c": "no-such-token"}])
def test_a_bad_setting_stops_every_page_with_its_reason(new_app: Callable[..., AppTest],
                                                        monkeypatch: pytest.MonkeyPatch, query: dict[str, str]) -> None:
    monkeypatch.setenv("EMOTION_AB_PUBLIC_URL", "ads.example.org")
    app = new_app(**query)
    app.run()
    assert not app.exception, app.exception
    assert "EMOTION_AB_PUBLIC_URL must be an http:// or https:// address" in app.error[0].value
    assert not app.text_input and not app.sidebar.button and sign_in_form(app) is None


def test_the_configured_password_is_the_first_admins(new_app: Callable[..., AppTest]) -> None:
    sign_in(new_app(), PASSWORD)
    assert app_store().staff_user("admin") is not None
    assert app_store().staff_user("admin").role == "admin"  # type: ignore[union-attr]


def test_the_admin_page_adds_a_user_and_shows_the_audit_log(new_app: Callable[..., AppTest]) -> None:
    app = sign_in(new_app())
    app.switch_page("pages/admin.py").run()
    [name, password] = [t for t in app.text_input if t.label in ("Username", "Initial password")]
    name.input("Ana")
    password.input(OTHER_PASSWORD)
    next(b for b in app.button if b.label == "Add user").click().run()
    assert not app.exception, app.exception
    assert "Added ana." in [s.value for s in app.success]
    assert app_store().staff_user("ana").role == "marketer"  # type: ignore[union-attr]
    log = app.dataframe[-1].value
    assert list(log["action"][:2]) == ["add_user", "sign_in"] and log["detail"][0] == "ana, role marketer"
