"""The snapshots repository: the expression estimates of every kept frame, appended in batches.

A batch is one transaction, appended through Arrow rather than row by row; every row of it is
checked first, so a batch is stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from campaigns.errors import SnapshotError, UnknownParticipantError
from campaigns.inputs import now
from campaigns.snapshots import SnapshotBatch, to_arrow, top_indices, validate_batch
from campaigns.store.database import Database
from campaigns.store.lookups import CampaignRef, find_campaign, require_live
from campaigns.types import SnapshotRow

SnapshotInput: TypeAlias = SnapshotBatch | pd.DataFrame | Sequence[SnapshotRow | Mapping[str, Any]]


class SnapshotRepo:
    """Appends and reads of the snapshots table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, snapshots: SnapshotInput) -> int:
        """Append a batch of snapshots in one transaction; returns rows stored.

        Accepts a SnapshotBatch, a DataFrame or a list of SnapshotRow/dicts.
        The whole batch is rejected (nothing stored) if any row is invalid.
        """
        if isinstance(snapshots, SnapshotBatch):
            batch = snapshots
        elif isinstance(snapshots, pd.DataFrame):
            batch = SnapshotBatch.from_frame(snapshots)
        else:
            batch = SnapshotBatch.from_rows(list(snapshots))
        validate_batch(batch)
        if len(batch) == 0:
            return 0
        ids = pd.unique(batch.participant_id)
        with self._db.write() as cur:
            found = cur.execute(
                """SELECT p.id, c.id, c.status, c.labels, c.name FROM participants p
                   JOIN campaigns c ON c.id = p.campaign_id WHERE p.id IN (SELECT unnest(?))""",
                [list(ids)],
            ).fetchall()
            info = {r[0]: r for r in found}
            unknown = [p for p in ids if p not in info]
            if unknown:
                raise UnknownParticipantError(
                    f"snapshot batch names {len(unknown)} unknown participant(s), e.g. {unknown[0]!r}"
                )
            campaign_of = pd.Series({r[0]: r[1] for r in found})
            campaign_ids = campaign_of.reindex(batch.participant_id).to_numpy(dtype=np.int32)
            top_index, top_prob = top_indices(batch)
            top_label = np.full(len(batch), None, dtype=object)
            for cid, status, labels, name in {r[1]: r[1:] for r in found}.values():
                require_live(name, status, "snapshots")
                rows = (campaign_ids == cid) & batch.face_found
                if rows.any() and batch.width != len(labels):
                    raise SnapshotError(
                        f"snapshot probabilities have {batch.width} values but campaign {name!r} has "
                        f"{len(labels)} labels ({', '.join(labels)})"
                    )
                top_label[rows] = np.asarray(labels, dtype=object)[top_index[rows]]
            table = to_arrow(batch, campaign_ids, top_label, top_index, top_prob)
            cur.register("incoming_snapshots", table)
            try:
                cur.execute(
                    """INSERT INTO snapshots SELECT campaign_id, participant_id, variant, offset_ms,
                           face_found, face_ratio, brightness, sharpness, probabilities, top_label, top_index,
                           top_probability, model_id, ? FROM incoming_snapshots""",
                    [now()],
                )
            finally:
                cur.unregister("incoming_snapshots")
        return len(batch)

    def raw(self, campaign: CampaignRef) -> pd.DataFrame:
        """Every snapshot joined with its participant and variant (no media), one column per label."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
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

    def frame(self, campaign: CampaignRef) -> pd.DataFrame:
        """Snapshots of a campaign without probability vectors (for pandas cross-checks)."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            return cur.execute(
                """SELECT participant_id, variant, offset_ms, face_found, top_label, top_probability, face_ratio,
                       brightness, sharpness, model_id
                   FROM snapshots WHERE campaign_id = ?""",
                [current.id],
            ).df()

    def count(self, campaign: CampaignRef | None = None) -> int:
        """Number of stored snapshots, of one campaign or of all."""
        with self._db.read() as cur:
            if campaign is None:
                row = cur.execute("SELECT count(*) FROM snapshots").fetchone()
            else:
                row = cur.execute(
                    "SELECT count(*) FROM snapshots WHERE campaign_id = ?", [find_campaign(cur, campaign).id]
                ).fetchone()
        return int(row[0]) if row else 0
