"""The participants repository: a participant's record, ratings and face crops, and their erasure.

Everything a participant session writes except snapshots (:mod:`campaigns.store.snapshot_repo`),
plus the analyst's erasure. Each write is one serialised transaction; a rejected input stores nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import numpy as np

from campaigns.errors import (
    CampaignError,
    ConsentError,
    MediaError,
    RatingError,
    SnapshotError,
    UnknownParticipantError,
    WipePendingError,
)
from campaigns.inputs import clean_answers, now, text, variant_name
from campaigns.media import decode_image
from campaigns.store.database import Database
from campaigns.store.lookups import CampaignRef, find_campaign, locked_campaign, require_live
from campaigns.store.study_repo import check_admission, read_setup
from campaigns.study import check_external_id
from campaigns.types import ORDERS, PARTICIPANT_STATUSES, Participant

MAX_CROP_BYTES = 5 * 1024 * 1024
#: A participant session takes minutes; one "started" this long ago died with its server process.
STALE_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class _Owner:
    """What a write for one participant needs to know about their campaign."""

    campaign_id: int
    campaign_name: str
    status: str
    rating_scale: int
    keep_face_crops: bool
    crop_consent: bool


class ParticipantRepo:
    """Participants of the campaigns and what they send besides snapshots."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, campaign: CampaignRef, consent_version: str, answers: Mapping[str, Any] | None, order: str | None,
        crop_consent: bool, external_id: str | None = None,
    ) -> Participant:
        """Register a consenting participant of a live campaign.

        ``order`` defaults to counterbalancing: whichever of A-B / B-A has
        fewer participants so far (A-B on a tie), which alternates them. Only
        participants who may reach the ads count: one who abandoned before any
        snapshot or rating (e.g. at the camera check, then retried) never saw
        an order, and counting them would hand the retry the other order every
        time. Those still in progress count, so people consenting at the same
        time alternate; the count and the insert share one serialised write.

        The study's admission rules (end time, target size, a panel ``external_id``
        that has taken part) are checked in the same write: AdmissionError.
        """
        consent_version = text(consent_version, "consent version", 100)
        if order is not None and order not in ORDERS:
            raise CampaignError(f"order must be 'AB' or 'BA', got {order!r}")
        if not isinstance(crop_consent, bool):
            raise ConsentError(f"crop_consent must be true or false, got {crop_consent!r}")
        clean = clean_answers(answers)
        if external_id is not None:
            external_id = check_external_id(external_id)
        participant_id = secrets.token_hex(8)
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=("live",), action="accept participants")
            setup = read_setup(cur, current.id)
            check_admission(cur, current.id, setup, external_id)
            seq, n_ab, n_ba = cur.execute(
                """SELECT coalesce(max(seq), 0) + 1, count(*) FILTER (WHERE variant_order = 'AB' AND saw_ads),
                          count(*) FILTER (WHERE variant_order = 'BA' AND saw_ads)
                   FROM (SELECT seq, variant_order,
                                status <> 'abandoned'
                                OR id IN (SELECT participant_id FROM snapshots WHERE campaign_id = ?)
                                OR id IN (SELECT participant_id FROM feedback WHERE campaign_id = ?) AS saw_ads
                         FROM participants WHERE campaign_id = ?)""",
                [current.id] * 3,
            ).fetchone() or (1, 0, 0)
            chosen = order or ("AB" if n_ab <= n_ba else "BA")
            stamp = now()
            cur.execute(
                """INSERT INTO participants (id, campaign_id, seq, consent_version, consented_at,
                       variant_order, status, updated_at, crop_consent, external_id, last_step)
                   VALUES (?, ?, ?, ?, ?, ?, 'started', ?, ?, ?, ?)""",
                [participant_id, current.id, seq, consent_version, stamp, chosen, stamp, crop_consent, external_id,
                 "questions" if setup.questions else "camera"],
            )
            if clean:
                cur.executemany(
                    "INSERT INTO participant_answers VALUES (?, ?, ?)",
                    [[participant_id, q, a] for q, a in clean.items()],
                )
        return self.get(participant_id)

    def mark(self, participant_id: str, status: str) -> Participant:
        """Set a participant's status: started, complete or abandoned."""
        if status not in PARTICIPANT_STATUSES:
            raise CampaignError(
                f"participant status must be one of {', '.join(PARTICIPANT_STATUSES)}, got {status!r}"
            )
        with self._db.write() as cur:
            self._owner(cur, participant_id)
            # Completing is an outcome; an ended visit (screened out, no camera) keeps its own.
            cur.execute(
                """UPDATE participants SET status = ?, updated_at = ?,
                       outcome = CASE WHEN ? = 'complete' THEN 'complete' ELSE outcome END,
                       last_step = CASE WHEN ? = 'complete' THEN 'done' ELSE last_step END
                   WHERE id = ?""",
                [status, now(), status, status, participant_id],
            )
        return self.get(participant_id)

    def abandon_stale(self, idle: timedelta = STALE_AFTER) -> int:
        """Mark participants still "started" whose record has not changed for ``idle`` as abandoned;
        returns how many. Their session died with the server process that held it (a restart or
        crash mid-session): nobody will finish them, and progress should not count them as running.
        Their snapshots and ratings stay."""
        stamp = now()
        with self._db.write() as cur:
            cur.execute(
                "UPDATE participants SET status = 'abandoned', updated_at = ? "
                "WHERE status = 'started' AND updated_at < ?",
                [stamp, stamp - idle],
            )
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def erase(self, participant_id: str) -> dict[str, int]:
        """Delete every row of a participant (right to erasure); returns counts per table.

        Then the database file is rewritten (:meth:`Database.compact`): DuckDB
        leaves deleted rows' bytes, face crops included, in freed blocks of the
        file, where they would stay readable after the erasure.
        """
        counts: dict[str, int] = {}
        with self._db.write() as cur:
            self._owner(cur, participant_id)
            # The funnel keeps that someone withdrew, and where: nothing that identifies them.
            cur.execute(
                """INSERT INTO withdrawals SELECT campaign_id, ?, last_step FROM participants
                   WHERE id = ? AND outcome IS DISTINCT FROM 'declined'""",
                [now(), participant_id],
            )
            for table, column in (
                ("snapshots", "participant_id"),
                ("feedback", "participant_id"),
                ("face_crops", "participant_id"),
                ("participant_answers", "participant_id"),
                ("participants", "id"),
            ):
                row = cur.execute(
                    f"DELETE FROM {table} WHERE {column} = ? RETURNING 1",  # noqa: S608
                    [participant_id],
                ).fetchall()
                counts[table] = len(row)
        try:
            self._db.compact()
        except CampaignError as exc:
            raise WipePendingError(f"participant {participant_id}'s rows were erased, but {exc}") from exc
        return counts

    def _owner(self, cur: duckdb.DuckDBPyConnection, participant_id: str) -> _Owner:
        """The campaign facts a participant's write depends on, or UnknownParticipantError."""
        if not isinstance(participant_id, str):
            raise UnknownParticipantError(f"participant id must be a text, got {participant_id!r}")
        row = cur.execute(
            """SELECT c.id, c.name, c.status, c.rating_scale, c.keep_face_crops, p.crop_consent
               FROM participants p JOIN campaigns c ON c.id = p.campaign_id WHERE p.id = ?""",
            [participant_id],
        ).fetchone()
        if row is None:
            raise UnknownParticipantError(f"no participant with id {participant_id!r}")
        return _Owner(int(row[0]), row[1], row[2], int(row[3]), bool(row[4]), bool(row[5]))

    def panel_ids(self, campaign: CampaignRef) -> dict[str, str]:
        """Participant id to panel id, for the participants of ``campaign`` whose link carried one."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            rows = cur.execute("SELECT id, external_id FROM participants WHERE campaign_id = ? "
                               "AND external_id IS NOT NULL", [current.id]).fetchall()
        return {str(pid): str(eid) for pid, eid in rows}

    def get(self, participant_id: str) -> Participant:
        """One participant with their segment answers."""
        with self._db.read() as cur:
            row = cur.execute(
                """SELECT id, campaign_id, seq, consent_version, consented_at, variant_order, status, crop_consent
                   FROM participants WHERE id = ?""",
                [participant_id],
            ).fetchone()
            if row is None:
                raise UnknownParticipantError(f"no participant with id {participant_id!r}")
            # A multiple-choice answer is one row per option chosen; shown here joined.
            answers = dict(
                cur.execute(
                    """SELECT question, string_agg(answer, '; ' ORDER BY answer) FROM participant_answers
                       WHERE participant_id = ? GROUP BY question ORDER BY question""",
                    [participant_id],
                ).fetchall()
            )
        return Participant(
            id=row[0],
            campaign_id=row[1],
            seq=row[2],
            consent_version=row[3],
            consented_at=row[4],
            order=row[5],
            status=row[6],
            crop_consent=bool(row[7]),
            answers=answers,
        )

    # -- what a participant sends besides snapshots ---------------------------

    def add_feedback(
        self, participant_id: str, variant: str, rating: int, comment: str | None = None
    ) -> None:
        """Store (or replace) a participant's rating of one variant."""
        variant = variant_name(variant)
        if comment is not None:
            comment = text(comment, "comment", 2000, allow_empty=True)
        with self._db.write() as cur:
            owner = self._owner(cur, participant_id)
            require_live(owner.campaign_name, owner.status, "feedback")
            scale = owner.rating_scale
            if (
                isinstance(rating, bool)
                or not isinstance(rating, int | np.integer)
                or not 1 <= rating <= scale
            ):
                raise RatingError(f"rating must be a whole number from 1 to {scale}, got {rating!r}")
            cur.execute(
                "DELETE FROM feedback WHERE participant_id = ? AND variant = ?", [participant_id, variant]
            )
            cur.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?)",
                [owner.campaign_id, participant_id, variant, int(rating), comment, now()],
            )

    def add_face_crop(self, participant_id: str, variant: str, offset_ms: int, image: bytes) -> None:
        """Keep one face crop; refused unless the campaign keeps crops and the participant agreed."""
        variant = variant_name(variant)
        if isinstance(offset_ms, bool) or not isinstance(offset_ms, int) or offset_ms < 0:
            raise SnapshotError(f"offset_ms must be a non-negative whole number, got {offset_ms!r}")
        with self._db.write() as cur:
            owner = self._owner(cur, participant_id)
            require_live(owner.campaign_name, owner.status, "face crops")
            if not owner.keep_face_crops:
                raise ConsentError(
                    f"campaign {owner.campaign_name!r} does not keep face crops; the crop was not stored"
                )
            if not owner.crop_consent:
                raise ConsentError(
                    "this participant did not agree to keep face crops; the crop was not stored"
                )
            if not isinstance(image, bytes) or len(image) > MAX_CROP_BYTES:
                raise MediaError(f"a face crop must be image bytes of at most {MAX_CROP_BYTES} bytes")
            decode_image(image, "face crop")
            cur.execute(
                "INSERT INTO face_crops VALUES (?, ?, ?, ?, ?, ?)",
                [owner.campaign_id, participant_id, variant, offset_ms, image, now()],
            )

    def face_crop_count(self, participant_id: str) -> int:
        """Number of kept face crops of a participant."""
        with self._db.read() as cur:
            row = cur.execute("SELECT count(*) FROM face_crops WHERE participant_id = ?", [participant_id]).fetchone()
        return int(row[0]) if row else 0
