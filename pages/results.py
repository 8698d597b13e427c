"""Results (analysts): A vs B emotions, feedback, combined score, statistics, timeline, quality, exports."""

from __future__ import annotations

from functools import partial

import streamlit as st

from app_state import store
from campaigns.analysis import segment_questions
from ui import results_view as view
from ui.messages import attempt, show_flash, staff_or_stop, store_faults

me = staff_or_stop()
st.title("Results")
show_flash()
with store_faults():
    db = store()
    campaigns = db.campaigns()
    if not campaigns:
        st.info("No campaigns yet: create one on the Campaigns page.")
        st.stop()

    top = st.columns([2, 1])
    with top[0]:
        campaign = view.pick_campaign(campaigns)
    with top[1]:
        threshold = view.threshold_slider(campaign)
    everyone = view.analysis(db, campaign, threshold)
    if everyone.data.participants.empty:
        st.info(f"“{campaign.name}” has no participants yet. Share its link from the Campaigns page.")
        st.stop()
    segment_filter = view.segment_picker(segment_questions(everyone.data))
    result = everyone if segment_filter is None else view.analysis(db, campaign, threshold, segment_filter)
    if result.data.participants.empty:
        st.warning("No participant is in this segment.")
        st.stop()

    view.headline(result)
    sections = {"Emotions": view.emotions, "Feedback & score": view.feedback_and_score,
                "A vs B statistics": view.statistics, "Timeline": view.timeline, "Data quality": view.quality,
                "Order balance": view.order}
    tabs = st.tabs([*sections, "Downloads", "Erase a participant"])
    for tab, render in zip(tabs, sections.values(), strict=False):
        with tab:
            render(result)
    with tabs[6]:
        view.downloads(db, campaign, threshold, segment_filter, actor=me)
    with tabs[7]:
        st.caption("Right to erasure: deletes the participant's snapshots, ratings, answers, panel ID and "
                   "face crops.")
        if not me.may("erase"):
            st.caption(f"Your role ({me.role}) cannot erase participants.")
        else:
            chosen = view.erase(everyone.data.participants)
            if chosen is not None:
                attempt(partial(view.erase_participant, db, campaign, chosen, actor=me))
