"""Signing staff in and out over the store: the first admin, sign-in, resolving a cookie, sign-out.

Plain functions that receive the store, the cookie key and the throttle, so
the HTTP routes (``accounts.web``), the pages (``app_state``) and the tests
all go through the same checks.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from accounts import cookies
from accounts.passwords import hash_password, needs_rehash, verify_password
from accounts.roles import Staff
from accounts.throttle import Throttle
from campaigns.errors import CampaignError
from campaigns.store import Store
from campaigns.store.database import private_folder
from campaigns.store.staff_repo import SESSION_IDLE

log = logging.getLogger(__name__)

FIRST_ADMIN = "admin"
PASSWORD_FILE = "admin_password.txt"
#: Longer input is refused unchecked: no one types this much, and hashing it costs.
_MAX_PASSWORD = 1024

#: The message for each sign-in error code (codes travel in the login page's URL, messages do not).
MESSAGES: dict[str, str] = {
    "wrong": "Wrong username or password.",
    "throttled": "Too many attempts: try again in {wait} s.",
    "unavailable": "Signing in is not possible right now; please try again later.",
}


@dataclass(frozen=True)
class SignInResult:
    """A sign-in's outcome: the staff member and their cookie value, or an error code (MESSAGES)."""

    staff: Staff | None = None
    cookie: str | None = None
    error: str | None = None
    #: Seconds before the next attempt is allowed (with ``throttled``, or after a failure that started a wait).
    wait_s: int = 0

    @property
    def message(self) -> str:
        return error_message(self.error, self.wait_s)


def error_message(code: str | None, wait_s: int = 0) -> str:
    """What the login page says for an error code; empty for none or an unknown one."""
    if code == "wrong" and wait_s > 0:
        return f"{MESSAGES['wrong']} {MESSAGES['throttled'].format(wait=wait_s)}"
    template = MESSAGES.get(code or "")
    return template.format(wait=max(wait_s, 1)) if template else ""


@functools.cache
def default_throttle() -> Throttle:
    """The server process's one throttle (failures must be counted across all requests)."""
    return Throttle()


@functools.cache
def _decoy_hash() -> str:
    # Checked for an unknown account, so its answer takes as long as a real one's.
    return hash_password(secrets.token_urlsafe(16))


def ensure_first_admin(store: Store, data_dir: Path, configured_password: str | None,
                       announce: Callable[[str], None] = print) -> bool:
    """Create the account ``admin`` (role admin) when there is no staff account yet; True if made.

    Its password is the configured one, else the one in ``<data>/admin_password.txt`` (left by an
    earlier start), else a new one written there owner-only. The password is announced on the
    terminal (``announce``), never logged.
    """
    if store.staff_user_count():
        return False
    password, where = configured_password, "the configured staff password"
    if password is None:
        path = data_dir / PASSWORD_FILE
        password = _read_password_file(path) or _new_password_file(path)
        where = str(path)
        announce(f"\n  Staff account '{FIRST_ADMIN}' (admin) has the password {password}  -- saved in {path}\n")
    try:
        store.add_staff_user(FIRST_ADMIN, "admin", hash_password(password))
    except CampaignError:  # another thread made it first
        return False
    store.audit(FIRST_ADMIN, "add_user", detail="first admin account, role admin")
    log.info("created the first staff account %r (its password is %s)", FIRST_ADMIN,
             "configured" if configured_password is not None else "generated, see the terminal")
    if configured_password is not None:
        announce(f"\n  Staff account '{FIRST_ADMIN}' (admin) signs in with {where}.\n")
    return True


def _read_password_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _new_password_file(path: Path) -> str:
    private_folder(path.parent)  # 0700, like the database beside it
    password = secrets.token_urlsafe(12)
    # Created owner-only in one step, so the password is never readable by others, not even briefly.
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
    return password


def sign_in(store: Store, key: str, username: str, password: str, client: str,
            throttle: Throttle | None = None) -> SignInResult:
    """Check a username and password through the throttle; on success start a session.

    Unknown and disabled accounts get the same answer as a wrong password, after as long a check.
    """
    throttle = throttle or default_throttle()
    name = str(username).strip().lower()[:64]
    wait = throttle.attempt(client, name)
    if wait:
        return SignInResult(error="throttled", wait_s=wait)
    stored = store.staff_password_hash(name) if name else None
    right = (verify_password(stored or _decoy_hash(), password) and stored is not None
             and len(password) <= _MAX_PASSWORD)
    if not right:
        throttle.failed(client, name)
        return SignInResult(error="wrong", wait_s=throttle.wait_s(client, name))
    throttle.succeeded(client, name)
    assert stored is not None
    if needs_rehash(stored):
        store.set_staff_password_hash(name, hash_password(password), end_sessions=False)
    store.record_staff_sign_in(name)
    secret = store.create_staff_session(name)
    user = store.staff_user(name)
    assert user is not None
    store.audit(user.username, "sign_in", detail=f"from {client}")
    return SignInResult(staff=Staff(user.username, user.role), cookie=cookies.sign(secret, key))


def resolve(store: Store, key: str, cookie_value: str | None, idle: timedelta = SESSION_IDLE) -> Staff | None:
    """The staff member a cookie value signs in: a good signature, a live session, an enabled account."""
    secret = cookies.unsign(cookie_value, key)
    if secret is None:
        return None
    user = store.staff_session_user(secret, idle)
    return Staff(user.username, user.role) if user is not None else None


def sign_out(store: Store, key: str, cookie_value: str | None) -> Staff | None:
    """End the session a cookie value names (audited); returns who it was, or None."""
    secret = cookies.unsign(cookie_value, key)
    if secret is None:
        return None
    user = store.staff_session_user(secret)
    store.delete_staff_session(secret)
    if user is None:
        return None
    store.audit(user.username, "sign_out")
    return Staff(user.username, user.role)
