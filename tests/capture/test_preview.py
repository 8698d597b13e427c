"""The staff preview's store: the real campaign read through, the same study decisions, nothing kept."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.errors import RatingError
from campaigns.store import Store
from campaigns.study import StudyError
from campaigns.types import Campaign
from capture.flow import Step
from capture.preview import PreviewStore
from capture.session import ParticipantSession
from tests.capture.conftest import png

STUDY = {
    "questions": [
        {"key": "gender", "text": "Your gender", "kind": "single", "options": ["Woman", "Man"]},
        {"key": "age", "text": "Your age", "kind": "number", "min": 10, "max": 99, "eligible_min": 18},
    ],
    "quotas": [{"question": "gender", "option": "Man", "limit": 1}],
}


def live_study(db: Store, status: str = "live") -> Campaign:
    campaign = db.create_campaign(f"Preview {status}")
    db.set_variant(campaign, "A", png(60), "a.png")
    db.set_variant(campaign, "B", png(190), "b.png")
    db.set_study(campaign, STUDY)
    return db.go_live(campaign) if status == "live" else db.campaign(campaign.id)


def test_a_preview_decides_like_the_study_and_stores_nothing(db: Store) -> None:
    campaign = live_study(db)
    # One real man holds the quota's only place.
    man = db.add_participant(campaign, "v1", external_id="M-1")
    assert db.answer_questions(man.id, {"gender": "Man", "age": 30}) is None
    before = db.table_counts()
    funnel = db.funnel(campaign)
    preview: Any = PreviewStore(db, campaign)  # stands where the participant flow takes a Store
    outcomes = {}
    for name, answers in {"young": {"gender": "Woman", "age": 16}, "man": {"gender": "Man", "age": 40},
                          "woman": {"gender": "Woman", "age": 40}}.items():
        session = ParticipantSession(db.campaign(campaign.id), study=db.study(campaign), external_id="PREVIEW")
        session.consent(preview)
        assert session.flow.step is Step.QUESTIONS
        session.answer(preview, answers)
        outcomes[name] = session.flow.step
        session.close()
    assert outcomes == {"young": Step.SCREENED_OUT, "man": Step.QUOTA_FULL, "woman": Step.CAMERA}
    with pytest.raises(StudyError, match="please answer this question"):
        preview.answer_questions("preview-x", {"gender": "Woman"})
    with pytest.raises(RatingError):
        preview.add_feedback("preview-x", "A", 9)
    preview.add_feedback("preview-x", "A", 3)
    preview.record_decline(campaign)
    assert db.table_counts() == before and db.funnel(campaign) == funnel


def test_a_draft_can_be_previewed_with_its_variants(db: Store) -> None:
    draft = live_study(db, status="draft")
    preview = PreviewStore(db, draft)
    assert sorted(preview.variants(draft)) == ["A", "B"]
    assert preview.variant_media(draft, "A") == db.variant_media(draft, "A")
    assert preview.add_participant(draft, "v1").campaign_id == draft.id
    assert db.table_counts()["participants"] == 0
