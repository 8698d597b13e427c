"""The participant's pages: consent, entry questions, camera check, two ads, ratings, and every ending.

``render`` draws the step a ParticipantSession (capture.session) is at. The
participate page runs it with the real store; the staff preview runs it with a
``capture.preview.PreviewStore``, which reads the same campaign and keeps
nothing. The one camera component sits in its own container, rendered in every
run from the camera check to the end, so its stream is never restarted. During
the camera check the participant starts (and may stop) the camera; from the
first ad on the page keeps it playing itself (``session.camera_playing``): the
browser reconnects a dropped stream, and a camera that stays silent is switched
off and on again by the page's timer (``restart_silent_camera``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from app_config import ConfigError
from app_state import classifier
from campaigns.errors import CampaignError, StoreUnavailableError, WipePendingError
from campaigns.study import AdmissionError, Question, StudyError
from campaigns.types import Variant
from capture.flow import PRELOAD_IMAGE, FlowError, Step, camera_advice, scale_label
from capture.rtc import CameraTimeoutError, camera
from capture.session import ParticipantSession
from emotion.card import ModelCardError
from ui.ad_clock import video_position
from ui.messages import study_unavailable
from ui.redirect import send_back

log = logging.getLogger(__name__)

#: Session-state key: why erasing a participant who withdrew failed (shown with a retry).
ERASE_FAILED = "participant_erase_failed"
#: Session-state key: the entry questions' errors by question key, shown under each question.
ANSWER_ERRORS = "participant_answer_errors"
NO_PICTURE_RECONNECTING = "We receive no picture from your camera; reconnecting it. Please keep this tab open."

#: What the participant reads for each way a visit ends before the last ad.
ENDING_TEXT = {
    "declined": "No problem - nothing was stored. You can close this tab now. Thank you!",
    "screened_out": "Thank you for your answers! This study is looking for participants with a different "
                    "profile, so it ends here for you. Your answers are kept only as part of the study's count.",
    "quota_full": "Thank you! This study already has enough participants like you, so it ends here for you.",
    "no_camera": "Thank you for your time! This study needs a camera, so it ends here for you. Your camera is off.",
    "repeat": "You have already taken part in this study. Thank you!",
    "ended": "This study has ended and takes no more participants. Thank you for your interest!",
}

Store = Any  # the real campaigns.store.Store or capture.preview.PreviewStore


def admission_refused(exc: AdmissionError, session: ParticipantSession, *, preview: bool) -> None:
    """Say why this visitor cannot start (the study is full, over, or they took part) and stop."""
    if exc.outcome == "quota_full":
        st.info("This study has all the participants it needs. Thank you for your interest!")
        url = session.study.redirect("quota_full", session.external_id)
        if url:
            send_back(url, follow=not preview, key="redirect-full")
    else:
        st.info(ENDING_TEXT.get(exc.outcome, ENDING_TEXT["ended"]))
    st.stop()


def consent_step(session: ParticipantSession, db: Store, *, preview: bool) -> None:
    settings = session.campaign.settings
    st.subheader("Before we start")
    asks = ("A few questions about you come first. " if session.study.questions else "")
    st.markdown(
        f"{asks}You will see **two short ads** and tell us how each made you feel. While each ad is on screen, "
        f"your **webcam** takes a picture about every {settings.interval_s:g} s and a computer model estimates "
        "your facial expression from it (for example happy, neutral or surprised).\n\n"
        + ("- **No images are kept** unless you allow it below: each picture is analysed and discarded at once; "
           "only the estimated expression is stored.\n" if settings.keep_face_crops else
           "- **No images are kept**: each picture is analysed and discarded at once; only the estimated "
           "expression is stored.\n")
        + "- You stay anonymous: we store a random participant code, your answers, your ratings and the "
        "estimates" + (", and the participant ID your panel gave you, so it can credit you" if session.external_id
                       else "") + ".\n"
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
            with st.spinner("Preparing..."):
                session.check_classifier(classifier())
            session.consent(db, crop_consent=bool(crops))
        except AdmissionError as exc:
            admission_refused(exc, session, preview=preview)
        except StoreUnavailableError:
            study_unavailable()
        except CampaignError:
            st.error("Sorry, this study just stopped taking participants. Nothing was stored.")
            st.stop()
        except (ModelCardError, OSError, FlowError) as exc:
            log.exception("a participant could not start")
            st.error(f"Sorry, this study cannot start right now; nothing was stored. Please tell the organisers: "
                     f"{exc}")
            st.stop()
        st.rerun()
    if right.button("No, thanks"):
        try:
            session.decline(db)
        except (CampaignError, OSError):
            log.exception("a decline was not counted")  # the visitor is not kept waiting for a count
        st.rerun()


def _question_widget(question: Question, key: str) -> Any:
    label = question.text if question.required else f"{question.text} (optional)"
    if question.kind == "single":
        return st.radio(label, question.options, index=None, key=key)
    if question.kind == "multiple":
        return st.multiselect(label, question.options, key=key, placeholder="Choose all that apply")
    if question.kind == "number":
        assert question.min is not None and question.max is not None
        whole = float(question.min).is_integer() and float(question.max).is_integer()
        return st.number_input(label, min_value=question.min if not whole else int(question.min),
                               max_value=question.max if not whole else int(question.max), value=None,
                               step=1 if whole else None, key=key,
                               help=f"A number from {question.min:g} to {question.max:g}")
    return st.text_input(label, max_chars=200, key=key)


def questions_step(session: ParticipantSession, db: Store) -> None:
    st.subheader("A few questions about you")
    errors: dict[str, str] = st.session_state.get(ANSWER_ERRORS) or {}
    with st.form("entry-questions"):
        raw = {}
        for question in session.study.questions:
            raw[question.key] = _question_widget(question, f"entry-{question.key}")
            if question.key in errors:
                st.error(errors[question.key])
        submitted = st.form_submit_button("Continue", type="primary")
    if not submitted:
        return
    found = {}
    for question in session.study.questions:
        try:
            question.clean(raw[question.key])
        except StudyError as exc:
            found[question.key] = exc.reason[:1].upper() + exc.reason[1:] + "."
    st.session_state[ANSWER_ERRORS] = found
    if found:
        st.rerun()
    try:
        session.answer(db, raw)
    except StoreUnavailableError:
        study_unavailable()
    except StudyError as exc:
        st.error(str(exc))
        st.stop()
    except CampaignError:
        log.exception("participant %s: answers refused", session.participant_id)
        st.error("Sorry, this study just stopped taking participants.")
        st.stop()
    st.rerun()


def camera_step(session: ParticipantSession, db: Store) -> None:
    st.subheader("Camera check")
    st.write("Press **Start camera** below, allow the camera, and look at the screen. The first ad starts "
             "as soon as your face is clearly visible.")
    st.image(PRELOAD_IMAGE, width=1)
    camera_check(session)
    with st.expander("I can't use a camera"):
        st.write("This study needs a camera to take part. If you have none, or do not want to use it, you can "
                 "end here.")
        if st.button("End the study without a camera", key="no-camera"):
            try:
                session.no_camera(db)
            except (CampaignError, OSError):
                log.exception("participant %s: no-camera ending not stored", session.participant_id)
            st.rerun()


@st.fragment(run_every=0.5)
def camera_check(session: ParticipantSession) -> None:
    if session.camera_ready():
        st.rerun(scope="app")
    status = session.status()
    if session.no_picture():
        st.warning("We receive no picture from your camera. Press **Start camera** below and allow the "
                   "camera; if it is denied or missing, the box below says so.")
    (st.success if status.verdict == "ok" else st.info)(camera_advice(status.verdict))


@st.fragment(run_every=0.5)
def countdown(session: ParticipantSession, variant: Variant) -> None:
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


def watch_step(session: ParticipantSession, db: Store) -> None:
    try:
        variant = db.variants(session.campaign)[session.flow.variant]
        media = db.variant_media(session.campaign, variant.name)
    except StoreUnavailableError:
        study_unavailable()
    except CampaignError as exc:
        st.error(f"Sorry, this ad cannot be shown right now. Please tell the organisers: {exc}")
        st.stop()
    session.ad_rendered()
    session.note_step(db, f"ad {session.flow.position + 1}")
    if variant.kind == "video":
        # Muted: browsers block autoplay with sound. Its clock starts when the browser says it plays.
        st.video(media, format=variant.mime, autoplay=True, muted=True)
        position = video_position(f"{session.participant_id}-{session.flow.position}", session.exposure(variant))
        if position is not None:
            session.video_playing(position)
    else:
        st.image(media, width="stretch")
        session.ad_shown()
    countdown(session, variant)


def withdraw_box(session: ParticipantSession, db: Store) -> None:
    """The participant's code and the way out, on every page from the entry questions to the end."""
    with st.expander("Stop and delete my data"):
        st.write(f"Your participant code is `{session.participant_id}`. Stopping ends the study for you, turns "
                 "your camera off and erases everything stored about you: your ratings, your answers, the "
                 "estimated expressions and any face crops.")
        if st.button("Stop and delete my data", key="withdraw"):
            erase(session, db, session.withdraw)


