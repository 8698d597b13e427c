"""Who may do what: the roles table, ``may``, ``require`` and its plain refusal."""

from __future__ import annotations

import pytest

from accounts.roles import ACTIONS, PERMISSIONS, ROLES, NotAllowed, Staff, may, require
from campaigns.errors import CampaignError

CAMPAIGN_CHANGES = ("create", "edit", "go_live", "close", "duplicate", "delete")


def test_every_role_has_a_row_and_admins_may_do_everything() -> None:
    assert ROLES == ("admin", "marketer", "analyst")
    assert set(PERMISSIONS) == set(ROLES)
    assert all(may("admin", action) for action in ACTIONS)


@pytest.mark.parametrize("action", CAMPAIGN_CHANGES)
def test_analysts_change_no_campaign(action: str) -> None:
    assert may("marketer", action)
    assert not may("analyst", action)


@pytest.mark.parametrize("action", ["view_results", "view_campaigns", "export", "erase"])
def test_analysts_read_export_and_erase(action: str) -> None:
    assert may("analyst", action)


@pytest.mark.parametrize("action", ["manage_users", "view_audit"])
def test_only_admins_manage_users_and_read_the_audit_log(action: str) -> None:
    assert [role for role in ROLES if may(role, action)] == ["admin"]


def test_marketers_preview_and_export_but_do_not_erase() -> None:
    assert may("marketer", "preview") and may("marketer", "export") and may("marketer", "view_results")
    assert not may("marketer", "erase")


def test_a_refusal_says_so_plainly() -> None:
    with pytest.raises(NotAllowed, match=r"^Your role \(analyst\) cannot delete campaigns\.$") as refused:
        require("analyst", "delete")
    assert isinstance(refused.value, CampaignError)
    require("marketer", "delete")


def test_an_unknown_role_may_do_nothing_and_an_unknown_action_is_a_bug() -> None:
    assert not may("intern", "view_results")
    with pytest.raises(KeyError):
        may("admin", "launch_rockets")


def test_staff_is_frozen_and_asks_its_role() -> None:
    staff = Staff("ana", "analyst")
    assert staff.may("export") and not staff.may("create")
    with pytest.raises(AttributeError):
        staff.role = "admin"  # type: ignore[misc]
