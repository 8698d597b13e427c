"""Errors raised by the campaign store.

Every error names what was wrong so a page can show ``str(error)`` to the user
as is (and a command-line user reads the same words). An error about one input
also carries ``field``, that input's key (a setting's name, ``name`` for the
campaign name), and ``reason``, the message without the input's name, so a form
can show it at the field under its own label. All derive from :class:`CampaignError` (a ``ValueError``) so callers
can catch the store's refusals in one place; the database driver's own errors
never leave the store: a fault of the database itself (a lock held by another
process, a disk or I/O error, a closed store) is a :class:`StoreUnavailableError`
with the driver's error chained as its cause.
"""

from __future__ import annotations


class CampaignError(ValueError):
    """Base class: bad input or a request the campaign's state forbids.

    ``field``: the key of the input refused, None when the error is not about one input;
    ``reason``: the message without the input's name (the whole message when there is none).
    """

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reason = message if reason is None else reason


class UnknownCampaignError(CampaignError):
    """No campaign with that id, name or participant token."""


class UnknownParticipantError(CampaignError):
    """No participant with that id."""


class WipePendingError(CampaignError):
    """Rows were deleted, but the database file still holds their bytes: its rewrite failed (the
    next erasure or ``Store.compact`` retries it)."""


class CampaignStateError(CampaignError):
    """The request is not allowed in the campaign's current status."""


class CampaignClosedError(CampaignStateError):
    """The campaign is closed and accepts no new participants or data."""


class SettingsError(CampaignError):
    """A campaign setting is out of range; ``field`` is the setting's name where one is to blame."""


class RatingError(CampaignError):
    """A feedback rating outside the campaign's scale."""


class SnapshotError(CampaignError):
    """A snapshot batch is malformed (probabilities, labels, offsets...)."""


class MediaError(CampaignError):
    """An upload is not a decodable image/video or is too large."""


class ConsentError(CampaignError):
    """Storing this would go beyond what the participant agreed to."""


class ConfirmationError(CampaignError):
    """A destructive action was not confirmed correctly."""


class SchemaError(CampaignError):
    """The database file has a schema this code cannot use."""


class StoreUnavailableError(CampaignError):
    """The database failed the request (held by another process, an I/O fault, a closed store, a
    statement the driver refused): a server fault, not bad input. The driver's error, where there is
    one, is chained as ``__cause__`` and was logged when it was raised."""
