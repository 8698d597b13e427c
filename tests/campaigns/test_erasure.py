"""Erasure wipes bytes: after erasing a participant or deleting a campaign nothing of theirs is
readable in any file of the data folder (database, WAL, media), on real DuckDB files.

DuckDB leaves deleted rows in freed blocks, so these tests read the raw bytes of every file; each
first checks that the markers are in the files before the erasure, so a pass means they were wiped.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pytest

from campaigns import schema
from campaigns.errors import CampaignError
from campaigns.snapshots import batch_from_arrays
from campaigns.store import Store
from campaigns.types import Campaign, SnapshotRow
from tests.campaigns.conftest import make_live, png_bytes

CROP = b"CROPMARKER-7f3a9c"
MODEL = "MODELMARKER-2b8e41"
COMMENT = "COMMENTMARKER-c05d17"
ANSWER = "ANSWERMARKER-94aa0e"
MARKERS = (CROP, MODEL.encode(), COMMENT.encode(), ANSWER.encode())


def crop_with_marker(seed: int) -> bytes:
    """A valid PNG face crop whose bytes carry CROP in a text chunk (as a real crop's pixels would be)."""
    image = png_bytes(width=24, height=24, value=seed % 250)
    chunk = b"tEXt" + b"k\x00" + CROP + seed.to_bytes(4, "big")
    block = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return image[:33] + block + image[33:]  # after the 8-byte signature and the 25-byte IHDR chunk


def markers_in(folder: Path) -> dict[str, list[str]]:
    """Which markers occur in the raw bytes of which files under ``folder``."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = [m.decode() for m in MARKERS if m in data]
        if hits:
            found[path.name] = hits
    return found


def add_everything(store: Store, campaign: Campaign, marked: bool, crops: int = 12) -> str:
    """A participant with answers, snapshots, feedback and face crops; ``marked`` ones carry the markers."""
    pid = store.add_participant(
        campaign, "v1", answers={"city": ANSWER if marked else "Lyon"}, crop_consent=True
    ).id
    model = MODEL if marked else "plain-model"
    store.add_snapshots([SnapshotRow(pid, "A", i * 1000, True, (0.7, 0.2, 0.1), model) for i in range(crops)])
    store.add_feedback(pid, "A", 4, COMMENT if marked else "fine")
    for i in range(crops):
        store.add_face_crop(pid, "A", i * 1000, crop_with_marker(i) if marked else png_bytes(value=i))
    return pid


def open_store(folder: Path) -> Store:
    return Store.open(folder / "app.duckdb", media_dir=folder / "media")


@pytest.mark.parametrize("reopen_first", [True, False], ids=["in-file", "in-wal"])
def test_erasing_a_participant_leaves_no_byte_of_theirs_in_any_file(tmp_path: Path, reopen_first: bool) -> None:
    with open_store(tmp_path) as store:
        campaign = make_live(store, keep_face_crops=True)
        others = [add_everything(store, campaign, marked=False) for _ in range(3)]
        if reopen_first:  # closing checkpoints the crops into the database file
            gone = add_everything(store, campaign, marked=True)
    with open_store(tmp_path) as store:
        if not reopen_first:  # the crops are only in the WAL: nothing checkpointed them yet
            gone = add_everything(store, campaign, marked=True)
            assert Path(f"{tmp_path / 'app.duckdb'}.wal").exists()
        seen = markers_in(tmp_path)
        assert {m for hits in seen.values() for m in hits} == {m.decode() for m in MARKERS}  # visible before
        before = {pid: store.face_crop_count(pid) for pid in others}
        counts = store.erase_participant(gone)
        assert counts == {"snapshots": 12, "feedback": 1, "face_crops": 12, "participant_answers": 1,
                          "participants": 1}
        assert markers_in(tmp_path) == {}  # while the store is still open
        # The other participants are intact, and the store goes on working on the new file.
        assert {pid: store.face_crop_count(pid) for pid in others} == before == dict.fromkeys(others, 12)
        data = store.load(campaign)
        assert sorted(data.participants["participant_id"]) == sorted(others)
        assert data.counts["snapshots"].sum() == 36 and len(data.feedback) == 3 and len(data.answers) == 3
        late = add_everything(store, campaign, marked=False)
    with open_store(tmp_path) as store:  # and nothing came back after restarts
        assert store.face_crop_count(late) == 12 and store.snapshot_count(campaign) == 48
        assert store.table_counts()["face_crops"] == 48
    open_store(tmp_path).close()
    assert markers_in(tmp_path) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.duckdb", "media"]


def test_deleting_a_campaign_leaves_no_byte_of_it_in_any_file(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        doomed = make_live(store, name="Doomed", keep_face_crops=True)
        kept = make_live(store, name="Kept", keep_face_crops=True)
        for _ in range(2):
            add_everything(store, doomed, marked=True)
        survivors = [add_everything(store, kept, marked=False) for _ in range(2)]
    with open_store(tmp_path) as store:
        assert len(markers_in(tmp_path)["app.duckdb"]) == len(MARKERS)
        store.delete_campaign(doomed, "Doomed")
        assert markers_in(tmp_path) == {}
        assert [c.name for c in store.campaigns()] == ["Kept"]
        assert [store.face_crop_count(pid) for pid in survivors] == [12, 12]
        assert store.snapshot_count(kept) == 24
        again = make_live(store, name="Doomed")  # the name and the id sequence work after the rewrite
        assert again.id > kept.id
    with open_store(tmp_path) as store:
        assert store.table_counts() == {"campaigns": 2, "variants": 4, "participants": 2, "participant_answers": 2,
                                        "snapshots": 24, "feedback": 2, "face_crops": 24}
    assert markers_in(tmp_path) == {}


def test_a_failed_compaction_loses_nothing_and_the_next_one_wipes(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        campaign = make_live(store, keep_face_crops=True)
        keep = add_everything(store, campaign, marked=False)
        gone = add_everything(store, campaign, marked=True)
        blocker = tmp_path / "app.duckdb.compacting"  # where the copy goes: a folder cannot be replaced
        blocker.mkdir()
        (blocker / "x").write_text("x")
        with pytest.raises(CampaignError, match="rows were erased, but the database file could not.*left as it was"):
            store.erase_participant(gone)
        assert store.face_crop_count(keep) == 12 and store.face_crop_count(gone) == 0
        (blocker / "x").unlink()
        blocker.rmdir()
        assert store.compact() is True
        assert markers_in(tmp_path) == {}
        assert store.face_crop_count(keep) == 12


def test_compaction_refuses_while_another_connection_holds_the_file(tmp_path: Path) -> None:
    # A second connection in this process keeps the old DuckDB instance alive: reconnecting would
    # reach the replaced (unlinked) file, so the swap must be refused with everything intact.
    with open_store(tmp_path) as store:
        campaign = make_live(store, keep_face_crops=True)
        keep = add_everything(store, campaign, marked=False)
        other = duckdb.connect(str(tmp_path / "app.duckdb"))
        try:
            with pytest.raises(CampaignError, match="open elsewhere in this process"):
                store.compact()
            assert other.execute("SELECT count(*) FROM face_crops").fetchone() == (12,)
        finally:
            other.close()
        assert store.face_crop_count(keep) == 12
        assert add_everything(store, campaign, marked=False)
        assert store.compact() is True
    with open_store(tmp_path) as store:
        assert store.table_counts()["face_crops"] == 24
    assert not (tmp_path / "app.duckdb.compacting").exists()


def test_compaction_keeps_the_schema_and_its_constraints(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        campaign = make_live(store)
        pid = store.add_participant(campaign, "v1").id
        store.compact()
        assert store.schema_version == schema.LATEST_VERSION
        with pytest.raises(duckdb.ConstraintException):  # primary key still enforced
            store._cursor().execute(
                "INSERT INTO participants SELECT * REPLACE (seq + 1 AS seq) FROM participants WHERE id = ?", [pid]
            )
        with pytest.raises(duckdb.ConstraintException):  # check constraint still enforced
            store._cursor().execute("UPDATE participants SET status = 'gone' WHERE id = ?", [pid])
        store._cursor().execute(  # the migration's column default survived
            "INSERT INTO participants (id, campaign_id, seq, consent_version, consented_at, variant_order, status, "
            "updated_at) VALUES ('raw', ?, 9, 'v', now(), 'AB', 'started', now())",
            [campaign.id],
        )
        assert store.participant("raw").crop_consent is False


def test_in_memory_store_has_nothing_to_compact(store: Store) -> None:
    assert store.compact() is False


#: Public members of Store that are not reads: writes (each under the write lock a compaction
#: holds throughout), the compaction itself, opening and closing, and plain attributes.
NOT_READS = {"open", "close", "compact", "read_only", "max_upload_bytes", "create_campaign", "edit_campaign",
             "go_live", "close_campaign", "delete_campaign", "set_variant", "add_participant", "mark_participant",
             "abandon_stale_participants", "erase_participant", "add_feedback", "add_face_crop", "add_snapshots",
             # study writes
             "set_study", "answer_questions", "end_participant", "reached_step", "record_decline",
             # staff accounts, sessions (a session read marks it seen) and the audit log
             "add_staff_user", "set_staff_role", "set_staff_password_hash", "set_staff_disabled",
             "record_staff_sign_in", "create_staff_session", "staff_session_user", "delete_staff_session",
             "delete_staff_sessions", "expire_staff_sessions", "audit"}


def test_every_public_read_waits_for_a_compaction(store: Store, live: Campaign) -> None:
    pid = store.add_participant(live, "v1").id
    reads: dict[str, Callable[[], object]] = {
        "schema_version": lambda: store.schema_version, "campaign": lambda: store.campaign(live.id),
        "campaigns": store.campaigns, "campaign_by_token": lambda: store.campaign_by_token(live.token),
        "iter_campaign_names": lambda: list(store.iter_campaign_names()), "variants": lambda: store.variants(live),
        "variant_media": lambda: store.variant_media(live, "A"), "participant": lambda: store.participant(pid),
        "face_crop_count": lambda: store.face_crop_count(pid), "snapshot_count": store.snapshot_count,
        "raw_snapshots": lambda: store.raw_snapshots(live), "snapshot_frame": lambda: store.snapshot_frame(live),
        "load": lambda: store.load(live), "data_version": lambda: store.data_version(live),
        "participant_variant_counts": lambda: store.participant_variant_counts(live, 0.5),
        "table_counts": store.table_counts,
        "study": lambda: store.study(live), "funnel": lambda: store.funnel(live),
        "last_steps": lambda: store.last_steps(live), "quota_counts": lambda: store.quota_counts(live),
        "check_admission": lambda: store.check_admission(live, "panel-1"),
        "panel_ids": lambda: store.panel_ids(live), "staff_user": lambda: store.staff_user("admin"),
        "staff_users": store.staff_users, "staff_user_count": store.staff_user_count,
        "staff_password_hash": lambda: store.staff_password_hash("admin"), "audit_entries": store.audit_entries,
    }
    # A public method added later must be listed as a read here (or as a write above).
    assert {name for name in dir(Store) if not name.startswith("_")} == reads.keys() | NOT_READS
    done: list[str] = []
    errors: list[BaseException] = []

    def read(name: str) -> None:
        try:
            reads[name]()
            done.append(name)
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(name,)) for name in reads]
    with store._db._gate.exclusive():  # held as a file swap holds it
        for t in threads:
            t.start()
        time.sleep(0.5)
        assert done == [] and all(t.is_alive() for t in threads)  # every read waits for the swap
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(done) == sorted(reads)


def test_erasures_while_others_read_and_write_lose_nothing(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        campaign = make_live(store, keep_face_crops=True)
        victims = [add_everything(store, campaign, marked=True, crops=2) for _ in range(6)]
        writers = [store.add_participant(campaign, "v1").id for _ in range(4)]
        errors: list[BaseException] = []
        done = threading.Event()

        def erase_all() -> None:
            try:
                for pid in victims:
                    store.erase_participant(pid)
            except BaseException as exc:  # reported below, never swallowed
                errors.append(exc)
            finally:
                done.set()

        def write(pid: str, seed: int) -> None:
            rng = np.random.default_rng(seed)
            try:
                for b in range(20):
                    probs = rng.dirichlet(np.ones(3), 10).astype(np.float32)
                    offsets = np.arange(10, dtype=np.int64) * 1000 + b * 10_000
                    store.add_snapshots(batch_from_arrays(pid, "A", offsets, np.ones(10, dtype=bool), probs, "m"))
            except BaseException as exc:
                errors.append(exc)

        def read() -> None:
            try:
                while not done.is_set():
                    store.load(campaign)
                    store.campaigns()
                    list(store.iter_campaign_names())
                    store.face_crop_count(victims[-1])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=erase_all), *(threading.Thread(target=read) for _ in range(2)),
                   *(threading.Thread(target=write, args=(pid, i)) for i, pid in enumerate(writers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
            assert not t.is_alive()
        assert not errors, errors
        assert store.snapshot_count(campaign) == 4 * 20 * 10
    with open_store(tmp_path) as store:  # every write after a swap reached the new file
        assert store.snapshot_count(campaign) == 800 and store.table_counts()["participants"] == 4
    assert markers_in(tmp_path) == {}
