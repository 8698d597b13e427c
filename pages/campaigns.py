"""Campaigns (marketers): create and edit campaigns, go live, share the link, watch progress, close."""

from __future__ import annotations

from functools import partial

import streamlit as st

from app_state import (
    CAMPAIGN_FORM_ROUND,
    DEMO_NAME,
    EDIT_CAMPAIGN,
    PREVIEW_CAMPAIGN,
    PREVIEW_FLOW,
    STUDY_ERRORS,
    campaign_labels,
    store,
)
from campaigns.study import StudyError, StudySetup
from campaigns.types import Campaign
from ui import campaign_actions as actions
from ui import campaign_view as view
from ui import study_setup
from ui.campaign_form import CampaignInput, campaign_form
from ui.messages import attempt, show_flash, staff_or_stop, store_faults

form_key = f"form{st.session_state[CAMPAIGN_FORM_ROUND]}"
me = staff_or_stop()


def done(message: str, select: Campaign | None) -> str:
    # After a write: select the campaign it concerns and start the forms afresh.
    st.session_state[EDIT_CAMPAIGN] = select.id if select is not None else None
    st.session_state[CAMPAIGN_FORM_ROUND] += 1
    return message


def create(entered: CampaignInput) -> str:
    return done(f"Campaign “{entered.name}” created as a draft.",
                actions.create_campaign(db, entered, campaign_labels(), actor=me))


def act(campaign: Campaign, action: str, message: str) -> str:
    return done(message, actions.status_action(db, campaign, action, actor=me))


def preview(campaign: Campaign) -> None:
    st.session_state[PREVIEW_CAMPAIGN] = campaign.id
    st.session_state[PREVIEW_FLOW] = None  # a fresh run from consent
    st.switch_page("pages/preview.py")


def edit_study(campaign: Campaign, study: StudySetup) -> None:
    locked = campaign.status != "draft" or not me.may("edit")
    errors = st.session_state[STUDY_ERRORS].setdefault(campaign.id, {})
    with st.expander("Study setup: entry questions, quotas, target, panel link", icon=":material/quiz:",
                     expanded=bool(errors)):
        if campaign.status != "draft":
            st.caption(f"A {campaign.status} campaign's study setup is fixed so every participant meets the same "
                       "rules. Duplicate it to change them.")
        elif locked:
            st.caption(f"Your role ({me.role}) cannot edit campaigns.")
        entered = study_setup.study_form(study, f"{form_key}_study{campaign.id}", locked=locked, errors=errors)
        if entered is not None:
            try:
                actions.save_study(db, campaign, entered, actor=me)
            except StudyError as exc:
                study_setup.refuse(errors, exc)
            errors.clear()
            attempt(lambda: done(f"Saved the study setup of “{campaign.name}”.", campaign))


def manage(campaign: Campaign) -> None:
    st.subheader(campaign.name)
    st.markdown(f"{view.STATUS_ICONS[campaign.status]} **{campaign.status.capitalize()}** · created "
                f"{campaign.created_at:%Y-%m-%d %H:%M} · labels {', '.join(campaign.labels)}")
    if campaign.description:
        st.write(campaign.description)
    study = db.study(campaign)
    buttons = st.columns(4)
    if campaign.status == "draft" and me.may("go_live") and buttons[0].button(
            "Go live", type="primary", icon=":material/play_arrow:"):
        attempt(partial(act, campaign, "go_live", f"“{campaign.name}” is live: share the participant link."))
    if campaign.status == "live" and me.may("close") and buttons[0].button("Close campaign", icon=":material/stop:"):
        attempt(partial(act, campaign, "close", f"“{campaign.name}” is closed: no new participants."))
    if me.may("duplicate") and buttons[1].button("Duplicate", icon=":material/content_copy:",
                         help="A new draft with the same settings and variants, without participant data."):
        attempt(lambda: done(f"Duplicated “{campaign.name}” as a new draft.",
                             actions.duplicate_campaign(db, campaign, actor=me)))
    if campaign.status != "closed" and me.may("preview") and buttons[2].button(
            "Preview as participant", icon=":material/visibility:",
            help="Run the whole participant flow yourself; nothing is stored and no quota counts it."):
        preview(campaign)
    if campaign.status == "live":
        buttons[3].button("Refresh progress", icon=":material/refresh:")  # a click reruns the page
        view.show_share(campaign, study)
    elif campaign.status == "draft":
        st.info("Draft: participants cannot open it yet. Upload both variants, check the settings and the study "
                "setup, preview it, then go live.")
    view.show_progress(view.progress(db, campaign))
    view.show_funnel(db, campaign, study)
    st.markdown("#### Variants")
    stored = db.variants(campaign)
    view.show_variants(db, campaign, stored)

    locked = campaign.status != "draft" or not me.may("edit")
    with st.expander("Settings" if locked else "Edit campaign", expanded=not locked):
        if campaign.status != "draft":
            st.caption(f"A {campaign.status} campaign's settings and variants are fixed so every participant "
                       "sees the same test. Duplicate it to change them.")
        elif locked:
            st.caption(f"Your role ({me.role}) cannot edit campaigns.")
        entered = campaign_form(campaign, stored, f"{form_key}_edit{campaign.id}", db.max_upload_bytes, locked)
        if entered is not None:
            attempt(lambda: done(f"Saved “{campaign.name}”.", actions.save_campaign(db, campaign, entered, actor=me)))
    edit_study(campaign, study)
    if not me.may("delete"):
        return
    with st.expander("Delete campaign", icon=":material/delete:"):
        st.warning("Deletes the campaign with all its participants, snapshots and ratings. This cannot be undone.")
        typed = st.text_input("Type the campaign name to confirm", key=f"{form_key}_delete{campaign.id}")
        if st.button("Delete for good", key=f"{form_key}_delete_button{campaign.id}"):
            attempt(lambda: done(actions.delete_campaign(db, campaign, typed, actor=me), None))


st.title("Campaigns")
show_flash()
with store_faults():
    db = store()
    campaigns = db.campaigns()
    if campaigns:
        st.dataframe(view.overview(db, campaigns), hide_index=True, width="stretch")
        if len(campaigns) == 1 and campaigns[0].name == DEMO_NAME and me.may("create"):
            st.caption(f"“{DEMO_NAME}” holds simulated participants so every page has something to show. "
                       "Create your own campaign with “➕ New campaign” below.")
    chosen = view.pick_campaign(campaigns, new=me.may("create"))
    if chosen is None and not campaigns:
        st.info("There are no campaigns yet. A marketer or an admin creates them.")
    elif chosen is None:
        st.subheader("New campaign")
        new = campaign_form(None, {}, f"{form_key}_new", db.max_upload_bytes)
        if new is not None:
            attempt(partial(create, new))
    else:
        manage(chosen)
