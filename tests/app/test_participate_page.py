"""Participate page (AppTest): links that lead nowhere, consent, declining, the face-crop tick, and a
whole session whose frames are fed through the page's real frame callback (no browser needed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_state import PARTICIPANT_FLOW, campaign_labels, store
from campaigns.store import Store
from campaigns.types import Campaign
from capture.flow import Step
from tests.campaigns.conftest import held_by_another_process
from tests.capture.conftest import HAPPY, SAD, video_frame
from ui.messages import STUDY_UNAVAILABLE, TRY_LATER


def png(colour: int) -> bytes:
    return cv2.imencode(".png", np.full((48, 64, 3), colour, np.uint8))[1].tobytes()


@pytest.fixture
def app_store(data_dir: Path) -> Store:
    """The app's own cached store for this data folder (the page reads and writes the same object)."""
    return store()


@pytest.fixture
def campaign(app_store: Store) -> Callable[..., Campaign]:
    """Make a campaign in the app's store: live unless told otherwise, settings as keywords."""

    def make(status: str = "live", **settings: Any) -> Campaign:
        made = app_store.create_campaign(f"Participate {status} {len(app_store.campaigns())}",
                                         labels=campaign_labels(), settings=settings)
        app_store.set_variant(made, "A", png(60), "a.png")
        app_store.set_variant(made, "B", png(190), "b.png")
        if status in ("live", "closed"):
            made = app_store.go_live(made)
        if status == "closed":
            made = app_store.close_campaign(made)
        return made

    return make


def participants(db: Store, made: Campaign) -> list[tuple[Any, ...]]:
    return db._cursor().execute("SELECT id, status, variant_order, crop_consent FROM participants "
                                "WHERE campaign_id = ?", [made.id]).fetchall()


def page_text(app: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "info", "warning", "success", "subheader", "error")
                    for e in getattr(app, kind))


def opened(new_app: Callable[..., AppTest], made: Campaign | None = None, token: str = "") -> AppTest:
    app = new_app(c=made.token if made else token)
    app.run()
    assert not app.exception, app.exception
    return app


def test_an_unknown_link_gets_a_polite_message(new_app: Callable[..., AppTest]) -> None:
    app = opened(new_app, token="no-such-token")
    assert "does not lead to an open study" in app.warning[0].value
    assert not app.button and not app.checkbox


def test_a_second_server_on_the_data_folder_makes_the_study_unavailable_not_the_link_wrong(
        new_app: Callable[..., AppTest], data_dir: Path) -> None:
    with Store.open(data_dir / "app.duckdb", media_dir=data_dir / "media") as db:  # closed before the app opens it
        draft = db.create_campaign("Held", labels=campaign_labels())
        for variant, colour in (("A", 60), ("B", 190)):
            db.set_variant(draft, variant, png(colour), f"{variant}.png")
        made = db.go_live(draft)
    with held_by_another_process(data_dir / "app.duckdb"):  # DuckDB's lock: this server cannot open the file
        app = opened(new_app, made)
        assert [w.value for w in app.warning] == [f"{STUDY_UNAVAILABLE}\n\n{TRY_LATER}"]
        assert "does not lead" not in page_text(app) and not app.button and not app.checkbox
        assert str(data_dir) not in page_text(app)  # no server details for a participant
    app.run()  # the other server has stopped: the same link opens the study
    assert not app.exception and not app.warning
    assert [c.label for c in app.checkbox] == ["I have read this and agree to take part."]


def test_a_store_that_fails_mid_session_says_the_study_is_unavailable(
        new_app: Callable[..., AppTest], app_store: Store, campaign: Callable[..., Campaign]) -> None:
    app = opened(new_app, campaign())
    app_store.close()  # the database fails between two runs of the page
    app.checkbox[0].check().run()
    assert not app.exception, app.exception
    assert [w.value for w in app.warning] == [f"{STUDY_UNAVAILABLE}\n\n{TRY_LATER}"]
    assert not app.button and not app.checkbox and "does not lead" not in page_text(app)


