"""What an admin does to staff accounts, each step checked and audited.

Every function takes the acting ``Staff`` (refused with NotAllowed unless
they may ``manage_users``), does one change through the store and appends
one audit entry naming who did it. Bad input raises CampaignError with a
message a page shows as is; a password is hashed here and never kept.
"""

from __future__ import annotations

from accounts.passwords import check_new_password, hash_password
from accounts.roles import Staff, require
from campaigns.errors import CampaignError
from campaigns.store import StaffUser, Store


def _new_password(password: str) -> str:
    problem = check_new_password(password)
    if problem:
        raise CampaignError(problem)
    return hash_password(password)


def add_user(store: Store, by: Staff, username: str, role: str, password: str) -> StaffUser:
    """Add an account with an initial password (at least 12 characters)."""
    require(by.role, "manage_users")
    user = store.add_staff_user(username, role, _new_password(password))
    store.audit(by.username, "add_user", detail=f"{user.username}, role {user.role}")
    return user


def change_role(store: Store, by: Staff, username: str, role: str) -> StaffUser:
    require(by.role, "manage_users")
    before = store.staff_user(username)
    user = store.set_staff_role(username, role)
    store.audit(by.username, "set_role", detail=f"{user.username}: {before.role if before else '?'} -> {user.role}")
    return user


def reset_password(store: Store, by: Staff, username: str, password: str) -> int:
    """Give an account a new password; its sessions end. Returns how many sessions ended."""
    require(by.role, "manage_users")
    hashed = _new_password(password)
    ended = store.delete_staff_sessions(username)
    store.set_staff_password_hash(username, hashed)
    store.audit(by.username, "reset_password", detail=username.strip().lower())
    return ended


def set_disabled(store: Store, by: Staff, username: str, disabled: bool) -> StaffUser:
    """Disable (ending its sessions) or enable an account; no one disables their own."""
    require(by.role, "manage_users")
    if disabled and username.strip().lower() == by.username:
        raise CampaignError("You cannot disable your own account.")
    user = store.set_staff_disabled(username, disabled)
    store.audit(by.username, "disable_user" if disabled else "enable_user", detail=user.username)
    return user
