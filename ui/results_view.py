"""Sections of the Results page over one cached :class:`Analysis`."""

from __future__ import annotations

import math
from functools import partial

import pandas as pd
import streamlit as st

from accounts.roles import Staff, require
from app_state import RESULTS_CAMPAIGN, RESULTS_THRESHOLD, data_dir
from campaigns import charts
from campaigns.analysis import analyze, segment
from campaigns.report_tables import comparison_table, feedback_table
from campaigns.store import Store
from campaigns.types import VARIANTS, Analysis, Campaign
from ui import exports
from ui.results_charts import (
    NO_COMMENT,
    emotion_table,
    feedback_caption,
    feedback_rows,
    score_parts,
    timeline_figure,
    verdict_sentence,
)

ALL = "All participants"


@st.cache_data(max_entries=64, show_spinner=False)
def _analysis(folder: str, campaign_id: int, threshold: float, segment_filter: tuple[str, str] | None,
              version: str, _store: Store) -> Analysis:
    # Keyed by data folder (one process may serve several stores), campaign,
    # threshold, segment and the store's data version: new snapshots or an
    # erasure change the version, so a cached result is never stale.
    data = _store.load(campaign_id, threshold)
    if segment_filter is not None:
        data = segment(data, *segment_filter)
    return analyze(data)


def analysis(store: Store, campaign: Campaign, threshold: float,
             segment_filter: tuple[str, str] | None = None) -> Analysis:
    """The campaign's analysis at ``threshold`` (optionally of one segment), cached."""
    return _analysis(str(data_dir().resolve()), campaign.id, threshold, segment_filter,
                     store.data_version(campaign), store)


def pick_campaign(campaigns: list[Campaign]) -> Campaign:
    """Campaign picker remembered in the session; defaults to the newest campaign."""
    ids = [c.id for c in campaigns]
    chosen = st.session_state.get(RESULTS_CAMPAIGN)
    index = ids.index(chosen) if chosen in ids else 0
    names = {c.id: f"{c.name} ({c.status})" for c in campaigns}
    picked = st.selectbox("Campaign", ids, index=index, format_func=names.__getitem__)
    st.session_state[RESULTS_CAMPAIGN] = picked
    return campaigns[ids.index(picked)]


def threshold_slider(campaign: Campaign) -> float:
    """Confidence threshold, per campaign, starting at the campaign's setting."""
    remembered: dict[int, float] = st.session_state[RESULTS_THRESHOLD]
    value = remembered.get(campaign.id, campaign.settings.confidence_threshold)
    chosen = st.slider("Confidence threshold", 0.0, 1.0, float(value), 0.05, format="%.2f",
                       help="A snapshot counts for an emotion only when the model's top probability is at "
                            f"least this. The campaign's setting is {campaign.settings.confidence_threshold:g}.")
    remembered[campaign.id] = round(float(chosen), 4)
    return remembered[campaign.id]


def segment_picker(questions: dict[str, list[str]]) -> tuple[str, str] | None:
    """Restrict everything to participants who gave one answer to one question."""
    if not questions:
        return None
    left, right = st.columns(2)
    question = left.selectbox("Segment", [ALL, *questions], help="Participants' answers to the entry questions.")
    if question == ALL:
        return None
    return question, right.selectbox(f"Answer to “{question}”", questions[question])


def headline(result: Analysis) -> None:
    """The overall verdict and each variant's combined score with its parts."""
    st.markdown(verdict_sentence("combined_score", result.comparisons["combined_score"]))
    weight = result.data.campaign.settings.valence_weight
    for column, v in zip(st.columns(2), VARIANTS, strict=True):
        s = result.summaries[v]
        column.metric(f"Variant {v}: combined score", _fmt(s.combined_score),
                      help=f"{weight:g} × facial valence + {1 - weight:g} × centred feedback")
        column.caption(f"valence {_fmt(s.valence)} · feedback {_fmt(s.feedback_centred)} (mean rating "
                       f"{_fmt(s.feedback_raw, signed=False)}) · {s.participants} participants · "
                       f"{s.snapshots:,} snapshots")


def _fmt(value: float, signed: bool = True) -> str:
    return "–" if math.isnan(value) else f"{value:+.2f}" if signed else f"{value:.2f}"


def emotions(result: Analysis) -> None:
    st.plotly_chart(charts.ratio_chart(result), key="ratios")
    st.dataframe(emotion_table(result).style.format("{:.1f}"))
    for label in result.data.campaign.labels:
        c = result.comparisons[label]
        if c.verdict in ("A ahead", "B ahead"):
            st.markdown("- " + verdict_sentence(label, c))


def feedback_and_score(result: Analysis) -> None:
    weight = result.data.campaign.settings.valence_weight
    st.dataframe(score_parts(dict(result.summaries), weight).style.format(precision=2), hide_index=True)
    st.plotly_chart(charts.feedback_chart(result), key="feedback")
    for metric in ("valence", "feedback", "combined_score"):
        st.markdown("- " + verdict_sentence(metric, result.comparisons[metric]))
    comments(result)


