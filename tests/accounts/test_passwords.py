"""Password hashes: argon2id, salted, verified, upgraded when the parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher

from accounts.passwords import check_new_password, hash_password, needs_rehash, verify_password


def test_a_hash_verifies_its_password_only() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("twelve chars!") != hash_password("twelve chars!")


def test_a_malformed_hash_verifies_nothing_and_needs_a_rehash() -> None:
    assert not verify_password("not a hash", "anything")
    assert needs_rehash("not a hash")


def test_a_hash_with_older_parameters_needs_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("a password")
    assert verify_password(weak, "a password")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("a password"))


def test_new_passwords_need_twelve_characters() -> None:
    assert check_new_password("short") == "A password needs at least 12 characters."
    assert check_new_password(" padded password ") is not None
    assert check_new_password("twelve chars") is None
