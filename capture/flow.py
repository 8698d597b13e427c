"""The participant's steps as a pure, immutable state machine (no Streamlit, no I/O).

consent -> entry questions (where the study asks any) -> camera check -> watch
the first ad -> rate it -> watch the second ad -> rate it -> done. Declining at
consent ends the flow, and so do an answer that screens the participant out, a
full quota cell, a participant without a usable camera, and withdrawing (stop,
and erase everything stored) at any step after consent. Times are plain
``time.monotonic()`` seconds passed in by the caller, so tests drive the clock.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from enum import StrEnum

from emotion.faces import (
    VERDICT_MOVE_CLOSER,
    VERDICT_NO_FACE,
    VERDICT_OK,
    VERDICT_TOO_BLURRY,
    VERDICT_TOO_BRIGHT,
    VERDICT_TOO_DARK,
)

#: Consecutive "ok" camera checks needed before the first ad is shown.
REQUIRED_OK_CHECKS = 3
#: A transparent 1x1 PNG the camera check shows so the browser loads its image viewer (a lazily
#: loaded script) before the first ad: otherwise, on a slow device, the first ad appeared seconds
#: after its exposure timer and its snapshots started (measured: 2-5 s on a busy 2-core machine).
PRELOAD_IMAGE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
#: Version of the consent text (stored with every participant); bump when the text changes.
CONSENT_VERSION = "participant-consent-1"


class FlowError(ValueError):
    """A step was asked for that the participant's current step does not allow."""


class Step(StrEnum):
    CONSENT = "consent"
    DECLINED = "declined"
    QUESTIONS = "questions"
    SCREENED_OUT = "screened_out"
    QUOTA_FULL = "quota_full"
    NO_CAMERA = "no_camera"
    CAMERA = "camera"
    WATCH = "watch"
    RATE = "rate"
    DONE = "done"
    WITHDRAWN = "withdrawn"


# Steps in the order a participant meets them, for the progress indicator.
_SEQUENCE: tuple[tuple[Step, int], ...] = (
    (Step.CONSENT, 0), (Step.QUESTIONS, 0), (Step.CAMERA, 0), (Step.WATCH, 0), (Step.RATE, 0), (Step.WATCH, 1),
    (Step.RATE, 1), (Step.DONE, 1),
)
#: Steps that end the flow before the last one.
ENDINGS: tuple[Step, ...] = (Step.DECLINED, Step.SCREENED_OUT, Step.QUOTA_FULL, Step.NO_CAMERA, Step.WITHDRAWN)
_STEP_TEXT = {Step.CONSENT: "Consent", Step.QUESTIONS: "A few questions", Step.CAMERA: "Camera check",
              Step.WATCH: "Ad {n} of 2", Step.RATE: "Your view of ad {n}", Step.DONE: "Done",
              **dict.fromkeys(ENDINGS, "Done")}

_ADVICE = {
    VERDICT_OK: "Looks good - please hold still.",
    VERDICT_NO_FACE: "We can't see your face yet. Look straight at the screen.",
    VERDICT_TOO_DARK: "It's too dark. Turn on a light or face a window.",
    VERDICT_TOO_BRIGHT: "It's too bright. Move away from direct light behind or in front of you.",
    VERDICT_TOO_BLURRY: "The picture is blurry. Hold still, or clean the camera lens.",
    VERDICT_MOVE_CLOSER: "Please move a little closer to the camera.",
}


def camera_advice(verdict: str | None) -> str:
    """What the participant should do about one camera-check verdict (never a prediction)."""
    if verdict is None:
        return "Waiting for the first picture from your camera..."
    return _ADVICE.get(verdict, f"Camera check: {verdict}.")


def exposure_s(kind: str, duration_s: float | None, image_exposure_s: float) -> float:
    """How long a variant stays on screen: an image for the campaign's exposure, a video to its end."""
    if kind == "video" and duration_s is not None and duration_s > 0:
        return float(duration_s)
    return float(image_exposure_s)


def scale_label(value: int, points: int) -> str:
    """Label of one point on a rating scale of ``points`` (ends worded, the rest plain numbers)."""
    if value == 1:
        return "1 - very negative"
    if value == points:
        return f"{points} - very positive"
    return str(value)


