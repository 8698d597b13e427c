"""The sign-in throttle: after a few failures, every further attempt waits longer.

Failures are counted twice, per client address and per username, so that
guessing one account's password from many addresses and trying many
accounts from one address both slow down, while someone else signing in
from elsewhere is not held up. After ``free`` failures on a key, the next
attempt on it must wait 1 s, then 2, 4, ... up to ``cap`` seconds; an
attempt during the wait is refused without checking the password. A
successful sign-in clears its username's count (not its client's), and a
key with no failure for ``forget_after`` seconds starts afresh.

The counts live in memory: one throttle per server process, shared by
every request (a restart forgets them, which costs an attacker a restart).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Keys kept before the ones no longer waiting are dropped (a bound on memory under a spray of names).
_MAX_KEYS = 10_000


@dataclass
class _Count:
    failures: int
    last_failure: float
    retry_at: float


class Throttle:
    """Thread-safe failure counts per client and per username; ``clock`` is injectable for tests.

    An attempt counts as a failure from the moment it starts (``attempt``) until ``succeeded`` takes
    it back, so a burst of parallel guesses cannot all pass the check before the first one fails.
    """

    def __init__(self, *, free: int = 3, cap: float = 60.0, forget_after: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.cap = cap
        self.forget_after = forget_after
        self._clock = clock
        self._counts: dict[tuple[str, str], _Count] = {}
        self._lock = threading.Lock()

    def attempt(self, client: str, username: str) -> int:
        """Start an attempt: 0 (go on and check the password), or the whole seconds still to wait, in
        which case the attempt is refused, logged and not counted."""
        now = self._clock()
        keys = self._keys(client, username)
        with self._lock:
            wait = max((count.retry_at - now for count in self._live(keys, now)), default=0.0)
            if wait <= 0:
                for key in keys:
                    self._count(key, now)
                if len(self._counts) > _MAX_KEYS:
                    self._prune(now)
        if wait > 0:
            log.warning("sign-in refused (throttled %d s): username %r from %s", math.ceil(wait), username, client)
            return math.ceil(wait)
        return 0

    def wait_s(self, client: str, username: str) -> int:
        """Whole seconds before ``username`` may be tried from ``client`` again; 0: try now."""
        now = self._clock()
        with self._lock:
            wait = max((count.retry_at - now for count in self._live(self._keys(client, username), now)),
                       default=0.0)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, client: str, username: str) -> None:
        """The attempt was a wrong password (or an unknown or disabled account): log it, never the password."""
        log.warning("sign-in failed: username %r from %s", username, client)

    def succeeded(self, client: str, username: str) -> None:
        """The attempt had the right password: clear the username's count, take it back from the client's."""
        client_key, user_key = self._keys(client, username)
        with self._lock:
            self._counts.pop(user_key, None)
            count = self._counts.get(client_key)
            if count is not None:
                count.failures = max(0, count.failures - 1)
                count.retry_at = count.last_failure + self._delay(count.failures)

    # -- helpers (caller holds the lock) --------------------------------------------

    @staticmethod
    def _keys(client: str, username: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("client", client or "unknown"), ("user", username.strip().lower())

    def _delay(self, failures: int) -> float:
        return min(self.cap, 2.0 ** (failures - self.free)) if failures >= self.free else 0.0

    def _count(self, key: tuple[str, str], now: float) -> None:
        count = self._counts.get(key)
        if count is None or now - count.last_failure > self.forget_after:
            count = self._counts[key] = _Count(0, now, now)
        count.failures += 1
        count.last_failure = now
        count.retry_at = now + self._delay(count.failures)

    def _live(self, keys: tuple[tuple[str, str], ...], now: float) -> list[_Count]:
        found = [self._counts.get(key) for key in keys]
        return [count for count in found if count is not None and now - count.last_failure <= self.forget_after]

    def _prune(self, now: float) -> None:
        for key, count in list(self._counts.items()):
            if count.retry_at <= now:
                del self._counts[key]
