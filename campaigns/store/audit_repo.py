"""The audit repository: who did what, when, to which campaign.

Rows are only ever appended. They name a campaign by id and by name, not by a
key on ``campaigns``, so neither deleting a campaign nor erasing a
participant removes them: the history of a deleted campaign stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaigns.errors import CampaignError, UnknownCampaignError
from campaigns.inputs import now
from campaigns.store.database import Database
from campaigns.store.lookups import CampaignRef, find_campaign
from campaigns.types import Campaign

_MAX_DETAIL = 2000


@dataclass(frozen=True)
class AuditEntry:
    """One audited action."""

    logged_at: datetime
    username: str
    action: str
    campaign_id: int | None
    campaign_name: str | None
    detail: str


class AuditRepo:
    """Append and read the audit log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, username: str, action: str, campaign: CampaignRef | None = None, detail: str = "") -> None:
        """Append one entry. ``campaign`` is a Campaign (kept as it was, even when it is being
        deleted) or an id or name looked up now; one no longer there is kept as given."""
        if not isinstance(username, str) or not username or not isinstance(action, str) or not action:
            raise CampaignError("an audit entry needs a username and an action")
        with self._db.write() as cur:
            campaign_id, campaign_name = None, None
            if isinstance(campaign, Campaign):
                campaign_id, campaign_name = campaign.id, campaign.name
            elif campaign is not None:
                try:
                    found = find_campaign(cur, campaign)
                    campaign_id, campaign_name = found.id, found.name
                except UnknownCampaignError:
                    campaign_id = campaign if isinstance(campaign, int) else None
                    campaign_name = campaign if isinstance(campaign, str) else None
            cur.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
                        [now(), username, action, campaign_id, campaign_name, str(detail)[:_MAX_DETAIL]])

    def entries(self, limit: int = 200) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise CampaignError(f"limit must be a positive whole number, got {limit!r}")
        with self._db.read() as cur:
            rows = cur.execute(
                "SELECT logged_at, username, action, campaign_id, campaign_name, coalesce(detail, '') "
                "FROM audit_log ORDER BY logged_at DESC, rowid DESC LIMIT ?", [limit]).fetchall()
        return [AuditEntry(row[0], str(row[1]), str(row[2]), row[3], row[4], str(row[5])) for row in rows]
