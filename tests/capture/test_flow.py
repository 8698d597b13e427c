"""The participant flow as a pure state machine: every step, both orders, and refused transitions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from capture.flow import (
    REQUIRED_OK_CHECKS,
    Flow,
    FlowError,
    Step,
    camera_advice,
    exposure_s,
    scale_label,
)
from emotion.faces import (
    VERDICT_MOVE_CLOSER,
    VERDICT_NO_FACE,
    VERDICT_OK,
    VERDICT_TOO_BLURRY,
    VERDICT_TOO_BRIGHT,
    VERDICT_TOO_DARK,
)


@pytest.mark.parametrize("order", ["AB", "BA"])
def test_a_participant_walks_every_step_in_their_order(order: str) -> None:
    flow = Flow()
    seen = [(flow.step, flow.variant, flow.progress)]
    flow = flow.consent(order)
    seen.append((flow.step, flow.variant, flow.progress))
    flow = flow.camera_passed(REQUIRED_OK_CHECKS)
    assert flow.shown_at is None and flow.remaining_s(5.0, 4.0) == 4.0  # not on screen yet: the clock waits
    flow = flow.shown(10.0)
    assert flow.shown(99.0).shown_at == 10.0  # a rerun does not restart the exposure
    assert flow.remaining_s(12.5, 4.0) == 1.5 and flow.remaining_s(20.0, 4.0) == 0.0
    seen.append((flow.step, flow.variant, flow.progress))
    flow = flow.exposure_over()
    seen.append((flow.step, flow.variant, flow.progress))
    flow = flow.rated().shown(30.0)
    seen.append((flow.step, flow.variant, flow.progress))
    flow = flow.exposure_over()
    seen.append((flow.step, flow.variant, flow.progress))
    flow = flow.rated()
    seen.append((flow.step, flow.variant, flow.progress))
    assert [s for s, _, _ in seen] == [Step.CONSENT, Step.CAMERA, Step.WATCH, Step.RATE, Step.WATCH, Step.RATE,
                                       Step.DONE]
    assert [v for _, v, _ in seen] == [None, None, order[0], order[0], order[1], order[1], None]
    progress = [p for _, _, p in seen]
    assert progress == sorted(progress) and progress[0] == 0.0 and progress[-1] == 1.0
    assert flow.finished and flow.progress_text == "Done"


def test_progress_text_names_the_ad_never_the_variant() -> None:
    flow = Flow().consent("BA").camera_passed(REQUIRED_OK_CHECKS)
    assert flow.progress_text == "Step 3 of 6: Ad 1 of 2"
    assert "A" not in flow.progress_text.replace("Ad", "") and "B" not in flow.progress_text
    assert flow.exposure_over().progress_text == "Step 4 of 6: Your view of ad 1"


def test_declining_ends_the_flow() -> None:
    flow = Flow().decline()
    assert flow.step is Step.DECLINED and flow.finished and flow.progress == 1.0 and flow.order is None
    with pytest.raises(FlowError):
        flow.consent("AB")


def test_a_participant_may_withdraw_at_every_step_after_consent() -> None:
    steps = [Flow().consent("AB")]
    steps.append(steps[-1].camera_passed(REQUIRED_OK_CHECKS).shown(1.0))
    steps.append(steps[-1].exposure_over())
    steps.append(steps[-1].rated().shown(9.0).exposure_over().rated())
    assert [f.step for f in steps] == [Step.CAMERA, Step.WATCH, Step.RATE, Step.DONE]
    for flow in steps:
        assert flow.can_withdraw
        out = flow.withdraw()
        assert out.step is Step.WITHDRAWN and out.finished and not out.can_withdraw
        assert out.progress == 1.0 and out.progress_text == "Done" and out.variant is None and out.shown_at is None
    assert not Flow().can_withdraw and not Flow().decline().can_withdraw


@pytest.mark.parametrize("move", [
    lambda f: f.decline().decline(),
    lambda f: f.camera_passed(REQUIRED_OK_CHECKS),  # no consent yet
    lambda f: f.consent("AB").camera_passed(REQUIRED_OK_CHECKS - 1),  # too few ok checks
    lambda f: f.consent("AB").decline(),  # already consented: that is withdraw()
    lambda f: f.withdraw(),  # nothing stored before consent
    lambda f: f.decline().withdraw(),
    lambda f: f.consent("AB").withdraw().withdraw(),
    lambda f: f.consent("AB").withdraw().camera_passed(REQUIRED_OK_CHECKS),
    lambda f: f.consent("AB").rated(),
    lambda f: f.consent("AB").exposure_over(),
    lambda f: f.consent("XY"),
])
def test_steps_out_of_turn_are_refused(move: Callable[[Flow], Flow]) -> None:
    with pytest.raises(FlowError):
        move(Flow())


def test_exposure_follows_the_campaign_for_images_and_the_video_length_for_videos() -> None:
    assert exposure_s("image", None, 15.0) == 15.0
    assert exposure_s("video", 7.5, 15.0) == 7.5
    assert exposure_s("video", None, 15.0) == 15.0  # unknown length: fall back to the campaign's exposure


def test_rating_scale_words_only_its_ends() -> None:
    assert [scale_label(v, 5) for v in range(1, 6)] == ["1 - very negative", "2", "3", "4", "5 - very positive"]
    assert scale_label(7, 7) == "7 - very positive"


def test_every_camera_verdict_has_advice_and_none_names_an_emotion() -> None:
    verdicts = [VERDICT_OK, VERDICT_NO_FACE, VERDICT_TOO_DARK, VERDICT_TOO_BRIGHT, VERDICT_TOO_BLURRY,
                VERDICT_MOVE_CLOSER, None]
    advice = [camera_advice(v) for v in verdicts]
    assert len(set(advice)) == len(advice)
    assert "closer" in camera_advice(VERDICT_MOVE_CLOSER) and "dark" in camera_advice(VERDICT_TOO_DARK)
    assert not any(word in " ".join(advice).lower() for word in ("sad", "angry", "fear", "disgust"))
