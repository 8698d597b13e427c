"""The campaign store: one DuckDB database, all SQL of the package, and the only code that
imports the driver.

Callers hold one :class:`Store` (``Store.open(path, media_dir=...)``), a thin facade whose methods
hand each call to the repository that owns its tables. The pieces are composed, not mixed in: every
repository receives the one :class:`~campaigns.store.database.Database` and uses only its public
``read()``, ``snapshot()``, ``write()`` and ``compact()``, so no class re-declares another's private
state, a repository can be read (and tested) on its own, and every read passes the read gate and
every driver error the translation into store errors by construction rather than by decoration.

- ``database.Database``: the connection, a cursor per thread, the write lock, read and write
  transactions, DuckDB errors turned into :class:`~campaigns.errors.StoreUnavailableError`, and the
  file rewrite after erasures (``compact``; its gate and copy live in ``rewrite``).
- ``lookups``: a campaign by object, id or name, and the status checks every repository shares.
- ``campaign_repo.CampaignRepo``: a campaign's life (create, edit, go live, close, delete) and lookups.
- ``variant_repo.VariantRepo``: ads A and B, in the database or a media folder (``MediaFolder``).
- ``participant_repo.ParticipantRepo``: participants, ratings, face crops, erasure.
- ``snapshot_repo.SnapshotRepo``: snapshot batches (all rows or none) and their raw reads.
- ``analysis_repo.AnalysisRepo``: the counts at a threshold and the frames analysis loads.
- ``staff_repo.StaffRepo``: staff accounts (hashed passwords only) and sessions (hashed secrets only).
- ``audit_repo.AuditRepo``: the append-only audit log, never touched by deletions or erasures.

Migrations are in :mod:`campaigns.schema`; errors in :mod:`campaigns.errors`.
"""

from campaigns.store.audit_repo import AuditEntry
from campaigns.store.facade import Store
from campaigns.store.lookups import CampaignRef
from campaigns.store.participant_repo import MAX_CROP_BYTES, STALE_AFTER
from campaigns.store.snapshot_repo import SnapshotInput
from campaigns.store.staff_repo import SESSION_IDLE, StaffUser

__all__ = ["MAX_CROP_BYTES", "SESSION_IDLE", "STALE_AFTER", "AuditEntry", "CampaignRef", "SnapshotInput", "StaffUser",
           "Store"]
