"""The study repository: a campaign's study setup, entry answers, outcomes, quotas and funnel.

Every check that decides whether one more person may take part (target size,
quota cells, a panel id seen before) reads and writes in one serialised
transaction, so two participants arriving together cannot both take the last
place. A place is held by a complete participant or by one still in progress;
an abandoned one frees it again.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from campaigns.errors import CampaignError, UnknownParticipantError
from campaigns.inputs import now
from campaigns.store.database import Database
from campaigns.store.lookups import CampaignRef, find_campaign, locked_campaign
from campaigns.study import FINAL_OUTCOMES, IN_PROGRESS, OUTCOMES, AdmissionError, Quota, StudySetup

#: The furthest step a participant reached, in order.
STEPS: tuple[str, ...] = ("consent", "questions", "camera", "ad 1", "rating 1", "ad 2", "rating 2", "done")
#: A place-holding participant: complete, or in progress (not ended, not abandoned).
_HOLDS_PLACE = "(p.outcome = 'complete' OR (p.outcome IS NULL AND p.status = 'started'))"
_OUTCOME = ("coalesce(p.outcome, CASE p.status WHEN 'complete' THEN 'complete' WHEN 'abandoned' THEN 'abandoned' "
            f"ELSE '{IN_PROGRESS}' END)")


@dataclass(frozen=True)
class QuotaCount:
    """One quota cell and the places taken in it (complete plus in progress)."""

    quota: Quota
    complete: int
    in_progress: int

    @property
    def full(self) -> bool:
        return self.complete + self.in_progress >= self.quota.limit


def read_setup(cur: duckdb.DuckDBPyConnection, campaign_id: int) -> StudySetup:
    row = cur.execute("SELECT study FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    return StudySetup.from_json(row[0] if row else None)


def check_admission(cur: duckdb.DuckDBPyConnection, campaign_id: int, setup: StudySetup,
                    external_id: str | None) -> None:
    """Raise AdmissionError unless one more participant (with this panel id) may start now."""
    if setup.closed_at(now()):
        raise AdmissionError("ended", "this study has ended")
    if external_id is not None:
        seen = cur.execute(
            f"SELECT count(*) FROM participants WHERE campaign_id = ? AND external_id = ? "  # noqa: S608
            f"AND outcome IN ({', '.join('?' * len(FINAL_OUTCOMES))})",
            [campaign_id, external_id, *FINAL_OUTCOMES],
        ).fetchone()
        if seen and seen[0]:
            raise AdmissionError("repeat", "this participant ID has already taken part in this study")
    if setup.target_completes is not None:
        held = cur.execute(
            f"SELECT count(*) FROM participants p WHERE p.campaign_id = ? AND {_HOLDS_PLACE}",  # noqa: S608
            [campaign_id],
        ).fetchone()
        if held and held[0] >= setup.target_completes:
            raise AdmissionError("quota_full", "this study has all the participants it needs")


class StudyRepo:
    """Study setup per campaign and what it decides about each participant."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def setup(self, campaign: CampaignRef) -> StudySetup:
        with self._db.read() as cur:
            return read_setup(cur, find_campaign(cur, campaign).id)

    def set_setup(self, campaign: CampaignRef, setup: StudySetup | Mapping[str, Any]) -> StudySetup:
        """Replace the study setup of a draft campaign (a live one's is fixed, like its settings)."""
        chosen = setup if isinstance(setup, StudySetup) else StudySetup.from_mapping(setup)
        chosen.check()
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=("draft",), action="change its study setup")
            cur.execute("UPDATE campaigns SET study = ? WHERE id = ?", [chosen.to_json(), current.id])
        return chosen

    def admission(self, campaign: CampaignRef, external_id: str | None) -> None:
        """Raise AdmissionError when a visitor with ``external_id`` could not start now (for the link
        page: it says so before asking for consent; the registration checks again)."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            check_admission(cur, current.id, read_setup(cur, current.id), external_id)

    def answer(self, participant_id: str, raw: Mapping[str, Any]) -> str | None:
        """Store a participant's entry answers; returns the outcome they end the test with
        (``screened_out`` or ``quota_full``), or None to go on to the camera check.

        Invalid answers raise StudyError and store nothing; answering again replaces the answers.
        """
        with self._db.write() as cur:
            campaign_id, status, outcome = self._participant(cur, participant_id)
            if status != "started" or outcome is not None:
                raise CampaignError("this participant's visit has ended; the answers were not stored")
            locked_campaign(cur, campaign_id, allowed=("live",), action="take answers")
            setup = read_setup(cur, campaign_id)
            answers = setup.clean_answers(raw)
            cur.execute("DELETE FROM participant_answers WHERE participant_id = ?", [participant_id])
            rows = [[participant_id, key, value] for key, values in answers.items() for value in values]
            if rows:
                cur.executemany("INSERT INTO participant_answers VALUES (?, ?, ?)", rows)
            ended = setup.entry_outcome(
                answers, lambda quota: self._taken(cur, campaign_id, quota, exclude=participant_id) >= quota.limit)
            self._end(cur, participant_id, ended, "questions" if ended else "camera")
        return ended

    def end(self, participant_id: str, outcome: str, last_step: str | None = None) -> None:
        """End a participant's visit with ``outcome`` (e.g. ``no_camera``); ``complete`` goes through
        ``mark_participant``."""
        if outcome not in OUTCOMES or outcome in ("complete", "withdrew", "declined"):
            raise CampaignError(
                f"outcome must be one of screened_out, quota_full, no_camera, abandoned; got {outcome!r}")
        with self._db.write() as cur:
            self._participant(cur, participant_id)
            self._end(cur, participant_id, outcome, last_step)

    def reached(self, participant_id: str, step: str) -> None:
        """Record the furthest step reached (never moves back)."""
        if step not in STEPS:
            raise CampaignError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
        with self._db.write() as cur:
            row = cur.execute("SELECT last_step FROM participants WHERE id = ?", [participant_id]).fetchone()
            if row is None:
                raise UnknownParticipantError(f"no participant with id {participant_id!r}")
            if row[0] not in STEPS or STEPS.index(step) > STEPS.index(row[0]):
                cur.execute("UPDATE participants SET last_step = ? WHERE id = ?", [step, participant_id])

    def record_decline(self, campaign: CampaignRef) -> None:
        """Count a visitor who read the consent and said no: a row with nothing about them."""
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=("live",), action="count visitors")
            seq = cur.execute("SELECT coalesce(max(seq), 0) + 1 FROM participants WHERE campaign_id = ?",
                              [current.id]).fetchone()
            stamp = now()
            cur.execute(
                """INSERT INTO participants (id, campaign_id, seq, consent_version, consented_at, variant_order,
                       status, updated_at, crop_consent, outcome, last_step)
                   VALUES (?, ?, ?, 'declined', ?, 'AB', 'abandoned', ?, false, 'declined', 'consent')""",
                [secrets.token_hex(8), current.id, seq[0] if seq else 1, stamp, stamp],
            )

    def funnel(self, campaign: CampaignRef) -> dict[str, int]:
        """Participants per outcome (every outcome present, ``in_progress`` too); withdrawals included."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            counts = dict.fromkeys((*OUTCOMES, IN_PROGRESS), 0)
            for outcome, n in cur.execute(
                f"SELECT {_OUTCOME}, count(*) FROM participants p WHERE p.campaign_id = ? GROUP BY 1",  # noqa: S608
                [current.id],
            ).fetchall():
                counts[str(outcome)] = counts.get(str(outcome), 0) + int(n)
            row = cur.execute("SELECT count(*) FROM withdrawals WHERE campaign_id = ?", [current.id]).fetchone()
            counts["withdrew"] += int(row[0]) if row else 0
        return counts

    def last_steps(self, campaign: CampaignRef) -> dict[str, dict[str, int]]:
        """For each outcome, how many reached each last step (where a visit stopped)."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            rows = cur.execute(
                f"SELECT {_OUTCOME}, coalesce(p.last_step, 'consent'), count(*) FROM participants p "  # noqa: S608
                "WHERE p.campaign_id = ? GROUP BY ALL",
                [current.id],
            ).fetchall()
        result: dict[str, dict[str, int]] = {}
        for outcome, step, n in rows:
            result.setdefault(str(outcome), {})[str(step)] = int(n)
        return result

    def quota_counts(self, campaign: CampaignRef) -> list[QuotaCount]:
        """Every quota cell of the campaign with its places taken."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            setup = read_setup(cur, current.id)
            result = []
            for quota in setup.quotas:
                row = cur.execute(
                    """SELECT count(*) FILTER (WHERE p.outcome = 'complete'),
                               count(*) FILTER (WHERE p.outcome IS NULL AND p.status = 'started')
                        FROM participants p JOIN participant_answers a ON a.participant_id = p.id
                        WHERE p.campaign_id = ? AND a.question = ? AND a.answer = ?""",
                    [current.id, quota.question, quota.option],
                ).fetchone() or (0, 0)
                result.append(QuotaCount(quota, int(row[0]), int(row[1])))
        return result

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def _participant(cur: duckdb.DuckDBPyConnection, participant_id: str) -> tuple[int, str, str | None]:
        if not isinstance(participant_id, str):
            raise UnknownParticipantError(f"participant id must be a text, got {participant_id!r}")
        row = cur.execute("SELECT campaign_id, status, outcome FROM participants WHERE id = ?",
                          [participant_id]).fetchone()
        if row is None:
            raise UnknownParticipantError(f"no participant with id {participant_id!r}")
        return int(row[0]), str(row[1]), row[2]

    @staticmethod
    def _taken(cur: duckdb.DuckDBPyConnection, campaign_id: int, quota: Quota, exclude: str) -> int:
        row = cur.execute(
            f"""SELECT count(*) FROM participants p JOIN participant_answers a ON a.participant_id = p.id
                WHERE p.campaign_id = ? AND a.question = ? AND a.answer = ? AND p.id <> ?
                  AND {_HOLDS_PLACE}""",  # noqa: S608
            [campaign_id, quota.question, quota.option, exclude],
        ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _end(cur: duckdb.DuckDBPyConnection, participant_id: str, outcome: str | None, step: str | None) -> None:
        # An ended visit no longer holds a place (status "abandoned" keeps it out of the analysis too).
        if outcome is not None:
            cur.execute("UPDATE participants SET outcome = ?, status = 'abandoned', updated_at = ?, "
                        "last_step = coalesce(?, last_step) WHERE id = ?", [outcome, now(), step, participant_id])
        elif step is not None:
            cur.execute("UPDATE participants SET last_step = ? WHERE id = ?", [step, participant_id])
