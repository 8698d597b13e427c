"""Staff roles and what each may do: one table, read by the pages and checked again by actions."""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.errors import CampaignError

ROLES: tuple[str, ...] = ("admin", "marketer", "analyst")

#: Every action a staff member can take, with the words a refusal uses.
ACTIONS: dict[str, str] = {
    "create": "create campaigns",
    "edit": "edit campaigns",
    "go_live": "take campaigns live",
    "close": "close campaigns",
    "duplicate": "duplicate campaigns",
    "delete": "delete campaigns",
    "export": "download reports",
    "erase": "erase participants",
    "preview": "preview campaigns",
    "manage_users": "manage staff accounts",
    "view_audit": "read the audit log",
    "view_results": "see results",
    "view_campaigns": "see campaigns",
}

_CAMPAIGN_WORK = frozenset({"create", "edit", "go_live", "close", "duplicate", "delete", "preview"})
_VIEWING = frozenset({"view_results", "view_campaigns"})

#: Who may do what. Marketers run campaigns (and may delete their own work); analysts read results,
#: download them and erase a participant on request, but change no campaign.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "marketer": _CAMPAIGN_WORK | _VIEWING | {"export"},
    "analyst": _VIEWING | {"export", "erase"},
}


class NotAllowed(CampaignError):  # noqa: N818 - the name pages and callers already use
    """The staff member's role does not allow the action; the message says so plainly."""


@dataclass(frozen=True)
class Staff:
    """A signed-in staff member."""

    username: str
    role: str

    def may(self, action: str) -> bool:
        return may(self.role, action)


def may(role: str, action: str) -> bool:
    """Whether ``role`` may take ``action``; an unknown action is a programming error (KeyError)."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return action in PERMISSIONS.get(role, frozenset())


def require(role: str, action: str) -> None:
    """Raise NotAllowed unless ``role`` may take ``action``."""
    if not may(role, action):
        raise NotAllowed(f"Your role ({role}) cannot {ACTIONS[action]}.")
