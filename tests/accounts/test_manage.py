"""Account management: admins only, checked input, every change audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts import manage, signin
from accounts.passwords import hash_password
from accounts.roles import NotAllowed, Staff
from accounts.throttle import Throttle
from campaigns.errors import CampaignError
from campaigns.store import Store

ROOT = Staff("root", "admin")


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open() as db:
        db.add_staff_user("root", "admin", hash_password("root password!"))
        yield db


def test_an_admin_adds_changes_resets_and_disables(store: Store) -> None:
    manage.add_user(store, ROOT, "Ana", "analyst", "initial password")
    manage.change_role(store, ROOT, "ana", "marketer")
    cookie = signin.sign_in(store, "k", "ana", "initial password", "c", Throttle()).cookie
    assert manage.reset_password(store, ROOT, "ana", "another password") == 1
    assert signin.resolve(store, "k", cookie) is None  # the reset ended the session
    assert signin.sign_in(store, "k", "ana", "another password", "c", Throttle()).staff == Staff("ana", "marketer")
    manage.set_disabled(store, ROOT, "ana", True)
    assert signin.sign_in(store, "k", "ana", "another password", "c2", Throttle()).staff is None
    manage.set_disabled(store, ROOT, "ana", False)
    assert [(e.username, e.action, e.detail) for e in store.audit_entries() if e.username == "root"] == [
        ("root", "enable_user", "ana"), ("root", "disable_user", "ana"), ("root", "reset_password", "ana"),
        ("root", "set_role", "ana: analyst -> marketer"), ("root", "add_user", "ana, role analyst")]
    assert not any("password" in e.detail and "initial" in e.detail for e in store.audit_entries())


def test_short_passwords_and_self_disabling_are_refused(store: Store) -> None:
    with pytest.raises(CampaignError, match="at least 12 characters"):
        manage.add_user(store, ROOT, "ana", "analyst", "short")
    with pytest.raises(CampaignError, match="your own account"):
        manage.set_disabled(store, ROOT, "ROOT", True)
    assert store.staff_user("ana") is None


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_only_admins_manage_accounts(store: Store, role: str) -> None:
    with pytest.raises(NotAllowed, match=rf"Your role \({role}\) cannot manage staff accounts\."):
        manage.add_user(store, Staff("someone", role), "ana", "analyst", "initial password")
    assert store.staff_user("ana") is None