def comments(result: Analysis) -> None:
    """Every rating with its comment, position shown and segment answers (the current segment only)."""
    st.subheader("Ratings and comments")
    left, right = st.columns([1, 2])
    shown = left.radio("Variant", ["Both", *VARIANTS], horizontal=True)
    only = right.checkbox("Only ratings with a comment")
    rows = feedback_rows(feedback_table(result.data), None if shown == "Both" else shown, only)
    st.caption(feedback_caption(rows) + f" ({NO_COMMENT} = no comment; position = shown first or second.)")
    st.dataframe(rows.fillna({"comment": NO_COMMENT}), hide_index=True, column_config={
        "seq": "#", "rating_centred": st.column_config.NumberColumn("centred", format="%+.2f"),
        "comment": st.column_config.TextColumn("comment", width="large")})


def statistics(result: Analysis) -> None:
    st.caption("Paired over participants with valid data for both variants: difference A − B, 95% bootstrap "
               "confidence interval, Wilcoxon signed-rank p-value (emotions adjusted together, "
               "Benjamini-Hochberg). Minimum participants: "
               f"{result.data.campaign.settings.min_participants}.")
    st.dataframe(comparison_table(result.comparisons).style.format(precision=3), hide_index=True)


def timeline(result: Analysis) -> None:
    labels = list(result.data.campaign.labels)
    label = st.selectbox("Emotion", labels, index=labels.index("happy") if "happy" in labels else 0)
    st.plotly_chart(timeline_figure(result, label), key="timeline")
    with st.expander("All emotions"):
        st.plotly_chart(charts.timeline_chart(result), key="timeline_all")


def quality(result: Analysis) -> None:
    settings = result.data.campaign.settings
    excluded = {v: result.summaries[v].excluded for v in VARIANTS}
    st.markdown(f"Excluded for a face-found rate below {settings.min_face_rate:g} or no snapshots: "
                + ", ".join(f"{n} participant(s) for variant {v}" for v, n in excluded.items())
                + ". Their ratings still count; the export keeps their rows, flagged.")
    st.plotly_chart(charts.quality_chart(result), key="quality")
    st.dataframe(result.quality.style.format(precision=2), hide_index=True)


def order(result: Analysis) -> None:
    o = result.order
    st.markdown(f"A first: **{o.ab}** participants · B first: **{o.ba}** participants "
                f"(binomial p = {o.p_value:.3g}; a small p means the order is unbalanced).")
    for metric, c in o.order_effect.items():
        st.markdown("- Order effect: " + verdict_sentence(metric, c, ("first-shown", "second-shown")))


def downloads(store: Store, campaign: Campaign, threshold: float, segment_filter: tuple[str, str] | None, *,
              actor: Staff) -> None:
    if not actor.may("export"):
        st.caption(f"Your role ({actor.role}) cannot download reports.")
        return
    st.caption("The same files as `python -m campaigns.report` for this threshold"
               + (f" and segment {segment_filter[0]} = {segment_filter[1]}" if segment_filter else "") + ".")
    with_ids = st.checkbox("Include panel participant IDs (personal data: only where the panel needs them, "
                           "e.g. to pay or to honour an erasure request)", key="download_with_panel_ids")
    columns = st.columns(4)
    for i, file in enumerate(exports.export_files(campaign, threshold)):
        columns[i % 4].download_button(
            # A callable: the file is built (and the download audited) only when clicked, not on every rerun.
            file.label, partial(audited_export, store, campaign, threshold, segment_filter, file, with_ids, actor),
            file_name=file.filename, mime=exports.MIME[file.fmt], on_click="ignore", key=f"download_{i}")


def audited_export(store: Store, campaign: Campaign, threshold: float, segment_filter: tuple[str, str] | None,
                   file: exports.ExportFile, with_panel_ids: bool, actor: Staff) -> bytes:
    """One export's bytes, written to the audit log with what it held."""
    require(actor.role, "export")
    data = exports.export_bytes(store, campaign, threshold, segment_filter, file, with_panel_ids=with_panel_ids)
    store.audit(actor.username, "export", campaign,
                f"{file.filename}, threshold {threshold:g}"
                + (f", segment {segment_filter[0]} = {segment_filter[1]}" if segment_filter else "")
                + (", with panel IDs" if with_panel_ids else ""))
    return data


def erase(participants: pd.DataFrame) -> str | None:
    """Pick a participant and confirm; returns the id to erase when confirmed."""
    if participants.empty:
        st.caption("No participants.")
        return None
    names = {row.participant_id: f"#{row.seq} · {row.participant_id} · {row.status}"
             for row in participants.itertuples()}
    chosen = st.selectbox("Participant", list(names), format_func=names.__getitem__)
    sure = st.checkbox("I understand that every row of this participant is deleted for good")
    if st.button("Erase participant", disabled=not sure):
        return str(chosen)
    return None


def erase_participant(store: Store, campaign: Campaign, participant_id: str, *, actor: Staff) -> str:
    """Erase every row of a participant; returns what was deleted, in words."""
    require(actor.role, "erase")
    counts = store.erase_participant(participant_id)
    # The random participant code only: the audit log outlives the erasure and holds no personal data.
    store.audit(actor.username, "erase", campaign, f"participant {participant_id}")
    return (f"Erased participant {participant_id}: {counts['snapshots']} snapshots, {counts['feedback']} "
            f"ratings, {counts['participant_answers']} answers, {counts['face_crops']} face crops.")
