"""The campaign store: one DuckDB database, all SQL of the package.

Threading model: one DuckDB connection per ``Store`` (one per process, cached
by the app with ``st.cache_resource``) and one cursor per thread, created on
first use. Reads run concurrently on their own cursors; writes are serialised
by a lock so that read-check-write sequences (status checks, counterbalancing)
are atomic and DuckDB never sees conflicting transactions. Every write is one
transaction: on any error nothing of it is stored.

Erasure wipes bytes, not just rows: after an erasure or a campaign deletion the
store rewrites its file (``campaigns.store_file``), and every public read runs
under the read gate that rewrite takes exclusively.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeAlias

import duckdb

from campaigns import schema
from campaigns.errors import (
    CampaignClosedError,
    CampaignError,
    CampaignStateError,
    ConfirmationError,
    MediaError,
    SchemaError,
    SettingsError,
    UnknownCampaignError,
    WipePendingError,
)
from campaigns.inputs import as_settings, now, text, variant_name
from campaigns.media import DEFAULT_MAX_UPLOAD_BYTES, validate_media
from campaigns.store_file import FileRewrite, ReadGate, gate_reads, gated
from campaigns.store_participants import ParticipantWrites, SnapshotInput
from campaigns.store_reads import ReadQueries
from campaigns.types import DEFAULT_LABELS, VARIANTS, Campaign, Settings, Variant, check_labels

CampaignRef: TypeAlias = Campaign | int | str
__all__ = ["CampaignRef", "SnapshotInput", "Store"]
@gate_reads(ReadQueries)
class Store(FileRewrite, ParticipantWrites, ReadQueries):
    """Thread-safe access to one campaign database. Create with :meth:`open`."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        media_dir: Path | None,
        max_upload_bytes: int,
        read_only: bool,
        location: str = ":memory:",
    ) -> None:
        self._con = con
        self._location = location
        #: The database file (None in memory): what compaction rewrites.
        self._file = None if location == ":memory:" else Path(location).absolute()
        self._media_dir = media_dir
        self.max_upload_bytes = max_upload_bytes
        self.read_only = read_only
        self._local = threading.local()
        self._cursors: list[tuple[threading.Thread, duckdb.DuckDBPyConnection]] = []
        self._cursor_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._gate = ReadGate()
        #: Bumped when compaction reconnects: a thread's cursor of an older generation is stale.
        self._generation = 0
        self._closed = False

    # -- connection -------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path = ":memory:",
        *,
        media_dir: str | Path | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        read_only: bool = False,
    ) -> Store:
        """Open (creating and migrating forward as needed) a campaign database.

        ``media_dir``: store variant files there instead of inside the database.
        ``read_only``: for reports while no other process writes; the file must
        already be at the latest schema version.
        """
        if max_upload_bytes <= 0:
            raise SettingsError(f"max_upload_bytes must be positive, got {max_upload_bytes}")
        location = str(path)
        if read_only and location == ":memory:":
            raise SchemaError("an in-memory database cannot be opened read-only")
        if read_only and not Path(location).exists():
            raise SchemaError(f"database file {location} does not exist")
        try:
            con = duckdb.connect(location, read_only=read_only)
        except duckdb.IOException as exc:
            raise SchemaError(f"cannot open database {location}: {exc}") from exc
        try:
            if read_only:
                found = schema.current_version(con)
                if found != schema.MIGRATIONS[-1].version:
                    raise SchemaError(
                        f"database {location} is at schema version {found}, this code needs "
                        f"{schema.MIGRATIONS[-1].version}; open it once read-write to migrate it"
                    )
            else:
                schema.migrate(con)
        except BaseException:
            con.close()
            raise
        folder = Path(media_dir) if media_dir is not None else None
        return cls(
            con, media_dir=folder, max_upload_bytes=max_upload_bytes, read_only=read_only, location=location
        )

    @property
    @gated
    def schema_version(self) -> int:
        """Schema version of the open database."""
        return schema.current_version(self._cursor())

    def close(self) -> None:
        """Close every cursor and the connection; committed data is on disk."""
        with self._cursor_lock:
            if self._closed:
                return
            self._closed = True
            self._close_connection()

    def _close_connection(self) -> None:
        # Caller holds _cursor_lock.
        for _, cursor in self._cursors:
            with suppress(duckdb.Error):
                cursor.close()
        self._cursors.clear()
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # A DuckDB cursor must not be shared between threads; each thread gets
        # its own, and cursors of finished threads (Streamlit runs every script
        # run in a new thread) are closed so they do not pile up.
        if self._closed:
            raise CampaignError("the campaign store is closed")
        cursor = getattr(self._local, "cursor", None)
        if cursor is not None and self._local.generation == self._generation:
            return cursor
        with self._cursor_lock:
            if self._closed:
                raise CampaignError("the campaign store is closed")
            alive = []
            for thread, old in self._cursors:
                if thread.is_alive():
                    alive.append((thread, old))
                else:
                    with suppress(duckdb.Error):
                        old.close()
            cursor = self._con.cursor()
            alive.append((threading.current_thread(), cursor))
            self._cursors = alive
            self._local.generation = self._generation
        self._local.cursor = cursor
        return cursor

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One serialised write transaction; rolled back on any error."""
        if self.read_only:
            raise CampaignError("the campaign store was opened read-only")
        with self._write_lock:
            cursor = self._cursor()
            cursor.begin()
            try:
                yield cursor
            except BaseException:
                cursor.rollback()
                raise
            cursor.commit()

    @contextmanager
    def _snapshot_read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read transaction, so several queries see one consistent state."""
        cursor = self._cursor()
        cursor.begin()
        try:
            yield cursor
        finally:
            cursor.rollback()

    # -- campaigns --------------------------------------------------------

    def create_campaign(
        self,
        name: str,
        *,
        description: str = "",
        settings: Settings | Mapping[str, Any] | None = None,
        labels: Sequence[str] = DEFAULT_LABELS,
    ) -> Campaign:
        """Create a draft campaign scored with ``labels`` (the model card's)."""
        name = text(name, "campaign name", 200).strip()
        description = text(description, "description", 5000, allow_empty=True)
        chosen = as_settings(settings)
        label_tuple = check_labels(labels)
        with self._write() as cur:
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
                    *self._settings_values(chosen),
                    now(),
                ],
            ).fetchone()
        assert row is not None
        return self.campaign(int(row[0]))

    @staticmethod
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

    def edit_campaign(
        self,
        campaign: CampaignRef,
        *,
        description: str | None = None,
        settings: Settings | Mapping[str, Any] | None = None,
        labels: Sequence[str] | None = None,
    ) -> Campaign:
        """Change description, settings or labels of a draft campaign."""
        with self._write() as cur:
            current = self._locked_campaign(cur, campaign, allowed=("draft",), action="edit its settings")
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
                [new_description, list(label_tuple), *self._settings_values(chosen), current.id],
            )
        return self.campaign(current.id)

    def go_live(self, campaign: CampaignRef) -> Campaign:
        """Open a draft campaign to participants; both variants must be set."""
        with self._write() as cur:
            current = self._locked_campaign(cur, campaign, allowed=("draft",), action="go live")
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
        return self.campaign(current.id)

    def close_campaign(self, campaign: CampaignRef) -> Campaign:
        """Close a live campaign: no new participants, snapshots or feedback."""
        with self._write() as cur:
            current = self._locked_campaign(cur, campaign, allowed=("live",), action="be closed")
            cur.execute(
                "UPDATE campaigns SET status = 'closed', closed_at = ? WHERE id = ?", [now(), current.id]
            )
        return self.campaign(current.id)

    def delete_campaign(self, campaign: CampaignRef, confirm_name: str) -> None:
        """Delete a campaign and all its data; ``confirm_name`` must be its name."""
        with self._write() as cur:
            current = self._locked_campaign(cur, campaign, allowed=None, action="")
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
            for table in ("snapshots", "feedback", "face_crops", "participants", "variants"):
                cur.execute(f"DELETE FROM {table} WHERE campaign_id = ?", [current.id])  # noqa: S608
            cur.execute("DELETE FROM campaigns WHERE id = ?", [current.id])
        for relative in paths:
            self._remove_media_file(relative)
        try:
            self.compact()  # the deleted rows' bytes stay in the file until it is rewritten
        except CampaignError as exc:
            raise WipePendingError(f"campaign {current.name!r} was deleted, but {exc}") from exc

    @gated
    def campaign_by_token(self, token: str) -> Campaign:
        """The live campaign behind a participant link's token."""
        if not isinstance(token, str) or not token:
            raise UnknownCampaignError("the participant link has no campaign token")
        row = self._cursor().execute("SELECT id FROM campaigns WHERE token = ?", [token]).fetchone()
        if row is None:
            raise UnknownCampaignError("no campaign has this participant link; check the link you were sent")
        found = self.campaign(int(row[0]))
        if found.status == "closed":
            raise CampaignClosedError(f"campaign {found.name!r} is closed and no longer accepts participants")
        if found.status != "live":
            raise CampaignStateError(f"campaign {found.name!r} is not open to participants yet")
        return found

    def _locked_campaign(
        self, cur: duckdb.DuckDBPyConnection, ref: CampaignRef, allowed: tuple[str, ...] | None, action: str
    ) -> Campaign:
        """Re-read the campaign inside a write and check its status."""
        current = self._campaign_on(cur, ref)
        if allowed is not None and current.status not in allowed:
            error = CampaignClosedError if current.status == "closed" else CampaignStateError
            raise error(
                f"campaign {current.name!r} is {current.status}; only a {' or '.join(allowed)} "
                f"campaign can {action}"
            )
        return current

    # -- variants ---------------------------------------------------------

    def set_variant(
        self, campaign: CampaignRef, name: str, data: bytes, filename: str | None = None
    ) -> Variant:
        """Upload (or replace) variant A or B of a draft campaign after validating it."""
        name = variant_name(name)
        if filename is not None:
            filename = text(filename, "file name", 255)
        info = validate_media(data, filename, self.max_upload_bytes)
        new_path: str | None = None
        with self._write() as cur:
            current = self._locked_campaign(cur, campaign, allowed=("draft",), action="change its variants")
            old = cur.execute(
                "SELECT media_path FROM variants WHERE campaign_id = ? AND name = ?", [current.id, name]
            ).fetchone()
            if self._media_dir is not None:
                new_path = f"campaign-{current.id}/{name}-{info.sha256[:16]}{info.suffix}"
                self._write_media_file(new_path, bytes(data))
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
                    self._remove_media_file(new_path)
                raise
        if old is not None and old[0] and old[0] != new_path:
            self._remove_media_file(old[0])
        return self.variants(current.id)[name]

    def _write_media_file(self, relative: str, data: bytes) -> None:
        assert self._media_dir is not None
        target = self._media_dir / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            raise MediaError(f"cannot write the upload to {target}: {exc}") from exc

    def _remove_media_file(self, relative: str) -> None:
        if self._media_dir is not None:
            with suppress(OSError):
                (self._media_dir / relative).unlink()

    @gated
    def variant_media(self, campaign: CampaignRef, name: str) -> bytes:
        """The uploaded bytes of variant ``name``."""
        current = self.campaign(campaign)
        name = variant_name(name)
        row = (
            self._cursor()
            .execute(
                "SELECT media, media_path FROM variants WHERE campaign_id = ? AND name = ?",
                [current.id, name],
            )
            .fetchone()
        )
        if row is None:
            raise CampaignError(f"campaign {current.name!r} has no variant {name} yet")
        if row[0] is not None:
            return bytes(row[0])
        if self._media_dir is None:
            raise MediaError(f"variant {name} is stored under a media folder; open the store with media_dir")
        try:
            return (self._media_dir / row[1]).read_bytes()
        except OSError as exc:
            raise MediaError(f"variant {name}'s file {row[1]} cannot be read: {exc}") from exc
