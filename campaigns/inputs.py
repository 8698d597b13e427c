"""Small input checks and helpers shared by the store's write methods (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from campaigns.errors import CampaignError, SettingsError
from campaigns.types import VARIANTS, Settings


def now() -> datetime:
    """Naive UTC timestamp (DuckDB TIMESTAMP has no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


#: Longest campaign name and description the store takes (the campaign form shows the same limits).
NAME_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 5000


def text(value: Any, what: str, max_len: int, allow_empty: bool = False, *, field: str | None = None) -> str:
    """``value`` if it is a (non-empty) text of at most ``max_len`` characters.

    A refusal reads "<What>: <reason>", so a command-line user knows which input it is, and
    carries ``field`` (the key of the form field it came from, where the caller names one).
    """
    least = 0 if allow_empty else 1
    if not isinstance(value, str):
        reason = f"must be a text of {least}–{max_len} characters, not {type(value).__name__}"
    elif not allow_empty and not value.strip():
        reason = f"cannot be empty (enter 1–{max_len} characters)"
    elif len(value) > max_len:
        reason = f"{len(value)} characters is too long (the most is {max_len})"
    else:
        return value
    raise CampaignError(f"{what[:1].upper()}{what[1:]}: {reason}", field=field, reason=reason)


def variant_name(name: Any) -> str:
    """'A' or 'B', else CampaignError."""
    if name not in VARIANTS:
        raise CampaignError(f"variant must be 'A' or 'B', got {name!r}")
    return str(name)


def as_settings(settings: Settings | Mapping[str, Any] | None) -> Settings:
    """Settings from None (defaults), a Settings object or a mapping of overrides."""
    if settings is None:
        return Settings()
    if isinstance(settings, Settings):
        return settings
    try:
        return Settings(**dict(settings))
    except TypeError as exc:
        raise SettingsError(f"unknown setting in {sorted(settings)}: {exc}") from exc


def clean_answers(answers: Mapping[str, Any] | None) -> dict[str, str]:
    """Segment answers as text, keyed by question; numbers are accepted and stored as text."""
    if answers is None:
        return {}
    if not isinstance(answers, Mapping):
        raise CampaignError(f"segment answers must be a mapping of question to answer, got {answers!r}")
    clean = {}
    for question, answer in answers.items():
        text(question, "segment question", 100)
        if isinstance(answer, bool) or not isinstance(answer, str | int | float):
            raise CampaignError(f"answer to {question!r} must be a text or number, got {answer!r}")
        clean[question] = text(str(answer), f"answer to {question!r}", 500)
    return clean
