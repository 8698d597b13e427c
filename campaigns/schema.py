"""Numbered schema migrations of the campaign database.

Each migration runs in one transaction together with the row that records it in
``schema_version``, so a file is always at a whole version. Never edit a
released migration: add the next number instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from campaigns.errors import SchemaError


@dataclass(frozen=True)
class Migration:
    """One schema step: its number, a one-line description, its statements."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "campaigns, variants, participants, answers, snapshots, feedback",
        (
            "CREATE SEQUENCE campaign_ids START 1",
            """CREATE TABLE campaigns (
                id INTEGER PRIMARY KEY DEFAULT nextval('campaign_ids'),
                name VARCHAR NOT NULL UNIQUE,
                description VARCHAR NOT NULL,
                status VARCHAR NOT NULL CHECK (status IN ('draft', 'live', 'closed')),
                token VARCHAR NOT NULL UNIQUE,
                labels VARCHAR[] NOT NULL,
                interval_s DOUBLE NOT NULL,
                exposure_s DOUBLE NOT NULL,
                confidence_threshold DOUBLE NOT NULL,
                rating_scale INTEGER NOT NULL,
                rating_question VARCHAR NOT NULL,
                min_participants INTEGER NOT NULL,
                min_face_rate DOUBLE NOT NULL,
                valence_weight DOUBLE NOT NULL,
                created_at TIMESTAMP NOT NULL,
                live_at TIMESTAMP,
                closed_at TIMESTAMP
            )""",
            """CREATE TABLE variants (
                campaign_id INTEGER NOT NULL,
                name VARCHAR NOT NULL CHECK (name IN ('A', 'B')),
                kind VARCHAR NOT NULL CHECK (kind IN ('image', 'video')),
                mime VARCHAR NOT NULL,
                filename VARCHAR,
                size_bytes BIGINT NOT NULL,
                duration_s DOUBLE,
                width INTEGER,
                height INTEGER,
                sha256 VARCHAR NOT NULL,
                media BLOB,
                media_path VARCHAR,
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE participants (
                id VARCHAR PRIMARY KEY,
                campaign_id INTEGER NOT NULL,
                seq INTEGER NOT NULL,
                consent_version VARCHAR NOT NULL,
                consented_at TIMESTAMP NOT NULL,
                variant_order VARCHAR NOT NULL CHECK (variant_order IN ('AB', 'BA')),
                status VARCHAR NOT NULL CHECK (status IN ('started', 'complete', 'abandoned')),
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE participant_answers (
                participant_id VARCHAR NOT NULL,
                question VARCHAR NOT NULL,
                answer VARCHAR NOT NULL
            )""",
            # campaign_id is repeated here so analysis scans one table, no join;
            # top_index (position of top_label in the campaign's labels) lets the
            # threshold query group on a small integer instead of a string.
            """CREATE TABLE snapshots (
                campaign_id INTEGER NOT NULL,
                participant_id VARCHAR NOT NULL,
                variant VARCHAR NOT NULL,
                offset_ms BIGINT NOT NULL,
                face_found BOOLEAN NOT NULL,
                face_ratio DOUBLE,
                brightness DOUBLE,
                sharpness DOUBLE,
                probabilities FLOAT[],
                top_label VARCHAR,
                top_index UTINYINT,
                top_probability DOUBLE,
                model_id VARCHAR NOT NULL,
                stored_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE feedback (
                campaign_id INTEGER NOT NULL,
                participant_id VARCHAR NOT NULL,
                variant VARCHAR NOT NULL,
                rating INTEGER NOT NULL,
                comment VARCHAR,
                created_at TIMESTAMP NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "face crops: campaign opt-in, separate participant consent, crop table",
        (
            "ALTER TABLE campaigns ADD COLUMN keep_face_crops BOOLEAN DEFAULT false",
            "ALTER TABLE participants ADD COLUMN crop_consent BOOLEAN DEFAULT false",
            """CREATE TABLE face_crops (
                campaign_id INTEGER NOT NULL,
                participant_id VARCHAR NOT NULL,
                variant VARCHAR NOT NULL,
                offset_ms BIGINT NOT NULL,
                image BLOB NOT NULL,
                stored_at TIMESTAMP NOT NULL
            )""",
        ),
    ),
    Migration(
        3,
        "study setup, panel ids, outcomes; staff accounts, sessions and the audit log",
        (
            # The study setup (entry questions, screen-out rules, quotas, target, panel link and
            # redirects) is one JSON document: it is read and validated as a whole
            # (campaigns.study) and is fixed once the campaign is live.
            "ALTER TABLE campaigns ADD COLUMN study VARCHAR DEFAULT '{}'",
            # external_id is personal data from a panel link; outcome is how the visit ended
            # (NULL while it runs); last_step is the furthest step reached.
            "ALTER TABLE participants ADD COLUMN external_id VARCHAR",
            "ALTER TABLE participants ADD COLUMN outcome VARCHAR",
            "ALTER TABLE participants ADD COLUMN last_step VARCHAR DEFAULT 'consent'",
            # A withdrawal erases the participant's row; the funnel keeps only that one withdrew.
            """CREATE TABLE withdrawals (
                campaign_id INTEGER NOT NULL,
                withdrawn_at TIMESTAMP NOT NULL,
                last_step VARCHAR
            )""",
            """CREATE TABLE staff_users (
                username VARCHAR PRIMARY KEY,
                role VARCHAR NOT NULL CHECK (role IN ('admin', 'marketer', 'analyst')),
                password_hash VARCHAR NOT NULL,
                disabled BOOLEAN NOT NULL DEFAULT false,
                created_at TIMESTAMP NOT NULL,
                last_sign_in TIMESTAMP
            )""",
            # Only a hash of a session's secret is stored, so a copy of the file signs no one in.
            """CREATE TABLE staff_sessions (
                secret_hash VARCHAR PRIMARY KEY,
                username VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                last_seen TIMESTAMP NOT NULL
            )""",
            # Not tied to campaigns by key: deleting a campaign keeps its history.
            """CREATE TABLE audit_log (
                logged_at TIMESTAMP NOT NULL,
                username VARCHAR NOT NULL,
                action VARCHAR NOT NULL,
                campaign_id INTEGER,
                campaign_name VARCHAR,
                detail VARCHAR
            )""",
        ),
    ),
)

LATEST_VERSION: int = MIGRATIONS[-1].version


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """Schema version of an open database; 0 for an empty one."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", ["schema_version"]
    ).fetchone()
    if not exists or exists[0] == 0:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, upto: int | None = None) -> int:
    """Apply pending migrations up to ``upto`` (default: all), each in its own transaction.

    Returns the resulting version. Raises SchemaError for a file written by a
    newer version of this code, which must not be touched, and for a step that
    fails (with the driver's error as its cause).
    """
    latest = MIGRATIONS[-1].version
    upto = latest if upto is None else upto
    found = current_version(con)
    if found > latest:
        raise SchemaError(f"database schema version {found} is newer than this code understands ({latest})")
    if found == 0:
        con.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                description VARCHAR NOT NULL,
                applied_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
            )"""
        )
    for step in MIGRATIONS:
        if step.version <= found or step.version > upto:
            continue
        con.begin()
        try:
            for statement in step.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                [step.version, step.description],
            )
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise SchemaError(
                f"migration {step.version} ({step.description}) failed and was rolled back: {exc}"
            ) from exc
        except Exception:
            con.rollback()
            raise
        found = step.version
    return found
