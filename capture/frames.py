"""The bounded queue between the WebRTC frame callback and the inference worker.

The callback must never block (a blocked callback stalls the stream), so a
full queue drops its oldest frame to make room and counts it: the freshest
frames are the ones worth classifying, and every frame carries its own tag
(variant, offset), so a drop never mislabels the frames that remain.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from capture.holder import FrameTag

DEFAULT_MAXSIZE = 8


@dataclass(frozen=True, eq=False)
class FrameJob:
    """One kept frame (BGR, owned by the job) and why it was kept."""

    tag: FrameTag
    image: np.ndarray


class FrameQueue:
    """Thread-safe, bounded, drop-oldest FIFO of FrameJobs."""

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._jobs: deque[FrameJob] = deque()
        self._ready = threading.Condition()
        self._dropped = 0
        self._closed = False

    def put(self, job: FrameJob) -> bool:
        """Add a job without blocking; False when the queue was full and its oldest job was dropped."""
        with self._ready:
            if self._closed:
                self._dropped += 1
                return False
            full = len(self._jobs) >= self.maxsize
            if full:
                self._jobs.popleft()
                self._dropped += 1
            self._jobs.append(job)
            self._ready.notify()
            return not full

    def get(self, timeout: float | None = None) -> FrameJob | None:
        """The oldest job, waiting up to ``timeout`` seconds; None on timeout or once closed and empty."""
        with self._ready:
            if not self._jobs and not self._closed:
                self._ready.wait(timeout)
            return self._jobs.popleft() if self._jobs else None

    def close(self) -> None:
        """Refuse new jobs and wake a waiting getter; queued jobs can still be taken."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        with self._ready:
            return self._closed

    @property
    def dropped(self) -> int:
        with self._ready:
            return self._dropped

    def __len__(self) -> int:
        with self._ready:
            return len(self._jobs)