def erase(session: ParticipantSession, db: Store, action: Callable[[Store], object]) -> None:
    """Run a withdrawal (or its retry); a failure is kept for the withdrawn page in plain words, and
    its details go to the server log, not to the participant."""
    st.session_state.pop(ERASE_FAILED, None)
    try:
        action(db)
    except WipePendingError:
        log.exception("participant %s: rows erased, file rewrite pending", session.participant_id)
        st.session_state[ERASE_FAILED] = "Your answers are deleted, but a last clean-up step did not finish."
    except (CampaignError, OSError):
        log.exception("participant %s: erasure failed", session.participant_id)
        st.session_state[ERASE_FAILED] = "Your data could not be erased just now."
    st.rerun()


def withdrawn_step(session: ParticipantSession, db: Store) -> None:
    failure = st.session_state.get(ERASE_FAILED)
    if failure is None:
        st.success("You have withdrawn: everything stored about you is erased and your camera is off. You can "
                   "close this tab now.")
        return
    st.error(f"{failure} Please try again, or send your participant code `{session.participant_id}` to whoever "
             "invited you. Your camera is off.")
    if st.button("Try again", type="primary"):
        erase(session, db, session.erase_again)


def rate_step(session: ParticipantSession, db: Store) -> None:
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
                    session.rate(db, rating, comment)
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


