"""Password hashes: argon2id through argon2-cffi, with its recommended parameters.

A password is never logged or stored; only its hash is. ``needs_rehash`` says when a stored hash
was made with older parameters, so a sign-in can upgrade it.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: The shortest password an admin may give a new or reset account.
MIN_LENGTH = 12


@functools.cache
def _hasher() -> PasswordHasher:
    # One hasher per process: it holds only its parameters, and is thread-safe.
    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash (with its salt and parameters) of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False for a malformed hash too."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than this hasher's."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def check_new_password(password: str) -> str | None:
    """Why ``password`` cannot be given to an account, or None."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    if password.strip() != password:
        return "A password must not start or end with a space."
    return None
