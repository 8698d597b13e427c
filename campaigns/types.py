"""Domain types of the campaigns package: small frozen dataclasses, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import pandas as pd

from campaigns.errors import SettingsError

# FER2013's seven classes in the classifier's output order. This is only the
# default: the app passes the labels of the model card that scores a campaign,
# and the campaign stores them, so nothing downstream re-types this list.
DEFAULT_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Valence groups from the design; only labels a campaign actually has count.
POSITIVE_LABELS: frozenset[str] = frozenset({"happy"})
NEGATIVE_LABELS: frozenset[str] = frozenset({"angry", "disgust", "fear", "sad"})

VARIANTS: tuple[str, str] = ("A", "B")
ORDERS: tuple[str, str] = ("AB", "BA")
CAMPAIGN_STATUSES: tuple[str, ...] = ("draft", "live", "closed")
PARTICIPANT_STATUSES: tuple[str, ...] = ("started", "complete", "abandoned")
MEDIA_KINDS: tuple[str, str] = ("image", "video")


class Verdict(StrEnum):
    """Outcome of a paired A-vs-B comparison, worded for the Results page."""

    A_AHEAD = "A ahead"
    B_AHEAD = "B ahead"
    NO_CLEAR_DIFFERENCE = "no clear difference"
    NOT_ENOUGH_DATA = "not enough data"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class SettingRange:
    """The values a numeric setting allows (both ends included) and the unit it counts in."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False

    def span(self) -> str:
        """``0.1–60``, ``2–100,000``: the range as a form shows it."""
        return f"{self.low:,g}–{self.high:,g}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused, in plain words (None when it is allowed)."""
        kind = "a whole number" if self.integer else "a number"
        unit = f" {self.unit}" if self.unit else ""
        whole = isinstance(value, int) and not isinstance(value, bool)
        if _is_number(value) and (whole or not self.integer) and self.low <= value <= self.high:
            return None
        shown = f"{value:g}" if _is_number(value) else repr(value)
        return f"must be {kind} from {self.low:,g} to {self.high:,g}{unit}, not {shown}"


#: Ranges of the numeric settings (the design's "Campaign settings" table), declared once: the
#: store checks them and the campaign form shows them.
SETTING_RANGES: Mapping[str, SettingRange] = MappingProxyType({
    "interval_s": SettingRange(0.1, 60.0, "seconds"),
    "exposure_s": SettingRange(1.0, 600.0, "seconds"),
    "confidence_threshold": SettingRange(0.0, 1.0),
    "rating_scale": SettingRange(2, 11, "points", integer=True),
    "min_participants": SettingRange(2, 100_000, integer=True),
    "min_face_rate": SettingRange(0.0, 1.0),
    "valence_weight": SettingRange(0.0, 1.0),
})


def setting_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be setting ``name``, in plain words (None when it can)."""
    if name in SETTING_RANGES:
        return SETTING_RANGES[name].problem(value)
    if name == "rating_question":
        return None if isinstance(value, str) and value.strip() else "cannot be empty"
    if name == "keep_face_crops":
        return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
    return f"is not a setting (the settings: {', '.join(f.name for f in fields(Settings))})"


def check_setting(name: str, value: Any) -> None:
    """SettingsError naming setting ``name`` when ``value`` is not allowed for it."""
    reason = setting_problem(name, value)
    if reason is not None:
        raise SettingsError(f"setting {name}: {reason}", field=name, reason=reason)


@dataclass(frozen=True)
class Settings:
    """Campaign settings with the design's defaults; validated on creation."""

    interval_s: float = 1.0
    exposure_s: float = 15.0
    confidence_threshold: float = 0.6
    rating_scale: int = 5
    rating_question: str = "How did this ad make you feel?"
    min_participants: int = 10
    min_face_rate: float = 0.5
    valence_weight: float = 0.5
    keep_face_crops: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            check_setting(f.name, getattr(self, f.name))

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of the settings (for JSON and the store)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_labels(labels: Any) -> tuple[str, ...]:
    """Return labels as a tuple, or raise SettingsError if they cannot score a campaign."""
    if isinstance(labels, str) or not all(isinstance(x, str) and x.strip() for x in labels):
        raise SettingsError(f"labels must be a list of non-empty names, got {labels!r}")
    result = tuple(labels)
    if len(result) < 2 or len(set(result)) != len(result):
        raise SettingsError(f"labels must be at least two distinct names, got {list(result)}")
    return result


@dataclass(frozen=True)
class Campaign:
    """A stored campaign: identity, status, labels of its model, settings."""

    id: int
    name: str
    description: str
    status: str
    token: str
    labels: tuple[str, ...]
    settings: Settings
    created_at: datetime


@dataclass(frozen=True)
class Variant:
    """An ad variant's metadata; the media bytes are fetched separately."""

    campaign_id: int
    name: str
    kind: str
    mime: str
    filename: str | None
    size_bytes: int
    duration_s: float | None
    width: int | None
    height: int | None
    sha256: str


@dataclass(frozen=True)
class Participant:
    """A pseudonymous participant of one campaign."""

    id: str
    campaign_id: int
    seq: int
    consent_version: str
    consented_at: datetime
    order: str
    status: str
    crop_consent: bool
    answers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SnapshotRow:
    """One sampled frame's result, as the inference worker produces it.

    ``probabilities`` is aligned with the campaign's labels and is None when no
    face was found. Top label and probability are derived by the store.
    """

    participant_id: str
    variant: str
    offset_ms: int
    face_found: bool
    probabilities: tuple[float, ...] | None
    model_id: str
    face_ratio: float | None = None
    brightness: float | None = None
    sharpness: float | None = None


@dataclass(frozen=True)
class VariantSummary:
    """Per-variant metrics at one confidence threshold (design definitions)."""

    variant: str
    participants: int
    snapshots: int
    face_rate: float
    confident_rate: float
    ratios: Mapping[str, float]
    shares: Mapping[str, float]
    valence: float
    feedback_n: int
    feedback_raw: float
    feedback_centred: float
    combined_score: float
    excluded: int


@dataclass(frozen=True)
class Comparison:
    """Paired A-minus-B comparison of one metric over participants.

    ``verdict`` is a :class:`Verdict` value (the order effect words it as
    "first ahead"/"second ahead"). When a statistic cannot be computed its
    field is NaN and ``reason`` says why.
    """

    metric: str
    n: int
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    verdict: str
    reason: str | None = None


@dataclass(frozen=True)
class OrderBalance:
    """Counts of A-B and B-A participants and the first-minus-second effect."""

    ab: int
    ba: int
    p_value: float
    order_effect: Mapping[str, Comparison]


@dataclass(frozen=True, eq=False)
class CampaignData:
    """Everything analysis needs about one campaign at one threshold.

    ``counts`` has one row per participant and variant (snapshots, faces,
    confident, ``n_<label>`` confident counts, mean quality); ``seconds`` the
    same per second since onset; ``feedback`` one row per rating;
    ``participants`` one row per participant; ``answers`` one row per answer.
    """

    campaign: Campaign
    threshold: float
    counts: pd.DataFrame
    seconds: pd.DataFrame
    feedback: pd.DataFrame
    participants: pd.DataFrame
    answers: pd.DataFrame


def count_column(label: str) -> str:
    """Name of the confident-count column of ``label`` in CampaignData frames."""
    return f"n_{label}"


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything the Results page and the reports show for one threshold."""

    data: CampaignData
    summaries: Mapping[str, VariantSummary]
    comparisons: Mapping[str, Comparison]
    timeline: pd.DataFrame
    quality: pd.DataFrame
    order: OrderBalance