def test_a_closed_campaign_says_it_has_ended(new_app: Callable[..., AppTest],
                                             campaign: Callable[..., Campaign]) -> None:
    app = opened(new_app, campaign("closed"))
    assert "has ended" in app.info[0].value and not app.button


def test_a_draft_campaign_is_not_open_yet(new_app: Callable[..., AppTest],
                                          campaign: Callable[..., Campaign]) -> None:
    app = opened(new_app, campaign("draft"))
    assert "not started yet" in app.info[0].value and not app.button


def test_consent_says_what_is_measured_that_no_images_are_kept_and_how_to_withdraw(
        new_app: Callable[..., AppTest], campaign: Callable[..., Campaign]) -> None:
    app = opened(new_app, campaign(interval_s=2.0))
    text = page_text(app)
    for words in ("webcam", "every 2 s", "facial expression", "No images are kept", "stop at any time",
                  "To withdraw later"):
        assert words in text, words
    assert [c.label for c in app.checkbox] == ["I have read this and agree to take part."]
    assert app.button[0].label == "Start" and app.button[0].disabled
    assert app.progress[0].value == 0


def test_declining_ends_politely_and_stores_only_the_count(new_app: Callable[..., AppTest], app_store: Store,
                                                           campaign: Callable[..., Campaign]) -> None:
    made = campaign()
    app = opened(new_app, made)
    answers_before = app_store.table_counts()["participant_answers"]
    app.button[1].click().run()
    assert "nothing was stored" in app.info[0].value
    assert app_store.funnel(made)["declined"] == 1  # the funnel counts the visit
    assert app_store.load(made).participants.empty  # and the analysis sees no participant
    assert app_store.table_counts()["participant_answers"] == answers_before


def test_consenting_registers_the_participant_and_opens_the_camera_check(
        new_app: Callable[..., AppTest], app_store: Store, campaign: Callable[..., Campaign]) -> None:
    made = campaign()
    app = opened(new_app, made)
    app.checkbox[0].check().run()
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert app.subheader[0].value == "Camera check"
    [(pid, status, order, crops)] = participants(app_store, made)
    assert (status, order, crops) == ("started", "AB", False)
    assert "Waiting for the first picture" in page_text(app)


def test_a_campaign_the_installed_model_cannot_score_stores_nothing(
        new_app: Callable[..., AppTest], app_store: Store) -> None:
    """A campaign scored with another model's labels (the model was replaced since): a clear message
    at consent, and no participant record left behind."""
    made = app_store.create_campaign("Other labels", labels=("happy", "sad"))
    app_store.set_variant(made, "A", png(60), "a.png")
    app_store.set_variant(made, "B", png(190), "b.png")
    made = app_store.go_live(made)
    app = opened(new_app, made)
    app.checkbox[0].check().run()
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert "cannot start right now; nothing was stored" in app.error[0].value
    assert "happy" in app.error[0].value and "installed model" in app.error[0].value
    assert participants(app_store, made) == []


def test_a_campaign_that_keeps_face_crops_asks_for_a_second_tick(
        new_app: Callable[..., AppTest], app_store: Store, campaign: Callable[..., Campaign]) -> None:
    made = campaign(keep_face_crops=True)
    given = []
    for tick_crops in (True, False):
        app = opened(new_app, made)
        assert "unless you allow it below" in page_text(app)
        assert len(app.checkbox) == 2 and "face crops" in app.checkbox[1].label
        app.checkbox[0].check()
        if tick_crops:
            app.checkbox[1].check()
        app.run()
        app.button[0].click().run()
        assert not app.exception, app.exception
        given.append(sorted(participants(app_store, made), key=lambda r: r[0]))
    assert [crops for *_, crops in given[0]] == [True]
    assert sorted(crops for *_, crops in given[1]) == [False, True]


Face = str | None | Callable[[], str | None]


