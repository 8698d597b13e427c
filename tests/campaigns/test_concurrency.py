"""Many threads on one Store lose no row; a process killed mid-batch keeps whole committed batches only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from campaigns.snapshots import batch_from_arrays
from campaigns.store import Store
from tests.campaigns.conftest import make_live

ROOT = Path(__file__).resolve().parents[2]


def run_threads(targets: list[threading.Thread]) -> None:
    for t in targets:
        t.start()
    for t in targets:
        t.join(timeout=120)
        assert not t.is_alive()


def test_concurrent_writers_and_readers_lose_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "busy.duckdb") as store:
        campaign = make_live(store)
        errors: list[BaseException] = []
        people: list[str] = []
        lock = threading.Lock()

        def join_people(n: int) -> None:
            try:
                for _ in range(n):
                    pid = store.add_participant(campaign, "v1").id
                    with lock:
                        people.append(pid)
            except BaseException as exc:  # reported below, never swallowed
                errors.append(exc)

        run_threads([threading.Thread(target=join_people, args=(10,)) for _ in range(6)])
        assert not errors and len(people) == 60
        data = store.load(campaign).participants
        assert sorted(data["seq"]) == list(range(1, 61))  # no duplicate sequence numbers
        assert (data["variant_order"] == "AB").sum() == 30  # counterbalancing stayed exact

        def write_batches(pid: str, batches: int, rows: int, seed: int) -> None:
            rng = np.random.default_rng(seed)
            try:
                for b in range(batches):
                    face = rng.random(rows) < 0.8
                    probs = rng.dirichlet(np.ones(3), rows).astype(np.float32)
                    probs[~face] = np.nan
                    offsets = np.arange(rows, dtype=np.int64) * 1000 + b * rows * 1000
                    store.add_snapshots(batch_from_arrays(pid, "AB"[b % 2], offsets, face, probs, "m"))
                    store.add_feedback(pid, "AB"[b % 2], int(rng.integers(1, 6)))
            except BaseException as exc:
                errors.append(exc)

        reads: list[int] = []

        def read_while_writing() -> None:
            try:
                for _ in range(20):
                    reads.append(len(store.load(campaign).counts))
            except BaseException as exc:
                errors.append(exc)

        writers = [threading.Thread(target=write_batches, args=(people[i], 15, 40, i)) for i in range(8)]
        run_threads([*writers, threading.Thread(target=read_while_writing)])
        assert not errors
        assert store.snapshot_count(campaign) == 8 * 15 * 40
        counts = store.load(campaign).counts
        assert counts.groupby("participant_id")["snapshots"].sum().tolist() == [600] * 8
        assert len(store.load(campaign).feedback) == 16 and len(reads) == 20


#: Rows per batch of the crash test: large enough that writing one takes most of the loop's time.
CRASH_BATCH = 20_000
CRASH_SCRIPT = """
import sys
import numpy as np
from campaigns.snapshots import batch_from_arrays
from campaigns.store import Store
from tests.campaigns.conftest import make_live
rows = int(sys.argv[2])
store = Store.open(sys.argv[1])
pid = store.add_participant(make_live(store), "v1").id
face = np.ones(rows, dtype=bool)
probs = np.tile(np.array([[0.7, 0.2, 0.1]], dtype=np.float32), (rows, 1))
b = 0
while True:
    print("begin", b, flush=True)
    store.add_snapshots(batch_from_arrays(pid, "A", np.arange(rows) + b * rows, face, probs, "m"))
    print("end", b, flush=True)
    b += 1
"""


def kill_mid_batch(path: Path, rng: np.random.Generator) -> list[str]:
    """Run CRASH_SCRIPT on ``path``, SIGKILL it at a random moment after its first batch is committed,
    and return the lines it printed."""
    writer = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(path), str(CRASH_BATCH)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    try:
        lines: list[str] = []
        while not lines or lines[-1] != "end 0":
            line = writer.stdout.readline()
            assert line, writer.communicate(timeout=60)[1]  # it died before committing a batch
            lines.append(line.strip())
        time.sleep(rng.uniform(0.0, 1.0))
    finally:
        writer.send_signal(signal.SIGKILL)
    rest, errors = writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL, errors
    return lines + rest.splitlines()


def test_a_writer_killed_mid_batch_keeps_every_committed_batch_whole(tmp_path: Path) -> None:
    # Killed at a random moment while batches are being written, the file holds only whole
    # batches: every one the writer saw committed, and the one in flight either whole or not at all.
    rng = np.random.default_rng()
    for attempt in range(5):
        path = tmp_path / f"crash-{attempt}.duckdb"
        lines = kill_mid_batch(path, rng)
        if lines[-1].startswith("begin"):  # the kill landed inside add_snapshots
            break
    assert lines[-1].startswith("begin"), lines[-3:]
    committed = sum(line.startswith("end") for line in lines)
    with Store.open(path) as store:
        campaign = store.campaign("Spring ad")
        assert campaign.status == "live"
        offsets = store.snapshot_frame(campaign)["offset_ms"].to_numpy()
    sizes = np.bincount(offsets // CRASH_BATCH)
    assert len(offsets) % CRASH_BATCH == 0 and (sizes == CRASH_BATCH).all()  # every stored batch is whole
    assert len(sizes) in (committed, committed + 1) and committed >= 1  # nothing committed was lost


def test_cursors_of_finished_threads_are_released() -> None:
    # Streamlit runs each script run in a new thread: cursors must not pile up.
    with Store.open() as store:
        campaign = make_live(store)
        for _ in range(25):
            run_threads([threading.Thread(target=store.load, args=(campaign,))])
        run_threads([threading.Thread(target=store.campaigns)])
        assert store._db.open_cursors() <= 2  # the main thread's and the last thread's
