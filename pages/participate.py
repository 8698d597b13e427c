"""Participate page (opened only through a campaign link): the participant flow of one live campaign.

The link is ``/?c=<token>`` and, from a panel, carries the panel's participant
id in the campaign's parameter (``pid`` by default). The page checks the link,
the id and the study's admission rules (end time, target size, an id that has
taken part) before it asks for consent; ``ui.participant_flow`` draws the
steps. The participant's state lives in one ParticipantSession per browser
session (``app_state.participant_session``).
"""

from __future__ import annotations

import logging

import streamlit as st

from app_state import TOKEN_PARAM, participant_session, store
from campaigns.errors import (
    CampaignClosedError,
    CampaignError,
    CampaignStateError,
    UnknownCampaignError,
)
from campaigns.study import AdmissionError, StudyError, StudySetup, check_external_id
from campaigns.types import Campaign
from capture.flow import Step
from ui.messages import study_unavailable
from ui.participant_flow import admission_refused, render

log = logging.getLogger(__name__)


def open_campaign() -> tuple[Campaign, StudySetup]:
    try:
        campaign = store().campaign_by_token(st.query_params.get(TOKEN_PARAM, ""))
        return campaign, store().study(campaign)
    except CampaignClosedError:
        st.info("This study has ended and takes no more participants. Thank you for your interest!")
    except CampaignStateError:
        st.info("This study has not started yet. Please try your link again later.")
    except UnknownCampaignError:
        st.warning("This link does not lead to an open study. Please check the link you were sent.")
    except (CampaignError, OSError):
        # The store failed (a second server holds the data folder, the file is unreadable): the
        # link itself may well be right.
        log.exception("a participant link could not be checked")
        study_unavailable()
    st.stop()


def panel_id(study: StudySetup) -> str | None:
    """The panel's participant id from the link, if it has one; a malformed one stops the page."""
    value = st.query_params.get(study.pid_param)
    if value is None:
        return None
    try:
        return check_external_id(value)
    except StudyError:
        st.warning("The participant ID in this link is not valid (it must be at most 128 printable characters). "
                   "Please open the link exactly as your panel sent it.")
        st.stop()


campaign, study = open_campaign()
session = participant_session(campaign, study, panel_id(study))
if session.flow.step is Step.CONSENT:
    try:
        store().check_admission(campaign, session.external_id)
    except AdmissionError as exc:
        admission_refused(exc, session, preview=False)
    except CampaignError:
        log.exception("a participant's admission could not be checked")
        study_unavailable()
render(session, store())
