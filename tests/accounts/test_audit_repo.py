"""The audit log: appended, newest first, and kept through campaign deletion and erasure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from campaigns.errors import CampaignError
from campaigns.simulate import SimulationConfig, simulate
from campaigns.store import Store


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open() as db:
        yield db


def test_entries_come_newest_first_with_their_campaign(store: Store) -> None:
    campaign = store.create_campaign("Spring")
    store.audit("mark", "create", campaign)
    store.audit("mark", "edit", campaign.id, detail="settings")
    store.audit("root", "add_user", detail="ana, role analyst")
    entries = store.audit_entries()
    assert [(e.username, e.action, e.campaign_id, e.campaign_name, e.detail) for e in entries] == [
        ("root", "add_user", None, None, "ana, role analyst"),
        ("mark", "edit", campaign.id, "Spring", "settings"),
        ("mark", "create", campaign.id, "Spring", ""),
    ]
    assert [e.action for e in store.audit_entries(limit=1)] == ["add_user"]
    with pytest.raises(CampaignError):
        store.audit_entries(limit=0)
    with pytest.raises(CampaignError):
        store.audit("", "create")


def test_deleting_a_campaign_and_erasing_a_participant_keep_the_log(tmp_path: Path) -> None:
    with Store.open(tmp_path / "app.duckdb", media_dir=tmp_path / "media") as store:
        truth = simulate(store, SimulationConfig(participants=3, seed=1, name="Gone soon"))
        campaign = store.campaign(truth.campaign_id)
        [participant] = store._cursor().execute("SELECT id FROM participants LIMIT 1").fetchone() or ("",)
        store.audit("ana", "erase", campaign, detail=participant)
        store.erase_participant(participant)  # rewrites the database file
        store.audit("mark", "delete", campaign)
        store.delete_campaign(campaign, confirm_name="Gone soon")
        store.audit("mark", "delete", campaign.id)  # by id once it is gone: kept as given
        entries = store.audit_entries()
    assert [(e.action, e.campaign_id, e.campaign_name) for e in entries] == [
        ("delete", campaign.id, None), ("delete", campaign.id, "Gone soon"), ("erase", campaign.id, "Gone soon")]
