"""Rewriting the campaign store's DuckDB file, so that erased rows leave no bytes behind.

DuckDB only marks deleted rows and freed blocks as free and never overwrites them, so an erased
participant's face crops, snapshots and answers would stay readable in the file. After an erasure or
a campaign deletion the store therefore rewrites its file (:meth:`FileRewrite.compact`). The swap
closes the connection, so every public read runs under a shared read gate (:class:`ReadGate`) that
the swap takes exclusively; writes are kept out by the write lock it holds throughout.
"""

from __future__ import annotations

import functools
import inspect
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from campaigns.errors import CampaignError, WipePendingError

_F = TypeVar("_F", bound=Callable[..., Any])
_C = TypeVar("_C", bound=type)
#: Name under which the compacted copy is attached to the open connection.
_COMPACT_ALIAS = "compaction_target"


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


def gated(method: _F) -> _F:
    """Run a read method under the store's shared read gate (a generator's rows are read first)."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def gated_rows(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with self._gate.shared():
                rows = list(method(self, *args, **kwargs))
            return iter(rows)

        return gated_rows  # type: ignore[return-value]

    @functools.wraps(method)
    def gated_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._gate.shared():
            return method(self, *args, **kwargs)

    return gated_call  # type: ignore[return-value]


def gate_reads(reads: type) -> Callable[[_C], _C]:
    """Class decorator: gate every public method of ``reads`` (a mixin of the decorated class), so a
    read added there later is covered too."""

    def decorate(cls: _C) -> _C:
        for name, member in vars(reads).items():
            if not name.startswith("_") and inspect.isfunction(member) and name not in vars(cls):
                setattr(cls, name, gated(member))
        return cls

    return decorate


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_database_files(path: Path) -> None:
    for leftover in (path, Path(f"{path}.wal")):
        with suppress(FileNotFoundError):
            leftover.unlink()


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class FileRewrite:
    """The store's file rewrite; relies on the Store's connection state and locks."""

    if TYPE_CHECKING:  # provided by Store; declared for the type checker only
        read_only: bool
        _file: Path | None
        _location: str
        _con: duckdb.DuckDBPyConnection
        _closed: bool
        _generation: int
        _gate: ReadGate
        _write_lock: threading.RLock
        _cursor_lock: threading.Lock

        def _cursor(self) -> duckdb.DuckDBPyConnection: ...

        def _close_connection(self) -> None: ...

    def compact(self) -> bool:
        """Rewrite the database file so that deleted rows leave no bytes in it; False in memory.

        DuckDB only marks deleted rows and freed blocks as free and never
        overwrites them, so an erased participant's face crops, snapshots and
        answers stay readable in the file until the blocks happen to be reused.
        Keeping crops as files instead would not help the other tables, so the
        store rewrites the whole file; it costs one copy of the live data and
        runs only after erasures and campaign deletions, which are rare.

        1. Under the write lock (no write runs; reads go on), COPY FROM DATABASE
           into ``<file>.compacting``, detach it (DuckDB checkpoints it), fsync
           it, and check every table's row count in it against the original.
        2. Take the read gate exclusively (running reads finish, new ones wait),
           close every cursor and the connection, which checkpoints the old file
           so that it no longer needs its WAL.
        3. ``os.replace`` the copy over the file (atomic), fsync the folder,
           reconnect; threads get new cursors on their next use.

        Until the replace the original file is untouched and complete, so a
        failure (a full disk, a crash) loses nothing: the partial copy is
        removed and WipePendingError raised, and the next compaction wipes
        what this one could not.
        """
        if self.read_only:
            raise CampaignError("the campaign store was opened read-only")
        if self._file is None:
            return False  # nothing of an in-memory database outlives the process
        fresh = self._file.with_name(self._file.name + ".compacting")
        with self._write_lock:
            if self._closed:
                raise CampaignError("the campaign store is closed")
            try:
                try:
                    _remove_database_files(fresh)  # a copy left by a crash mid-compaction
                    self._copy_database(fresh)
                except BaseException:
                    with suppress(OSError):
                        _remove_database_files(fresh)
                    raise
                self._swap_in(fresh)
            except (duckdb.Error, OSError, CampaignError) as exc:
                raise WipePendingError(
                    "the database file could not be rewritten to wipe deleted data (is the disk full?); "
                    f"it was left as it was, and the next erasure or compaction retries: {exc}"
                ) from exc
        return True

    def _copy_database(self, fresh: Path) -> None:
        cur = self._cursor()
        row = cur.execute("SELECT current_database()").fetchone()
        assert row is not None
        source = _quoted(row[0])
        tables = [
            r[0]
            for r in cur.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'",
                [row[0]],
            ).fetchall()
        ]
        cur.execute(f"ATTACH ? AS {_COMPACT_ALIAS}", [str(fresh)])
        try:
            cur.execute(f"COPY FROM DATABASE {source} TO {_COMPACT_ALIAS}")
        finally:
            cur.execute(f"DETACH {_COMPACT_ALIAS}")
        _fsync(fresh)
        if Path(f"{fresh}.wal").exists():
            raise CampaignError("the compacted copy was not checkpointed")
        # Check what is on disk, not what the copy meant to write.
        cur.execute(f"ATTACH ? AS {_COMPACT_ALIAS} (READ_ONLY)", [str(fresh)])
        try:
            for table in tables:
                counts = [
                    cur.execute(f"SELECT count(*) FROM {db}.main.{_quoted(table)}").fetchone()  # noqa: S608
                    for db in (source, _COMPACT_ALIAS)
                ]
                if counts[0] != counts[1]:
                    raise CampaignError(f"the compacted copy of table {table} has {counts[1]} rows, not {counts[0]}")
        finally:
            cur.execute(f"DETACH {_COMPACT_ALIAS}")

    def _swap_in(self, fresh: Path) -> None:
        """Replace the database file by ``fresh`` and reconnect (caller holds the write lock)."""
        assert self._file is not None
        # A DuckDB instance lives while any connection to it does, and connecting to a path that
        # has a live instance in this process reuses it: an attached in-memory "probe" database
        # tells whether the reconnect below would reach the old instance (the unlinked file).
        probe = f"swap_probe_{secrets.token_hex(8)}"
        with self._gate.exclusive(), self._cursor_lock:
            try:
                if self._closed:  # close() ran while the copy was made
                    raise CampaignError("the campaign store was closed during the rewrite")
                self._con.execute(f"ATTACH ':memory:' AS {probe}")
            except BaseException:
                with suppress(OSError):
                    _remove_database_files(fresh)
                raise
            self._close_connection()  # checkpoints: the old file no longer needs its WAL
            con: duckdb.DuckDBPyConnection | None = None
            try:
                con = duckdb.connect(self._location)
                found = con.execute(
                    "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [probe]
                ).fetchone()
                if found and found[0]:
                    con.execute(f"DETACH {probe}")
                    raise CampaignError(
                        f"the database file {self._file} is open elsewhere in this process; "
                        "it cannot be rewritten to wipe deleted data"
                    )
                if Path(f"{self._file}.wal").exists():
                    raise CampaignError(f"the database file {self._file} could not be checkpointed")
                con.close()
                os.replace(fresh, self._file)
                _fsync(self._file.parent)
            except BaseException:
                with suppress(OSError):
                    _remove_database_files(fresh)
                if con is not None:
                    with suppress(duckdb.Error):
                        con.close()
                self._reconnect()  # to the original file, which is untouched
                raise
            self._reconnect()

    def _reconnect(self) -> None:
        # Caller holds _cursor_lock; cursors of older generations were closed with the connection.
        try:
            self._con = duckdb.connect(self._location)
        except BaseException:
            self._closed = True
            raise
        self._generation += 1

