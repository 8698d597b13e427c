"""Staff accounts and sessions in a real (in-memory) DuckDB store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from campaigns.errors import CampaignError
from campaigns.store import Store
from campaigns.store.staff_repo import secret_hash


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open() as db:
        yield db


def test_names_are_checked_and_unique_whatever_their_case(store: Store) -> None:
    user = store.add_staff_user("Ana.Lyst@Example", "analyst", "hash-1")
    assert (user.username, user.role, user.disabled, user.last_sign_in) == ("ana.lyst@example", "analyst", False, None)
    with pytest.raises(CampaignError, match="already a staff account"):
        store.add_staff_user("ANA.LYST@example", "marketer", "hash-2")
    for bad in ("", "a" * 65, "ana lyst", "ana/../x", "ana;drop"):
        with pytest.raises(CampaignError, match="1 to 64 characters"):
            store.add_staff_user(bad, "analyst", "hash")
    with pytest.raises(CampaignError, match="role must be one of admin, marketer, analyst"):
        store.add_staff_user("bob", "owner", "hash")
    assert store.staff_user("ANA.lyst@example") == user
    assert [u.username for u in store.staff_users()] == ["ana.lyst@example"]


def test_role_password_and_disabling(store: Store) -> None:
    store.add_staff_user("root", "admin", "h0")
    store.add_staff_user("mark", "marketer", "h1")
    assert store.set_staff_role("Mark", "analyst").role == "analyst"
    store.set_staff_password_hash("mark", "h2")
    assert store.staff_password_hash("mark") == "h2"
    assert store.set_staff_disabled("mark", True).disabled
    assert store.staff_password_hash("mark") is None  # a disabled account cannot sign in
    assert not store.set_staff_disabled("mark", False).disabled
    with pytest.raises(CampaignError, match="no staff account named 'nobody'"):
        store.set_staff_role("nobody", "admin")


def test_the_last_enabled_admin_stays_an_enabled_admin(store: Store) -> None:
    store.add_staff_user("root", "admin", "h")
    with pytest.raises(CampaignError, match="only enabled admin"):
        store.set_staff_disabled("root", True)
    with pytest.raises(CampaignError, match="only enabled admin"):
        store.set_staff_role("root", "marketer")
    store.add_staff_user("second", "admin", "h")
    store.set_staff_role("root", "marketer")
    assert store.staff_user("root").role == "marketer"  # type: ignore[union-attr]


def test_only_a_hash_of_the_session_secret_is_stored(store: Store) -> None:
    store.add_staff_user("ana", "analyst", "h")
    secret = store.create_staff_session("ana")
    rows = store._cursor().execute("SELECT secret_hash, username FROM staff_sessions").fetchall()
    assert rows == [(secret_hash(secret), "ana")]
    assert secret not in repr(rows)
    assert store.staff_session_user(secret).username == "ana"  # type: ignore[union-attr]
    assert store.staff_session_user(secret + "x") is None
    assert store.staff_session_user("") is None


def test_sessions_expire_when_idle_and_end_on_request(store: Store) -> None:
    store.add_staff_user("ana", "analyst", "h")
    idle, busy, other = (store.create_staff_session("ana") for _ in range(3))
    cur = store._cursor()
    cur.execute("UPDATE staff_sessions SET last_seen = last_seen - INTERVAL 9 HOUR WHERE secret_hash = ?",
                [secret_hash(idle)])
    assert store.staff_session_user(idle) is None  # 9 h idle: over (default 8 h), and deleted
    assert cur.execute("SELECT count(*) FROM staff_sessions").fetchone() == (2,)
    assert store.staff_session_user(busy, idle=timedelta(hours=8)) is not None
    store.delete_staff_session(busy)
    assert store.staff_session_user(busy) is None
    assert store.delete_staff_sessions("ANA") == 1
    assert store.staff_session_user(other) is None


def test_seeing_a_session_keeps_it_alive(store: Store) -> None:
    store.add_staff_user("ana", "analyst", "h")
    secret = store.create_staff_session("ana")
    cur = store._cursor()
    cur.execute("UPDATE staff_sessions SET last_seen = last_seen - INTERVAL 7 HOUR")
    assert store.staff_session_user(secret) is not None
    row = cur.execute("SELECT now()::TIMESTAMP - last_seen < INTERVAL 1 HOUR FROM staff_sessions").fetchone()
    assert row == (True,)


def test_expire_sessions_deletes_the_idle_ones(store: Store) -> None:
    store.add_staff_user("ana", "analyst", "h")
    store.create_staff_session("ana")
    keep = store.create_staff_session("ana")
    store._cursor().execute("UPDATE staff_sessions SET last_seen = last_seen - INTERVAL 1 DAY "
                            "WHERE secret_hash <> ?", [secret_hash(keep)])
    assert store.expire_staff_sessions() == 1
    assert store.staff_session_user(keep) is not None


def test_disabling_or_a_new_password_ends_every_session(store: Store) -> None:
    store.add_staff_user("root", "admin", "h")
    store.add_staff_user("ana", "analyst", "h")
    first = store.create_staff_session("ana")
    store.set_staff_password_hash("ana", "h2")
    assert store.staff_session_user(first) is None
    second = store.create_staff_session("ana")
    store.set_staff_password_hash("ana", "h3", end_sessions=False)  # an upgraded hash, same password
    assert store.staff_session_user(second) is not None
    store.set_staff_disabled("ana", True)
    assert store.staff_session_user(second) is None
    with pytest.raises(CampaignError, match="disabled"):
        store.create_staff_session("ana")
