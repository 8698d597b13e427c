"""A campaign's study setup: entry questions, screen-out rules, quotas, target size, panel link, redirects.

Pure (no Streamlit, no database): the store keeps a setup as one JSON document
per campaign (``campaigns.study``) and this module checks it, reads a
participant's answers against it and builds the redirect links. Every refusal
is a :class:`StudyError` naming the field the way the setup form labels it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from campaigns.errors import CampaignError

#: How a participant's visit ended. ``in_progress`` is not an end: a visit still running.
OUTCOMES: tuple[str, ...] = ("complete", "screened_out", "quota_full", "declined", "no_camera", "withdrew",
                             "abandoned")
IN_PROGRESS = "in_progress"
#: Outcomes a panel can send the participant back for (``withdrew`` and ``abandoned`` have no page to
#: leave from: the participant closed it).
REDIRECT_OUTCOMES: tuple[str, ...] = ("complete", "screened_out", "quota_full", "declined", "no_camera")
#: Outcomes after which a second visit with the same panel id is refused.
FINAL_OUTCOMES: tuple[str, ...] = ("complete", "screened_out", "quota_full")
QUESTION_KINDS: tuple[str, ...] = ("single", "multiple", "number", "text")
KIND_LABELS = {"single": "Single choice", "multiple": "Multiple choice", "number": "Number", "text": "Short text"}
OUTCOME_LABELS = {"complete": "Complete", "screened_out": "Screened out", "quota_full": "Quota full",
                  "declined": "Declined", "no_camera": "No camera", "withdrew": "Withdrew",
                  "abandoned": "Abandoned", IN_PROGRESS: "In progress"}

MAX_QUESTIONS = 20
MAX_OPTIONS = 30
MAX_TEXT_ANSWER = 200
MAX_EXTERNAL_ID = 128
DEFAULT_PID_PARAM = "pid"
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PARAM = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
# Reserved by the app's own links (the campaign token).
_RESERVED_PARAMS = frozenset({"c"})


class StudyError(CampaignError):
    """A study setup or a participant's answer was refused; ``field`` is the form's label for it."""

    def __init__(self, field_label: str, message: str) -> None:
        super().__init__(f"{field_label}: {message}")
        self.field = field_label
        self.reason = message


class AdmissionError(CampaignError):
    """One more participant may not start; ``outcome`` says why: ``quota_full`` (the study is full),
    ``ended`` (past its end time) or ``repeat`` (this panel id has taken part)."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class Question:
    """One entry question. ``screen_out`` lists choice options that end the test; a number answer
    outside ``eligible_min``..``eligible_max`` does too (``min``..``max`` is what may be typed)."""

    key: str
    text: str
    kind: str = "single"
    options: tuple[str, ...] = ()
    required: bool = True
    min: float | None = None
    max: float | None = None
    eligible_min: float | None = None
    eligible_max: float | None = None
    screen_out: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"Question {self.key!r}"

    @property
    def eligible(self) -> tuple[float, float]:
        """A number question's eligible answers, lowest to highest (the allowed range where none is set)."""
        assert self.min is not None and self.max is not None
        return (self.min if self.eligible_min is None else self.eligible_min,
                self.max if self.eligible_max is None else self.eligible_max)

    def check(self) -> Question:
        label = self.label
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise StudyError("Question key", f"{self.key!r} must be 1-40 lower-case letters, digits or _, "
                             "starting with a letter (it names the question in exports)")
        if not isinstance(self.text, str) or not self.text.strip() or len(self.text) > 300:
            raise StudyError(label, "the question text must be 1-300 characters")
        if self.kind not in QUESTION_KINDS:
            raise StudyError(label, f"the kind must be one of {', '.join(QUESTION_KINDS)}, got {self.kind!r}")
        if self.kind in ("single", "multiple"):
            if not 2 <= len(self.options) <= MAX_OPTIONS:
                raise StudyError(label, f"a choice question needs 2-{MAX_OPTIONS} options, got {len(self.options)}")
            for option in self.options:
                if not isinstance(option, str) or not option.strip() or len(option) > 100:
                    raise StudyError(label, "every option must be 1-100 characters")
            if len(set(self.options)) != len(self.options):
                raise StudyError(label, "two options have the same text")
            unknown = [o for o in self.screen_out if o not in self.options]
            if unknown:
                raise StudyError(label, f"screen-out options {unknown} are not among its options")
            if len(self.screen_out) >= len(self.options) and self.kind == "single":
                raise StudyError(label, "every option screens out: nobody could take part")
        elif self.options or self.screen_out:
            raise StudyError(label, f"a {KIND_LABELS[self.kind].lower()} question has no options")
        if self.kind == "number":
            bounds = [self.min, self.max, self.eligible_min, self.eligible_max]
            for value in bounds:
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                          or not math.isfinite(value)):
                    raise StudyError(label, f"limits must be numbers, got {value!r}")
            if self.min is None or self.max is None or self.min >= self.max:
                raise StudyError(label, "a number question needs a lowest and a highest allowed answer, lowest first")
            lo, hi = self.eligible
            if not self.min <= lo <= hi <= self.max:
                raise StudyError(label, f"the eligible range must lie within {self.min:g}-{self.max:g}")
        elif any(v is not None for v in (self.min, self.max, self.eligible_min, self.eligible_max)):
            raise StudyError(label, "only a number question has limits")
        return self

    def clean(self, raw: Any) -> list[str]:
        """The stored form of an answer (a list: one entry per chosen option); [] for no answer."""
        label = f"“{self.text}”"
        empty = raw is None or raw == "" or (isinstance(raw, list | tuple) and not raw)
        if empty:
            if self.required:
                raise StudyError(label, "please answer this question")
            return []
        if self.kind == "single":
            if raw not in self.options:
                raise StudyError(label, "please pick one of the answers")
            return [str(raw)]
        if self.kind == "multiple":
            chosen = list(raw) if isinstance(raw, list | tuple) else [raw]
            if any(c not in self.options for c in chosen) or len(set(chosen)) != len(chosen):
                raise StudyError(label, "please pick among the answers shown")
            return [o for o in self.options if o in chosen]  # the options' own order
        if self.kind == "number":
            try:
                value = float(raw) if not isinstance(raw, bool) else math.nan
            except (TypeError, ValueError):
                value = math.nan
            assert self.min is not None and self.max is not None
            if not math.isfinite(value) or not self.min <= value <= self.max:
                raise StudyError(label, f"please enter a number from {self.min:g} to {self.max:g}")
            return [f"{value:g}"]
        if not isinstance(raw, str):
            raise StudyError(label, "please type your answer")
        answer = " ".join(raw.split())  # no control characters or runs of blanks
        if len(answer) > MAX_TEXT_ANSWER:
            raise StudyError(label, f"please keep it under {MAX_TEXT_ANSWER} characters")
        if not answer:
            if self.required:
                raise StudyError(label, "please answer this question")
            return []
        return [answer]

    def screens_out(self, answer: Sequence[str]) -> bool:
        if self.kind in ("single", "multiple"):
            return any(a in self.screen_out for a in answer)
        if self.kind == "number" and answer:
            value = float(answer[0])
            lo = -math.inf if self.eligible_min is None else self.eligible_min
            hi = math.inf if self.eligible_max is None else self.eligible_max
            return not lo <= value <= hi
        return False


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` participants who gave ``option`` to single-choice question ``question``."""

    question: str
    option: str
    limit: int

    @property
    def cell(self) -> str:
        return f"{self.question}={self.option}"


@dataclass(frozen=True)
class StudySetup:
    """Everything about running a study beyond the ads: see the module docstring."""

    questions: tuple[Question, ...] = ()
    quotas: tuple[Quota, ...] = ()
    target_completes: int | None = None
    ends_at: datetime | None = None  # naive UTC, like every stored time
    pid_param: str = DEFAULT_PID_PARAM
    redirects: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        if len(self.questions) > MAX_QUESTIONS:
            raise StudyError("Entry questions", f"at most {MAX_QUESTIONS} questions, got {len(self.questions)}")
        keys = [q.check().key for q in self.questions]
        if len(set(keys)) != len(keys):
            raise StudyError("Question key", "two questions have the same key")
        by_key = {q.key: q for q in self.questions}
        cells = set()
        for quota in self.quotas:
            question = by_key.get(quota.question)
            if question is None or question.kind != "single":
                raise StudyError("Quotas", f"{quota.question!r} is not a single-choice question of this study")
            if quota.option not in question.options:
                raise StudyError("Quotas", f"{quota.option!r} is not an answer to {quota.question!r}")
            if isinstance(quota.limit, bool) or not isinstance(quota.limit, int) or not 1 <= quota.limit <= 1_000_000:
                raise StudyError("Quotas", f"the limit of {quota.cell} must be a whole number from 1 to 1,000,000")
            if quota.cell in cells:
                raise StudyError("Quotas", f"{quota.cell} has two quotas")
            cells.add(quota.cell)
        target = self.target_completes
        if target is not None and (isinstance(target, bool) or not isinstance(target, int)
                                   or not 1 <= target <= 1_000_000):
            raise StudyError("Target size", "must be a whole number of completes from 1 to 1,000,000, or empty")
        if self.ends_at is not None and not isinstance(self.ends_at, datetime):
            raise StudyError("End date and time", f"must be a date and time, got {self.ends_at!r}")
        if not isinstance(self.pid_param, str) or not _PARAM.match(self.pid_param) \
                or self.pid_param in _RESERVED_PARAMS:
            raise StudyError("Panel ID parameter", "must be 1-32 letters, digits or _, starting with a letter, "
                             "and not 'c' (the campaign's own)")
        for outcome, url in self.redirects.items():
            if outcome not in REDIRECT_OUTCOMES:
                raise StudyError("Redirects", f"unknown outcome {outcome!r}")
            check_redirect(url, f"Redirect on {OUTCOME_LABELS[outcome].lower()}")

    # -- reading a participant's answers --------------------------------------

    def clean_answers(self, raw: Mapping[str, Any]) -> dict[str, list[str]]:
        """Every question's stored answer (``[]`` where an optional one was skipped), or StudyError."""
        if not isinstance(raw, Mapping):
            raise StudyError("Answers", "must be a mapping of question key to answer")
        unknown = set(raw) - {q.key for q in self.questions}
        if unknown:
            raise StudyError("Answers", f"no such question: {sorted(unknown)}")
        return {q.key: q.clean(raw.get(q.key)) for q in self.questions}

    def screened_out_by(self, answers: Mapping[str, Sequence[str]]) -> str | None:
        """The key of the first question whose answer screens the participant out, else None."""
        for question in self.questions:
            if question.screens_out(answers.get(question.key, [])):
                return question.key
        return None

    def quotas_for(self, answers: Mapping[str, Sequence[str]]) -> list[Quota]:
        """The quota cells this participant falls into."""
        return [q for q in self.quotas if q.option in answers.get(q.question, [])]

    def entry_outcome(self, answers: Mapping[str, Sequence[str]], full: Callable[[Quota], bool]) -> str | None:
        """How clean ``answers`` end the visit: ``screened_out`` first, then ``quota_full`` when ``full``
        says one of the participant's quota cells has no place left; None goes on to the camera check."""
        if self.screened_out_by(answers) is not None:
            return "screened_out"
        return "quota_full" if any(full(quota) for quota in self.quotas_for(answers)) else None

    def redirect(self, outcome: str, external_id: str | None) -> str | None:
        """The link to send the participant to after ``outcome``, ``{pid}`` filled in URL-encoded."""
        url = self.redirects.get(outcome)
        if not url:
            return None
        return url.replace("{pid}", quote(external_id or "", safe=""))

    def closed_at(self, now: datetime) -> bool:
        return self.ends_at is not None and now >= self.ends_at

    # -- storage ---------------------------------------------------------------

    def to_json(self) -> str:
        document = asdict(self)
        document["ends_at"] = self.ends_at.isoformat() if self.ends_at else None
        document["redirects"] = dict(self.redirects)
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_json(cls, document: str | None) -> StudySetup:
        data = json.loads(document or "{}")
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> StudySetup:
        """Build (and check) a setup from plain data, as JSON or a form gives it."""
        if not isinstance(data, Mapping):
            raise StudyError("Study setup", "must be a mapping")
        try:
            questions = tuple(
                Question(**{**q, "options": tuple(q.get("options", ())), "screen_out": tuple(q.get("screen_out", ()))})
                for q in data.get("questions", ()))
            quotas = tuple(Quota(**q) for q in data.get("quotas", ()))
        except TypeError as exc:
            raise StudyError("Study setup", f"unknown or missing field: {exc}") from exc
        ends = data.get("ends_at")
        if isinstance(ends, str):
            try:
                ends = datetime.fromisoformat(ends)
            except ValueError as exc:
                raise StudyError("End date and time", f"{ends!r} is not a date and time") from exc
        if isinstance(ends, datetime) and ends.tzinfo is not None:
            raise StudyError("End date and time", "give it in UTC without a zone")
        return cls(questions=questions, quotas=quotas, target_completes=data.get("target_completes"),
                   ends_at=ends, pid_param=data.get("pid_param", DEFAULT_PID_PARAM),
                   redirects=dict(data.get("redirects", {})))


def check_redirect(url: Any, label: str) -> str:
    """``url`` if it is an absolute http(s) link without spaces or control characters."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise StudyError(label, "must be a link of at most 2,000 characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise StudyError(label, "must not contain spaces or control characters")
    parts = urlsplit(url.replace("{pid}", "x"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StudyError(label, "must start with http:// or https:// and name a host")
    return url


def check_external_id(value: Any) -> str:
    """A panel's participant id: 1-128 printable characters (no blanks at the ends)."""
    if not isinstance(value, str) or not value or len(value) > MAX_EXTERNAL_ID or not value.isprintable() \
            or value != value.strip():
        raise StudyError("Participant ID", f"must be 1-{MAX_EXTERNAL_ID} printable characters")
    return value
