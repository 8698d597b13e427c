"""The inference worker: one thread per participant that classifies kept frames and stores them.

It takes FrameJobs from the participant's bounded queue (filled by the WebRTC
frame callback), runs the camera check or the classifier on each, and appends
snapshot rows to the store in batches. A frame is dropped as soon as it is
classified. The shared classifier serialises model calls under its own lock.

The worker stops when asked (flushing what it holds) or by itself once the
camera has sent nothing for ``abandon_after_s``: the participant closed the
tab or lost the camera half way. Then it stores what it has and marks the
participant abandoned, so the record is incomplete but consistent.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import cv2
import numpy as np

from campaigns.errors import CampaignError
from campaigns.types import SnapshotRow
from capture.frames import FrameJob, FrameQueue
from capture.holder import CHECK, CaptureHolder
from emotion.faces import check_frame

log = logging.getLogger(__name__)

#: Rows per add_snapshots call; a partial batch is flushed once the queue idles for ``flush_s``.
BATCH_SIZE = 8
FLUSH_S = 1.0
ABANDON_AFTER_S = 120.0


class SnapshotStore(Protocol):
    """The part of campaigns.store.Store the worker writes to."""

    def add_snapshots(self, snapshots: Any) -> int: ...

    def add_face_crop(self, participant_id: str, variant: str, offset_ms: int, image: bytes) -> None: ...

    def mark_participant(self, participant_id: str, status: str) -> Any: ...


class InferenceWorker:
    """Classifies one participant's kept frames on a daemon thread and stores the results."""

    def __init__(self, *, participant_id: str, frames: FrameQueue, holder: CaptureHolder, store: SnapshotStore,
                 classifier: Any, keep_face_crops: bool = False, batch_size: int = BATCH_SIZE,
                 flush_s: float = FLUSH_S, abandon_after_s: float = ABANDON_AFTER_S) -> None:
        self.participant_id = participant_id
        self._frames = frames
        self._holder = holder
        self._store = store
        self._classifier = classifier
        self._keep_crops = keep_face_crops
        self._batch_size = batch_size
        self._flush_s = flush_s
        self._abandon_after_s = abandon_after_s
        self._pending: list[SnapshotRow] = []
        self._stop = threading.Event()
        self.abandoned = False
        self._thread = threading.Thread(target=self._run, name=f"inference-{participant_id}", daemon=True)

    def start(self) -> InferenceWorker:
        self._started_at = self._holder.clock()
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Classify what is queued, store everything and end the thread (called from the script thread)."""
        self._stop.set()
        self._frames.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # -- the worker thread ----------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                job = self._frames.get(timeout=self._flush_s)
                if job is None:
                    self._flush()
                    if self._stop.is_set():
                        return
                    if self._gone_quiet():
                        self._abandon()
                        return
                    continue
                self._handle(job)
                del job  # the frame is not kept beyond its classification
                if len(self._pending) >= self._batch_size:
                    self._flush()
        finally:
            self._flush()

    def _handle(self, job: FrameJob) -> None:
        try:
            if job.tag.kind == CHECK:
                quality = check_frame(job.image, self._classifier.detector)
                self._holder.record_check(quality.verdict)
                if log.isEnabledFor(logging.DEBUG):  # the mean is work a served frame should not pay for
                    log.debug("participant %s: camera check %r on a %dx%d frame (mean grey %.0f)",
                              self.participant_id, quality.verdict, job.image.shape[1], job.image.shape[0],
                              float(job.image.mean()))
            else:
                self._pending.append(self._snapshot(job))
        except Exception as exc:  # one bad frame must not end the participant's capture
            log.exception("participant %s: a frame could not be analysed", self.participant_id)
            self._holder.record_error(f"a frame could not be analysed: {exc}")

    def _snapshot(self, job: FrameJob) -> SnapshotRow:
        clf = self._classifier
        card = clf.card
        faces = clf.detector.faces(job.image, size=card.input_size, margin=card.crop_margin, max_faces=1)
        variant, offset = job.tag.variant, job.tag.offset_ms
        assert variant is not None
        if not faces:
            return SnapshotRow(self.participant_id, variant, offset, False, None, clf.model_id)
        face = faces[0]
        probabilities = np.asarray(clf.predict(face.crop))[0]
        if self._keep_crops:
            self._keep_crop(variant, offset, face.crop)
        q = face.quality
        return SnapshotRow(self.participant_id, variant, offset, True, tuple(float(p) for p in probabilities),
                           clf.model_id, face_ratio=min(1.0, q.face_ratio), brightness=q.brightness,
                           sharpness=q.sharpness)

    def _keep_crop(self, variant: str, offset_ms: int, crop: np.ndarray) -> None:
        ok, encoded = cv2.imencode(".png", crop)
        if not ok:
            return
        try:
            self._store.add_face_crop(self.participant_id, variant, offset_ms, encoded.tobytes())
        except CampaignError as exc:
            self._holder.record_error(f"a face crop was not kept: {exc}")

    def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            self._holder.record_stored(self._store.add_snapshots(batch))
        except CampaignError as exc:  # e.g. the campaign was closed meanwhile: nothing of the batch is stored
            log.warning("participant %s: %d snapshots not stored: %s", self.participant_id, len(batch), exc)
            self._holder.record_error(f"{len(batch)} snapshots were not stored: {exc}")
        except Exception as exc:  # e.g. a disk error: count it and keep capturing, the next batch may land
            log.exception("participant %s: %d snapshots not stored", self.participant_id, len(batch))
            self._holder.record_error(f"{len(batch)} snapshots were not stored: {exc}")

    def _gone_quiet(self) -> bool:
        status = self._holder.status()
        if status.finished:
            return False
        # The holder outlives a worker: a restarted worker counts quiet time from its own start too,
        # not from a frame the previous worker saw minutes ago.
        last = max(status.last_frame_at or 0.0, self._started_at)
        return self._holder.clock() - last > self._abandon_after_s

    def _abandon(self) -> None:
        self._flush()
        self.abandoned = True
        try:
            self._store.mark_participant(self.participant_id, "abandoned")
        except CampaignError as exc:
            log.warning("participant %s could not be marked abandoned: %s", self.participant_id, exc)
