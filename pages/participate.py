"""Participate page (opened only through a campaign link): consent, camera check, two ads, ratings, thanks.

The participant's state lives in one ParticipantSession (capture.session);
the one camera component sits in its own container, rendered in every run
from the camera check to the end, so its stream is never restarted. During
the camera check the participant starts (and may stop) the camera; from the
first ad on the page keeps it playing itself (``session.camera_playing``):
the browser reconnects a dropped stream, and a camera that stays silent is
switched off and on again by the page's timer (``restart_silent_camera``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from app_config import ConfigError
from app_state import TOKEN_PARAM, classifier, participant_session, store
from campaigns.errors import (
    CampaignClosedError,
    CampaignError,
    CampaignStateError,
    StoreUnavailableError,
    UnknownCampaignError,
    WipePendingError,
)
from campaigns.store import Store
from campaigns.types import Campaign, Variant
from capture.flow import PRELOAD_IMAGE, FlowError, Step, camera_advice, scale_label
from capture.rtc import CameraTimeoutError, camera
from emotion.card import ModelCardError
from ui.ad_clock import video_position
from ui.messages import study_unavailable

log = logging.getLogger(__name__)


def open_campaign() -> Campaign:
    try:
        return store().campaign_by_token(st.query_params.get(TOKEN_PARAM, ""))
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


def consent_step() -> None:
    settings = session.campaign.settings
    st.subheader("Before we start")
    st.markdown(
        "You will see **two short ads** and tell us how each made you feel. While each ad is on screen, "
        f"your **webcam** takes a picture about every {settings.interval_s:g} s and a computer model estimates "
        "your facial expression from it (for example happy, neutral or surprised).\n\n"
        + ("- **No images are kept** unless you allow it below: each picture is analysed and discarded at once; "
           "only the estimated expression is stored.\n" if settings.keep_face_crops else
           "- **No images are kept**: each picture is analysed and discarded at once; only the estimated "
           "expression is stored.\n")
        + "- You stay anonymous: we store a random participant code, your ratings and the estimates.\n"
        "- **You can stop at any time**: **Stop and delete my data**, at the bottom of every page, erases "
        "everything stored about you at once. It also shows your participant code. To withdraw later, send "
        "that code to whoever invited you, and all your data will be erased.")
    agree = st.checkbox("I have read this and agree to take part.")
    crops = settings.keep_face_crops and st.checkbox(
        "Also keep small face crops of my pictures (optional; this study asks for them).")
    left, right = st.columns(2)
    if left.button("Start", type="primary", disabled=not agree):
        try:
            # The model is loaded and checked before anything is stored, so a broken install
            # never leaves a participant record behind.
            with st.spinner("Preparing the camera check..."):
                session.check_classifier(classifier())
            session.consent(store(), crop_consent=bool(crops))
        except StoreUnavailableError:
            study_unavailable()
        except CampaignError:
            st.error("Sorry, this study just stopped taking participants. Nothing was stored.")
            st.stop()
        except (ModelCardError, OSError, FlowError) as exc:
            st.error(f"Sorry, this study cannot start right now; nothing was stored. Please tell the organisers: "
                     f"{exc}")
            st.stop()
        st.rerun()
    if right.button("No, thanks"):
        session.decline()
        st.rerun()


#: Session-state key: why erasing a participant who withdrew failed (shown with a retry).
ERASE_FAILED = "participant_erase_failed"
NO_PICTURE_RECONNECTING = "We receive no picture from your camera; reconnecting it. Please keep this tab open."


@st.fragment(run_every=0.5)
def camera_check() -> None:
    if session.camera_ready():
        st.rerun(scope="app")
    status = session.status()
    if session.no_picture():
        st.warning("We receive no picture from your camera. Press **Start camera** below and allow the "
                   "camera; if it is denied or missing, the box below says so.")
    (st.success if status.verdict == "ok" else st.info)(camera_advice(status.verdict))


@st.fragment(run_every=0.5)
def countdown(variant: Variant) -> None:
    if variant.kind == "video" and session.video_overdue():
        st.rerun(scope="app")
    left = session.remaining_s(variant)
    if left <= 0:
        session.finish_exposure()
        st.rerun(scope="app")
    if session.restart_silent_camera():
        st.rerun(scope="app")
    st.progress(1 - left / session.exposure(variant), text=f"{left:.0f} s")
    if session.no_picture():
        st.warning(NO_PICTURE_RECONNECTING if session.camera_playing() is not None else
                   "We receive no picture from your camera. Please press **Start camera** below.")


def watch_step() -> None:
    try:
        variant = store().variants(session.campaign)[session.flow.variant]
        media = store().variant_media(session.campaign, variant.name)
    except StoreUnavailableError:
        study_unavailable()
    except CampaignError as exc:
        st.error(f"Sorry, this ad cannot be shown right now. Please tell the organisers: {exc}")
        st.stop()
    session.ad_rendered()
    if variant.kind == "video":
        # Muted: browsers block autoplay with sound. Its clock starts when the browser says it plays.
        st.video(media, format=variant.mime, autoplay=True, muted=True)
        position = video_position(f"{session.participant_id}-{session.flow.position}", session.exposure(variant))
        if position is not None:
            session.video_playing(position)
    else:
        st.image(media, width="stretch")
        session.ad_shown()
    countdown(variant)


def withdraw_box() -> None:
    """The participant's code and the way out, on every page from the camera check to the end."""
    with st.expander("Stop and delete my data"):
        st.write(f"Your participant code is `{session.participant_id}`. Stopping ends the study for you, turns "
                 "your camera off and erases everything stored about you: your ratings, your answers, the "
                 "estimated expressions and any face crops.")
        if st.button("Stop and delete my data", key="withdraw"):
            erase(session.withdraw)


