"""The analysis repository: the aggregates the Results page, the report and the exports read.

Each query groups in DuckDB and returns a small DataFrame (or the whole :class:`CampaignData` that
analysis needs, read in one transaction); pandas only reshapes the few thousand groups.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from campaigns.store.database import Database
from campaigns.store.lookups import CampaignRef, check_threshold, find_campaign
from campaigns.types import Campaign, CampaignData, count_column


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


def _counts(cur: duckdb.DuckDBPyConnection, campaign: Campaign, threshold: float, per_second: bool) -> pd.DataFrame:
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


def _quality_means(cur: duckdb.DuckDBPyConnection, campaign: Campaign) -> pd.DataFrame:
    return cur.execute(
        """SELECT participant_id, variant, avg(face_ratio) AS face_ratio, avg(brightness) AS brightness,
               avg(sharpness) AS sharpness
           FROM snapshots WHERE campaign_id = ? GROUP BY ALL""",
        [campaign.id],
    ).df()


class AnalysisRepo:
    """Per-participant counts at a confidence threshold, and what analysis needs of one campaign."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def participant_variant_counts(self, campaign: CampaignRef, threshold: float) -> pd.DataFrame:
        """Per participant and variant: snapshots, faces, confident and n_<label> at ``threshold``."""
        with self._db.read() as cur:
            return _counts(cur, find_campaign(cur, campaign), check_threshold(threshold), False)

    def load(self, campaign: CampaignRef, threshold: float | None = None) -> CampaignData:
        """All frames analysis needs, read in one consistent transaction.

        ``threshold`` defaults to the campaign's confidence_threshold setting.
        """
        with self._db.snapshot() as cur:
            current = find_campaign(cur, campaign)
            level = (
                current.settings.confidence_threshold if threshold is None else check_threshold(threshold)
            )
            counts = _counts(cur, current, level, False).merge(
                _quality_means(cur, current), on=["participant_id", "variant"], how="left"
            )
            seconds = _counts(cur, current, level, True)
            feedback = cur.execute(
                """SELECT participant_id, variant, rating, comment FROM feedback WHERE campaign_id = ?
                   ORDER BY participant_id, variant""",
                [current.id],
            ).df()
            participants = cur.execute(
                # Visitors who never reached the ads (declined, screened out, quota full) are counted in
                # the funnel, not here.
                """SELECT id AS participant_id, seq, variant_order, status, consent_version, consented_at
                   FROM participants WHERE campaign_id = ?
                     AND outcome IS DISTINCT FROM 'declined' AND outcome IS DISTINCT FROM 'screened_out'
                     AND outcome IS DISTINCT FROM 'quota_full'
                   ORDER BY seq""",
                [current.id],
            ).df()
            answers = cur.execute(
                """SELECT a.participant_id, a.question, a.answer FROM participant_answers a
                   JOIN participants p ON p.id = a.participant_id WHERE p.campaign_id = ?
                     AND p.outcome IS DISTINCT FROM 'screened_out' AND p.outcome IS DISTINCT FROM 'quota_full'
                   ORDER BY a.participant_id, a.question, a.answer""",
                [current.id],
            ).df()
        return CampaignData(current, level, counts, seconds, feedback, participants, answers)

    def data_version(self, campaign: CampaignRef) -> str:
        """A token that changes whenever a campaign's status or participant data changes (a cache key).

        Row counts alone would miss an erasure followed by a new participant
        with as many rows, so the latest write time of each table is part of it.
        """
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
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

    def table_counts(self) -> dict[str, int]:
        """Row count of every data table (for checks that nothing changed)."""
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
        with self._db.read() as cur:
            for table in tables:
                row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
                result[table] = int(row[0]) if row else 0
        return result
