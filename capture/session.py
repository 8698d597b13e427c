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

from campaigns.store import Store
from campaigns.types import Campaign, Participant, Variant
from capture.flow import CONSENT_VERSION, REQUIRED_OK_CHECKS, Flow, FlowError, Step, exposure_s
from capture.frames import FrameQueue
from capture.holder import CaptureHolder, CaptureStatus
from capture.rtc import frame_callback
from capture.worker import InferenceWorker

log = logging.getLogger(__name__)

#: Seconds without any camera frame (while the camera should run) before the page says so.
NO_PICTURE_AFTER_S = 10.0


class ParticipantSession:
    """Flow state, capture and writes of one participant of one campaign."""

    def __init__(self, campaign: Campaign, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.campaign = campaign
        self.flow = Flow()
        self.participant: Participant | None = None
        self.holder = CaptureHolder(clock=clock)
        self.frames = FrameQueue()
        self.on_frame = frame_callback(self.holder, self.frames)
        self.worker: InferenceWorker | None = None
        self._clock = clock
        self._camera_since: float | None = None

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
        """Register the participant (counterbalanced order) and move on to the camera check."""
        if self.flow.step is not Step.CONSENT:
            raise FlowError("consent was already given")
        keep = crop_consent and self.campaign.settings.keep_face_crops
        self.participant = store.add_participant(self.campaign, CONSENT_VERSION, crop_consent=keep)
        self.flow = self.flow.consent(self.participant.order)
        self.holder.start_check()
        self._camera_since = self._clock()
        return self.participant

    def decline(self) -> None:
        """End politely; nothing is stored."""
        self.flow = self.flow.decline()

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

    def no_picture(self) -> bool:
        """True when the camera should run but has sent no frame for a while (denied, missing or stopped)."""
        status = self.holder.status()
        since = status.last_frame_at if status.last_frame_at is not None else self._camera_since
        return since is not None and self._clock() - since > NO_PICTURE_AFTER_S

    # -- the ads ----------------------------------------------------------------

    def camera_ready(self) -> bool:
        """Pass the camera check once enough consecutive checks were ok (the first ad comes next)."""
        streak = self.holder.status().ok_streak
        if self.flow.step is not Step.CAMERA or streak < REQUIRED_OK_CHECKS:
            return False
        self.holder.hide()
        self.flow = self.flow.camera_passed(streak)
        return True

    def ad_shown(self) -> None:
        """The page just put the current ad on screen: start its exposure and snapshots (once per ad)."""
        if self.flow.step is not Step.WATCH or self.flow.shown_at is not None:
            return
        self.flow = self.flow.shown(self._clock())
        assert self.flow.variant is not None and self.flow.shown_at is not None
        self.holder.show(self.flow.variant, self.campaign.settings.interval_s, at=self.flow.shown_at)

    def exposure(self, variant: Variant) -> float:
        return exposure_s(variant.kind, variant.duration_s, self.campaign.settings.exposure_s)

    def remaining_s(self, variant: Variant) -> float:
        return self.flow.remaining_s(self._clock(), self.exposure(variant))

    def finish_exposure(self) -> None:
        """The ad's time is up: stop keeping frames and ask for the rating."""
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
            self._complete(store)

    def _complete(self, store: Store) -> None:
        # Store every snapshot before the participant counts as complete.
        self.holder.finish()
        if self.worker is not None:
            self.worker.stop()
        store.mark_participant(self.participant_id, "complete")
        status = self.holder.status()
        log.info("participant %s complete: %d frames seen, %d snapshots taken, %d stored, %d dropped, %d errors",
                 self.participant_id, status.frames_seen, status.snapshots_taken, status.snapshots_stored,
                 self.frames.dropped, status.errors)
