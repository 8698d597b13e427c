"""One participant's whole flow: the pure Flow plus its capture (holder, queue, worker) and store writes.

The page keeps one ParticipantSession per browser session (under
``app_state.PARTICIPANT_FLOW``) and calls its methods from the script thread
only; the frame callback and the worker reach the shared state through the
lock-guarded holder and the bounded queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from campaigns.errors import CampaignError, UnknownParticipantError
from campaigns.store import Store
from campaigns.study import StudySetup
from campaigns.types import Campaign, Participant, Variant
from capture.flow import CONSENT_VERSION, REQUIRED_OK_CHECKS, Flow, FlowError, Step, exposure_s
from capture.frames import FrameQueue
from capture.holder import CaptureHolder, CaptureStatus
from capture.rtc import frame_callback
from capture.worker import InferenceWorker

log = logging.getLogger(__name__)

#: Seconds without any camera frame (while the camera should run) before the page says so.
NO_PICTURE_AFTER_S = 10.0
#: Seconds without a frame before the page switches a camera that worked before off and on again
#: itself (a new connection on a busy machine was seen to take 6-10 s before its first frame).
RESTART_SILENT_AFTER_S = 20.0
#: Seconds after its render a video ad may take to start playing in the browser; then its clock starts
#: anyway, at that moment (the browser never said it plays: scripts blocked, or a download that stalls).
VIDEO_START_TIMEOUT_S = 10.0
#: How long such a restart keeps the camera off, so the browser sees "off" before "on" again.
RESTART_OFF_S = 2.0


class ParticipantSession:
    """Flow state, capture and writes of one participant of one campaign."""

    def __init__(self, campaign: Campaign, *, study: StudySetup | None = None, external_id: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.campaign = campaign
        self.study = study if study is not None else StudySetup()
        self.external_id = external_id  # the panel's participant id from the link, if any
        self.flow = Flow(asks_questions=bool(self.study.questions))
        self.participant: Participant | None = None
        self.holder = CaptureHolder(clock=clock)
        self.frames = FrameQueue()
        self.on_frame = frame_callback(self.holder, self.frames)
        self.worker: InferenceWorker | None = None
        self._clock = clock
        self._camera_since: float | None = None
        self._off_until: float | None = None
        self._restarted_at_frame: int | None = None  # frames_seen when the page last restarted the camera
        self._rendered_at: float | None = None  # when the page put the current ad on the page
        self._completed = False  # marked complete in the store
        self._steps_noted: set[str] = set()
        self.camera_restarts = 0

    @property
    def campaign_id(self) -> int:
        return self.campaign.id

    @property
    def participant_id(self) -> str:
        if self.participant is None:
            raise FlowError("no participant yet: consent comes first")
        return self.participant.id

    # -- consent --------------------------------------------------------------

    def consent(self, store: Store, *, crop_consent: bool = False) -> Participant:
        """Register the participant (counterbalanced order; the study's admission rules may refuse them
        with AdmissionError) and move on to the entry questions or the camera check."""
        if self.flow.step is not Step.CONSENT:
            raise FlowError("consent was already given")
        keep = crop_consent and self.campaign.settings.keep_face_crops
        self.participant = store.add_participant(self.campaign, CONSENT_VERSION, crop_consent=keep,
                                                 external_id=self.external_id)
        self.flow = self.flow.consent(self.participant.order)
        if self.flow.step is Step.CAMERA:
            self._start_camera_check()
        return self.participant

    def answer(self, store: Store, answers: dict[str, Any]) -> None:
        """Store the entry answers (StudyError for an invalid one); they decide whether the participant
        goes on to the camera check or ends as screened out or quota full."""
        if self.flow.step is not Step.QUESTIONS:
            raise FlowError("the entry questions are not being asked now")
        self.flow = self.flow.answered(store.answer_questions(self.participant_id, answers))
        if self.flow.step is Step.CAMERA:
            self._start_camera_check()

    def _start_camera_check(self) -> None:
        self.holder.start_check()
        self._camera_since = self._clock()

    def decline(self, store: Store | None = None) -> None:
        """End politely; only that someone declined is counted (``store``), nothing about them."""
        self.flow = self.flow.decline()
        if store is not None:
            store.record_decline(self.campaign)

    def no_camera(self, store: Store) -> None:
        """The participant has no camera they can use: stop capture and end their visit as such."""
        self.flow = self.flow.no_camera()
        self.holder.finish()
        if self.worker is not None:
            self.worker.stop()
        store.end_participant(self.participant_id, "no_camera", "camera")

    def close(self) -> None:
        """Stop capture for good (a preview started again); the store is not told."""
        self.holder.finish()
        if self.worker is not None:
            self.worker.stop()

    @property
    def outcome(self) -> str | None:
        """How the visit ended, in the study's words (for the redirect), or None while it runs."""
        return {Step.DONE: "complete", Step.SCREENED_OUT: "screened_out", Step.QUOTA_FULL: "quota_full",
                Step.DECLINED: "declined", Step.NO_CAMERA: "no_camera"}.get(self.flow.step)

    def note_step(self, store: Store, step: str) -> None:
        """Record once that the participant reached ``step`` (for the funnel); a failure only logs."""
        if self.participant is None or step in self._steps_noted:
            return
        self._steps_noted.add(step)
        try:
            store.reached_step(self.participant.id, step)
        except (CampaignError, OSError):
            log.exception("participant %s: step %s not recorded", self.participant.id, step)

    # -- capture --------------------------------------------------------------

    def check_classifier(self, classifier: Any) -> None:
        """Raise FlowError unless ``classifier`` predicts the labels this campaign is scored with."""
        if tuple(classifier.labels) != tuple(self.campaign.labels):
            raise FlowError(f"this campaign is scored with labels {list(self.campaign.labels)} but the "
                            f"installed model predicts {list(classifier.labels)}")

    def ensure_worker(self, store: Store, classifier: Any) -> None:
        """Start (or restart, after it gave up on a silent camera) this participant's inference worker."""
        if self.participant is None or self.flow.finished:
            return
        self.check_classifier(classifier)
        if self.worker is not None and self.worker.is_alive():
            return
        if self.worker is not None and self.worker.abandoned:
            store.mark_participant(self.participant.id, "started")  # the participant came back
        if self.frames.closed:
            self.frames = FrameQueue(self.frames.maxsize)
            self.on_frame = frame_callback(self.holder, self.frames)
        crops = self.participant.crop_consent and self.campaign.settings.keep_face_crops
        self.worker = InferenceWorker(participant_id=self.participant.id, frames=self.frames, holder=self.holder,
                                      store=store, classifier=classifier, keep_face_crops=crops).start()

    def status(self) -> CaptureStatus:
        return self.holder.status()

    @property
    def dropped(self) -> int:
        return self.frames.dropped

    def no_picture(self, after_s: float = NO_PICTURE_AFTER_S) -> bool:
        """True when the camera should run but has sent no frame for ``after_s`` (denied, missing or
        stopped), counted from its last frame or from the last (re)start the page asked for."""
        if self._off_until is not None:
            return False  # switched off on purpose for a moment
        times = [t for t in (self.holder.status().last_frame_at, self._camera_since) if t is not None]
        return bool(times) and self._clock() - max(times) > after_s

    def camera_playing(self) -> bool | None:
        """The camera state the page asks the browser for in this run.

        ``None`` (the participant's own Start/Stop buttons and camera choice) during the camera
        check: starting the camera is the participant's decision and asks for the browser's
        permission. From the first ad on (the camera check passed, so the camera works) ``True``: a
        connection that drops is reconnected by the browser without anyone pressing a button (a
        person would otherwise lose seconds of the ad, or the whole ad, to a dropped stream).
        ``False`` for a moment while a silent camera is restarted, and once the flow ended. Back to
        ``None`` when a restart brought no picture either: a camera the browser cannot open (taken
        by another app, permission withdrawn) is then the participant's to fix, with the buttons,
        instead of the browser retrying it without pause.
        """
        if self.flow.finished:
            return False
        if self.flow.step is Step.CAMERA or self._restart_failed():
            return None
        if self.flow.step not in (Step.WATCH, Step.RATE):
            return False
        return self._off_until is None

    def _end_off_period(self, *, now: bool = False) -> bool:
        """End the off period of a restart once it is over (or ``now``); True when it just ended.
        Only ``restart_silent_camera`` and ``finish_exposure`` call this, so the state changes
        exactly where the page reruns to pass it on."""
        if self._off_until is None or (not now and self._clock() < self._off_until):
            return False
        self._off_until = None
        self._camera_since = self._clock()  # the new connection gets its own time to deliver
        return True

    def _restart_failed(self) -> bool:
        return (self._restarted_at_frame is not None and self._off_until is None
                and self.holder.status().frames_seen == self._restarted_at_frame
                and self.no_picture(RESTART_SILENT_AFTER_S))

    def restart_silent_camera(self) -> bool:
        """Called by the page's timers. Switches a camera that worked before but sent nothing for
        RESTART_SILENT_AFTER_S off and, RESTART_OFF_S later, on again (a connection can stay up
        without delivering, or hang while it is set up). True when the camera state changed, so the
        page reruns in full to pass the new state to the browser."""
        if self._end_off_period():
            return True
        if self._off_until is not None or self.camera_playing() is not True \
                or not self.no_picture(RESTART_SILENT_AFTER_S):
            return False
        self._off_until = self._clock() + RESTART_OFF_S
        self._restarted_at_frame = self.holder.status().frames_seen
        self.camera_restarts += 1
        log.info("participant %s: no picture for %.0f s, restarting the camera (restart %d)",
                 self.participant.id if self.participant else "-", RESTART_SILENT_AFTER_S, self.camera_restarts)
        return True

    # -- the ads ----------------------------------------------------------------

    def camera_ready(self) -> bool:
        """Pass the camera check once enough consecutive checks were ok (the first ad comes next)."""
        streak = self.holder.status().ok_streak
        if self.flow.step is not Step.CAMERA or streak < REQUIRED_OK_CHECKS:
            return False
        self.holder.hide()
        self.flow = self.flow.camera_passed(streak)
        return True

    def ad_shown(self, at: float | None = None) -> None:
        """The current ad is on screen (since ``at``, default now): start its exposure and snapshots
        (once per ad). An image is on screen when the page renders it; a video when the browser says it
        plays (``video_playing``), or, failing that, ``video_overdue``."""
        if self.flow.step is not Step.WATCH or self.flow.shown_at is not None:
            return
        self.flow = self.flow.shown(self._clock() if at is None else at)
        assert self.flow.variant is not None and self.flow.shown_at is not None
        self.holder.show(self.flow.variant, self.campaign.settings.interval_s, at=self.flow.shown_at)

    def ad_rendered(self) -> None:
        """The page put the current ad on the page (a video may still be loading); once per ad."""
        if self.flow.step is Step.WATCH and self._rendered_at is None:
            self._rendered_at = self._clock()

    def video_playing(self, position_s: float) -> None:
        """The browser reported the video ad playing, ``position_s`` seconds into it: its clock starts at
        the video's own start (a report arrives a moment after the event)."""
        if self.flow.step is Step.WATCH and self.flow.shown_at is None:
            waited = self._clock() - position_s - (self._rendered_at or self._clock())
            log.info("participant %s: video ad %d plays %.1f s after it was put on the page",
                     self.participant_id, self.flow.position + 1, max(0.0, waited))
        self.ad_shown(at=self._clock() - max(0.0, position_s))

    def video_overdue(self) -> bool:
        """Start a video ad's clock now when the browser has not said it plays within
        ``VIDEO_START_TIMEOUT_S`` of its render (scripts blocked, autoplay refused, a stalled download):
        True when it just did. Now, not at the render: the participant still gets the whole exposure."""
        if (self.flow.step is not Step.WATCH or self.flow.shown_at is not None or self._rendered_at is None
                or self._clock() - self._rendered_at < VIDEO_START_TIMEOUT_S):
            return False
        log.warning("participant %s: the browser did not report video ad %d playing within %.0f s; its clock "
                    "starts now", self.participant_id, self.flow.position + 1, VIDEO_START_TIMEOUT_S)
        self.ad_shown()
        return True

    def exposure(self, variant: Variant) -> float:
        return exposure_s(variant.kind, variant.duration_s, self.campaign.settings.exposure_s)

    def remaining_s(self, variant: Variant) -> float:
        return self.flow.remaining_s(self._clock(), self.exposure(variant))

    def finish_exposure(self) -> None:
        """The ad's time is up: stop keeping frames and ask for the rating."""
        self._end_off_period(now=True)  # no timer runs during the rating: never leave the camera off
        self._rendered_at = None
        self.holder.hide()
        self.flow = self.flow.exposure_over()

    def rate(self, store: Store, rating: int, comment: str | None) -> None:
        """Store the rating of the ad just shown, then show the next ad or finish."""
        variant = self.flow.variant
        if self.flow.step is not Step.RATE or variant is None:
            raise FlowError("there is no ad to rate now")
        store.add_feedback(self.participant_id, variant, rating, comment.strip() if comment else None)
        self.flow = self.flow.rated()
        if self.flow.step is Step.DONE:
            self.ensure_complete(store)

    def ensure_complete(self, store: Store) -> None:
        """Mark a participant who reached the end complete (again after a failure: the thank-you page
        calls this on every run until it holds)."""
        if self.flow.step is not Step.DONE or self._completed:
            return
        self._complete(store)
        self._completed = True

    def _complete(self, store: Store) -> None:
        # Store every snapshot before the participant counts as complete.
        self.holder.finish()
        if self.worker is not None:
            self.worker.stop()
        store.mark_participant(self.participant_id, "complete")
        status = self.holder.status()
        log.info("participant %s complete: %d frames seen, %d snapshots taken, %d stored, %d dropped, %d errors, "
                 "%d camera restarts by the page", self.participant_id, status.frames_seen, status.snapshots_taken,
                 status.snapshots_stored, self.frames.dropped, status.errors, self.camera_restarts)

    # -- withdrawal -----------------------------------------------------------

    def withdraw(self, store: Store) -> dict[str, int]:
        """Stop capturing and erase everything stored about this participant (right to erasure).

        The flow ends first, so no later run restarts capture; the worker is then stopped (a write it
        still makes after the erasure is refused: the participant no longer exists). Raises what the
        store raises when the erasure fails; ``erase_again`` retries it."""
        if self.participant is None:
            raise FlowError("nothing is stored before consent: there is nothing to withdraw")
        self.flow = self.flow.withdraw()
        self.holder.finish()
        if self.worker is not None:
            self.worker.stop()
        return self.erase_again(store)

    def erase_again(self, store: Store) -> dict[str, int]:
        """Erase the withdrawn participant's data (again, after a failure); the counts erased per table."""
        if self.participant is None or self.flow.step is not Step.WITHDRAWN:
            raise FlowError("only a participant who withdrew is erased")
        try:
            counts = store.erase_participant(self.participant.id)
        except UnknownParticipantError:
            # The rows are gone already (the organisers erased them, or the file rewrite after the
            # erasure failed last time): rewrite the file, so no byte of them stays in it (a failed
            # rewrite raises WipePendingError, as after an erasure).
            store.compact()
            counts = {}
        log.info("participant %s withdrew: erased %s", self.participant.id, counts)
        return counts
