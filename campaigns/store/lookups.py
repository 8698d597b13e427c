"""What every repository of the store looks up: a campaign by reference, and its status checks.

Plain functions over a cursor, so a repository runs them inside its own read or write transaction.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import duckdb

from campaigns.errors import CampaignClosedError, CampaignError, CampaignStateError, UnknownCampaignError
from campaigns.types import Campaign, Settings

#: A campaign named by object, id or name.
CampaignRef: TypeAlias = Campaign | int | str

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


def find_campaign(cur: duckdb.DuckDBPyConnection, ref: CampaignRef) -> Campaign:
    """The current state of a campaign, or UnknownCampaignError."""
    if isinstance(ref, Campaign):
        ref = ref.id
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise UnknownCampaignError(f"a campaign is named by its id or name, got {ref!r}")
    column = "id" if isinstance(ref, int) else "name"
    row = cur.execute(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE {column} = ?", [ref]).fetchone()
    if row is None:
        raise UnknownCampaignError(f"no campaign with {column} {ref!r}")
    return _campaign_from_row(row)


def all_campaigns(cur: duckdb.DuckDBPyConnection) -> list[Campaign]:
    """All campaigns, newest first."""
    rows = cur.execute(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns ORDER BY created_at DESC, id DESC").fetchall()
    return [_campaign_from_row(r) for r in rows]


def locked_campaign(
    cur: duckdb.DuckDBPyConnection, ref: CampaignRef, allowed: tuple[str, ...] | None, action: str
) -> Campaign:
    """Re-read the campaign inside a write and check that its status allows ``action``."""
    current = find_campaign(cur, ref)
    if allowed is not None and current.status not in allowed:
        error = CampaignClosedError if current.status == "closed" else CampaignStateError
        raise error(
            f"campaign {current.name!r} is {current.status}; only a {' or '.join(allowed)} "
            f"campaign can {action}"
        )
    return current


def require_live(campaign_name: str, status: str, what: str) -> None:
    """Refuse participant data for a campaign that is not live."""
    if status != "live":
        error = CampaignClosedError if status == "closed" else CampaignStateError
        raise error(f"campaign {campaign_name!r} is {status} and accepts no {what}")


def check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise CampaignError(f"confidence threshold must be between 0 and 1, got {threshold!r}")
    return float(threshold)
