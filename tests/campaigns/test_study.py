"""The study setup: its checks (questions, quotas, target, panel link, redirects), reading answers, and
what it decides about each participant through a real in-memory Store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from campaigns.errors import CampaignError, CampaignStateError
from campaigns.inputs import now
from campaigns.store import Store
from campaigns.study import (
    MAX_EXTERNAL_ID,
    AdmissionError,
    Question,
    Quota,
    StudyError,
    StudySetup,
    check_external_id,
    check_redirect,
)
from campaigns.types import Campaign
from tests.campaigns.conftest import LABELS3, png_bytes

GENDER = Question("gender", "Your gender?", "single", ("F", "M", "X"), screen_out=("X",))
AGE = Question("age", "Your age?", "number", min=10, max=99, eligible_min=18, eligible_max=65)
APPS = Question("apps", "Which of these do you use?", "multiple", ("a", "b", "c"), required=False)
NOTE = Question("note", "Anything else?", "text", required=False)


def study_campaign(store: Store, name: str = "Study", **setup: Any) -> Campaign:
    """A live campaign with two PNG variants and the given study setup."""
    campaign = store.create_campaign(name, labels=LABELS3)
    store.set_variant(campaign, "A", png_bytes(value=60), "a.png")
    store.set_variant(campaign, "B", png_bytes(value=200), "b.png")
    store.set_study(campaign, StudySetup(**setup))
    return store.go_live(campaign)


def visit(store: Store, campaign: Campaign, answers: dict[str, Any], panel_id: str | None = None) -> tuple[str, Any]:
    person = store.add_participant(campaign, "v1", external_id=panel_id)
    return person.id, store.answer_questions(person.id, answers)


# -- redirects and panel ids ---------------------------------------------------


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://panel.example/x", "https://", "panel.example/x",
                                 "https://panel.example/a b", "https://panel.example/\x00", "", "h" * 2001])
def test_a_redirect_must_be_an_http_link(url: str) -> None:
    with pytest.raises(StudyError) as caught:
        StudySetup(redirects={"complete": url})
    assert caught.value.field == "Redirect on complete"


def test_a_redirect_names_a_known_outcome_a_panel_can_be_sent_back_for() -> None:
    for outcome in ("withdrew", "abandoned", "nonsense"):
        with pytest.raises(StudyError, match="unknown outcome"):
            StudySetup(redirects={outcome: "https://panel.example/x"})
    assert check_redirect("http://panel.example/?pid={pid}", "x") == "http://panel.example/?pid={pid}"


def test_the_panel_id_is_url_encoded_into_the_redirect() -> None:
    setup = StudySetup(redirects={"complete": "https://panel.example/done?pid={pid}&s=1",
                                  "screened_out": "https://panel.example/out"})
    assert setup.redirect("complete", "a b&c=d/é?#") == "https://panel.example/done?pid=a%20b%26c%3Dd%2F%C3%A9%3F%23&s=1"
    assert setup.redirect("complete", None) == "https://panel.example/done?pid=&s=1"
    assert setup.redirect("screened_out", "p1") == "https://panel.example/out"
    assert setup.redirect("quota_full", "p1") is None  # no link set: the page says thank you and stops


@pytest.mark.parametrize("value", ["x" * (MAX_EXTERNAL_ID + 1), "", "a\tb", "a\nb", "a\x00", "\u200bzero", " pad",
                                   "pad ", 12345, None])
def test_a_bad_panel_id_is_refused(value: Any) -> None:
    with pytest.raises(StudyError, match="Participant ID"):
        check_external_id(value)


def test_a_bad_panel_id_stores_nothing(store: Store) -> None:
    campaign = study_campaign(store)
    before = store.table_counts()
    for value in ("x" * (MAX_EXTERNAL_ID + 1), "bell\x07"):
        with pytest.raises(StudyError):
            store.add_participant(campaign, "v1", external_id=value)
    assert store.table_counts() == before
    assert check_external_id("x" * MAX_EXTERNAL_ID) == "x" * MAX_EXTERNAL_ID
    assert store.add_participant(campaign, "v1", external_id="PX-ü 1").status == "started"


def test_the_panel_id_parameter_is_checked() -> None:
    for param in ("c", "1pid", "p-id", "", "p" * 33):
        with pytest.raises(StudyError, match="Panel ID parameter"):
            StudySetup(pid_param=param)
    assert StudySetup(pid_param="PROLIFIC_PID").pid_param == "PROLIFIC_PID"


# -- questions, quotas and target: the setup's own checks ------------------------


@pytest.mark.parametrize(("question", "message"), [
    (Question("Bad key", "Q?"), "lower-case"),
    (Question("q", ""), "1-300 characters"),
    (Question("q", "Q?", "slider"), "kind must be one of"),
    (Question("q", "Q?", "single", ("only",)), "needs 2-30 options"),
    (Question("q", "Q?", "single", ("a", "a")), "same text"),
    (Question("q", "Q?", "single", ("a", "b"), screen_out=("c",)), "not among its options"),
    (Question("q", "Q?", "single", ("a", "b"), screen_out=("a", "b")), "nobody could take part"),
    (Question("q", "Q?", "text", ("a", "b")), "has no options"),
    (Question("q", "Q?", "number"), "lowest and a highest"),
    (Question("q", "Q?", "number", min=5, max=1), "lowest and a highest"),
    (Question("q", "Q?", "number", min=0, max=10, eligible_min=-1), "eligible range"),
    (Question("q", "Q?", "number", min=0, max=float("inf")), "must be numbers"),
    (Question("q", "Q?", "single", ("a", "b"), min=1), "only a number question"),
])
def test_a_bad_question_is_refused(question: Question, message: str) -> None:
    with pytest.raises(StudyError, match=message):
        StudySetup(questions=(question,))


def test_quotas_and_target_are_checked() -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"quotas": (Quota("age", "18", 5),)}, "not a single-choice question"),
        ({"quotas": (Quota("gender", "Z", 5),)}, "not an answer"),
        ({"quotas": (Quota("gender", "F", 0),)}, "whole number from 1"),
        ({"quotas": (Quota("gender", "F", True),)}, "whole number from 1"),  # type: ignore[arg-type]
        ({"quotas": (Quota("gender", "F", 5), Quota("gender", "F", 6))}, "two quotas"),
        ({"target_completes": 0}, "Target size"),
        ({"target_completes": 2.5}, "Target size"),
        ({"questions": (GENDER, GENDER)}, "same key"),
    ]
    for extra, message in bad:
        with pytest.raises(StudyError, match=message):
            StudySetup(**{"questions": (GENDER, AGE), **extra})


def test_a_setup_reads_back_from_its_json() -> None:
    setup = StudySetup(questions=(GENDER, AGE, APPS, NOTE), quotas=(Quota("gender", "F", 3),), target_completes=9,
                       ends_at=now().replace(microsecond=0) + timedelta(days=2), pid_param="rid",
                       redirects={"complete": "https://panel.example/c?rid={pid}"})
    assert StudySetup.from_json(setup.to_json()) == setup
    assert StudySetup.from_json(None) == StudySetup()
    with pytest.raises(StudyError, match="UTC without a zone"):
        StudySetup.from_mapping({"ends_at": "2030-01-01T00:00:00+02:00"})
    with pytest.raises(StudyError, match="unknown or missing field"):
        StudySetup.from_mapping({"questions": [{"key": "q", "text": "Q?", "colour": "red"}]})


def test_answers_are_cleaned_to_their_stored_form() -> None:
    setup = StudySetup(questions=(GENDER, AGE, APPS, NOTE))
    clean = setup.clean_answers({"gender": "F", "age": "30.0", "apps": ["c", "a"], "note": "  two \n words "})
    assert clean == {"gender": ["F"], "age": ["30"], "apps": ["a", "c"], "note": ["two words"]}
    assert setup.clean_answers({"gender": "M", "age": 40})["apps"] == []  # optional ones may be skipped
    bad: list[tuple[dict[str, Any], str]] = [
        ({"age": 30}, "please answer"),
        ({"gender": "Q", "age": 30}, "pick one"),
        ({"gender": "F", "age": 100}, "from 10 to 99"),
        ({"gender": "F", "age": "x"}, "from 10"),
        ({"gender": "F", "age": True}, "from 10"),
        ({"gender": "F", "age": 30, "apps": ["a", "a"]}, "among the answers"),
        ({"gender": "F", "age": 30, "note": "x" * 201}, "under 200"),
        ({"gender": "F", "age": 30, "extra": 1}, "no such question"),
    ]
    for raw, message in bad:
        with pytest.raises(StudyError, match=message):
            setup.clean_answers(raw)


# -- through the store: screen-outs, quotas, target, end time, repeat visits ------


def test_screen_out_by_choice_and_by_number(store: Store) -> None:
    campaign = study_campaign(store, questions=(GENDER, AGE))
    assert visit(store, campaign, {"gender": "X", "age": 30})[1] == "screened_out"
    assert visit(store, campaign, {"gender": "F", "age": 17})[1] == "screened_out"
    assert visit(store, campaign, {"gender": "F", "age": 66})[1] == "screened_out"
    person, ended = visit(store, campaign, {"gender": "F", "age": 65})
    assert ended is None
    funnel = store.funnel(campaign)
    assert funnel["screened_out"] == 3 and funnel["in_progress"] == 1
    assert store.last_steps(campaign) == {"screened_out": {"questions": 3}, "in_progress": {"camera": 1}}
    # A screened-out participant is not analysed, the one going on is.
    assert list(store.load(campaign).participants["participant_id"]) == [person]


def test_invalid_answers_store_nothing_and_an_ended_visit_takes_none(store: Store) -> None:
    campaign = study_campaign(store, questions=(GENDER, AGE))
    person = store.add_participant(campaign, "v1")
    with pytest.raises(StudyError):
        store.answer_questions(person.id, {"gender": "F", "age": 5})
    assert store.table_counts()["participant_answers"] == 0
    assert store.answer_questions(person.id, {"gender": "X", "age": 30}) == "screened_out"
    with pytest.raises(CampaignError, match="has ended"):
        store.answer_questions(person.id, {"gender": "F", "age": 30})


def test_a_full_quota_cell_turns_participants_away_until_a_place_frees(store: Store) -> None:
    campaign = study_campaign(store, questions=(GENDER, AGE), quotas=(Quota("gender", "M", 2),))
    first, _ = visit(store, campaign, {"gender": "M", "age": 30})
    second, _ = visit(store, campaign, {"gender": "M", "age": 31})
    store.mark_participant(first, "complete")  # one complete and one in progress hold the two places
    assert visit(store, campaign, {"gender": "M", "age": 32})[1] == "quota_full"
    assert visit(store, campaign, {"gender": "F", "age": 32})[1] is None  # another cell is open
    [cell] = store.quota_counts(campaign)
    assert (cell.complete, cell.in_progress, cell.full) == (1, 1, True)
    store.mark_participant(second, "abandoned")  # an abandoned visit frees its place
    assert visit(store, campaign, {"gender": "M", "age": 33})[1] is None
    assert store.funnel(campaign)["quota_full"] == 1


def test_the_target_size_refuses_one_more_participant(store: Store) -> None:
    campaign = study_campaign(store, questions=(GENDER,), target_completes=2)
    done = store.add_participant(campaign, "v1").id
    store.mark_participant(done, "complete")
    running = store.add_participant(campaign, "v1").id  # in progress: holds the second place
    before = store.table_counts()
    with pytest.raises(AdmissionError) as caught:
        store.add_participant(campaign, "v1")
    assert caught.value.outcome == "quota_full"
    with pytest.raises(AdmissionError):
        store.check_admission(campaign)
    assert store.table_counts() == before  # a refused visitor is not stored
    assert store.answer_questions(running, {"gender": "X"}) == "screened_out"  # the place frees
    store.check_admission(campaign)
    store.add_participant(campaign, "v1")


def test_the_end_time_closes_the_study(store: Store) -> None:
    ended = study_campaign(store, "Past", ends_at=now() - timedelta(minutes=1))
    with pytest.raises(AdmissionError) as caught:
        store.add_participant(ended, "v1")
    assert caught.value.outcome == "ended"
    with pytest.raises(AdmissionError, match="ended"):
        store.check_admission(ended, "p1")
    running = study_campaign(store, "Future", ends_at=now() + timedelta(days=1))
    store.check_admission(running)
    assert store.add_participant(running, "v1").status == "started"


def test_the_same_panel_id_cannot_complete_twice(store: Store) -> None:
    campaign = study_campaign(store, questions=(GENDER,))
    left = store.add_participant(campaign, "v1", external_id="PX-1").id
    store.mark_participant(left, "abandoned")
    again = store.add_participant(campaign, "v1", external_id="PX-1").id  # leaving half way is no final end
    store.mark_participant(again, "complete")
    for call in (lambda: store.add_participant(campaign, "v1", external_id="PX-1"),
                 lambda: store.check_admission(campaign, "PX-1")):
        with pytest.raises(AdmissionError) as caught:
            call()
        assert caught.value.outcome == "repeat"
    store.check_admission(campaign, "PX-2")
    # A screen-out is final too; the same id in another campaign is another person's business.
    out = store.add_participant(campaign, "v1", external_id="PX-3").id
    assert store.answer_questions(out, {"gender": "X"}) == "screened_out"
    with pytest.raises(AdmissionError, match="already taken part"):
        store.add_participant(campaign, "v1", external_id="PX-3")
    other = study_campaign(store, "Other", questions=(GENDER,))
    store.add_participant(other, "v1", external_id="PX-1")


def test_only_a_draft_changes_its_setup(store: Store) -> None:
    draft = store.create_campaign("Draft", labels=LABELS3)
    chosen = store.set_study(draft, {"questions": [{"key": "gender", "text": "Your gender?", "kind": "single",
                                                    "options": ["F", "M"]}], "target_completes": 5})
    assert store.study(draft) == chosen and chosen.target_completes == 5
    with pytest.raises(StudyError, match="Target size"):
        store.set_study(draft, {"target_completes": -1})
    assert store.study(draft) == chosen  # a refused setup leaves the stored one
    store.set_variant(draft, "A", png_bytes(value=60), "a.png")
    store.set_variant(draft, "B", png_bytes(value=200), "b.png")
    live = store.go_live(draft)
    with pytest.raises(CampaignStateError, match="change its study setup"):
        store.set_study(live, StudySetup())
    store.close_campaign(live)
    with pytest.raises(CampaignStateError):
        store.set_study(live, StudySetup())
    assert store.study(live) == chosen


def test_declines_are_counted_with_nothing_about_them(store: Store) -> None:
    campaign = study_campaign(store, questions=(GENDER,))
    store.record_decline(campaign)
    store.record_decline(campaign)
    assert store.funnel(campaign)["declined"] == 2
    assert store.last_steps(campaign) == {"declined": {"consent": 2}}
    assert store.table_counts()["participant_answers"] == 0
    assert len(store.load(campaign).participants) == 0  # not analysed
