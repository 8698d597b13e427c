"""``Store``: the one object callers hold, a thin facade over the repositories.

Each method hands its call to the repository that owns the SQL (see :mod:`campaigns.store`); the
facade adds nothing but the wiring, so its docstrings are short and the repositories' say the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from campaigns.errors import SettingsError
from campaigns.media import DEFAULT_MAX_UPLOAD_BYTES
from campaigns.store.analysis_repo import AnalysisRepo
from campaigns.store.audit_repo import AuditEntry, AuditRepo
from campaigns.store.campaign_repo import CampaignRepo
from campaigns.store.database import MEMORY, Database
from campaigns.store.lookups import CampaignRef
from campaigns.store.participant_repo import STALE_AFTER, ParticipantRepo
from campaigns.store.snapshot_repo import SnapshotInput, SnapshotRepo
from campaigns.store.staff_repo import SESSION_IDLE, StaffRepo, StaffUser
from campaigns.store.study_repo import QuotaCount, StudyRepo
from campaigns.store.variant_repo import MediaFolder, VariantRepo
from campaigns.study import StudySetup
from campaigns.types import DEFAULT_LABELS, Campaign, CampaignData, Participant, Settings, Variant


class Store:
    """Thread-safe access to one campaign database. Create with :meth:`open`."""

    def __init__(self, db: Database, *, media_dir: Path | None, max_upload_bytes: int) -> None:
        self._db = db
        media = MediaFolder(media_dir)
        self._campaigns = CampaignRepo(db, media)
        self._variants = VariantRepo(db, media, max_upload_bytes)
        self._participants = ParticipantRepo(db)
        self._snapshots = SnapshotRepo(db)
        self._analysis = AnalysisRepo(db)
        self._study = StudyRepo(db)
        self._staff = StaffRepo(db)
        self._audit = AuditRepo(db)

    @classmethod
    def open(
        cls,
        path: str | Path = MEMORY,
        *,
        media_dir: str | Path | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        read_only: bool = False,
    ) -> Store:
        """Open (creating and migrating forward as needed) a campaign database.

        ``media_dir``: store variant files there instead of inside the database.
        ``read_only``: for reports while no other process writes; the file must
        already be at the latest schema version. A file another process holds
        open raises StoreUnavailableError.
        """
        if max_upload_bytes <= 0:
            raise SettingsError(f"max_upload_bytes must be positive, got {max_upload_bytes}")
        db = Database.open(path, read_only=read_only)
        folder = Path(media_dir) if media_dir is not None else None
        return cls(db, media_dir=folder, max_upload_bytes=max_upload_bytes)

    # -- the database ---------------------------------------------------------

    @property
    def read_only(self) -> bool:
        return self._db.read_only

    @property
    def max_upload_bytes(self) -> int:
        return self._variants.max_upload_bytes

    @property
    def schema_version(self) -> int:
        """Schema version of the open database."""
        return self._db.schema_version

    def compact(self) -> bool:
        """Rewrite the database file so that deleted rows leave no bytes in it; False in memory."""
        return self._db.compact()

    def close(self) -> None:
        """Close every cursor and the connection; committed data is on disk."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # For tests that look at rows directly: this thread's raw cursor, outside the read gate.
        return self._db.raw_cursor()

    # -- campaigns ------------------------------------------------------------

    def create_campaign(
        self,
        name: str,
        *,
        description: str = "",
        settings: Settings | Mapping[str, Any] | None = None,
        labels: Sequence[str] = DEFAULT_LABELS,
    ) -> Campaign:
        """Create a draft campaign scored with ``labels`` (the model card's)."""
        return self._campaigns.create(name, description, settings, labels)

    def edit_campaign(
        self,
        campaign: CampaignRef,
        *,
        description: str | None = None,
        settings: Settings | Mapping[str, Any] | None = None,
        labels: Sequence[str] | None = None,
    ) -> Campaign:
        """Change description, settings or labels of a draft campaign."""
        return self._campaigns.edit(campaign, description, settings, labels)

    def go_live(self, campaign: CampaignRef) -> Campaign:
        """Open a draft campaign to participants; both variants must be set."""
        return self._campaigns.go_live(campaign)

    def close_campaign(self, campaign: CampaignRef) -> Campaign:
        """Close a live campaign: no new participants, snapshots or feedback."""
        return self._campaigns.close(campaign)

    def delete_campaign(self, campaign: CampaignRef, confirm_name: str) -> None:
        """Delete a campaign and all its data, then rewrite the file; ``confirm_name`` must be its name."""
        self._campaigns.delete(campaign, confirm_name)

    def campaign(self, ref: CampaignRef) -> Campaign:
        """The current state of a campaign, by object, id or name."""
        return self._campaigns.get(ref)

    def campaigns(self) -> list[Campaign]:
        """All campaigns, newest first."""
        return self._campaigns.all()

    def campaign_by_token(self, token: str) -> Campaign:
        """The live campaign behind a participant link's token."""
        return self._campaigns.by_token(token)

    def iter_campaign_names(self) -> Iterator[str]:
        """Names of all campaigns (for CLI suggestions)."""
        return iter(self._campaigns.names())

    # -- variants -------------------------------------------------------------

    def set_variant(self, campaign: CampaignRef, name: str, data: bytes, filename: str | None = None) -> Variant:
        """Upload (or replace) variant A or B of a draft campaign after validating it."""
        return self._variants.set(campaign, name, data, filename)

    def variants(self, campaign: CampaignRef) -> dict[str, Variant]:
        """Metadata of the uploaded variants, keyed by 'A'/'B'."""
        return self._variants.of(campaign)

    def variant_media(self, campaign: CampaignRef, name: str) -> bytes:
        """The uploaded bytes of variant ``name``."""
        return self._variants.media(campaign, name)

    # -- participants ---------------------------------------------------------

    def add_participant(
        self,
        campaign: CampaignRef,
        consent_version: str,
        *,
        answers: Mapping[str, Any] | None = None,
        order: str | None = None,
        crop_consent: bool = False,
        external_id: str | None = None,
    ) -> Participant:
        """Register a consenting participant of a live campaign (counterbalanced order by default);
        AdmissionError when the study's end time, target size or ``external_id`` refuses them."""
        return self._participants.add(campaign, consent_version, answers, order, crop_consent, external_id)

    def panel_ids(self, campaign: CampaignRef) -> dict[str, str]:
        """Participant id to panel id (personal data: for exports that ask for it)."""
        return self._participants.panel_ids(campaign)

    def participant(self, participant_id: str) -> Participant:
        """One participant with their segment answers."""
        return self._participants.get(participant_id)

    def mark_participant(self, participant_id: str, status: str) -> Participant:
        """Set a participant's status: started, complete or abandoned."""
        return self._participants.mark(participant_id, status)

    def abandon_stale_participants(self, idle: timedelta = STALE_AFTER) -> int:
        """Mark participants left "started" for ``idle`` as abandoned; returns how many."""
        return self._participants.abandon_stale(idle)

    def erase_participant(self, participant_id: str) -> dict[str, int]:
        """Delete every row of a participant, then rewrite the file; returns counts per table."""
        return self._participants.erase(participant_id)

    def add_feedback(self, participant_id: str, variant: str, rating: int, comment: str | None = None) -> None:
        """Store (or replace) a participant's rating of one variant."""
        self._participants.add_feedback(participant_id, variant, rating, comment)

    def add_face_crop(self, participant_id: str, variant: str, offset_ms: int, image: bytes) -> None:
        """Keep one face crop; refused unless the campaign keeps crops and the participant agreed."""
        self._participants.add_face_crop(participant_id, variant, offset_ms, image)

    def face_crop_count(self, participant_id: str) -> int:
        """Number of kept face crops of a participant."""
        return self._participants.face_crop_count(participant_id)

    # -- study: entry questions, quotas, outcomes -------------------------------

    def study(self, campaign: CampaignRef) -> StudySetup:
        """The campaign's study setup (questions, quotas, target, panel link, redirects)."""
        return self._study.setup(campaign)

    def set_study(self, campaign: CampaignRef, setup: StudySetup | Mapping[str, Any]) -> StudySetup:
        """Replace the study setup of a draft campaign."""
        return self._study.set_setup(campaign, setup)

    def check_admission(self, campaign: CampaignRef, external_id: str | None = None) -> None:
        """AdmissionError when a visitor with ``external_id`` could not start now."""
        self._study.admission(campaign, external_id)

    def answer_questions(self, participant_id: str, answers: Mapping[str, Any]) -> str | None:
        """Store entry answers; the outcome they end the test with (screened_out, quota_full) or None."""
        return self._study.answer(participant_id, answers)

    def end_participant(self, participant_id: str, outcome: str, last_step: str | None = None) -> None:
        """End a visit with an outcome such as ``no_camera``."""
        self._study.end(participant_id, outcome, last_step)

    def reached_step(self, participant_id: str, step: str) -> None:
        """Record the furthest step a participant reached."""
        self._study.reached(participant_id, step)

    def record_decline(self, campaign: CampaignRef) -> None:
        """Count a visitor who declined at consent (nothing about them is stored)."""
        self._study.record_decline(campaign)

    def funnel(self, campaign: CampaignRef) -> dict[str, int]:
        """Participants per outcome, withdrawals included."""
        return self._study.funnel(campaign)

    def last_steps(self, campaign: CampaignRef) -> dict[str, dict[str, int]]:
        """Per outcome, how many stopped at each step."""
        return self._study.last_steps(campaign)

    def quota_counts(self, campaign: CampaignRef) -> list[QuotaCount]:
        """Every quota cell with its places taken."""
        return self._study.quota_counts(campaign)

    # -- snapshots ------------------------------------------------------------

    def add_snapshots(self, snapshots: SnapshotInput) -> int:
        """Append a batch of snapshots in one transaction (all rows or none); returns rows stored."""
        return self._snapshots.add(snapshots)

    def snapshot_count(self, campaign: CampaignRef | None = None) -> int:
        """Number of stored snapshots, of one campaign or of all."""
        return self._snapshots.count(campaign)

    def raw_snapshots(self, campaign: CampaignRef) -> pd.DataFrame:
        """Every snapshot joined with its participant and variant (no media), one column per label."""
        return self._snapshots.raw(campaign)

    def snapshot_frame(self, campaign: CampaignRef) -> pd.DataFrame:
        """Snapshots of a campaign without probability vectors (for pandas cross-checks)."""
        return self._snapshots.frame(campaign)

    # -- analysis -------------------------------------------------------------

    def load(self, campaign: CampaignRef, threshold: float | None = None) -> CampaignData:
        """All frames analysis needs, read in one consistent transaction."""
        return self._analysis.load(campaign, threshold)

    def participant_variant_counts(self, campaign: CampaignRef, threshold: float) -> pd.DataFrame:
        """Per participant and variant: snapshots, faces, confident and n_<label> at ``threshold``."""
        return self._analysis.participant_variant_counts(campaign, threshold)

    def data_version(self, campaign: CampaignRef) -> str:
        """A token that changes whenever a campaign's status or participant data changes (a cache key)."""
        return self._analysis.data_version(campaign)

    def table_counts(self) -> dict[str, int]:
        """Row count of every data table (for checks that nothing changed)."""
        return self._analysis.table_counts()

    # -- staff accounts and sessions ------------------------------------------------

    def add_staff_user(self, username: str, role: str, password_hash: str) -> StaffUser:
        """Add an enabled staff account (names are case-insensitive, stored lower-case)."""
        return self._staff.add(username, role, password_hash)

    def staff_user(self, username: str) -> StaffUser | None:
        """The staff account named ``username`` (any case), or None."""
        return self._staff.get(username)

    def staff_users(self) -> list[StaffUser]:
        """Every staff account, by name."""
        return self._staff.users()

    def staff_user_count(self) -> int:
        return self._staff.count()

    def staff_password_hash(self, username: str) -> str | None:
        """The password hash of an enabled account, to verify; None for an unknown or disabled one."""
        return self._staff.password_hash(username)

    def set_staff_role(self, username: str, role: str) -> StaffUser:
        """Change an account's role (the last enabled admin keeps theirs)."""
        return self._staff.set_role(username, role)

    def set_staff_password_hash(self, username: str, password_hash: str, *, end_sessions: bool = True) -> None:
        """Replace an account's password hash; by default its sessions end."""
        self._staff.set_password_hash(username, password_hash, end_sessions=end_sessions)

    def set_staff_disabled(self, username: str, disabled: bool) -> StaffUser:
        """Disable (ending its sessions) or enable an account (the last enabled admin stays enabled)."""
        return self._staff.set_disabled(username, disabled)

    def record_staff_sign_in(self, username: str) -> None:
        self._staff.record_sign_in(username)

    def create_staff_session(self, username: str) -> str:
        """Start a session; returns its secret (only a hash of it is stored)."""
        return self._staff.create_session(username)

    def staff_session_user(self, secret: str, idle: timedelta = SESSION_IDLE) -> StaffUser | None:
        """The enabled account of a live session (marking it seen), or None."""
        return self._staff.session_user(secret, idle)

    def delete_staff_session(self, secret: str) -> None:
        self._staff.delete_session(secret)

    def delete_staff_sessions(self, username: str) -> int:
        """End every session of an account; returns how many."""
        return self._staff.delete_sessions(username)

    def expire_staff_sessions(self, idle: timedelta = SESSION_IDLE) -> int:
        """Delete every session idle longer than ``idle``; returns how many."""
        return self._staff.expire_sessions(idle)

    # -- audit log --------------------------------------------------------------------

    def audit(self, username: str, action: str, campaign: CampaignRef | None = None, detail: str = "") -> None:
        """Append an audit entry (kept when the campaign is deleted or a participant erased)."""
        self._audit.record(username, action, campaign, detail)

    def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        """The newest audit entries, newest first."""
        return self._audit.entries(limit)
