"""The campaigns repository: a campaign's life (draft, live, closed, deleted) and its lookups."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from campaigns.errors import (
    CampaignClosedError,
    CampaignError,
    CampaignStateError,
    ConfirmationError,
    UnknownCampaignError,
    WipePendingError,
)
from campaigns.inputs import as_settings, now, text
from campaigns.store.database import Database
from campaigns.store.lookups import CampaignRef, all_campaigns, find_campaign, locked_campaign
from campaigns.store.variant_repo import MediaFolder
from campaigns.types import VARIANTS, Campaign, Settings, check_labels


def _settings_values(s: Settings) -> list[Any]:
    return [
        s.interval_s,
        s.exposure_s,
        s.confidence_threshold,
        s.rating_scale,
        s.rating_question,
        s.min_participants,
        s.min_face_rate,
        s.valence_weight,
        s.keep_face_crops,
    ]


class CampaignRepo:
    """Creating, editing, opening, closing and deleting campaigns; finding one by reference or token."""

    def __init__(self, db: Database, media: MediaFolder) -> None:
        self._db = db
        self._media = media

    def create(
        self, name: str, description: str, settings: Settings | Mapping[str, Any] | None, labels: Sequence[str]
    ) -> Campaign:
        """Create a draft campaign scored with ``labels`` (the model card's)."""
        name = text(name, "campaign name", 200).strip()
        description = text(description, "description", 5000, allow_empty=True)
        chosen = as_settings(settings)
        label_tuple = check_labels(labels)
        with self._db.write() as cur:
            if cur.execute("SELECT 1 FROM campaigns WHERE name = ?", [name]).fetchone():
                raise CampaignError(f"a campaign named {name!r} already exists")
            row = cur.execute(
                """INSERT INTO campaigns (name, description, status, token, labels, interval_s, exposure_s,
                       confidence_threshold, rating_scale, rating_question, min_participants,
                       min_face_rate, valence_weight, keep_face_crops, created_at)
                   VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [
                    name,
                    description,
                    secrets.token_urlsafe(24),
                    list(label_tuple),
                    *_settings_values(chosen),
                    now(),
                ],
            ).fetchone()
        assert row is not None
        return self.get(int(row[0]))

    def edit(
        self,
        campaign: CampaignRef,
        description: str | None,
        settings: Settings | Mapping[str, Any] | None,
        labels: Sequence[str] | None,
    ) -> Campaign:
        """Change description, settings or labels (those not None) of a draft campaign."""
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=("draft",), action="edit its settings")
            new_description = (
                current.description
                if description is None
                else text(description, "description", 5000, allow_empty=True)
            )
            chosen = current.settings if settings is None else as_settings(settings)
            label_tuple = current.labels if labels is None else check_labels(labels)
            cur.execute(
                """UPDATE campaigns SET description = ?, labels = ?, interval_s = ?, exposure_s = ?,
                       confidence_threshold = ?, rating_scale = ?, rating_question = ?, min_participants = ?,
                       min_face_rate = ?, valence_weight = ?, keep_face_crops = ?
                   WHERE id = ?""",
                [new_description, list(label_tuple), *_settings_values(chosen), current.id],
            )
        return self.get(current.id)

    def go_live(self, campaign: CampaignRef) -> Campaign:
        """Open a draft campaign to participants; both variants must be set."""
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=("draft",), action="go live")
            have = {
                r[0]
                for r in cur.execute(
                    "SELECT name FROM variants WHERE campaign_id = ?", [current.id]
                ).fetchall()
            }
            missing = [v for v in VARIANTS if v not in have]
            if missing:
                raise CampaignStateError(
                    f"campaign {current.name!r} cannot go live: variant {' and '.join(missing)} not uploaded"
                )
            cur.execute("UPDATE campaigns SET status = 'live', live_at = ? WHERE id = ?", [now(), current.id])
        return self.get(current.id)

    def close(self, campaign: CampaignRef) -> Campaign:
        """Close a live campaign: no new participants, snapshots or feedback."""
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=("live",), action="be closed")
            cur.execute(
                "UPDATE campaigns SET status = 'closed', closed_at = ? WHERE id = ?", [now(), current.id]
            )
        return self.get(current.id)

    def delete(self, campaign: CampaignRef, confirm_name: str) -> None:
        """Delete a campaign and all its data; ``confirm_name`` must be its name."""
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=None, action="")
            if confirm_name != current.name:
                raise ConfirmationError(
                    f"to delete campaign {current.name!r} type its name exactly; got {confirm_name!r}"
                )
            paths = [
                r[0]
                for r in cur.execute(
                    "SELECT media_path FROM variants WHERE campaign_id = ? AND media_path IS NOT NULL",
                    [current.id],
                ).fetchall()
            ]
            cur.execute(
                "DELETE FROM participant_answers WHERE participant_id IN "
                "(SELECT id FROM participants WHERE campaign_id = ?)",
                [current.id],
            )
            for table in ("snapshots", "feedback", "face_crops", "participants", "variants", "withdrawals"):
                cur.execute(f"DELETE FROM {table} WHERE campaign_id = ?", [current.id])  # noqa: S608
            cur.execute("DELETE FROM campaigns WHERE id = ?", [current.id])
        for relative in paths:
            self._media.remove(relative)
        try:
            self._db.compact()  # the deleted rows' bytes stay in the file until it is rewritten
        except CampaignError as exc:
            raise WipePendingError(f"campaign {current.name!r} was deleted, but {exc}") from exc

    def get(self, ref: CampaignRef) -> Campaign:
        """The current state of a campaign, by object, id or name."""
        with self._db.read() as cur:
            return find_campaign(cur, ref)

    def all(self) -> list[Campaign]:
        """All campaigns, newest first."""
        with self._db.read() as cur:
            return all_campaigns(cur)

    def names(self) -> list[str]:
        """Names of all campaigns, sorted."""
        with self._db.read() as cur:
            return [str(row[0]) for row in cur.execute("SELECT name FROM campaigns ORDER BY name").fetchall()]

    def by_token(self, token: str) -> Campaign:
        """The live campaign behind a participant link's token."""
        if not isinstance(token, str) or not token:
            raise UnknownCampaignError("the participant link has no campaign token")
        with self._db.read() as cur:
            row = cur.execute("SELECT id FROM campaigns WHERE token = ?", [token]).fetchone()
            if row is None:
                raise UnknownCampaignError("no campaign has this participant link; check the link you were sent")
            found = find_campaign(cur, int(row[0]))
        if found.status == "closed":
            raise CampaignClosedError(f"campaign {found.name!r} is closed and no longer accepts participants")
        if found.status != "live":
            raise CampaignStateError(f"campaign {found.name!r} is not open to participants yet")
        return found
