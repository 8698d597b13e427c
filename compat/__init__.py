"""Every patch of a third-party internal the app installs, one module per library.

- ``streamlit_cleanup``: Streamlit's after-run clean-up without its Keras reset.
- ``webrtc``: two fixes of streamlit-webrtc's camera bookkeeping (a start-up race, quick restarts).

Each module says why its patch exists, the upstream issue where one was found,
and the versions it was written for (``WRITTEN_FOR``, distribution name to
version). ``tests/compat`` fails when an installed or pinned version differs
from those, so an upgrade is a decision to re-check the patch, never an
accident. A patch only the browser tests need lives with them (``tests/e2e``).

``wrap_once`` installs every wrapper: idempotent, thread-safe, and the
original stays reachable as the wrapper's ``__wrapped__``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: Set on every wrapper this package installs.
MARK = "_emotion_ab_patch"
_lock = threading.Lock()

Function = Callable[..., Any]


def wrap_once(owner: Any, name: str, make: Callable[[Function], Function]) -> None:
    """Replace ``owner.<name>`` with ``make(original)``, marked as ours, unless ours is already there."""
    with _lock:
        original = getattr(owner, name)
        if getattr(original, MARK, False):
            return
        wrapper = make(original)
        setattr(wrapper, MARK, True)
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)


def wrapped(owner: Any, name: str) -> bool:
    """Whether ``owner.<name>`` is a wrapper installed by ``wrap_once``."""
    return bool(getattr(getattr(owner, name), MARK, False))