@pytest.fixture
def camera_feed() -> Iterator[Callable[[Any, Face], None]]:
    """Feeds frames into a session's frame callback every 50 ms, as streamlit-webrtc's thread would.
    The face is a fixture name, None (an empty frame) or a function choosing one at each frame."""
    state: dict[str, Any] = {"fixture": None, "session": None}
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.05):
            if state["session"] is not None:
                fixture = state["fixture"]
                state["session"].on_frame(video_frame(fixture() if callable(fixture) else fixture))

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()

    def show(session: Any, fixture: Face) -> None:
        state["session"], state["fixture"] = session, fixture

    yield show
    stop.set()
    thread.join(5)


def run_until(app: AppTest, done: Callable[[], bool], what: str, tries: int = 200) -> None:
    for _ in range(tries):
        if done():
            return
        threading.Event().wait(0.1)
        app.run()
        assert not app.exception, app.exception
    raise AssertionError(f"the page never reached {what}")


def test_a_whole_session_through_the_page(new_app: Callable[..., AppTest], app_store: Store,
                                          campaign: Callable[..., Campaign],
                                          camera_feed: Callable[[Any, Face], None]) -> None:
    made = campaign(exposure_s=1.0, interval_s=0.25)
    app = opened(new_app, made)
    app.checkbox[0].check().run()
    app.button[0].click().run()
    session = app.session_state[PARTICIPANT_FLOW]
    # The participant smiles at ad A and frowns at ad B from the frame the ad appears in (choosing
    # the face in the feed thread: a switch after the page's next run came late on a loaded machine).
    camera_feed(session, lambda: SAD if session.flow.step is Step.WATCH and session.flow.variant == "B" else HAPPY)
    for n in (1, 2):
        run_until(app, lambda: session.flow.step is Step.WATCH and session.flow.shown_at is not None, f"ad {n}")
        assert app.progress[0].proto.text.endswith(f"Ad {n} of 2") and len(app.get("image")) == 1
        run_until(app, lambda: session.flow.step is Step.RATE, f"rating {n}")
        assert "very positive" in app.radio[0].options[-1]
        app.button[0].click().run()  # Continue without a rating
        assert app.error[0].value == "Please pick one of the answers."
        app.radio[0].set_value(5 if session.flow.variant == "A" else 2)
        app.text_area[0].input(f"comment {n}")
        app.button[0].click().run()
    assert session.flow.step is Step.DONE
    assert "Thank you!" in app.success[0].value and session.participant_id in page_text(app)
    [(pid, status, order, _)] = participants(app_store, made)
    assert (pid, status, order) == (session.participant_id, "complete", "AB")
    rows = app_store._cursor().execute("SELECT variant, count(*), count(*) FILTER (WHERE top_label = 'happy'), "
                                       "count(*) FILTER (WHERE top_label = 'sad') FROM snapshots "
                                       "WHERE participant_id = ? GROUP BY variant ORDER BY variant",
                                       [pid]).fetchall()
    assert [r[0] for r in rows] == ["A", "B"] and all(r[1] >= 2 for r in rows)
    (_, a_n, a_happy, _), (_, b_n, _, b_sad) = rows
    assert a_happy / a_n > 0.5 and b_sad / b_n > 0.5
    feedback = app_store._cursor().execute("SELECT variant, rating, comment FROM feedback WHERE participant_id = ?"
                                           " ORDER BY variant", [pid]).fetchall()
    assert feedback == [("A", 5, "comment 1"), ("B", 2, "comment 2")]


