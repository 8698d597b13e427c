"""The staff session cookie: a session secret signed with the server's key (itsdangerous).

The signature lets a request with a forged or altered cookie be turned away
without a database read; the secret inside names a server-side session (the
store keeps only its hash), which idles out, ends at sign-out and can be
ended by an admin. The key is made once per data folder, owner-only.
"""

from __future__ import annotations

import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from campaigns.store.database import private_folder

COOKIE_NAME = "emotion_ab_session"
KEY_FILE = "session_key"
#: However active, a session's cookie is refused this long after sign-in.
MAX_AGE_S = 7 * 24 * 3600
_SALT = "emotion-ab staff session"


def session_key(data_dir: Path) -> str:
    """The cookie-signing key of this data folder, made on first use (``<data>/session_key``, 0600)."""
    path = data_dir / KEY_FILE
    private_folder(data_dir)  # 0700, like the database beside it
    try:
        # Created owner-only in one step: there is no moment the key is readable by others.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty; delete it to have a new key made (everyone signs in again)") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_SALT)


def sign(secret: str, key: str) -> str:
    """The cookie value for a session secret."""
    return _serializer(key).dumps(secret)


def unsign(value: str | None, key: str, max_age_s: int = MAX_AGE_S) -> str | None:
    """The session secret in a cookie value, or None when it is missing, forged or too old."""
    if not value:
        return None
    try:
        secret = _serializer(key).loads(value, max_age=max_age_s)
    except BadSignature:  # SignatureExpired is one too
        return None
    return secret if isinstance(secret, str) and secret else None


def cookie_from_header(header: str | None) -> str | None:
    """The session cookie's value in a ``Cookie`` request header, or None."""
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed header is a missing cookie
        return None
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel is not None else None


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site (``/results?x=1``), else ``default``.

    Anything that could leave the site is refused: ``//host``, ``/\\host``,
    ``http://...``, control characters; so are the sign-in routes themselves.
    """
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 32 or ch == "\\" for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/auth/", "/_stcore/")):
        return default
    return value
