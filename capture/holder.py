"""The small lock-guarded state shared by the page, the frame callback and the inference worker.

Three threads touch it: the Streamlit script thread (what is on screen),
streamlit-webrtc's frame thread (asks per frame whether to keep it) and the
inference worker (camera-check verdicts, counts). Every method takes the one
lock, does a few assignments and returns immutable values, so no thread ever
waits long and nobody sees a half-updated state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from emotion.faces import VERDICT_OK

#: Seconds between camera-check frames handed to the worker.
CHECK_INTERVAL_S = 0.4
CHECK = "check"
SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class FrameTag:
    """Why a frame is kept: a camera check, or a snapshot of ``variant`` at ``offset_ms`` since it appeared."""

    kind: str
    variant: str | None = None
    offset_ms: int = 0


@dataclass(frozen=True)
class CaptureStatus:
    """A consistent copy of the capture counters, for the page."""

    frames_seen: int
    last_frame_at: float | None
    verdict: str | None
    ok_streak: int
    checks: int
    snapshots_taken: int
    snapshots_stored: int
    errors: int
    last_error: str | None
    finished: bool


class CaptureHolder:
    """What is on screen now and what the camera has shown so far."""

    def __init__(self, *, check_interval_s: float = CHECK_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._check_interval_s = check_interval_s
        self._lock = threading.Lock()
        self._mode: str | None = None  # None (keep nothing), CHECK or SNAPSHOT
        self._variant: str | None = None
        self._shown_at = 0.0
        self._interval_s = 1.0
        self._next_due = 0.0
        self._frames_seen = 0
        self._last_frame_at: float | None = None
        self._verdict: str | None = None
        self._ok_streak = 0
        self._checks = 0
        self._taken = 0
        self._stored = 0
        self._errors = 0
        self._last_error: str | None = None
        self._finished = False

    # -- script thread ------------------------------------------------------

    def start_check(self) -> None:
        """Hand a frame to the camera check every ``check_interval_s``."""
        with self._lock:
            self._mode, self._variant, self._next_due = CHECK, None, self.clock()
            self._ok_streak = 0

    def show(self, variant: str, interval_s: float, at: float) -> None:
        """``variant`` appeared at monotonic time ``at``: keep a snapshot every ``interval_s`` from then."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        with self._lock:
            self._mode, self._variant = SNAPSHOT, variant
            self._shown_at, self._interval_s, self._next_due = at, interval_s, at

    def hide(self) -> None:
        """Nothing to capture (rating, thank-you): frames pass through untouched."""
        with self._lock:
            self._mode, self._variant = None, None

    def finish(self) -> None:
        """The participant is done: no more frames are kept and the worker may stop."""
        with self._lock:
            self._mode, self._variant, self._finished = None, None, True

    # -- frame thread -------------------------------------------------------

    def tag(self) -> FrameTag | None:
        """Called for every frame: a tag when this frame should be kept, else None."""
        now = self.clock()
        with self._lock:
            self._frames_seen += 1
            self._last_frame_at = now
            if self._mode is None or now < self._next_due:
                return None
            if self._mode == CHECK:
                self._next_due = now + self._check_interval_s
                return FrameTag(CHECK)
            # Schedule from the ideal grid (shown_at + k * interval) so offsets do not drift; skip
            # slots that already passed (a stalled stream) instead of bursting to catch up.
            while self._next_due <= now:
                self._next_due += self._interval_s
            self._taken += 1
            return FrameTag(SNAPSHOT, self._variant, max(0, round((now - self._shown_at) * 1000)))

    # -- worker thread ------------------------------------------------------

    def record_check(self, verdict: str) -> None:
        with self._lock:
            if self._mode != CHECK:
                return  # a late verdict after the check ended must not count
            self._verdict = verdict
            self._checks += 1
            self._ok_streak = self._ok_streak + 1 if verdict == VERDICT_OK else 0

    def record_stored(self, count: int) -> None:
        with self._lock:
            self._stored += count

    def record_error(self, message: str) -> None:
        with self._lock:
            self._errors += 1
            self._last_error = message

    # -- any thread ---------------------------------------------------------

    def status(self) -> CaptureStatus:
        with self._lock:
            return CaptureStatus(self._frames_seen, self._last_frame_at, self._verdict, self._ok_streak,
                                 self._checks, self._taken, self._stored, self._errors, self._last_error,
                                 self._finished)
