"""Read queries of the campaign store (mixed into :class:`campaigns.store.Store`).

Kept apart from the writes only to keep modules short; these are the queries
analysis and exports run, each returning a DataFrame or a domain object.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from campaigns.errors import CampaignError, UnknownCampaignError, UnknownParticipantError
from campaigns.types import Campaign, CampaignData, Participant, Settings, Variant, count_column

_CAMPAIGN_COLUMNS = """id, name, description, status, token, labels, interval_s, exposure_s,
    confidence_threshold, rating_scale, rating_question, min_participants, min_face_rate, valence_weight,
    keep_face_crops, created_at"""


def _campaign_from_row(row: tuple[Any, ...]) -> Campaign:
    settings = Settings(
        interval_s=float(row[6]),
        exposure_s=float(row[7]),
        confidence_threshold=float(row[8]),
        rating_scale=int(row[9]),
        rating_question=str(row[10]),
        min_participants=int(row[11]),
        min_face_rate=float(row[12]),
        valence_weight=float(row[13]),
        keep_face_crops=bool(row[14]),
    )
    return Campaign(
        id=int(row[0]),
        name=row[1],
        description=row[2],
        status=row[3],
        token=row[4],
        labels=tuple(row[5]),
        settings=settings,
        created_at=row[15],
    )


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise CampaignError(f"confidence threshold must be between 0 and 1, got {threshold!r}")
    return float(threshold)


def pivot_counts(frame: pd.DataFrame, keys: list[str], labels: tuple[str, ...]) -> pd.DataFrame:
    """Reshape (keys, top_index, n, confident) groups to one row per key.

    Columns: keys, snapshots, faces, confident, one ``n_<label>`` per label.
    Rows without a face have a NULL top_index and are never confident.
    """
    index = frame["top_index"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
    n = frame["n"].to_numpy(dtype=np.int64)
    confident = frame["confident"].to_numpy(dtype=np.int64)
    parts = {key: frame[key] for key in keys}
    parts |= {"snapshots": n, "faces": np.where(index >= 0, n, 0), "confident": confident}
    parts |= {count_column(k): np.where(index == i, confident, 0) for i, k in enumerate(labels)}
    wide = pd.DataFrame(parts)
    if "second" in keys:
        wide["second"] = wide["second"].astype(np.int64)
    return wide.groupby(keys, sort=True, as_index=False).sum()


class ReadQueries:
    """Queries over one campaign; all values bound with ``?``."""

    if TYPE_CHECKING:  # provided by Store; declared for the type checker only

        def _cursor(self) -> duckdb.DuckDBPyConnection: ...

        def _snapshot_read(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    # -- objects ----------------------------------------------------------

    def _campaign_on(self, cur: duckdb.DuckDBPyConnection, ref: Campaign | int | str) -> Campaign:
        if isinstance(ref, Campaign):
            ref = ref.id
        if isinstance(ref, bool) or not isinstance(ref, int | str):
            raise UnknownCampaignError(f"a campaign is named by its id or name, got {ref!r}")
        column = "id" if isinstance(ref, int) else "name"
        row = cur.execute(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE {column} = ?", [ref]).fetchone()
        if row is None:
            raise UnknownCampaignError(f"no campaign with {column} {ref!r}")
        return _campaign_from_row(row)

    def campaign(self, ref: Campaign | int | str) -> Campaign:
        """The current state of a campaign, by object, id or name."""
        return self._campaign_on(self._cursor(), ref)

    def campaigns(self) -> list[Campaign]:
        """All campaigns, newest first."""
        rows = (
            self._cursor()
            .execute(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns ORDER BY created_at DESC, id DESC")
            .fetchall()
        )
        return [_campaign_from_row(r) for r in rows]

    def variants(self, campaign: Campaign | int | str) -> dict[str, Variant]:
        """Metadata of the uploaded variants, keyed by 'A'/'B'."""
        cur = self._cursor()
        current = self._campaign_on(cur, campaign)
        rows = cur.execute(
            """SELECT campaign_id, name, kind, mime, filename, size_bytes, duration_s, width, height, sha256
               FROM variants WHERE campaign_id = ? ORDER BY name""",
            [current.id],
        ).fetchall()
        return {r[1]: Variant(*r) for r in rows}

    def participant(self, participant_id: str) -> Participant:
        """One participant with their segment answers."""
        cur = self._cursor()
        row = cur.execute(
            """SELECT id, campaign_id, seq, consent_version, consented_at, variant_order, status, crop_consent
               FROM participants WHERE id = ?""",
            [participant_id],
        ).fetchone()
        if row is None:
            raise UnknownParticipantError(f"no participant with id {participant_id!r}")
        answers = dict(
            cur.execute(
                "SELECT question, answer FROM participant_answers WHERE participant_id = ? ORDER BY question",
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

    # -- frames for analysis ----------------------------------------------

    def _counts(
        self, cur: duckdb.DuckDBPyConnection, campaign: Campaign, threshold: float, per_second: bool
    ) -> pd.DataFrame:
        # Group on (participant, variant[, second], top label index): the only
        # threshold-dependent aggregate is one filtered count, so the slider
        # query stays a single cheap hash aggregation; pivot_counts reshapes
        # the few thousand groups to one row per participant-variant.
        # Probabilities are stored as float32; compare at that precision so a
        # snapshot whose top probability is "0.7" counts at threshold 0.7.
        level = float(np.float32(threshold))
        second = "offset_ms // 1000 AS second," if per_second else ""
        frame = cur.execute(
            f"""SELECT participant_id, variant, {second} top_index, count(*) AS n,
                    count(*) FILTER (WHERE top_probability >= ?) AS confident
                FROM snapshots WHERE campaign_id = ? GROUP BY ALL""",
            [level, campaign.id],
        ).df()
        keys = ["participant_id", "variant", "second"] if per_second else ["participant_id", "variant"]
        return pivot_counts(frame, keys, campaign.labels)

    def _quality_means(self, cur: duckdb.DuckDBPyConnection, campaign: Campaign) -> pd.DataFrame:
        return cur.execute(
            """SELECT participant_id, variant, avg(face_ratio) AS face_ratio, avg(brightness) AS brightness,
                   avg(sharpness) AS sharpness
               FROM snapshots WHERE campaign_id = ? GROUP BY ALL""",
            [campaign.id],
        ).df()

    def participant_variant_counts(self, campaign: Campaign | int | str, threshold: float) -> pd.DataFrame:
        """Per participant and variant: snapshots, faces, confident and n_<label> at ``threshold``."""
        cur = self._cursor()
        return self._counts(cur, self._campaign_on(cur, campaign), _check_threshold(threshold), False)

    def load(self, campaign: Campaign | int | str, threshold: float | None = None) -> CampaignData:
        """All frames analysis needs, read in one consistent transaction.

        ``threshold`` defaults to the campaign's confidence_threshold setting.
        """
        with self._snapshot_read() as cur:
            current = self._campaign_on(cur, campaign)
            level = (
                current.settings.confidence_threshold if threshold is None else _check_threshold(threshold)
            )
            counts = self._counts(cur, current, level, False).merge(
                self._quality_means(cur, current), on=["participant_id", "variant"], how="left"
            )
            seconds = self._counts(cur, current, level, True)
            feedback = cur.execute(
                """SELECT participant_id, variant, rating, comment FROM feedback WHERE campaign_id = ?
                   ORDER BY participant_id, variant""",
                [current.id],
            ).df()
            participants = cur.execute(
                """SELECT id AS participant_id, seq, variant_order, status, consent_version, consented_at
                   FROM participants WHERE campaign_id = ? ORDER BY seq""",
                [current.id],
            ).df()
            answers = cur.execute(
                """SELECT a.participant_id, a.question, a.answer FROM participant_answers a
                   JOIN participants p ON p.id = a.participant_id WHERE p.campaign_id = ?
                   ORDER BY a.participant_id, a.question""",
                [current.id],
            ).df()
        return CampaignData(current, level, counts, seconds, feedback, participants, answers)

    def raw_snapshots(self, campaign: Campaign | int | str) -> pd.DataFrame:
        """Every snapshot joined with its participant and variant (no media), one column per label."""
        cur = self._cursor()
        current = self._campaign_on(cur, campaign)
        label_columns = ", ".join(f"s.probabilities[{i + 1}] AS p_{i}" for i in range(len(current.labels)))
        frame = cur.execute(
            f"""SELECT c.name AS campaign, s.participant_id, p.seq, p.variant_order,
                    p.status AS participant_status, s.variant, v.kind AS variant_kind,
                    v.filename AS variant_file,
                    CASE WHEN left(p.variant_order, 1) = s.variant THEN 1 ELSE 2 END AS position,
                    s.offset_ms, s.face_found, s.face_ratio, s.brightness, s.sharpness,
                    s.top_label, s.top_probability, {label_columns}, s.model_id, s.stored_at
                FROM snapshots s
                JOIN participants p ON p.id = s.participant_id
                JOIN campaigns c ON c.id = s.campaign_id
                LEFT JOIN variants v ON v.campaign_id = s.campaign_id AND v.name = s.variant
                WHERE s.campaign_id = ?
                ORDER BY p.seq, s.variant, s.offset_ms""",
            [current.id],
        ).df()
        return frame.rename(columns={f"p_{i}": f"p_{label}" for i, label in enumerate(current.labels)})

    def snapshot_frame(self, campaign: Campaign | int | str) -> pd.DataFrame:
        """Snapshots of a campaign without probability vectors (for pandas cross-checks)."""
        cur = self._cursor()
        current = self._campaign_on(cur, campaign)
        return cur.execute(
            """SELECT participant_id, variant, offset_ms, face_found, top_label, top_probability, face_ratio,
                   brightness, sharpness, model_id
               FROM snapshots WHERE campaign_id = ?""",
            [current.id],
        ).df()

    def snapshot_count(self, campaign: Campaign | int | str | None = None) -> int:
        """Number of stored snapshots, of one campaign or of all."""
        cur = self._cursor()
        if campaign is None:
            row = cur.execute("SELECT count(*) FROM snapshots").fetchone()
        else:
            row = cur.execute(
                "SELECT count(*) FROM snapshots WHERE campaign_id = ?", [self._campaign_on(cur, campaign).id]
            ).fetchone()
        return int(row[0]) if row else 0

    def data_version(self, campaign: Campaign | int | str) -> str:
        """A token that changes whenever a campaign's status or participant data changes (a cache key).

        Row counts alone would miss an erasure followed by a new participant
        with as many rows, so the latest write time of each table is part of it.
        """
        cur = self._cursor()
        current = self._campaign_on(cur, campaign)
        row = cur.execute(
            """SELECT (SELECT count(*) FROM participants WHERE campaign_id = ?),
                      (SELECT max(updated_at) FROM participants WHERE campaign_id = ?),
                      (SELECT count(*) FROM snapshots WHERE campaign_id = ?),
                      (SELECT max(stored_at) FROM snapshots WHERE campaign_id = ?),
                      (SELECT count(*) FROM feedback WHERE campaign_id = ?),
                      (SELECT max(created_at) FROM feedback WHERE campaign_id = ?),
                      (SELECT count(*) FROM participant_answers a JOIN participants p ON p.id = a.participant_id
                       WHERE p.campaign_id = ?)""",
            [current.id] * 7,
        ).fetchone()
        return "|".join([current.status, *(str(value) for value in row or ())])

    def face_crop_count(self, participant_id: str) -> int:
        """Number of kept face crops of a participant."""
        row = (
            self._cursor()
            .execute("SELECT count(*) FROM face_crops WHERE participant_id = ?", [participant_id])
            .fetchone()
        )
        return int(row[0]) if row else 0

    def table_counts(self) -> dict[str, int]:
        """Row count of every data table (for checks that nothing changed)."""
        cur = self._cursor()
        tables = (
            "campaigns",
            "variants",
            "participants",
            "participant_answers",
            "snapshots",
            "feedback",
            "face_crops",
        )
        result = {}
        for table in tables:
            row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            result[table] = int(row[0]) if row else 0
        return result

    def iter_campaign_names(self) -> Iterator[str]:
        """Names of all campaigns (for CLI suggestions)."""
        for row in self._cursor().execute("SELECT name FROM campaigns ORDER BY name").fetchall():
            yield str(row[0])