def test_a_participant_can_stop_and_have_everything_erased_from_the_page(
        new_app: Callable[..., AppTest], app_store: Store, campaign: Callable[..., Campaign]) -> None:
    made = campaign()
    app = opened(new_app, made)
    assert "Stop and delete my data" in page_text(app)  # the consent text says how
    assert not [b for b in app.button if b.label == "Stop and delete my data"]  # nothing stored yet
    app.checkbox[0].check().run()
    app.button[0].click().run()
    session = app.session_state[PARTICIPANT_FLOW]
    [(pid, status, _, _)] = participants(app_store, made)
    assert status == "started" and session.participant_id == pid
    assert pid in " ".join(str(e.value) for e in app.markdown)  # the code is shown before the end
    [stop] = [b for b in app.button if b.label == "Stop and delete my data"]
    stop.click().run()
    assert not app.exception, app.exception
    assert session.flow.step is Step.WITHDRAWN
    assert "everything stored about you is erased" in app.success[0].value
    assert participants(app_store, made) == []
    assert not [b for b in app.button if b.label == "Stop and delete my data"]


def test_a_withdrawal_whose_file_rewrite_fails_says_so_plainly_and_retries(
        new_app: Callable[..., AppTest], app_store: Store, campaign: Callable[..., Campaign],
        data_dir: Path) -> None:
    made = campaign()
    app = opened(new_app, made)
    app.checkbox[0].check().run()
    app.button[0].click().run()
    session = app.session_state[PARTICIPANT_FLOW]
    blocker = data_dir / "app.duckdb.compacting"
    blocker.mkdir()  # where the rewritten file would go: the rewrite fails after the rows are deleted
    [stop] = [b for b in app.button if b.label == "Stop and delete my data"]
    stop.click().run()
    assert not app.exception, app.exception
    assert session.flow.step is Step.WITHDRAWN and participants(app_store, made) == []
    [error] = app.error
    assert error.value.startswith("Your answers are deleted, but a last clean-up step did not finish.")
    assert session.participant_id in error.value and str(data_dir) not in error.value  # no server details
    [retry] = [b for b in app.button if b.label == "Try again"]
    retry.click().run()  # the rewrite fails again: the rows stay erased, and the page says so
    assert not app.exception and app.error[0].value.startswith("Your answers are deleted, but a last clean-up")
    blocker.rmdir()
    [retry] = [b for b in app.button if b.label == "Try again"]
    retry.click().run()
    assert not app.exception and not app.error
    assert "everything stored about you is erased" in app.success[0].value


# -- the study setup: entry questions, screen-outs, quotas, panel ids, redirects -----------------------

STUDY = {
    "questions": [
        {"key": "gender", "text": "Your gender", "kind": "single", "options": ["Woman", "Man", "Other"]},
        {"key": "age", "text": "Your age", "kind": "number", "min": 10, "max": 99, "eligible_min": 18},
        {"key": "uses", "text": "Which do you use?", "kind": "multiple", "options": ["Phone", "TV"],
         "required": False},
    ],
    "quotas": [{"question": "gender", "option": "Man", "limit": 1}],
    "redirects": {"complete": "https://panel.example/done?id={pid}",
                  "screened_out": "https://panel.example/out?id={pid}",
                  "quota_full": "https://panel.example/full?id={pid}"},
}


@pytest.fixture
def study_campaign(app_store: Store, campaign: Callable[..., Campaign]) -> Campaign:
    made = app_store.create_campaign(f"Study {len(app_store.campaigns())}", labels=campaign_labels())
    app_store.set_variant(made, "A", png(60), "a.png")
    app_store.set_variant(made, "B", png(190), "b.png")
    app_store.set_study(made, STUDY)
    return app_store.go_live(made)


def consented(new_app: Callable[..., AppTest], made: Campaign, pid: str | None = None) -> AppTest:
    app = new_app(c=made.token, **({"pid": pid} if pid is not None else {}))
    app.run()
    assert not app.exception, app.exception
    app.checkbox[0].check().run()
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def answer(app: AppTest, gender: str | None, age: float | None) -> AppTest:
    if gender is not None:
        app.radio[0].set_value(gender)
    if age is not None:
        app.number_input[0].set_value(age)
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def stored(db: Store, made: Campaign) -> list[tuple[Any, ...]]:
    return db._cursor().execute("SELECT external_id, outcome, status FROM participants WHERE campaign_id = ? "
                                "ORDER BY seq", [made.id]).fetchall()


