"""The variants repository: ads A and B of a campaign, their metadata rows and their bytes.

A variant's bytes live in the database, or under a media folder when the store was opened with
one (:class:`MediaFolder`); the row then names the file.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from campaigns.errors import CampaignError, MediaError
from campaigns.inputs import now, text, variant_name
from campaigns.media import DEFAULT_MAX_IMAGE_PIXELS, validate_media
from campaigns.store.database import PRIVATE_FILE, Database, private_folder
from campaigns.store.lookups import CampaignRef, find_campaign, locked_campaign
from campaigns.types import Variant


class MediaFolder:
    """Variant files outside the database (``None``: the bytes stay in the database).

    Folders it creates are 0700 and files 0600, like the database: an ad under test is confidential.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def write(self, relative: str, data: bytes) -> None:
        assert self.folder is not None
        target = self.folder / relative
        try:
            private_folder(target.parent)
            # 0600 from creation (a umask only narrows it); fchmod also narrows a file left wider.
            with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as out:
                os.fchmod(out.fileno(), PRIVATE_FILE)
                out.write(data)
        except OSError as exc:
            raise MediaError(f"cannot write the upload to {target}: {exc}") from exc

    def remove(self, relative: str) -> None:
        if self.folder is not None:
            with suppress(OSError):
                (self.folder / relative).unlink()

    def read(self, relative: str, name: str) -> bytes:
        if self.folder is None:
            raise MediaError(f"variant {name} is stored under a media folder; open the store with media_dir")
        try:
            return (self.folder / relative).read_bytes()
        except OSError as exc:
            raise MediaError(f"variant {name}'s file {relative} cannot be read: {exc}") from exc


class VariantRepo:
    """Uploads and reads of a campaign's two variants."""

    def __init__(self, db: Database, media: MediaFolder, max_upload_bytes: int,
                 max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
        self._db = db
        self._media = media
        self.max_upload_bytes = max_upload_bytes
        self.max_image_pixels = max_image_pixels

    def set(self, campaign: CampaignRef, name: str, data: bytes, filename: str | None = None) -> Variant:
        """Upload (or replace) variant A or B of a draft campaign after validating it."""
        name = variant_name(name)
        if filename is not None:
            filename = text(filename, "file name", 255)
        info = validate_media(data, filename, self.max_upload_bytes, self.max_image_pixels)
        new_path: str | None = None
        with self._db.write() as cur:
            current = locked_campaign(cur, campaign, allowed=("draft",), action="change its variants")
            old = cur.execute(
                "SELECT media_path FROM variants WHERE campaign_id = ? AND name = ?", [current.id, name]
            ).fetchone()
            if self._media.folder is not None:
                new_path = f"campaign-{current.id}/{name}-{info.sha256[:16]}{info.suffix}"
                self._media.write(new_path, bytes(data))
            try:
                cur.execute("DELETE FROM variants WHERE campaign_id = ? AND name = ?", [current.id, name])
                cur.execute(
                    """INSERT INTO variants (campaign_id, name, kind, mime, filename, size_bytes, duration_s,
                           width, height, sha256, media, media_path, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [
                        current.id,
                        name,
                        info.kind,
                        info.mime,
                        filename,
                        info.size_bytes,
                        info.duration_s,
                        info.width,
                        info.height,
                        info.sha256,
                        None if new_path else bytes(data),
                        new_path,
                        now(),
                    ],
                )
            except BaseException:
                if new_path and (old is None or old[0] != new_path):
                    self._media.remove(new_path)
                raise
        if old is not None and old[0] and old[0] != new_path:
            self._media.remove(old[0])
        return self.of(current.id)[name]

    def of(self, campaign: CampaignRef) -> dict[str, Variant]:
        """Metadata of the uploaded variants, keyed by 'A'/'B'."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            rows = cur.execute(
                """SELECT campaign_id, name, kind, mime, filename, size_bytes, duration_s, width, height, sha256
                   FROM variants WHERE campaign_id = ? ORDER BY name""",
                [current.id],
            ).fetchall()
        return {r[1]: Variant(*r) for r in rows}

    def media(self, campaign: CampaignRef, name: str) -> bytes:
        """The uploaded bytes of variant ``name``."""
        with self._db.read() as cur:
            current = find_campaign(cur, campaign)
            name = variant_name(name)
            row = cur.execute(
                "SELECT media, media_path FROM variants WHERE campaign_id = ? AND name = ?",
                [current.id, name],
            ).fetchone()
            if row is None:
                raise CampaignError(f"campaign {current.name!r} has no variant {name} yet")
            if row[0] is not None:
                return bytes(row[0])
            return self._media.read(row[1], name)
