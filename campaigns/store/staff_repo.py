"""The staff repository: named staff accounts and their server-side sign-in sessions.

Passwords arrive here already hashed (``accounts.passwords``): the store never
sees one. A session is a random secret held by the browser (in a signed
cookie); only its SHA-256 is stored, so a copy of the database file signs no
one in. A session ends when it is deleted (sign-out, a password reset, the
account disabled) or when it has been idle longer than the idle limit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from accounts.roles import ROLES
from campaigns.errors import CampaignError
from campaigns.inputs import now
from campaigns.store.database import Database

#: A session idle longer than this is over (sign in again).
SESSION_IDLE = timedelta(hours=8)
#: ``last_seen`` is written at most this often per session: a page run reads, it need not write.
_TOUCH_EVERY = timedelta(minutes=1)
_USERNAME = re.compile(r"[a-z0-9._@-]{1,64}")
_USER_COLUMNS = "username, role, disabled, created_at, last_sign_in"


@dataclass(frozen=True)
class StaffUser:
    """One staff account, without its password hash."""

    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_sign_in: datetime | None


def clean_username(username: object) -> str:
    """The stored (lower-case) form of a username; CampaignError unless it is 1-64 letters, digits or ``._-@``."""
    if not isinstance(username, str):
        raise CampaignError(f"a username must be a text, got {type(username).__name__}")
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise CampaignError("a username has 1 to 64 characters: letters, digits, '.', '_', '-' or '@'; "
                            f"got {username!r}")
    return name


def clean_role(role: object) -> str:
    if role not in ROLES:
        raise CampaignError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return str(role)


def secret_hash(secret: str) -> str:
    """What is stored of a session secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: tuple) -> StaffUser:
    return StaffUser(str(row[0]), str(row[1]), bool(row[2]), row[3], row[4])


