"""Fixtures of the campaigns tests: real DuckDB stores (in memory or tmp files), synthetic media."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from campaigns.store import Store
from campaigns.types import Campaign, Settings

LABELS3 = ("happy", "sad", "neutral")
#: A second process that opens a database file for writing and keeps it open until its stdin closes.
HOLDER = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"


def png_bytes(width: int = 32, height: int = 24, value: int = 128) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), value, dtype=np.uint8))
    assert ok
    return data.tobytes()


def jpeg_bytes(width: int = 32, height: int = 24) -> bytes:
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def mp4_bytes(folder: Path, frames: int = 20, fps: float = 10.0) -> bytes:
    path = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((48, 64, 3), (i * 10) % 255, dtype=np.uint8))
    writer.release()
    return path.read_bytes()


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open(":memory:") as opened:
        yield opened


def make_live(
    store: Store, name: str = "Spring ad", labels: tuple[str, ...] = LABELS3, **settings: object
) -> Campaign:
    """A live campaign with two PNG variants."""
    campaign = store.create_campaign(name, labels=labels, settings=Settings(**settings))  # type: ignore[arg-type]
    store.set_variant(campaign, "A", png_bytes(value=60), "a.png")
    store.set_variant(campaign, "B", png_bytes(value=200), "b.png")
    return store.go_live(campaign)


@pytest.fixture
def live(store: Store) -> Campaign:
    return make_live(store)


@contextmanager
def held_by_another_process(path: Path) -> Iterator[int]:
    """``path`` opened for writing by a second process, as a second server on the same data folder
    holds it (DuckDB's file lock); yields that process's id and releases the file on exit."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder.pid
    finally:
        holder.stdin.close()  # its read returns, it exits and the lock goes with it
        holder.wait(timeout=60)