def done_step(session: ParticipantSession, db: Store) -> None:
    try:
        session.ensure_complete(db)
    except (CampaignError, OSError):
        log.exception("participant %s: not yet marked complete", session.participant_id)
    st.success("Thank you! Your answers are saved and your camera is off.")
    st.write(f"Your participant code is `{session.participant_id}`. To withdraw later, send it to whoever "
             "invited you and all your data will be erased.")


def camera_box(session: ParticipantSession, db: Store) -> None:
    try:
        with st.spinner("Preparing the camera check..."):
            session.ensure_worker(db, classifier())
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
        log.exception("the camera could not be set up")
        st.error(f"The camera cannot be used for this study right now. Please tell the organisers: {exc}")
        st.stop()


#: The page of each step that is not an ending (consent takes the preview flag as well).
STEP_PAGES: dict[Step, Callable[[ParticipantSession, Store], None]] = {
    Step.QUESTIONS: questions_step, Step.CAMERA: camera_step, Step.WATCH: watch_step, Step.RATE: rate_step,
    Step.WITHDRAWN: withdrawn_step, Step.DONE: done_step}


def render(session: ParticipantSession, db: Store, *, preview: bool = False) -> None:
    """Draw the participant's current step (``preview``: a staff preview that follows no redirect)."""
    head, body, camera_slot = st.container(), st.container(), st.container()
    head.progress(session.flow.progress, text=session.flow.progress_text)
    step = session.flow.step
    if step in (Step.CAMERA, Step.WATCH, Step.RATE, Step.DONE, Step.WITHDRAWN, Step.NO_CAMERA):
        with camera_slot:
            camera_box(session, db)
    with body:
        if step is Step.CONSENT:
            consent_step(session, db, preview=preview)
        elif step in STEP_PAGES:
            STEP_PAGES[step](session, db)
        else:
            st.info(ENDING_TEXT[step.value])
        outcome = session.outcome
        url = session.study.redirect(outcome, session.external_id) if outcome else None
        if url:
            send_back(url, follow=not preview, key=f"redirect-{outcome}")
        elif session.flow.finished and step is not Step.WITHDRAWN:
            st.write("You can close this tab now.")
        if session.flow.can_withdraw:
            withdraw_box(session, db)
