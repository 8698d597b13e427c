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


def text(value: Any, what: str, max_len: int, allow_empty: bool = False) -> str:
    """``value`` if it is a (non-empty) text of at most ``max_len`` characters."""
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise CampaignError(f"{what} must be a non-empty text, got {value!r}")
    if len(value) > max_len:
        raise CampaignError(f"{what} is {len(value)} characters long, the limit is {max_len}")
    return value


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
