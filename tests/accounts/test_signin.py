"""The first admin, sign-in through the throttle, cookies and sign-out, over a real store."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts import cookies, signin
from accounts.passwords import hash_password
from accounts.throttle import Throttle
from campaigns.store import Store

KEY = "test-key"


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open() as db:
        yield db


def test_the_first_admin_gets_the_configured_password(store: Store, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert signin.ensure_first_admin(store, tmp_path, "configured-secret")
    assert not signin.ensure_first_admin(store, tmp_path, "configured-secret")  # once only
    assert store.staff_user("admin").role == "admin"  # type: ignore[union-attr]
    assert signin.sign_in(store, KEY, "admin", "configured-secret", "c", Throttle()).staff is not None
    assert "configured-secret" not in capsys.readouterr().out
    assert not (tmp_path / signin.PASSWORD_FILE).exists()


def test_a_generated_first_password_is_saved_owner_only_and_printed_not_logged(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    old_umask = os.umask(0)  # the file's mode comes from its creation, not from the umask or a chmod
    try:
        with caplog.at_level("DEBUG"):
            assert signin.ensure_first_admin(store, tmp_path, None)
    finally:
        os.umask(old_umask)
    path = tmp_path / signin.PASSWORD_FILE
    password = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password in capsys.readouterr().out
    assert password not in caplog.text
    assert signin.sign_in(store, KEY, "admin", password, "c", Throttle()).staff is not None


def test_a_password_file_from_an_older_start_is_kept(store: Store, tmp_path: Path) -> None:
    (tmp_path / signin.PASSWORD_FILE).write_text("left-from-before\n")
    signin.ensure_first_admin(store, tmp_path, None, announce=lambda _: None)
    assert signin.sign_in(store, KEY, "admin", "left-from-before", "c", Throttle()).staff is not None


def test_sign_in_resolve_and_sign_out(store: Store) -> None:
    store.add_staff_user("ana", "analyst", hash_password("a long password"))
    result = signin.sign_in(store, KEY, "ANA", "a long password", "192.0.2.1", Throttle())
    assert result.staff is not None and (result.staff.username, result.staff.role) == ("ana", "analyst")
    assert signin.resolve(store, KEY, result.cookie) == result.staff
    assert signin.resolve(store, "another key", result.cookie) is None  # a cookie from elsewhere
    assert signin.resolve(store, KEY, (result.cookie or "") + "x") is None
    assert store.staff_user("ana").last_sign_in is not None  # type: ignore[union-attr]
    assert signin.sign_out(store, KEY, result.cookie) == result.staff
    assert signin.resolve(store, KEY, result.cookie) is None
    assert [e.action for e in store.audit_entries()] == ["sign_out", "sign_in"]


def test_unknown_disabled_and_wrong_all_get_the_same_answer(store: Store) -> None:
    store.add_staff_user("root", "admin", hash_password("root password!"))
    store.add_staff_user("gone", "marketer", hash_password("gone password!"))
    store.set_staff_disabled("gone", True)
    throttle = Throttle()
    answers = {signin.sign_in(store, KEY, name, password, f"c{n}", throttle).message
               for n, (name, password) in enumerate([("root", "nope"), ("nobody", "nope"),
                                                     ("gone", "gone password!"), ("", "")])}
    assert answers == {"Wrong username or password."}


def test_a_throttled_sign_in_does_not_check_the_password(store: Store) -> None:
    store.add_staff_user("root", "admin", hash_password("root password!"))
    throttle = Throttle()
    for _ in range(3):
        signin.sign_in(store, KEY, "root", "guess", "203.0.113.1", throttle)
    refused = signin.sign_in(store, KEY, "root", "root password!", "203.0.113.1", throttle)
    assert (refused.staff, refused.error, refused.wait_s) == (None, "throttled", 1)
    assert refused.message == "Too many attempts: try again in 1 s."


def test_an_old_hash_is_upgraded_at_sign_in(store: Store) -> None:
    from argon2 import PasswordHasher

    store.add_staff_user("root", "admin", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw pw pw pw"))
    assert signin.sign_in(store, KEY, "root", "pw pw pw pw", "c", Throttle()).staff is not None
    assert store.staff_password_hash("root").startswith("$argon2id$v=19$m=65536")  # type: ignore[union-attr]


def test_the_cookie_key_is_made_once_owner_only(tmp_path: Path) -> None:
    key = cookies.session_key(tmp_path)
    assert cookies.session_key(tmp_path) == key and len(key) >= 48
    assert stat.S_IMODE((tmp_path / cookies.KEY_FILE).stat().st_mode) == 0o600


def test_a_signed_cookie_is_refused_when_too_old() -> None:
    value = cookies.sign("secret", KEY)
    assert cookies.unsign(value, KEY) == "secret"
    assert cookies.unsign(value, KEY, max_age_s=-1) is None
    assert cookies.unsign(None, KEY) is None


@pytest.mark.parametrize(("target", "expected"), [
    ("/results", "/results"), ("/results?campaign=3", "/results?campaign=3"), ("/", "/"),
    ("//evil.example/x", "/"), ("/\\evil.example", "/"), ("https://evil.example", "/"), ("results", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"), ("/auth/sign-in", "/"), ("/_stcore/health", "/"), (None, "/"), ("", "/"),
])
def test_only_local_paths_are_followed_after_sign_in(target: str | None, expected: str) -> None:
    assert cookies.safe_next(target) == expected


def test_the_cookie_header_is_read_among_others() -> None:
    assert cookies.cookie_from_header(f"a=1; {cookies.COOKIE_NAME}=abc.def; b=2") == "abc.def"
    assert cookies.cookie_from_header("a=1") is None
    assert cookies.cookie_from_header(None) is None
