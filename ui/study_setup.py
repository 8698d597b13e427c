"""The Campaigns page's study setup: entry questions, screen-outs, quotas, target, end time, panel link.

Questions and quotas are edited as tables (one row each, like a sheet), the
rest as single fields. Nothing is saved until "Save study setup", and the
store refuses a setup that does not hold together (``campaigns.study``) with
the field named the way this form labels it, so the message is shown there.
Only a draft's setup can change: a live study keeps the rules its first
participant met.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from typing import Any, NoReturn

import pandas as pd
import streamlit as st

from campaigns.study import KIND_LABELS, OUTCOME_LABELS, REDIRECT_OUTCOMES, StudyError, StudySetup

#: Columns of the questions table, in the order shown.
QUESTION_COLUMNS = ("key", "text", "kind", "options", "required", "min", "max", "eligible_min", "eligible_max",
                    "screen_out")
#: Separator of options in a table cell.
SEP = ";"
KIND_BY_LABEL = {label: kind for kind, label in KIND_LABELS.items()}
#: Sections of the form, by the field names a StudyError carries, so an error shows at its section.
SECTIONS = ("questions", "quotas", "target", "panel")


def _section(field_label: str) -> str:
    if field_label.startswith(("Question", "Entry questions")):
        return "questions"
    if field_label.startswith("Quotas"):
        return "quotas"
    if field_label.startswith(("Target", "End date")):
        return "target"
    return "panel"


def _split(cell: Any) -> list[str]:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return []
    return [part.strip() for part in str(cell).split(SEP) if part.strip()]


def _number(cell: Any) -> float | None:
    if cell is None or cell == "" or (isinstance(cell, float) and math.isnan(cell)):
        return None
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return math.nan  # refused by the setup's own check, with the question named
    return int(value) if value.is_integer() else value


def question_rows(setup: StudySetup) -> pd.DataFrame:
    """The questions as the table shows them."""
    rows = [{"key": q.key, "text": q.text, "kind": KIND_LABELS[q.kind], "options": f"{SEP} ".join(q.options),
             "required": q.required, "min": q.min, "max": q.max, "eligible_min": q.eligible_min,
             "eligible_max": q.eligible_max, "screen_out": f"{SEP} ".join(q.screen_out)}
            for q in setup.questions]
    frame = pd.DataFrame(rows, columns=list(QUESTION_COLUMNS))
    return frame.astype({"key": "string", "text": "string", "kind": "string", "options": "string",
                         "required": "boolean", "min": "Float64", "max": "Float64", "eligible_min": "Float64",
                         "eligible_max": "Float64", "screen_out": "string"})


def quota_rows(setup: StudySetup) -> pd.DataFrame:
    frame = pd.DataFrame([{"question": q.question, "option": q.option, "limit": q.limit} for q in setup.quotas],
                         columns=["question", "option", "limit"])
    return frame.astype({"question": "string", "option": "string", "limit": "Int64"})


def setup_from_tables(questions: pd.DataFrame, quotas: pd.DataFrame, *, target: int, ends_at: datetime | None,
                      pid_param: str, redirects: dict[str, str]) -> StudySetup:
    """The StudySetup the form describes (StudyError naming the field when it does not hold together)."""
    entries = []
    for row in questions.to_dict("records"):
        if all(_blank(row.get(c)) for c in QUESTION_COLUMNS if c != "required"):
            continue  # an empty row the editor added
        kind_label = "" if _blank(row.get("kind")) else str(row["kind"])
        entries.append({
            "key": "" if _blank(row.get("key")) else str(row["key"]).strip(),
            "text": "" if _blank(row.get("text")) else str(row["text"]).strip(),
            "kind": KIND_BY_LABEL.get(kind_label, kind_label or "single"),
            "options": _split(row.get("options")),
            "required": bool(row.get("required")) if not _blank(row.get("required")) else True,
            **{bound: _number(row.get(bound)) for bound in ("min", "max", "eligible_min", "eligible_max")},
            "screen_out": _split(row.get("screen_out")),
        })
    cells: list[dict[str, Any]] = []
    for row in quotas.to_dict("records"):
        if all(_blank(row.get(c)) for c in ("question", "option", "limit")):
            continue
        limit = _number(row.get("limit"))
        if limit is None or isinstance(limit, float):
            raise StudyError("Quotas", "every quota needs a whole number as its limit")
        cells.append({"question": "" if _blank(row.get("question")) else str(row["question"]).strip(),
                      "option": "" if _blank(row.get("option")) else str(row["option"]).strip(), "limit": limit})
    return StudySetup.from_mapping({
        "questions": entries, "quotas": cells, "target_completes": target or None, "ends_at": ends_at,
        "pid_param": pid_param.strip(), "redirects": {k: v.strip() for k, v in redirects.items() if v.strip()}})


def _blank(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) \
        or (isinstance(value, str) and not value.strip())


def summary(setup: StudySetup) -> list[str]:
    """The setup in a few lines, for a campaign whose setup is fixed."""
    lines = []
    for q in setup.questions:
        rule = ""
        if q.screen_out:
            rule = f" · screens out: {', '.join(q.screen_out)}"
        elif q.kind == "number" and (q.eligible_min is not None or q.eligible_max is not None):
            lo, hi = q.eligible
            rule = f" · takes part only from {lo:g} to {hi:g}"
        options = f" ({', '.join(q.options)})" if q.options else ""
        lines.append(f"**{q.text}** · {KIND_LABELS[q.kind].lower()}{options}"
                     f"{'' if q.required else ' · optional'}{rule}")
    lines += [f"Quota: at most {q.limit} answering “{q.option}” to `{q.question}`" for q in setup.quotas]
    if setup.target_completes:
        lines.append(f"Target: {setup.target_completes} completes")
    if setup.ends_at:
        lines.append(f"Ends: {setup.ends_at:%Y-%m-%d %H:%M} UTC")
    lines.append(f"Panel ID parameter: `{setup.pid_param}`")
    lines += [f"{OUTCOME_LABELS[o]} → {url}" for o, url in setup.redirects.items()]
    return lines


def study_form(setup: StudySetup, key: str, *, locked: bool, errors: dict[str, str]) -> StudySetup | None:
    """Draw the setup; returns the new setup when "Save study setup" is clicked and it holds together.

    ``errors`` (section → message) shows a refusal at its section; this function fills it.
    """
    if locked:
        for line in summary(setup) if setup.questions or setup.quotas or setup.redirects else [
                "No entry questions, quotas or redirects."]:
            st.markdown(f"- {line}")
        return None
    st.markdown("**Entry questions** (asked after consent, before the camera check)")
    st.caption(f"One row per question. Options and screen-out answers are separated by “{SEP}”. "
               "A number question needs its lowest and highest allowed answer (e.g. age 16–99); answers outside "
               "the eligible range end the test as screened out. The key names the question in exports "
               "and segments.")
    questions = st.data_editor(
        question_rows(setup), key=f"{key}_questions", num_rows="dynamic", hide_index=True, width="stretch",
        column_config={
            "key": st.column_config.TextColumn("Key", help="1-40 lower-case letters, digits or _", max_chars=40),
            "text": st.column_config.TextColumn("Question", max_chars=300, width="large"),
            "kind": st.column_config.SelectboxColumn("Kind", options=list(KIND_LABELS.values()),
                                                     default=KIND_LABELS["single"]),
            "options": st.column_config.TextColumn("Options", help=f"Separated by “{SEP}” (choice questions)"),
            "required": st.column_config.CheckboxColumn("Required", default=True),
            "min": st.column_config.NumberColumn("Lowest", help="Number questions: lowest answer allowed"),
            "max": st.column_config.NumberColumn("Highest", help="Number questions: highest answer allowed"),
            "eligible_min": st.column_config.NumberColumn("Eligible from", help="Lower answers screen out"),
            "eligible_max": st.column_config.NumberColumn("Eligible to", help="Higher answers screen out"),
            "screen_out": st.column_config.TextColumn("Screen out if", help=f"Options that end the test, “{SEP}”"),
        })
    _error(errors, "questions")
    st.markdown("**Quotas** (per answer of a single-choice question)")
    st.caption("When a cell has this many participants (complete or still taking part), the next one in it "
               "ends as “quota full”.")
    quotas = st.data_editor(
        quota_rows(setup), key=f"{key}_quotas", num_rows="dynamic", hide_index=True,
        column_config={
            "question": st.column_config.TextColumn("Question key"),
            "option": st.column_config.TextColumn("Answer"),
            "limit": st.column_config.NumberColumn("Participants", min_value=1, max_value=1_000_000, step=1),
        })
    _error(errors, "quotas")
    left, middle, right = st.columns(3)
    target = left.number_input("Target size (completes; 0 = no limit)", min_value=0, max_value=1_000_000,
                               value=setup.target_completes or 0, step=1, key=f"{key}_target",
                               help="The campaign takes no new participants once this many completed.")
    has_end = middle.checkbox("Stop at a date and time (UTC)", value=setup.ends_at is not None, key=f"{key}_has_end")
    ends_at = None
    if has_end:
        default = setup.ends_at or datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        day = middle.date_input("End date (UTC)", value=default.date(), key=f"{key}_end_day")
        hour = right.time_input("End time (UTC)", value=default.time() if setup.ends_at else time(23, 59),
                                key=f"{key}_end_time")
        ends_at = datetime.combine(day, hour)
    _error(errors, "target")
    st.markdown("**Panel link and redirects**")
    pid_param = st.text_input("Panel ID parameter", value=setup.pid_param, max_chars=32, key=f"{key}_pid",
                              help="The link parameter your panel fills with its participant ID, e.g. "
                                   "PROLIFIC_PID on Prolific; default pid.")
    st.caption("Where to send participants back when they finish, as http:// or https:// links. "
               "`{pid}` is replaced with their panel ID. Leave empty for no redirect.")
    redirects = {outcome: st.text_input(f"Redirect on {OUTCOME_LABELS[outcome].lower()}",
                                        value=setup.redirects.get(outcome, ""), max_chars=2000,
                                        key=f"{key}_redirect_{outcome}",
                                        placeholder="https://panel.example/return?status=…&id={pid}")
                 for outcome in REDIRECT_OUTCOMES}
    _error(errors, "panel")
    if not st.button("Save study setup", key=f"{key}_save", icon=":material/save:"):
        return None
    try:
        return setup_from_tables(questions, quotas, target=int(target), ends_at=ends_at, pid_param=pid_param,
                                 redirects=redirects)
    except StudyError as exc:
        refuse(errors, exc)


def refuse(errors: dict[str, str], exc: StudyError) -> NoReturn:
    """Show ``exc`` at its section of the form on the next run (the form's fields keep what was typed)."""
    errors.clear()
    errors[_section(exc.field or "")] = str(exc)
    st.rerun()


def _error(errors: dict[str, str], section: str) -> None:
    if section in errors:
        st.error(errors[section], icon=":material/error:")