def test_entry_questions_come_after_consent_and_a_missing_answer_is_asked_at_its_question(
        new_app: Callable[..., AppTest], app_store: Store, study_campaign: Campaign) -> None:
    app = consented(new_app, study_campaign, "P-1")
    assert [r.label for r in app.radio] == ["Your gender"] and [n.label for n in app.number_input] == ["Your age"]
    assert app.session_state[PARTICIPANT_FLOW].flow.step is Step.QUESTIONS
    answer(app, None, None)
    assert page_text(app).count("Please answer this question.") == 2  # at both required questions
    assert app.session_state[PARTICIPANT_FLOW].flow.step is Step.QUESTIONS
    answer(app, "Woman", 30)
    assert app.session_state[PARTICIPANT_FLOW].flow.step is Step.CAMERA
    answers = dict(app_store._cursor().execute(
        "SELECT question, answer FROM participant_answers a JOIN participants p ON p.id = a.participant_id "
        "WHERE p.campaign_id = ?", [study_campaign.id]).fetchall())
    assert answers == {"gender": "Woman", "age": "30"}  # the optional question was skipped
    assert stored(app_store, study_campaign) == [("P-1", None, "started")]


def test_an_answer_outside_the_eligible_range_screens_out_with_the_panel_id_in_the_redirect(
        new_app: Callable[..., AppTest], app_store: Store, study_campaign: Campaign) -> None:
    app = answer(consented(new_app, study_campaign, "id with/slash"), "Other", 16)
    assert "different profile" in page_text(app)
    assert [b.proto.url for b in app.get("link_button")] == ["https://panel.example/out?id=id%20with%2Fslash"]
    assert stored(app_store, study_campaign) == [("id with/slash", "screened_out", "abandoned")] or \
        stored(app_store, study_campaign)[0][:2] == ("id with/slash", "screened_out")
    again = new_app(c=study_campaign.token, pid="id with/slash")
    again.run()
    assert "already taken part" in page_text(again) and not again.checkbox


def test_a_full_quota_cell_ends_the_next_participant_in_it_as_quota_full(
        new_app: Callable[..., AppTest], app_store: Store, study_campaign: Campaign) -> None:
    first = answer(consented(new_app, study_campaign, "M-1"), "Man", 40)
    assert first.session_state[PARTICIPANT_FLOW].flow.step is Step.CAMERA
    second = answer(consented(new_app, study_campaign, "M-2"), "Man", 41)
    assert "enough participants like you" in page_text(second)
    assert [b.proto.url for b in second.get("link_button")] == ["https://panel.example/full?id=M-2"]
    third = answer(consented(new_app, study_campaign, "W-1"), "Woman", 41)
    assert third.session_state[PARTICIPANT_FLOW].flow.step is Step.CAMERA
    assert [o for _, o, _ in stored(app_store, study_campaign)] == [None, "quota_full", None]
    assert app_store.funnel(study_campaign)["quota_full"] == 1


@pytest.mark.parametrize("pid", ["x" * 129, "tab\there", " padded"])
def test_a_malformed_panel_id_is_refused_with_a_clear_message(
        new_app: Callable[..., AppTest], app_store: Store, study_campaign: Campaign, pid: str) -> None:
    app = new_app(c=study_campaign.token, pid=pid)
    app.run()
    assert not app.exception
    assert "participant ID in this link is not valid" in page_text(app) and not app.checkbox
    assert stored(app_store, study_campaign) == []


def test_no_camera_ends_the_visit_with_its_own_outcome(
        new_app: Callable[..., AppTest], app_store: Store, study_campaign: Campaign) -> None:
    app = answer(consented(new_app, study_campaign, "C-1"), "Woman", 30)
    [no_camera] = [b for b in app.button if b.label == "End the study without a camera"]
    no_camera.click().run()
    assert not app.exception, app.exception
    assert "needs a camera" in page_text(app)
    assert stored(app_store, study_campaign)[0][:2] == ("C-1", "no_camera")
