"""A campaign's participant flow as its staff preview runs it: everything real except the writes.

``PreviewStore`` stands where the participate page uses the real ``Store``: it
reads the campaign's variants, study setup and quota counts from the real
store, and decides screen-outs and full quota cells with the same
``StudySetup`` rules, but keeps nothing. The camera and the classifier run as
for a participant (the camera check needs them); their snapshots are counted
and dropped. So a marketer sees a draft or live campaign exactly as a
participant would, and the preview counts toward no quota or result.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from campaigns.errors import RatingError
from campaigns.store import Store
from campaigns.store.lookups import CampaignRef
from campaigns.study import StudySetup, check_external_id
from campaigns.types import Participant, Variant

_orders = itertools.cycle(("AB", "BA"))


class PreviewStore:
    """The subset of ``Store`` the participant flow calls, reading through and writing nothing."""

    def __init__(self, store: Store, campaign: CampaignRef) -> None:
        self._store = store
        self._campaign = store.campaign(campaign)
        self.snapshots_dropped = 0

    # -- reads, from the real store ---------------------------------------------

    def variants(self, campaign: CampaignRef) -> dict[str, Variant]:
        return self._store.variants(campaign)

    def variant_media(self, campaign: CampaignRef, name: str) -> bytes:
        return self._store.variant_media(campaign, name)

    def study(self, campaign: CampaignRef) -> StudySetup:
        return self._store.study(campaign)

    # -- writes, decided but not kept ---------------------------------------------

    def add_participant(self, campaign: CampaignRef, consent_version: str, *, crop_consent: bool = False,
                        external_id: str | None = None, **_: Any) -> Participant:
        if external_id is not None:
            check_external_id(external_id)
        return Participant(id=f"preview-{secrets.token_hex(4)}", campaign_id=self._campaign.id, seq=0,
                           consent_version=consent_version, consented_at=datetime.now(UTC).replace(tzinfo=None),
                           order=next(_orders), status="started", crop_consent=crop_consent)

    def answer_questions(self, participant_id: str, answers: Mapping[str, Any]) -> str | None:
        setup = self._store.study(self._campaign)
        full = {count.quota.cell for count in self._store.quota_counts(self._campaign) if count.full}
        return setup.entry_outcome(setup.clean_answers(answers), lambda quota: quota.cell in full)

    def add_feedback(self, participant_id: str, variant: str, rating: int, comment: str | None = None) -> None:
        scale = self._campaign.settings.rating_scale
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= scale:
            raise RatingError(f"rating must be a whole number from 1 to {scale}, got {rating!r}")

    def add_snapshots(self, snapshots: Any) -> int:
        count = len(snapshots)
        self.snapshots_dropped += count
        return count

    def add_face_crop(self, participant_id: str, variant: str, offset_ms: int, image: bytes) -> None:
        return None

    def mark_participant(self, participant_id: str, status: str) -> None:
        return None

    def end_participant(self, participant_id: str, outcome: str, last_step: str | None = None) -> None:
        return None

    def reached_step(self, participant_id: str, step: str) -> None:
        return None

    def record_decline(self, campaign: CampaignRef) -> None:
        return None

    def erase_participant(self, participant_id: str) -> dict[str, int]:
        return {}

    def compact(self) -> bool:
        return False