@dataclass(frozen=True)
class Flow:
    """Where one participant is. Every transition returns a new Flow or raises FlowError."""

    step: Step = Step.CONSENT
    order: str | None = None  # "AB" or "BA", from the store's counterbalancing
    position: int = 0  # 0 while the first ad is shown or rated, 1 for the second
    shown_at: float | None = None  # monotonic time the current ad was put on screen
    asks_questions: bool = False  # the study has entry questions (asked between consent and camera)

    def _expect(self, *steps: Step) -> None:
        if self.step not in steps:
            raise FlowError(f"the participant is at step {self.step.value!r}, not {' or '.join(steps)}")

    @property
    def variant(self) -> str | None:
        """The variant (A or B) being shown or rated, in the participant's order."""
        if self.order is None or self.step not in (Step.WATCH, Step.RATE):
            return None
        return self.order[self.position]

    @property
    def finished(self) -> bool:
        return self.step is Step.DONE or self.step in ENDINGS

    @property
    def can_withdraw(self) -> bool:
        """From consent on something may be stored, so from then on (the end included) the participant
        may withdraw. A visit ended by an answer or a missing camera may be erased too."""
        return self.step in (Step.QUESTIONS, Step.CAMERA, Step.WATCH, Step.RATE, Step.DONE, Step.SCREENED_OUT,
                             Step.QUOTA_FULL, Step.NO_CAMERA)

    @property
    def _sequence(self) -> tuple[tuple[Step, int], ...]:
        return _SEQUENCE if self.asks_questions else tuple(s for s in _SEQUENCE if s[0] is not Step.QUESTIONS)

    @property
    def progress(self) -> float:
        """Share of the flow behind the participant, 0..1."""
        if self.step in ENDINGS:
            return 1.0
        return self._sequence.index((self.step, self.position)) / (len(self._sequence) - 1)

    @property
    def progress_text(self) -> str:
        if self.finished:
            return _STEP_TEXT[self.step]
        index = self._sequence.index((self.step, self.position))
        text = _STEP_TEXT[self.step].format(n=self.position + 1)
        return f"Step {index + 1} of {len(self._sequence) - 1}: {text}"

    def consent(self, order: str) -> Flow:
        self._expect(Step.CONSENT)
        if order not in ("AB", "BA"):
            raise FlowError(f"order must be 'AB' or 'BA', got {order!r}")
        return replace(self, step=Step.QUESTIONS if self.asks_questions else Step.CAMERA, order=order)

    def answered(self, outcome: str | None) -> Flow:
        """After the entry questions: the camera check, or the end the answers decided."""
        self._expect(Step.QUESTIONS)
        ends = {None: Step.CAMERA, "screened_out": Step.SCREENED_OUT, "quota_full": Step.QUOTA_FULL}
        if outcome not in ends:
            raise FlowError(f"entry answers end in screened_out, quota_full or nothing, got {outcome!r}")
        return replace(self, step=ends[outcome])

    def no_camera(self) -> Flow:
        """The participant cannot use a camera: the study ends for them."""
        self._expect(Step.CAMERA)
        return replace(self, step=Step.NO_CAMERA)

    def decline(self) -> Flow:
        self._expect(Step.CONSENT)
        return replace(self, step=Step.DECLINED)

    def withdraw(self) -> Flow:
        """The participant stops and wants everything stored about them erased."""
        if not self.can_withdraw:
            raise FlowError(f"the participant is at step {self.step.value!r}: nothing to withdraw")
        return replace(self, step=Step.WITHDRAWN, shown_at=None)

    def camera_passed(self, ok_streak: int) -> Flow:
        """Go to the first ad once the camera check saw enough consecutive ok frames."""
        self._expect(Step.CAMERA)
        if ok_streak < REQUIRED_OK_CHECKS:
            raise FlowError(f"the camera check needs {REQUIRED_OK_CHECKS} ok checks in a row, got {ok_streak}")
        return replace(self, step=Step.WATCH, position=0, shown_at=None)

    def shown(self, now: float) -> Flow:
        """The current ad was put on screen at ``now``: its exposure runs from here (idempotent)."""
        self._expect(Step.WATCH)
        return self if self.shown_at is not None else replace(self, shown_at=now)

    def remaining_s(self, now: float, duration_s: float) -> float:
        """Seconds the current ad still has on screen (0 when over)."""
        self._expect(Step.WATCH)
        if self.shown_at is None:
            return duration_s
        return max(0.0, duration_s - (now - self.shown_at))

    def exposure_over(self) -> Flow:
        self._expect(Step.WATCH)
        return replace(self, step=Step.RATE, shown_at=None)

    def rated(self) -> Flow:
        """After a rating: the second ad, or the end."""
        self._expect(Step.RATE)
        if self.position == 0:
            return replace(self, step=Step.WATCH, position=1, shown_at=None)
        return replace(self, step=Step.DONE)
