"""Domain types of the campaigns package: small frozen dataclasses, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
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


def _check_range(name: str, value: Any, low: float, high: float, integer: bool = False) -> None:
    if integer and (not isinstance(value, int) or isinstance(value, bool)):
        raise SettingsError(f"setting {name} must be a whole number, got {value!r}")
    if not _is_number(value) or not low <= value <= high:
        raise SettingsError(f"setting {name} must be between {low:g} and {high:g}, got {value!r}")


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
        _check_range("interval_s", self.interval_s, 0.1, 60.0)
        _check_range("exposure_s", self.exposure_s, 1.0, 600.0)
        _check_range("confidence_threshold", self.confidence_threshold, 0.0, 1.0)
        _check_range("rating_scale", self.rating_scale, 2, 11, integer=True)
        _check_range("min_participants", self.min_participants, 2, 100_000, integer=True)
        _check_range("min_face_rate", self.min_face_rate, 0.0, 1.0)
        _check_range("valence_weight", self.valence_weight, 0.0, 1.0)
        if not isinstance(self.rating_question, str) or not self.rating_question.strip():
            raise SettingsError("setting rating_question must be a non-empty text")
        if not isinstance(self.keep_face_crops, bool):
            raise SettingsError(
                f"setting keep_face_crops must be true or false, got {self.keep_face_crops!r}"
            )

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