class StaffRepo:
    """Staff accounts (add, change role or password, disable) and their sessions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- accounts ---------------------------------------------------------------

    def add(self, username: str, role: str, password_hash: str) -> StaffUser:
        """Add an enabled account; CampaignError when the name is taken (names ignore case)."""
        name, chosen = clean_username(username), clean_role(role)
        if not isinstance(password_hash, str) or not password_hash:
            raise CampaignError("a staff account needs a password hash")
        with self._db.write() as cur:
            if self._find(cur, name) is not None:
                raise CampaignError(f"there is already a staff account named {name!r}")
            cur.execute("INSERT INTO staff_users (username, role, password_hash, disabled, created_at) "
                        "VALUES (?, ?, ?, false, ?)", [name, chosen, password_hash, now()])
            user = self._find(cur, name)
        assert user is not None
        return user

    def get(self, username: str) -> StaffUser | None:
        """The account named ``username`` (any case), or None."""
        try:
            name = clean_username(username)
        except CampaignError:
            return None
        with self._db.read() as cur:
            return self._find(cur, name)

    def users(self) -> list[StaffUser]:
        """Every account, by name."""
        with self._db.read() as cur:
            rows = cur.execute(f"SELECT {_USER_COLUMNS} FROM staff_users ORDER BY username").fetchall()  # noqa: S608
        return [_user(row) for row in rows]

    def count(self) -> int:
        with self._db.read() as cur:
            row = cur.execute("SELECT count(*) FROM staff_users").fetchone()
        return int(row[0]) if row else 0

    def password_hash(self, username: str) -> str | None:
        """The stored hash of an enabled account, for the caller to verify; None for an unknown or
        disabled one."""
        try:
            name = clean_username(username)
        except CampaignError:
            return None
        with self._db.read() as cur:
            row = cur.execute("SELECT password_hash FROM staff_users WHERE username = ? AND NOT disabled",
                              [name]).fetchone()
        return str(row[0]) if row else None

    def set_role(self, username: str, role: str) -> StaffUser:
        chosen = clean_role(role)
        with self._db.write() as cur:
            user = self._existing(cur, username)
            if user.role == "admin" and chosen != "admin":
                self._keep_an_admin(cur, user.username, "change the role of")
            cur.execute("UPDATE staff_users SET role = ? WHERE username = ?", [chosen, user.username])
            changed = self._find(cur, user.username)
        assert changed is not None
        return changed

    def set_password_hash(self, username: str, password_hash: str, *, end_sessions: bool = True) -> None:
        """Replace the password hash; by default every session of the account ends with the old password."""
        if not isinstance(password_hash, str) or not password_hash:
            raise CampaignError("a staff account needs a password hash")
        with self._db.write() as cur:
            user = self._existing(cur, username)
            cur.execute("UPDATE staff_users SET password_hash = ? WHERE username = ?", [password_hash, user.username])
            if end_sessions:
                cur.execute("DELETE FROM staff_sessions WHERE username = ?", [user.username])

    def set_disabled(self, username: str, disabled: bool) -> StaffUser:
        """Disable (ending every session) or enable an account; the last enabled admin stays enabled."""
        with self._db.write() as cur:
            user = self._existing(cur, username)
            if disabled and user.role == "admin" and not user.disabled:
                self._keep_an_admin(cur, user.username, "disable")
            cur.execute("UPDATE staff_users SET disabled = ? WHERE username = ?", [bool(disabled), user.username])
            if disabled:
                cur.execute("DELETE FROM staff_sessions WHERE username = ?", [user.username])
            changed = self._find(cur, user.username)
        assert changed is not None
        return changed

    def record_sign_in(self, username: str) -> None:
        with self._db.write() as cur:
            user = self._existing(cur, username)
            cur.execute("UPDATE staff_users SET last_sign_in = ? WHERE username = ?", [now(), user.username])

    # -- sessions -----------------------------------------------------------------

    def create_session(self, username: str) -> str:
        """Start a session for an enabled account; returns its secret (only its hash is stored)."""
        secret = secrets.token_urlsafe(32)
        with self._db.write() as cur:
            user = self._existing(cur, username)
            if user.disabled:
                raise CampaignError(f"the staff account {user.username!r} is disabled")
            stamp = now()
            cur.execute("INSERT INTO staff_sessions VALUES (?, ?, ?, ?)",
                        [secret_hash(secret), user.username, stamp, stamp])
        return secret

    def session_user(self, secret: str, idle: timedelta = SESSION_IDLE) -> StaffUser | None:
        """The enabled account of a live session, marking it seen; None (and the session deleted
        when it has expired) otherwise."""
        if not isinstance(secret, str) or not secret:
            return None
        key = secret_hash(secret)
        with self._db.read() as cur:
            row = cur.execute("SELECT username, last_seen FROM staff_sessions WHERE secret_hash = ?",
                              [key]).fetchone()
            user = self._find(cur, str(row[0])) if row else None
        if row is None or user is None or user.disabled:
            return None
        stamp = now()
        if stamp - row[1] > idle:
            self.delete_session(secret)
            return None
        if stamp - row[1] > _TOUCH_EVERY:
            with self._db.write() as cur:
                cur.execute("UPDATE staff_sessions SET last_seen = ? WHERE secret_hash = ?", [stamp, key])
        return user

    def delete_session(self, secret: str) -> None:
        with self._db.write() as cur:
            cur.execute("DELETE FROM staff_sessions WHERE secret_hash = ?", [secret_hash(secret)])

    def delete_sessions(self, username: str) -> int:
        """End every session of an account; returns how many there were."""
        name = clean_username(username)
        with self._db.write() as cur:
            return len(cur.execute("DELETE FROM staff_sessions WHERE username = ? RETURNING 1", [name]).fetchall())

    def expire_sessions(self, idle: timedelta = SESSION_IDLE) -> int:
        """Delete every session idle longer than ``idle``; returns how many."""
        with self._db.write() as cur:
            return len(cur.execute("DELETE FROM staff_sessions WHERE last_seen < ? RETURNING 1",
                                   [now() - idle]).fetchall())

    # -- helpers ------------------------------------------------------------------

    @staticmethod
    def _find(cur: duckdb.DuckDBPyConnection, name: str) -> StaffUser | None:
        row = cur.execute(f"SELECT {_USER_COLUMNS} FROM staff_users WHERE username = ?", [name]).fetchone()  # noqa: S608
        return _user(row) if row else None

    def _existing(self, cur: duckdb.DuckDBPyConnection, username: str) -> StaffUser:
        name = clean_username(username)
        user = self._find(cur, name)
        if user is None:
            raise CampaignError(f"there is no staff account named {name!r}")
        return user

    @staticmethod
    def _keep_an_admin(cur: duckdb.DuckDBPyConnection, name: str, what: str) -> None:
        row = cur.execute("SELECT count(*) FROM staff_users WHERE role = 'admin' AND NOT disabled AND username <> ?",
                          [name]).fetchone()
        if not row or not row[0]:
            raise CampaignError(f"cannot {what} {name!r}: it is the only enabled admin account")
