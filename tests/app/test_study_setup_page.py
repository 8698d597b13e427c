"""The Campaigns page's study setup, funnel and preview, and what each staff role may do there (AppTest,
real DuckDB, the real sign-in path of ``tests.app.conftest.sign_in``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from accounts.roles import NotAllowed, Staff
from app_state import EDIT_CAMPAIGN, PREVIEW_CAMPAIGN, PREVIEW_FLOW, campaign_labels
from campaigns.study import StudyError, StudySetup
from campaigns.types import Campaign
from capture.flow import Step
from tests.app.conftest import sign_in
from tests.app.staff import app_store, texts
from ui import campaign_actions as actions
from ui.study_setup import question_rows, quota_rows, setup_from_tables

STUDY = {
    "questions": [
        {"key": "gender", "text": "Your gender", "kind": "single", "options": ["Woman", "Man", "Other"]},
        {"key": "age", "text": "Your age", "kind": "number", "min": 16, "max": 99, "eligible_min": 18,
         "eligible_max": 65},
        {"key": "uses", "text": "Which do you use?", "kind": "multiple", "options": ["Phone", "TV"],
         "required": False, "screen_out": ["TV"]},
        {"key": "city", "text": "Your city", "kind": "text", "required": False},
    ],
    "quotas": [{"question": "gender", "option": "Woman", "limit": 2}],
    "target_completes": 4,
    "pid_param": "PROLIFIC_PID",
    "redirects": {"complete": "https://panel.example/done?id={pid}"},
}


def png(colour: int) -> bytes:
    return cv2.imencode(".png", np.full((48, 64, 3), colour, np.uint8))[1].tobytes()


def button(app: AppTest, label: str) -> Any:
    return next(b for b in app.button if b.label == label)


def make_campaign(name: str, status: str = "draft") -> Campaign:
    db = app_store()
    made = db.create_campaign(name, labels=campaign_labels())
    db.set_variant(made, "A", png(60), "a.png")
    db.set_variant(made, "B", png(190), "b.png")
    db.set_study(made, STUDY)
    return db.go_live(made) if status == "live" else db.campaign(made.id)


def opened_on(new_app: Callable[..., AppTest], name: str, status: str = "draft", **account: str) -> tuple[
        AppTest, Campaign]:
    app = new_app()
    app.run()  # the store and its first admin
    made = make_campaign(name, status)
    app.session_state[EDIT_CAMPAIGN] = made.id
    sign_in(app, **account)
    return app, made


def test_the_tables_give_back_the_setup_they_show() -> None:
    setup = StudySetup.from_mapping(STUDY)
    again = setup_from_tables(question_rows(setup), quota_rows(setup), target=4, ends_at=None,
                              pid_param="PROLIFIC_PID", redirects=dict(setup.redirects))
    assert again == setup


def test_a_table_that_does_not_hold_together_names_its_field() -> None:
    setup = StudySetup.from_mapping(STUDY)
    quotas = pd.concat([quota_rows(setup), pd.DataFrame([{"question": "age", "option": "30", "limit": 5}])])
    with pytest.raises(StudyError, match="^Quotas: 'age' is not a single-choice question"):
        setup_from_tables(question_rows(setup), quotas, target=0, ends_at=None, pid_param="pid", redirects={})
    questions = question_rows(setup)
    questions.loc[1, "min"] = 70  # lowest above the eligible range
    with pytest.raises(StudyError, match="^Question 'age': the eligible range must lie within 70-99"):
        setup_from_tables(questions, quota_rows(setup), target=0, ends_at=None, pid_param="pid", redirects={})
    with pytest.raises(StudyError, match="^Redirect on complete: must start with http:// or https://"):
        setup_from_tables(question_rows(setup), quota_rows(setup), target=0, ends_at=None, pid_param="pid",
                          redirects={"complete": "javascript:alert(1)"})


def test_a_drafts_study_setup_saves_through_the_form_and_a_bad_field_is_named_there(
        new_app: Callable[..., AppTest]) -> None:
    app, made = opened_on(new_app, "Setup draft")
    assert "Save study setup" in [b.label for b in app.button]
    app.text_input(key=next(k for k in (w.key for w in app.text_input) if k and k.endswith("_pid"))).input("c")
    button(app, "Save study setup").click().run()
    assert not app.exception, app.exception
    assert any("Panel ID parameter: must be 1-32 letters" in e for e in texts(app, "error"))
    assert app_store().study(made) == StudySetup.from_mapping(STUDY)  # nothing stored changed
    pid = next(w for w in app.text_input if w.key and w.key.endswith("_pid"))
    pid.input("pid")
    target = next(w for w in app.number_input if w.key and w.key.endswith("_target"))
    target.set_value(10)
    button(app, "Save study setup").click().run()
    assert not app.exception, app.exception
    saved = app_store().study(made)
    assert saved.pid_param == "pid" and saved.target_completes == 10
    assert saved.questions == StudySetup.from_mapping(STUDY).questions  # the tables' rows went through unchanged
    assert [e.action for e in app_store().audit_entries() if e.campaign_id == made.id][:1] == ["edit"]


def test_a_live_campaign_shows_its_funnel_quota_cells_and_panel_link(new_app: Callable[..., AppTest]) -> None:
    app, made = opened_on(new_app, "Setup live", status="live")
    db = app_store()
    woman = db.add_participant(made, "v1", external_id="W-1")
    db.answer_questions(woman.id, {"gender": "Woman", "age": 30})
    young = db.add_participant(made, "v1", external_id="Y-1")
    db.answer_questions(young.id, {"gender": "Man", "age": 17})
    db.record_decline(made)
    app.run()
    assert not app.exception, app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["In progress"] == "1" and metrics["Screened out"] == "1" and metrics["Declined"] == "1"
    assert any(c.value.endswith("&PROLIFIC_PID={PROLIFIC_PID}") for c in app.code)
    cells = app.dataframe[-1].value
    assert cells.to_dict("records")[0] | {} == {"question": "gender", "answer": "Woman", "limit": 2, "complete": 0,
                                                  "in progress": 1, "full": ""}
    assert "Save study setup" not in [b.label for b in app.button]  # a live study's rules are fixed


def test_preview_as_participant_runs_the_flow_and_stores_nothing(new_app: Callable[..., AppTest]) -> None:
    app, made = opened_on(new_app, "Setup preview", status="live")
    before = app_store().table_counts()
    button(app, "Preview as participant").click().run()
    assert not app.exception, app.exception
    assert app.session_state[PREVIEW_CAMPAIGN] == made.id
    # (AppTest does not follow the button's st.switch_page; a browser does.)
    app.switch_page("pages/preview.py").run()
    assert app.title[0].value == "Preview as participant"
    assert "stores nothing" in " ".join(texts(app, "info"))
    app.checkbox[0].check().run()
    button(app, "Start").click().run()
    assert app.session_state[PREVIEW_FLOW].flow.step is Step.QUESTIONS
    app.radio[0].set_value("Man")
    app.number_input[0].set_value(17)
    button(app, "Continue").click().run()
    assert not app.exception, app.exception
    assert app.session_state[PREVIEW_FLOW].flow.step is Step.SCREENED_OUT
    assert app_store().table_counts() == before


def test_an_analyst_sees_no_delete_edit_or_go_live_and_the_actions_refuse_them(
        new_app: Callable[..., AppTest]) -> None:
    app, made = opened_on(new_app, "Setup roles", username="ana", role="analyst", password="analyst-password-1")
    labels = [b.label for b in app.button]
    assert "Go live" not in labels and "Delete for good" not in labels and "Save study setup" not in labels
    analyst = Staff("ana", "analyst")
    with pytest.raises(NotAllowed, match=r"^Your role \(analyst\) cannot delete campaigns\.$"):
        actions.delete_campaign(app_store(), made, made.name, actor=analyst)
    with pytest.raises(NotAllowed, match="cannot take campaigns live"):
        actions.status_action(app_store(), made, "go_live", actor=analyst)
    assert app_store().campaign(made.id).status == "draft"
