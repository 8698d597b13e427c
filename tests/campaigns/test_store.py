"""Store lifecycle on a real DuckDB: campaigns, variants, participants, erasure, crops, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from campaigns.errors import (
    CampaignClosedError,
    CampaignError,
    CampaignStateError,
    ConsentError,
    SchemaError,
    StoreUnavailableError,
    UnknownCampaignError,
    UnknownParticipantError,
)
from campaigns.simulate import SimulationConfig, simulate
from campaigns.snapshots import batch_from_arrays
from campaigns.store import Store
from campaigns.types import DEFAULT_LABELS, Settings, SnapshotRow
from tests.campaigns.conftest import LABELS3, make_live, png_bytes


def test_create_edit_go_live_close(store: Store) -> None:
    c = store.create_campaign("Launch", description="two posters")
    assert (c.status, c.labels, c.settings) == ("draft", DEFAULT_LABELS, Settings())
    assert len(c.token) >= 32
    edited = store.edit_campaign(
        c, settings={"confidence_threshold": 0.7, "min_participants": 20}, description="new", labels=LABELS3
    )
    assert (edited.settings.confidence_threshold, edited.settings.min_participants) == (0.7, 20)
    assert (edited.description, edited.labels) == ("new", LABELS3)
    store.set_variant(c, "A", png_bytes(), "a.png")
    store.set_variant(c, "B", png_bytes(value=10))
    live = store.go_live(c)
    assert live.status == "live"
    assert store.campaign_by_token(c.token).id == c.id
    assert store.close_campaign(c).status == "closed"
    assert [x.name for x in store.campaigns()] == ["Launch"]
    assert store.campaign("Launch").id == store.campaign(c.id).id


def test_variants_replaceable_only_while_draft(store: Store) -> None:
    c = store.create_campaign("Posters")
    first = store.set_variant(c, "A", png_bytes(value=1), "one.png")
    second = store.set_variant(c, "A", png_bytes(value=2), "two.png")
    assert first.sha256 != second.sha256
    assert store.variants(c)["A"].filename == "two.png"
    assert store.variant_media(c, "A") == png_bytes(value=2)
    assert (second.kind, second.mime, second.width, second.height) == ("image", "image/png", 32, 24)
    store.set_variant(c, "B", png_bytes(value=3))
    store.go_live(c)
    with pytest.raises(CampaignStateError, match="is live; only a draft campaign can change its variants"):
        store.set_variant(c, "A", png_bytes(value=4))
    assert store.variant_media(c, "A") == png_bytes(value=2)


def test_counterbalancing_alternates_and_records_order(store: Store, live) -> None:  # type: ignore[no-untyped-def]
    people = [store.add_participant(live, "consent-v2") for _ in range(7)]
    assert [p.order for p in people] == ["AB", "BA", "AB", "BA", "AB", "BA", "AB"]
    assert [p.seq for p in people] == list(range(1, 8))
    assert len({p.id for p in people}) == 7
    store.erase_participant(people[1].id)  # one BA gone: the next one restores balance
    assert store.add_participant(live, "consent-v2").order == "BA"
    assert store.add_participant(live, "consent-v2", order="BA").order == "BA"
    p = store.participant(people[0].id)
    assert (p.consent_version, p.status, p.crop_consent) == ("consent-v2", "started", False)


def test_counterbalancing_ignores_people_who_left_before_the_ads(store: Store, live) -> None:  # type: ignore[no-untyped-def]
    completed = []
    for _ in range(10):  # each person fails the camera check once, reloads and completes
        first = store.add_participant(live, "v1")
        store.mark_participant(first.id, "abandoned")
        second = store.add_participant(live, "v1")
        store.mark_participant(second.id, "complete")
        completed.append(second.order)
    assert completed == ["AB", "BA"] * 5
    # Whoever abandoned after an ad appeared (a snapshot or a rating) did see an order and counts.
    saw_a = store.add_participant(live, "v1")
    store.add_snapshots([SnapshotRow(saw_a.id, saw_a.order[0], 0, False, None, "m")])
    store.mark_participant(saw_a.id, "abandoned")
    rated = store.add_participant(live, "v1")
    assert (saw_a.order, rated.order) == ("AB", "BA")
    store.add_feedback(rated.id, "B", 3)
    store.mark_participant(rated.id, "abandoned")
    in_progress = store.add_participant(live, "v1")
    assert in_progress.order == "AB"
    assert store.add_participant(live, "v1").order == "BA"  # people still in progress count


def test_mark_participant_and_answers(store: Store, live) -> None:  # type: ignore[no-untyped-def]
    p = store.add_participant(live, "v1", answers={"age": "25-34", "visits": 3})
    assert p.answers == {"age": "25-34", "visits": "3"}
    assert store.mark_participant(p.id, "abandoned").status == "abandoned"
    assert store.mark_participant(p.id, "complete").status == "complete"


def test_participants_left_started_by_a_dead_session_are_abandoned(store: Store, live) -> None:  # type: ignore[no-untyped-def]
    from campaigns.store import STALE_AFTER

    old, recent, done = (store.add_participant(live, "v1") for _ in range(3))
    store.add_snapshots([SnapshotRow(old.id, "A", 0, True, (0.8, 0.1, 0.1), "m")])
    store.add_feedback(old.id, "A", 4)
    store.mark_participant(done.id, "complete")
    store._cursor().execute("UPDATE participants SET updated_at = updated_at - ? WHERE id IN (?, ?)",
                            [STALE_AFTER * 2, old.id, done.id])
    assert store.abandon_stale_participants() == 1
    assert [store.participant(p.id).status for p in (old, recent, done)] == ["abandoned", "started", "complete"]
    kept = store._cursor().execute("SELECT (SELECT count(*) FROM snapshots WHERE participant_id = ?), "
                                   "(SELECT count(*) FROM feedback WHERE participant_id = ?)",
                                   [old.id, old.id]).fetchone()
    assert kept == (1, 1)
    assert store.abandon_stale_participants() == 0  # nothing left to sweep


def test_erase_participant_removes_every_row(store: Store) -> None:
    c = make_live(store, keep_face_crops=True)
    keep = store.add_participant(c, "v1")
    gone = store.add_participant(c, "v1", answers={"age": "55+"}, crop_consent=True)
    for pid in (keep.id, gone.id):
        store.add_snapshots(
            [SnapshotRow(pid, "A", 0, True, (0.8, 0.1, 0.1), "m"), SnapshotRow(pid, "B", 0, False, None, "m")]
        )
        store.add_feedback(pid, "A", 3)
    store.add_face_crop(gone.id, "A", 0, png_bytes())
    counts = store.erase_participant(gone.id)
    assert counts == {
        "snapshots": 2,
        "feedback": 1,
        "face_crops": 1,
        "participant_answers": 1,
        "participants": 1,
    }
    with pytest.raises(UnknownParticipantError):
        store.participant(gone.id)
    assert store.snapshot_count(c) == 2
    data = store.load(c)
    assert set(data.counts["participant_id"]) == {keep.id}
    assert set(data.feedback["participant_id"]) == {keep.id} and data.answers.empty


def test_face_crops_need_campaign_flag_and_separate_consent(store: Store) -> None:
    plain = make_live(store, name="No crops")
    p = store.add_participant(plain, "v1", crop_consent=True)
    with pytest.raises(ConsentError, match="does not keep face crops"):
        store.add_face_crop(p.id, "A", 0, png_bytes())
    keeping = make_live(store, name="Crops", keep_face_crops=True)
    refused = store.add_participant(keeping, "v1")
    with pytest.raises(ConsentError, match="did not agree"):
        store.add_face_crop(refused.id, "A", 0, png_bytes())
    agreed = store.add_participant(keeping, "v1", crop_consent=True)
    store.add_face_crop(agreed.id, "A", 1000, png_bytes())
    assert store.face_crop_count(agreed.id) == 1
    assert store.table_counts()["face_crops"] == 1


def test_delete_campaign_asks_for_its_name(store: Store) -> None:
    c = make_live(store, name="Old test")
    other = make_live(store, name="Other")
    for campaign in (c, other):
        pid = store.add_participant(campaign, "v1", answers={"q": "a"}).id
        store.add_snapshots([SnapshotRow(pid, "A", 0, True, (0.8, 0.1, 0.1), "m")])
        store.add_feedback(pid, "A", 4)
    before = store.table_counts()
    store.delete_campaign(c, "Old test")
    after = store.table_counts()
    assert {k: before[k] - after[k] for k in before} == {
        "campaigns": 1,
        "variants": 2,
        "participants": 1,
        "participant_answers": 1,
        "snapshots": 1,
        "feedback": 1,
        "face_crops": 0,
    }
    with pytest.raises(UnknownCampaignError):
        store.campaign("Old test")
    assert store.snapshot_count(other) == 1


def test_media_folder_keeps_files_outside_the_database(tmp_path: Path) -> None:
    media = tmp_path / "media"
    with Store.open(tmp_path / "c.duckdb", media_dir=media) as store:
        c = store.create_campaign("Files")
        store.set_variant(c, "A", png_bytes(value=1))
        first = list(media.rglob("*.png"))
        store.set_variant(c, "A", png_bytes(value=2))
        files = list(media.rglob("*.png"))
        assert len(first) == 1 and len(files) == 1 and files != first  # old file removed
        assert store.variant_media(c, "A") == png_bytes(value=2)
        store.delete_campaign(c, "Files")
        assert list(media.rglob("*.png")) == []


def test_file_database_survives_reopen_and_read_only(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Store.open(path) as store:
        truth = simulate(store, SimulationConfig(participants=4, seed=2))
        count = store.snapshot_count()
    with Store.open(path, read_only=True) as reader:
        assert reader.snapshot_count() == count > 0
        assert reader.campaign(truth.campaign_id).status == "live"
        with pytest.raises(CampaignError, match="read-only"):
            reader.create_campaign("x")
    with pytest.raises(SchemaError, match="does not exist"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.duckdb")
    store.create_campaign("used before closing")  # this thread now holds a cursor
    store.close()
    store.close()  # idempotent
    for call in (store.campaigns, store.compact, lambda: store.create_campaign("after closing")):
        with pytest.raises(StoreUnavailableError, match="closed"):
            call()


def test_batches_from_arrays_and_frames_store_the_same(store: Store, live) -> None:  # type: ignore[no-untyped-def]
    pid = store.add_participant(live, "v1").id
    probs = np.array([[0.2, 0.7, 0.1], [np.nan] * 3], dtype=np.float32)
    n = store.add_snapshots(
        batch_from_arrays(pid, "A", np.array([0, 1000]), np.array([True, False]), probs, "m")
    )
    assert n == 2
    raw = store.raw_snapshots(live)
    assert raw["top_label"].tolist()[0] == "sad" and raw["top_probability"].iloc[0] == pytest.approx(0.7)
    assert raw[["p_happy", "p_sad", "p_neutral"]].iloc[0].tolist() == pytest.approx([0.2, 0.7, 0.1])
    assert bool(raw["face_found"].iloc[1]) is False and np.isnan(raw["top_probability"].iloc[1])
    assert store.add_snapshots([]) == 0


def test_closing_a_campaign_blocks_new_data_but_keeps_erasure(store: Store, live) -> None:  # type: ignore[no-untyped-def]
    p = store.add_participant(live, "v1")
    store.close_campaign(live)
    with pytest.raises(CampaignClosedError):
        store.add_feedback(p.id, "A", 3)
    assert store.mark_participant(p.id, "abandoned").status == "abandoned"
    assert store.erase_participant(p.id)["participants"] == 1
