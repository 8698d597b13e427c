"""Many threads on one Store lose no row; a killed process keeps every committed snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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


CRASH_SCRIPT = """
import os, signal, sys
import numpy as np
from campaigns.snapshots import batch_from_arrays
from campaigns.store import Store
from tests.campaigns.conftest import make_live
store = Store.open(sys.argv[1])
campaign = make_live(store)
pid = store.add_participant(campaign, "v1").id
for b in range(5):
    face = np.ones(100, dtype=bool)
    probs = np.tile(np.array([[0.7, 0.2, 0.1]], dtype=np.float32), (100, 1))
    store.add_snapshots(batch_from_arrays(pid, "A", np.arange(100) + b * 100, face, probs, "m"))
print("committed", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_process_keeps_committed_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "crash.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9 and "committed" in done.stdout, done.stderr
    with Store.open(path) as store:
        assert store.snapshot_count() == 500
        assert store.campaign("Spring ad").status == "live"


def test_cursors_of_finished_threads_are_released() -> None:
    # Streamlit runs each script run in a new thread: cursors must not pile up.
    with Store.open() as store:
        campaign = make_live(store)
        for _ in range(25):
            run_threads([threading.Thread(target=store.load, args=(campaign,))])
        run_threads([threading.Thread(target=store.campaigns)])
        assert len(store._cursors) <= 2  # the main thread's and the last thread's
