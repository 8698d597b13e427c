"""Rewriting the database file, so that erased rows leave no bytes behind.

DuckDB only marks deleted rows and freed blocks as free and never overwrites them, so an erased
participant's face crops, snapshots and answers would stay readable in the file. After an erasure or
a campaign deletion the store therefore copies the live data into a fresh file and swaps it in
(:meth:`campaigns.store.database.Database.compact`). The swap closes the connection, so every read
runs under a shared :class:`ReadGate` that the swap takes exclusively; writes are kept out by the
write lock the compaction holds throughout.

This module holds the pieces that need no connection state: the gate, the copy and its check.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from campaigns.errors import CampaignError

#: Name under which the compacted copy is attached to the open connection.
COMPACT_ALIAS = "compaction_target"


class ReadGate:
    """Any number of reads at once, or one connection swap (a compaction) alone.

    Shared use is re-entrant per thread, so a read that calls another read never
    waits behind a pending swap that is itself waiting for that first read. A
    pending swap stops new reads from starting, so a stream of reads cannot
    starve it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._swapping = False
        self._depth = threading.local()

    @contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            with self._cond:
                while self._swapping:
                    self._cond.wait()
                self._readers += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if depth == 0:
                with self._cond:
                    self._readers -= 1
                    if self._readers == 0:
                        self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if getattr(self._depth, "n", 0):
            raise CampaignError("the campaign store cannot be compacted from inside a read")
        with self._cond:
            while self._swapping:
                self._cond.wait()
            self._swapping = True
            try:
                while self._readers:
                    self._cond.wait()
            except BaseException:
                self._swapping = False
                self._cond.notify_all()
                raise
        try:
            yield
        finally:
            with self._cond:
                self._swapping = False
                self._cond.notify_all()


def fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_database_files(path: Path) -> None:
    """Remove a database file and its WAL, where they exist."""
    for leftover in (path, Path(f"{path}.wal")):
        with suppress(FileNotFoundError):
            leftover.unlink()


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def copy_database(cur: duckdb.DuckDBPyConnection, fresh: Path) -> None:
    """COPY FROM DATABASE into ``fresh``, detach it (DuckDB checkpoints it), fsync it, and check
    every table's row count in it against the original; CampaignError when the copy is not whole."""
    row = cur.execute("SELECT current_database()").fetchone()
    assert row is not None
    source = quoted(row[0])
    tables = [
        r[0]
        for r in cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'",
            [row[0]],
        ).fetchall()
    ]
    cur.execute(f"ATTACH ? AS {COMPACT_ALIAS}", [str(fresh)])
    try:
        cur.execute(f"COPY FROM DATABASE {source} TO {COMPACT_ALIAS}")
    finally:
        cur.execute(f"DETACH {COMPACT_ALIAS}")
    fsync(fresh)
    if Path(f"{fresh}.wal").exists():
        raise CampaignError("the compacted copy was not checkpointed")
    # Check what is on disk, not what the copy meant to write.
    cur.execute(f"ATTACH ? AS {COMPACT_ALIAS} (READ_ONLY)", [str(fresh)])
    try:
        for table in tables:
            counts = [
                cur.execute(f"SELECT count(*) FROM {db}.main.{quoted(table)}").fetchone()  # noqa: S608
                for db in (source, COMPACT_ALIAS)
            ]
            if counts[0] != counts[1]:
                raise CampaignError(f"the compacted copy of table {table} has {counts[1]} rows, not {counts[0]}")
    finally:
        cur.execute(f"DETACH {COMPACT_ALIAS}")
