"""The lock-guarded holder, the bounded frame queue and the frame callback (no model needed)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from capture.frames import FrameJob, FrameQueue
from capture.holder import CHECK, SNAPSHOT, CaptureHolder, FrameTag
from capture.rtc import frame_callback
from emotion.faces import VERDICT_NO_FACE, VERDICT_OK
from tests.capture.conftest import HAPPY, ManualClock, video_frame


def test_nothing_is_kept_while_nothing_is_on_screen() -> None:
    clock = ManualClock()
    holder = CaptureHolder(clock=clock)
    assert holder.tag() is None
    holder.show("A", 1.0, at=clock())
    holder.hide()
    clock.advance(5)
    assert holder.tag() is None
    assert holder.status().frames_seen == 2 and holder.status().snapshots_taken == 0


def test_snapshots_follow_the_interval_grid_from_the_moment_the_ad_appeared() -> None:
    clock = ManualClock()
    holder = CaptureHolder(clock=clock)
    holder.show("B", 0.5, at=clock())
    tags = []
    for _ in range(40):  # frames every 0.1 s for 4 s
        tags.append(holder.tag())
        clock.advance(0.1)
    kept = [t for t in tags if t is not None]
    assert all(t.kind == SNAPSHOT and t.variant == "B" for t in kept)
    assert [t.offset_ms for t in kept] == [0, 500, 1000, 1500, 2000, 2500, 3000, 3500]


def test_a_stalled_stream_skips_missed_slots_instead_of_bursting() -> None:
    clock = ManualClock()
    holder = CaptureHolder(clock=clock)
    holder.show("A", 1.0, at=clock())
    assert holder.tag() == FrameTag(SNAPSHOT, "A", 0)
    clock.advance(3.4)  # no frames for 3.4 s
    assert holder.tag() == FrameTag(SNAPSHOT, "A", 3400)
    clock.advance(0.1)
    assert holder.tag() is None  # the next slot is at 4.0 s, not the three missed ones
    clock.advance(0.5)
    assert holder.tag() == FrameTag(SNAPSHOT, "A", 4000)


def test_camera_check_counts_consecutive_ok_verdicts_only_while_checking() -> None:
    clock = ManualClock()
    holder = CaptureHolder(check_interval_s=0.4, clock=clock)
    holder.start_check()
    assert holder.tag() == FrameTag(CHECK)
    clock.advance(0.2)
    assert holder.tag() is None
    clock.advance(0.2)
    assert holder.tag() == FrameTag(CHECK)
    for verdict in (VERDICT_OK, VERDICT_OK, VERDICT_NO_FACE, VERDICT_OK, VERDICT_OK):
        holder.record_check(verdict)
    assert holder.status().ok_streak == 2 and holder.status().checks == 5
    holder.hide()
    holder.record_check(VERDICT_OK)  # a verdict arriving after the check ended does not count
    assert holder.status().ok_streak == 2


def test_a_full_queue_drops_its_oldest_frame_and_counts_it() -> None:
    frames = FrameQueue(maxsize=2)
    jobs = [FrameJob(FrameTag(SNAPSHOT, "A", i), np.zeros((2, 2, 3), np.uint8)) for i in range(4)]
    assert [frames.put(j) for j in jobs] == [True, True, False, False]
    assert frames.dropped == 2 and len(frames) == 2
    assert [frames.get(0).tag.offset_ms for _ in range(2)] == [2, 3]  # type: ignore[union-attr]
    assert frames.get(timeout=0.01) is None


def test_closing_the_queue_wakes_a_waiting_worker_and_refuses_new_frames() -> None:
    frames = FrameQueue()
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(frames.get(timeout=30)))
    waiter.start()
    frames.close()
    waiter.join(5)
    assert not waiter.is_alive() and got == [None]
    assert frames.put(FrameJob(FrameTag(CHECK), np.zeros((1, 1, 3), np.uint8))) is False
    assert frames.closed and frames.dropped == 1


def test_the_frame_callback_copies_tagged_frames_and_passes_every_frame_on() -> None:
    clock = ManualClock()
    holder, frames = CaptureHolder(clock=clock), FrameQueue()
    on_frame = frame_callback(holder, frames)
    frame = video_frame(HAPPY)
    assert on_frame(frame) is frame and len(frames) == 0  # nothing on screen: nothing kept
    holder.show("A", 1.0, at=clock())
    clock.advance(0.25)
    assert on_frame(frame) is frame
    job = frames.get(0)
    assert job is not None and job.tag == FrameTag(SNAPSHOT, "A", 250)
    expected = frame.to_ndarray(format="bgr24")
    assert job.image.shape == (480, 640, 3) and np.array_equal(job.image, expected)
    job.image[:] = 0  # the kept copy is the job's own: the stream's frame is untouched
    assert np.array_equal(frame.to_ndarray(format="bgr24"), expected)


def test_show_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        CaptureHolder().show("A", 0, at=0.0)
