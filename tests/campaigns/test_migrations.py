"""Schema migrations: an old (v1) file migrates forward keeping its data; failures roll back."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from campaigns import schema
from campaigns.analysis import variant_summaries
from campaigns.errors import SchemaError
from campaigns.store import Store


def make_v1_file(path: Path) -> None:
    """What a version-1 build of the app would have written (its own SQL, frozen here)."""
    con = duckdb.connect(str(path))
    assert schema.migrate(con, upto=1) == 1
    now = datetime(2026, 1, 2, 3, 4, 5)
    con.execute(
        """INSERT INTO campaigns (name, description, status, token, labels, interval_s, exposure_s,
               confidence_threshold, rating_scale, rating_question, min_participants, min_face_rate,
               valence_weight, created_at)
           VALUES ('Legacy', 'from v1', 'live', 'tok-legacy', ['happy', 'sad'], 1, 15, 0.6, 5, 'Feel?', 10,
                   0.5, 0.5, ?)""",
        [now],
    )
    con.execute(
        """INSERT INTO participants VALUES ('p-old', 1, 1, 'c1', ?, 'AB', 'complete', ?)""", [now, now]
    )
    con.execute("INSERT INTO participant_answers VALUES ('p-old', 'age', '55+')")
    for variant, probs, label in (("A", [0.9, 0.1], "happy"), ("B", [0.2, 0.8], "sad")):
        con.execute(
            """INSERT INTO snapshots
               VALUES (1, 'p-old', ?, 0, true, 0.1, 100, 20, ?, ?, ?, ?, 'old-model', ?)""",
            [variant, probs, label, 0 if label == "happy" else 1, max(probs), now],
        )
    con.execute("INSERT INTO feedback VALUES (1, 'p-old', 'A', 5, 'great', ?)", [now])
    con.close()


def test_v1_file_migrates_forward_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    make_v1_file(path)
    with pytest.raises(SchemaError, match="schema version 1"):
        Store.open(path, read_only=True)  # a reader must not migrate
    with Store.open(path) as store:
        assert store.schema_version == schema.LATEST_VERSION == 3
        campaign = store.campaign("Legacy")
        assert (campaign.status, campaign.labels, campaign.settings.keep_face_crops) == (
            "live",
            ("happy", "sad"),
            False,
        )
        participant = store.participant("p-old")
        assert (participant.crop_consent, participant.answers, participant.order) == (
            False,
            {"age": "55+"},
            "AB",
        )
        summaries = variant_summaries(store.load(campaign))
        assert summaries["A"].ratios == {"happy": 1.0, "sad": 0.0}
        assert summaries["B"].ratios == {"happy": 0.0, "sad": 1.0}
        assert summaries["A"].feedback_raw == 5
        # New data goes in beside the old rows.
        new = store.add_participant(campaign, "c2", crop_consent=True)
        assert new.seq == 2 and new.crop_consent
    con = duckdb.connect(str(path), read_only=True)
    versions = con.execute("SELECT version, description FROM schema_version ORDER BY version").fetchall()
    con.close()
    assert [v for v, _ in versions] == [1, 2, 3] and "face crops" in versions[1][1]


def test_reopening_a_current_file_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    Store.open(path).close()
    with Store.open(path) as store:
        assert store.schema_version == 3
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM schema_version").fetchone() == (3,)
    con.close()


def test_failed_migration_rolls_back_completely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.duckdb"
    Store.open(path).close()
    broken = schema.Migration(
        4, "broken", ("CREATE TABLE half_done (x INTEGER)", "SELECT * FROM no_such_table")
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    with pytest.raises(SchemaError, match=r"migration 4 \(broken\) failed and was rolled back: .*no_such_table") as err:
        Store.open(path)
    assert isinstance(err.value.__cause__, duckdb.CatalogException)  # the driver's error, chained
    monkeypatch.undo()
    con = duckdb.connect(str(path), read_only=True)
    assert schema.current_version(con) == 3
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half_done'"
    ).fetchone() == (0,)
    con.close()


def test_newer_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version (version, description) VALUES (99, 'from the future')")
    con.close()
    with pytest.raises(SchemaError, match="version 99 is newer"):
        Store.open(path)
    con = duckdb.connect(str(path), read_only=True)
    assert schema.current_version(con) == 99
    con.close()


def test_a_migrated_file_survives_the_rewrite_after_an_erasure(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    make_v1_file(path)
    with Store.open(path) as store:
        campaign = store.campaign("Legacy")
        newcomer = store.add_participant(campaign, "c2", answers={"age": "18-24"})
        store.erase_participant("p-old")  # rewrites the file: every table, version row and default
        assert store.schema_version == schema.LATEST_VERSION
        assert store.participant(newcomer.id).answers == {"age": "18-24"}
    with Store.open(path, read_only=True) as reader:  # still a complete, current file
        assert reader.table_counts() == {"campaigns": 1, "variants": 0, "participants": 1,
                                         "participant_answers": 1, "snapshots": 0, "feedback": 0, "face_crops": 0}
        assert not reader.campaign("Legacy").settings.keep_face_crops
    assert b"old-model" not in path.read_bytes() and b"great" not in path.read_bytes()
