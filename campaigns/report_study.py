"""The study's part of a report: how visits ended (the funnel), where they stopped, the entry
questions and the quota cells, as JSON data, tables and an HTML section; ``campaigns.report`` adds
them to its JSON and HTML reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from campaigns.store import Store
from campaigns.store.lookups import CampaignRef
from campaigns.store.study_repo import STEPS, QuotaCount
from campaigns.study import IN_PROGRESS, KIND_LABELS, OUTCOME_LABELS, Question, StudySetup


@dataclass(frozen=True)
class StudyFacts:
    """What the store knows about a campaign's visitors beyond the analysis: its setup, the funnel
    (every outcome, ``in_progress`` too, withdrawals included), the last steps per outcome and the
    quota cells with their places taken."""

    setup: StudySetup
    funnel: Mapping[str, int]
    last_steps: Mapping[str, Mapping[str, int]]
    quotas: Sequence[QuotaCount]

    @property
    def participants_total(self) -> int:
        """Every visitor counted: stored participants (declined ones too) plus erased withdrawals."""
        return sum(self.funnel.values())

    def stopped_at(self) -> dict[str, int]:
        """Where visits that ended without completing stopped: step to count, in the flow's order.
        Visits still running have not stopped and withdrawals left no row, so neither counts."""
        counts = dict.fromkeys(STEPS, 0)
        for outcome, steps in self.last_steps.items():
            if outcome in ("complete", IN_PROGRESS):
                continue
            for step, n in steps.items():
                counts[step] = counts.get(step, 0) + n
        return {step: n for step, n in counts.items() if n}


def question_json(question: Question) -> dict[str, Any]:
    """A question's definition as plain JSON data (the fields the setup stores, in their order)."""
    return {**asdict(question), "options": list(question.options), "screen_out": list(question.screen_out)}


def quota_json(count: QuotaCount) -> dict[str, Any]:
    """One quota cell: its target, the completes that fill it and the visits still holding a place."""
    return {
        "cell": count.quota.cell,
        "question": count.quota.question,
        "option": count.quota.option,
        "target": count.quota.limit,
        "filled": count.complete,
        "in_progress": count.in_progress,
        "full": count.full,
    }


def funnel_table(study: StudyFacts) -> pd.DataFrame:
    """One row per outcome that occurred: label, participants and share of every visitor counted."""
    total = study.participants_total
    rows = [{"outcome": OUTCOME_LABELS.get(outcome, outcome), "participants": n,
             "share": n / total if total else np.nan} for outcome, n in study.funnel.items() if n]
    return pd.DataFrame(rows, columns=["outcome", "participants", "share"])


def question_table(setup: StudySetup) -> pd.DataFrame:
    """The entry questions as asked: key, text, kind, answers offered and what ends the test."""
    rows = []
    for q in setup.questions:
        if q.kind == "number":
            offered = f"{q.min:g} to {q.max:g}"
            lo, hi = q.eligible
            ends = f"outside {lo:g} to {hi:g}" if (lo, hi) != (q.min, q.max) else ""
        else:
            offered = "; ".join(q.options)
            ends = "; ".join(q.screen_out)
        rows.append({"key": q.key, "question": q.text, "kind": KIND_LABELS[q.kind], "required": q.required,
                     "answers": offered, "screened out": ends})
    return pd.DataFrame(rows, columns=["key", "question", "kind", "required", "answers", "screened out"])


def quota_table(study: StudyFacts) -> pd.DataFrame:
    """One row per quota cell: target, filled (complete) and in progress."""
    rows = [{"cell": c.quota.cell, "target": c.quota.limit, "filled": c.complete, "in progress": c.in_progress}
            for c in study.quotas]
    return pd.DataFrame(rows, columns=["cell", "target", "filled", "in progress"])


def load_study(store: Store, campaign: CampaignRef) -> StudyFacts:
    """The campaign's study setup, funnel, last steps and quota cells, as the store counts them."""
    return StudyFacts(store.study(campaign), store.funnel(campaign), store.last_steps(campaign),
                      store.quota_counts(campaign))


def study_json(study: StudyFacts) -> dict[str, Any]:
    """The study part of the JSON report: funnel, where visits stopped, questions, quota cells, setup."""
    setup = study.setup
    return {
        "participants_total": study.participants_total,
        "funnel": dict(study.funnel),
        "last_steps": study.stopped_at(),
        "questions": [question_json(q) for q in setup.questions],
        "quotas": [quota_json(c) for c in study.quotas],
        "study": {
            "target_completes": setup.target_completes,
            "ends_at": setup.ends_at.isoformat() if setup.ends_at else None,
            "pid_param": setup.pid_param,
            "redirects": dict(setup.redirects),
        },
    }


def study_html(study: StudyFacts | None) -> str:
    """The study section: funnel, entry questions and quota cells (nothing without a study)."""
    if study is None:
        return ""
    parts = [f"<h2>Funnel</h2><p>{study.participants_total} visitors counted.</p>",
             funnel_table(study).to_html(index=False, na_rep="–", float_format=lambda x: f"{x:.0%}")]
    if study.setup.questions:
        parts.append("<h2>Entry questions</h2>" + question_table(study.setup).to_html(index=False, classes="feedback"))
    if study.quotas:
        parts.append("<h2>Quotas</h2>" + quota_table(study).to_html(index=False))
    return "\n".join(parts)