def erase(action: Callable[[Store], object]) -> None:
    """Run a withdrawal (or its retry); a failure is kept for the withdrawn page in plain words, and
    its details go to the server log, not to the participant."""
    st.session_state.pop(ERASE_FAILED, None)
    try:
        action(store())
    except WipePendingError:
        log.exception("participant %s: rows erased, file rewrite pending", session.participant_id)
        st.session_state[ERASE_FAILED] = "Your answers are deleted, but a last clean-up step did not finish."
    except (CampaignError, OSError):
        log.exception("participant %s: erasure failed", session.participant_id)
        st.session_state[ERASE_FAILED] = "Your data could not be erased just now."
    st.rerun()


def withdrawn_step() -> None:
    failure = st.session_state.get(ERASE_FAILED)
    if failure is None:
        st.success("You have withdrawn: everything stored about you is erased and your camera is off. You can "
                   "close this tab now.")
        return
    st.error(f"{failure} Please try again, or send your participant code `{session.participant_id}` to whoever "
             "invited you. Your camera is off.")
    if st.button("Try again", type="primary"):
        erase(session.erase_again)


def rate_step() -> None:
    settings = session.campaign.settings
    with st.form(f"rate-{session.flow.position}", clear_on_submit=True):
        rating = st.radio(settings.rating_question, range(1, settings.rating_scale + 1), index=None,
                          horizontal=True, format_func=lambda v: scale_label(v, settings.rating_scale))
        comment = st.text_area("Anything you would like to add? (optional)", max_chars=2000)
        if st.form_submit_button("Continue", type="primary"):
            if rating is None:
                st.error("Please pick one of the answers.")
            else:
                try:
                    session.rate(store(), rating, comment)
                except (StoreUnavailableError, OSError):
                    log.exception("participant %s: rating or completion not saved", session.participant_id)
                    if session.flow.step is not Step.DONE:  # the rating itself was not stored
                        st.error("Your answer could not be saved just now. Please press Continue again.")
                        st.stop()
                    # The rating is stored; the thank-you page retries marking the session complete.
                except CampaignError as exc:
                    st.error(f"Your answer could not be saved: {exc}")
                    st.stop()
                st.rerun()


campaign = open_campaign()
session = participant_session(campaign)
head, body, camera_box = st.container(), st.container(), st.container()
head.progress(session.flow.progress, text=session.flow.progress_text)
if session.flow.step in (Step.CAMERA, Step.WATCH, Step.RATE, Step.DONE, Step.WITHDRAWN):
    with camera_box:
        try:
            with st.spinner("Preparing the camera check..."):
                session.ensure_worker(store(), classifier())
            session.restart_silent_camera()  # this run passes the state on: no extra rerun needed
            camera(session.on_frame, playing=session.camera_playing())
        except CameraTimeoutError:
            if session.camera_playing() is None:
                st.warning("Connecting your camera took too long. Please press **Stop camera**, then "
                           "**Start camera**.")
            elif session.camera_playing():  # the page restarts a silent camera by itself
                st.warning("Connecting your camera took too long; trying again in a moment.")
        except StoreUnavailableError:
            study_unavailable()
        except (ConfigError, CampaignError, FlowError, ModelCardError, OSError) as exc:
            st.error(f"The camera cannot be used for this study right now. Please tell the organisers: {exc}")
            st.stop()
with body:
    if session.flow.step is Step.CONSENT:
        consent_step()
    elif session.flow.step is Step.DECLINED:
        st.info("No problem - nothing was stored. You can close this tab now. Thank you!")
    elif session.flow.step is Step.CAMERA:
        st.subheader("Camera check")
        st.write("Press **Start camera** below, allow the camera, and look at the screen. The first ad starts "
                 "as soon as your face is clearly visible.")
        st.image(PRELOAD_IMAGE, width=1)
        camera_check()
    elif session.flow.step is Step.WATCH:
        watch_step()
    elif session.flow.step is Step.RATE:
        rate_step()
    elif session.flow.step is Step.WITHDRAWN:
        withdrawn_step()
    else:
        try:
            session.ensure_complete(store())
        except (CampaignError, OSError):
            log.exception("participant %s: not yet marked complete", session.participant_id)
        st.success("Thank you! Your answers are saved and your camera is off. You can close this tab now.")
        st.write(f"Your participant code is `{session.participant_id}`. To withdraw later, send it to whoever "
                 "invited you and all your data will be erased.")
    if session.flow.can_withdraw:
        withdraw_box()
