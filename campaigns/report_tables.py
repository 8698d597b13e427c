"""The report's tables (summary, comparisons, raw snapshots, feedback) and making their text safe for
spreadsheets; ``campaigns.report`` writes them to files (the study's tables: ``campaigns.report_study``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from campaigns.analysis import centred_rating
from campaigns.types import Analysis, CampaignData, Comparison

# A text cell a spreadsheet would run as a formula (OWASP "CSV injection"):
# =, +, -, @ (also after leading spaces), or a leading tab / carriage return.
FORMULA_START = re.compile(r"[\t\r]|\s*[=+\-@]")


def summary_table(analysis: Analysis) -> pd.DataFrame:
    """One row per variant with every summary metric."""
    labels = analysis.data.campaign.labels
    rows = []
    for s in analysis.summaries.values():
        row: dict[str, Any] = {
            "variant": s.variant,
            "threshold": analysis.data.threshold,
            "participants": s.participants,
            "snapshots": s.snapshots,
            "face_rate": s.face_rate,
            "confident_rate": s.confident_rate,
        }
        row |= {f"ratio_{k}": s.ratios[k] for k in labels}
        row |= {f"share_{k}": s.shares[k] for k in labels}
        row |= {
            "valence": s.valence,
            "feedback_n": s.feedback_n,
            "feedback_raw": s.feedback_raw,
            "feedback_centred": s.feedback_centred,
            "combined_score": s.combined_score,
            "excluded": s.excluded,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(comparisons: Mapping[str, Comparison]) -> pd.DataFrame:
    """One row per compared metric."""
    return pd.DataFrame(
        [
            {
                "metric": m,
                "n": c.n,
                "diff": c.diff,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "p_value": c.p_value,
                "p_adjusted": c.p_adjusted,
                "verdict": c.verdict,
                "reason": c.reason or "",
            }
            for m, c in comparisons.items()
        ]
    )


def _with_answers(table: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """``table`` with one ``answer_<question>`` column per segment question (by participant_id)."""
    if not len(answers):
        return table
    # A multiple-choice answer is one row per option chosen: joined into one cell.
    wide = answers.pivot_table(index="participant_id", columns="question", values="answer",
                               aggfunc="; ".join)
    wide.columns = [f"answer_{q}" for q in wide.columns]
    return table.merge(wide, left_on="participant_id", right_index=True, how="left")


def _with_panel_ids(table: pd.DataFrame, panel_ids: Mapping[str, str] | None) -> pd.DataFrame:
    """``table`` with an ``external_id`` column after ``participant_id``, when ``panel_ids`` is given."""
    if panel_ids is None:
        return table
    table = table.copy()
    table.insert(table.columns.get_loc("participant_id") + 1, "external_id",
                 table["participant_id"].map(dict(panel_ids)))
    return table


def raw_table(analysis: Analysis, raw: pd.DataFrame, panel_ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Raw snapshots with the confident flag, second, exclusion flag and segment answers; with
    ``panel_ids`` (participant id to panel id) an ``external_id`` column too."""
    threshold = float(np.float32(analysis.data.threshold))
    table = raw.copy()
    table["second"] = table["offset_ms"] // 1000
    table["confident"] = table["face_found"] & (table["top_probability"].fillna(-1.0) >= threshold)
    flags = analysis.quality[["participant_id", "variant", "excluded"]]
    table = table.merge(flags, on=["participant_id", "variant"], how="left")
    return _with_answers(_with_panel_ids(table, panel_ids), analysis.data.answers)


def feedback_table(data: CampaignData, panel_ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per rating: participant, variant, position shown, rating (raw and centred), comment, answers.

    Rows follow the participants (``seq``) and the order they saw the ads; a
    blank comment is missing (None). Only participants in ``data`` count, so a
    segment restricts this table as it does every other one. Panel ids are
    personal data: an ``external_id`` column only when ``panel_ids`` is given.
    """
    people = data.participants[["participant_id", "seq", "variant_order"]]
    table = data.feedback[["participant_id", "variant", "rating", "comment"]].merge(people, on="participant_id")
    first = table["variant_order"].astype(str).str[:1]
    table["position"] = np.where(first == table["variant"], "first", "second")
    table["rating_centred"] = centred_rating(table["rating"].astype(float), data.campaign.settings.rating_scale)
    table["comment"] = [c if isinstance(c, str) and c.strip() else None for c in table["comment"]]
    table = table.sort_values(["seq", "position"], kind="stable", ignore_index=True)
    columns = ["seq", "participant_id", "variant", "position", "rating", "rating_centred", "comment"]
    return _with_answers(_with_panel_ids(table[columns], panel_ids), data.answers)


def _safe_text(value: str, excel: bool) -> str:
    if excel:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if FORMULA_START.match(value) else value


def spreadsheet_safe(table: pd.DataFrame, *, excel: bool = False) -> pd.DataFrame:
    """A copy whose text cells a spreadsheet cannot run as formulas (CSV / formula injection).

    Participants type comments and answers freely, and a marketer names the
    campaign: a text cell that starts like a formula (see ``FORMULA_START``)
    gets a leading apostrophe, OWASP's advice, so it shows as text. For
    ``excel`` the control characters an XLSX file cannot hold are dropped too.
    """
    safe = table.copy()
    for name in safe.columns:
        column = safe[name]
        if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "mixed", "mixed-integer"):
            continue  # numbers, flags, times: nothing a spreadsheet could run
        # Decide per distinct value: a raw table repeats a few texts millions of times.
        fixed = {v: _safe_text(v, excel) for v in column.dropna().unique() if isinstance(v, str)}
        fixed = {v: w for v, w in fixed.items() if w != v}
        if fixed:
            hit = column.isin(list(fixed))
            safe[name] = column.mask(hit, column[hit].map(fixed))
    return safe
