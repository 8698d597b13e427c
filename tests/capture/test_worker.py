"""The inference worker and the participant session with the real model and a real DuckDB store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from campaigns.store import Store
from campaigns.types import Campaign
from capture.flow import REQUIRED_OK_CHECKS, Step
from capture.frames import FrameQueue
from capture.holder import CaptureHolder
from capture.rtc import frame_callback
from capture.session import ParticipantSession
from capture.worker import InferenceWorker
from emotion.faces import VERDICT_NO_FACE, VERDICT_OK
from tests.capture.conftest import HAPPY, SAD, ManualClock, video_frame, wait_until


def rows(db: Store, participant_id: str) -> list[tuple[Any, ...]]:
    return db._cursor().execute(
        """SELECT variant, offset_ms, face_found, top_label, model_id, len(probabilities) FROM snapshots
           WHERE participant_id = ? ORDER BY variant, offset_ms""", [participant_id]).fetchall()


def participant_status(db: Store, participant_id: str) -> str:
    return db.participant(participant_id).status


def test_the_worker_classifies_tagged_frames_and_stores_them_in_batches(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    campaign = make_campaign()
    participant = db.add_participant(campaign, "v1")
    clock = ManualClock()
    holder, frames = CaptureHolder(clock=clock), FrameQueue(maxsize=64)
    on_frame = frame_callback(holder, frames)
    worker = InferenceWorker(participant_id=participant.id, frames=frames, holder=holder, store=db,
                             classifier=classifier, batch_size=3).start()
    holder.show("A", 1.0, at=clock())
    for _ in range(4):  # a happy face at 0, 1, 2, 3 s
        on_frame(video_frame(HAPPY))
        clock.advance(1.0)
    holder.show("B", 1.0, at=clock())
    for fixture in (SAD, SAD, None):  # then sad, and at 2 s nobody in front of the camera
        on_frame(video_frame(fixture))
        clock.advance(1.0)
    holder.hide()
    wait_until(lambda: holder.status().snapshots_stored >= 6)  # two full batches, before any stop
    worker.stop()
    assert not worker.is_alive()
    stored = rows(db, participant.id)
    assert [(v, o, f) for v, o, f, *_ in stored] == [
        ("A", 0, True), ("A", 1000, True), ("A", 2000, True), ("A", 3000, True),
        ("B", 0, True), ("B", 1000, True), ("B", 2000, False)]
    assert [label for _, _, _, label, _, _ in stored] == ["happy"] * 4 + ["sad", "sad", None]
    assert {m for *_, m, _ in stored} == {classifier.model_id}
    assert [n for *_, n in stored] == [len(classifier.labels)] * 6 + [None]
    assert holder.status().snapshots_stored == 7 and holder.status().errors == 0 and frames.dropped == 0


def test_the_camera_check_reports_verdicts_from_real_frames(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    participant = db.add_participant(make_campaign(), "v1")
    clock = ManualClock()
    holder, frames = CaptureHolder(clock=clock), FrameQueue()
    on_frame = frame_callback(holder, frames)
    worker = InferenceWorker(participant_id=participant.id, frames=frames, holder=holder, store=db,
                             classifier=classifier).start()
    holder.start_check()
    on_frame(video_frame(None))
    wait_until(lambda: holder.status().checks == 1)
    assert holder.status().verdict == VERDICT_NO_FACE and holder.status().ok_streak == 0
    for _ in range(REQUIRED_OK_CHECKS):
        clock.advance(0.5)
        on_frame(video_frame(HAPPY))
    wait_until(lambda: holder.status().checks == 1 + REQUIRED_OK_CHECKS)
    assert holder.status().verdict == VERDICT_OK and holder.status().ok_streak == REQUIRED_OK_CHECKS
    worker.stop()
    assert rows(db, participant.id) == []  # camera checks are never stored


def test_a_silent_camera_marks_the_participant_abandoned_and_keeps_their_snapshots(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    participant = db.add_participant(make_campaign(), "v1")
    holder, frames = CaptureHolder(), FrameQueue()
    on_frame = frame_callback(holder, frames)
    worker = InferenceWorker(participant_id=participant.id, frames=frames, holder=holder, store=db,
                             classifier=classifier, flush_s=0.1, abandon_after_s=1.0).start()
    holder.show("A", 0.2, at=holder.clock())
    on_frame(video_frame(HAPPY))  # one snapshot, then the tab is closed: no more frames
    wait_until(lambda: not worker.is_alive(), timeout=60)
    assert worker.abandoned and participant_status(db, participant.id) == "abandoned"
    assert [(v, o < 1000, label) for v, o, _, label, _, _ in rows(db, participant.id)] == [("A", True, "happy")]


def test_a_campaign_closed_mid_session_loses_only_the_refused_batch(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    campaign = make_campaign()
    participant = db.add_participant(campaign, "v1")
    holder, frames = CaptureHolder(), FrameQueue()
    worker = InferenceWorker(participant_id=participant.id, frames=frames, holder=holder, store=db,
                             classifier=classifier, flush_s=0.1).start()
    holder.show("A", 0.1, at=holder.clock())
    frame_callback(holder, frames)(video_frame(HAPPY))
    wait_until(lambda: holder.status().snapshots_stored == 1)
    db.close_campaign(campaign)
    holder.show("B", 0.1, at=holder.clock())
    frame_callback(holder, frames)(video_frame(SAD))
    wait_until(lambda: holder.status().errors == 1)
    assert worker.is_alive() and "closed" in (holder.status().last_error or "")
    worker.stop()
    assert [v for v, *_ in rows(db, participant.id)] == ["A"]


def test_face_crops_are_kept_only_with_the_campaign_setting_and_the_extra_consent(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    campaign = make_campaign(keep_face_crops=True)
    counts = {}
    for consent in (True, False):
        session = ParticipantSession(campaign)
        session.consent(db, crop_consent=consent)
        session.ensure_worker(db, classifier)
        session.holder.show("A", 0.1, at=session.holder.clock())
        session.on_frame(video_frame(HAPPY))
        def one_snapshot(s: ParticipantSession = session) -> bool:
            return s.holder.status().snapshots_taken == 1

        wait_until(one_snapshot)
        session.holder.finish()
        assert session.worker is not None
        session.worker.stop()
        row = db._cursor().execute("SELECT count(*) FROM face_crops WHERE participant_id = ?",
                                   [session.participant_id]).fetchone()
        assert row is not None
        counts[consent] = row[0]
    assert counts == {True: 1, False: 0}


def pass_camera_check(session: ParticipantSession, clock: ManualClock) -> None:
    """Feed a clear face until the session passes its camera check (the worker's verdicts decide)."""
    for _ in range(REQUIRED_OK_CHECKS + 2):
        if session.camera_ready():
            return
        clock.advance(0.5)
        checks = session.holder.status().checks
        session.on_frame(video_frame(HAPPY))
        def one_more_check(c: int = checks) -> bool:
            return session.holder.status().checks > c

        wait_until(one_more_check)
    raise AssertionError(f"the camera check did not pass: {session.holder.status()}")


def test_a_whole_participant_session_without_a_browser(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    """Consent, camera check, both ads in the counterbalanced order, ratings: what the page drives."""
    campaign = make_campaign(exposure_s=2.0, interval_s=0.5)
    db.add_participant(campaign, "v1")  # someone already took A-B, so this participant gets B-A
    clock = ManualClock()
    session = ParticipantSession(campaign, clock=clock)
    session.consent(db)
    session.ensure_worker(db, classifier)
    assert session.flow.order == "BA" and participant_status(db, session.participant_id) == "started"
    pass_camera_check(session, clock)
    faces = {"A": HAPPY, "B": SAD}  # the face the participant makes at each ad
    variants = db.variants(campaign)
    for expected in ("B", "A"):
        assert session.flow.step is Step.WATCH and session.flow.variant == expected
        session.ad_shown()
        while session.remaining_s(variants[expected]) > 0:
            session.on_frame(video_frame(faces[expected]))
            clock.advance(0.25)
        session.finish_exposure()
        session.on_frame(video_frame(None))  # while rating, nothing is kept
        session.rate(db, 4 if expected == "A" else 2, " nice " if expected == "A" else None)
    assert session.flow.step is Step.DONE and not session.worker.is_alive()  # type: ignore[union-attr]
    assert participant_status(db, session.participant_id) == "complete"
    stored = rows(db, session.participant_id)
    assert [(v, o) for v, o, *_ in stored] == [(v, o) for v in "AB" for o in (0, 500, 1000, 1500)]
    assert {v: {label for vv, _, _, label, _, _ in stored if vv == v} for v in "AB"} == {"A": {"happy"},
                                                                                          "B": {"sad"}}
    feedback = db._cursor().execute("SELECT variant, rating, comment FROM feedback WHERE participant_id = ? "
                                    "ORDER BY variant", [session.participant_id]).fetchall()
    assert feedback == [("A", 4, "nice"), ("B", 2, None)]


def test_a_campaign_scored_with_other_labels_is_refused_before_any_capture(
        db: Store, classifier: Any) -> None:
    campaign = db.create_campaign("Other labels", labels=list(reversed(classifier.labels)))
    from tests.capture.conftest import png

    db.set_variant(campaign, "A", png(1), "a.png")
    db.set_variant(campaign, "B", png(2), "b.png")
    session = ParticipantSession(db.go_live(campaign))
    session.consent(db)
    from capture.flow import FlowError

    with pytest.raises(FlowError, match="labels"):
        session.ensure_worker(db, classifier)
    assert session.worker is None


def test_a_restarted_worker_counts_quiet_time_from_its_own_start(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    """The participant stopped the camera for minutes (say, writing a comment), then a new worker starts:
    it must wait for frames, not give up at once because the old worker's last frame is old."""
    participant = db.add_participant(make_campaign(), "v1")
    clock = ManualClock()
    holder, frames = CaptureHolder(clock=clock), FrameQueue()
    frame_callback(holder, frames)(video_frame(HAPPY))  # a frame seen long ago
    clock.advance(300)
    worker = InferenceWorker(participant_id=participant.id, frames=frames, holder=holder, store=db,
                             classifier=classifier, flush_s=0.05, abandon_after_s=120.0).start()
    time.sleep(0.5)  # ten idle checks
    assert worker.is_alive() and not worker.abandoned
    clock.advance(121)  # now the new worker itself has heard nothing for too long
    wait_until(lambda: not worker.is_alive(), timeout=10)
    assert worker.abandoned and participant_status(db, participant.id) == "abandoned"


def test_from_the_first_ad_the_page_keeps_the_camera_on_and_restarts_a_silent_one(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    """During the camera check the participant holds the buttons; from the first ad the page asks the
    browser to keep the camera playing, and switches a camera that sends nothing off and on again."""
    from capture.session import NO_PICTURE_AFTER_S, RESTART_OFF_S, RESTART_SILENT_AFTER_S

    clock = ManualClock()
    session = ParticipantSession(make_campaign(exposure_s=120.0), clock=clock)
    assert session.camera_playing() is False  # no consent yet: nothing to play
    session.consent(db)
    session.ensure_worker(db, classifier)
    assert session.camera_playing() is None and not session.restart_silent_camera()
    clock.advance(NO_PICTURE_AFTER_S + 1)
    assert session.no_picture() and not session.restart_silent_camera()  # the participant's buttons
    pass_camera_check(session, clock)
    session.ad_shown()
    assert session.flow.step is Step.WATCH and session.camera_playing() is True

    clock.advance(RESTART_SILENT_AFTER_S - 1)
    assert session.no_picture() and not session.restart_silent_camera()  # told, not yet restarted
    session.on_frame(video_frame(HAPPY))  # a late frame: the camera works after all
    clock.advance(RESTART_SILENT_AFTER_S - 1)
    assert not session.restart_silent_camera()
    clock.advance(2)
    assert session.restart_silent_camera()  # silent for longer than the patience: off...
    assert session.camera_playing() is False and not session.no_picture() and session.camera_restarts == 1
    clock.advance(RESTART_OFF_S / 2)
    assert not session.restart_silent_camera() and session.camera_playing() is False
    clock.advance(RESTART_OFF_S)
    assert session.restart_silent_camera() and session.camera_playing() is True  # ...and on again
    clock.advance(NO_PICTURE_AFTER_S - 1)
    assert not session.no_picture()  # the new connection gets its own time to deliver
    clock.advance(RESTART_SILENT_AFTER_S - NO_PICTURE_AFTER_S)
    assert session.no_picture() and not session.restart_silent_camera()
    # That restart brought no picture either: the buttons come back (no endless retries by the browser).
    clock.advance(2)
    assert session.camera_playing() is None and not session.restart_silent_camera()
    assert session.camera_restarts == 1
    session.on_frame(video_frame(HAPPY))  # the participant pressed Start: the page holds the camera again
    assert session.camera_playing() is True

    # A restart that falls on the end of the ad does not leave the camera off through the rating
    # (no timer runs there).
    clock.advance(RESTART_SILENT_AFTER_S + 1)
    assert session.restart_silent_camera() and session.camera_playing() is False
    assert session.camera_restarts == 2
    session.finish_exposure()
    assert session.flow.step is Step.RATE and session.camera_playing() is True
    session.rate(db, 3, None)
    session.ad_shown()
    session.finish_exposure()
    session.rate(db, 3, None)
    assert session.flow.step is Step.DONE and session.camera_playing() is False
    assert not session.restart_silent_camera()


def test_a_participant_who_withdraws_mid_ad_is_erased_and_capture_stops(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    campaign = make_campaign(exposure_s=60.0, interval_s=0.5)
    stays = ParticipantSession(campaign)
    stays.consent(db)
    db.add_feedback(stays.participant_id, "A", 3, "stays")
    clock = ManualClock()
    session = ParticipantSession(campaign, clock=clock)
    session.consent(db)
    session.ensure_worker(db, classifier)
    pass_camera_check(session, clock)
    session.ad_shown()
    for _ in range(4):
        session.on_frame(video_frame(HAPPY))
        clock.advance(0.5)
    wait_until(lambda: session.holder.status().snapshots_stored >= 3)
    pid = session.participant_id
    assert rows(db, pid)

    counts = session.withdraw(db)
    assert counts["participants"] == 1 and counts["snapshots"] >= 3
    assert session.flow.step is Step.WITHDRAWN and session.camera_playing() is False
    assert session.worker is not None and not session.worker.is_alive()
    session.on_frame(video_frame(HAPPY))  # a frame still in flight from the browser
    session.ensure_worker(db, classifier)  # a later run of the page starts nothing
    assert not session.worker.is_alive() and session.holder.status().snapshots_taken == counts["snapshots"]
    for table, column in (("participants", "id"), ("snapshots", "participant_id"), ("feedback", "participant_id")):
        row = db._cursor().execute(f"SELECT count(*) FROM {table} WHERE {column} = ?",  # noqa: S608
                                   [pid]).fetchone()
        assert row is not None and row[0] == 0
    assert session.erase_again(db) == {}  # erasing twice is harmless
    assert db._cursor().execute("SELECT comment FROM feedback WHERE participant_id = ?",
                                [stays.participant_id]).fetchall() == [("stays",)]


def test_a_video_ads_clock_starts_when_the_browser_plays_it_or_after_the_timeout(
        db: Store, classifier: Any, make_campaign: Callable[..., Campaign]) -> None:
    from capture.session import VIDEO_START_TIMEOUT_S

    clock = ManualClock()
    session = ParticipantSession(make_campaign(exposure_s=3.0, interval_s=0.5), clock=clock)
    session.consent(db)
    session.ensure_worker(db, classifier)
    pass_camera_check(session, clock)
    first = session.flow.variant
    session.ad_rendered()
    for _ in range(4):  # the video is still loading: nothing is kept, the exposure has not begun
        session.on_frame(video_frame(HAPPY))
        clock.advance(0.5)
    assert session.flow.shown_at is None and session.holder.status().snapshots_taken == 0
    assert not session.video_overdue()
    session.video_playing(0.25)  # reported a moment after the playing event
    assert session.flow.shown_at == clock.now - 0.25
    session.video_playing(2.0)  # a repeated report changes nothing
    assert session.flow.shown_at == clock.now - 0.25
    while session.remaining_s(db.variants(session.campaign)[first]) > 0:
        session.on_frame(video_frame(HAPPY))
        clock.advance(0.25)
    session.finish_exposure()
    session.rate(db, 3, None)

    # The second video never reports playing (scripts blocked): after the timeout its clock starts,
    # then, so the participant still gets the whole exposure.
    session.ad_rendered()
    clock.advance(VIDEO_START_TIMEOUT_S - 0.5)
    assert not session.video_overdue() and session.flow.shown_at is None
    clock.advance(1.0)
    assert session.video_overdue() and session.flow.shown_at == clock.now
    assert session.remaining_s(db.variants(session.campaign)[session.flow.variant or ""]) == 3.0
    assert not session.video_overdue()  # once
    session.on_frame(video_frame(HAPPY))
    session.finish_exposure()
    session.rate(db, 3, None)
    assert session.worker is not None and not session.worker.is_alive()
    stored = rows(db, session.participant_id)
    firsts = [o for v, o, *_ in stored if v == first]
    # The video's own seconds on the snapshot grid (0.25 s in when reported), none from the wait.
    assert firsts == [250, 500, 1000, 1500, 2000, 2500]
    assert [o for v, o, *_ in stored if v != first] == [0]
