"""The store's one database object: the DuckDB connection, a cursor per thread, transactions, the
read gate and the file rewrite.

Threading model: one connection per ``Database`` (one per process: the app caches its store with
``st.cache_resource``) and one cursor per thread, created on first use. Reads run concurrently on
their own cursors; writes are serialised by a lock so that read-check-write sequences (status
checks, counterbalancing) are atomic and DuckDB never sees conflicting transactions. Every write is
one transaction: on any error nothing of it is stored.

The driver stops here: a DuckDB error raised inside :meth:`Database.read`, :meth:`Database.snapshot`
or :meth:`Database.write` leaves as :class:`StoreUnavailableError`, logged once with the driver's
error as its cause, so callers never import ``duckdb`` to tell a server fault from bad input.

Files: participants' data is for the owner of the server process alone, so the folders the store
creates are 0700 and the database file and its WAL 0600 (:func:`private_folder`,
:func:`owner_only_files`).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path

import duckdb

from campaigns import schema
from campaigns.errors import CampaignError, SchemaError, StoreUnavailableError, WipePendingError
from campaigns.store.rewrite import ReadGate, copy_database, fsync, remove_database_files

log = logging.getLogger(__name__)

MEMORY = ":memory:"
#: Modes of what the store creates: readable by the server's own user only.
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents 0700; folders that exist already are left as they are."""
    missing = []
    for level in (folder, *folder.parents):
        if level.is_dir():
            break
        missing.append(level)
    # os.makedirs gives intermediate folders the default mode, so each level is made here; the chmod
    # makes what was made exactly 0700 whatever the umask cleared.
    for level in reversed(missing):
        with suppress(FileExistsError):  # made meanwhile by another thread or process: theirs
            level.mkdir(PRIVATE_FOLDER)
            level.chmod(PRIVATE_FOLDER)


def restrict_file(path: Path) -> None:
    """Make an existing file 0600 (a database written before the store made its files private)."""
    try:
        if path.stat().st_mode & 0o777 != PRIVATE_FILE:
            path.chmod(PRIVATE_FILE)
    except FileNotFoundError:
        pass
    except PermissionError as exc:  # another user's file this one may write: theirs to narrow
        log.warning("cannot make %s owner-only: %s", path, exc)


class _OwnerOnlyUmask:
    """A umask of 0o077 while any holder is inside, restored when the last one leaves.

    DuckDB creates its database file and its WAL itself (mode 0666 less the umask) and refuses an
    empty file made beforehand, so the umask is the one way to have them 0600 from their first byte.
    The umask belongs to the process: the count keeps concurrent holders (several stores, threads)
    from restoring each other's value early; meanwhile other threads' new files are owner-only too,
    which only ever narrows who can read them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._saved = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._saved = os.umask(0o077)
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    os.umask(self._saved)


_OWNER_ONLY = _OwnerOnlyUmask()


def owner_only_files() -> AbstractContextManager[None]:
    """Files and folders created meanwhile (by DuckDB included) are readable by their owner only."""
    return _OWNER_ONLY.held()


def wal_of(path: Path) -> Path:
    """DuckDB's write-ahead log beside a database file."""
    return Path(f"{path}.wal")


def unavailable(message: str, cause: BaseException, *, traceback: bool = True) -> StoreUnavailableError:
    """A StoreUnavailableError for ``cause``, logged here once (with the driver's traceback unless the
    message says all there is to know)."""
    log.error("campaign store unavailable: %s", message, exc_info=cause if traceback else None)
    return StoreUnavailableError(message)


def _connect(location: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(location, read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            # DuckDB lets one process at a time open a file for writing: a second server started
            # on the same data folder lands here.
            raise unavailable(
                f"the database file {location} is in use by another process (is a second server running on "
                f"the same data folder?); stop that process or give this one its own data folder ({exc})",
                exc,
                traceback=False,
            ) from exc
        raise SchemaError(f"cannot open database {location}: {exc}") from exc
    except duckdb.Error as exc:
        raise unavailable(f"cannot open database {location}: {exc}", exc) from exc


class Database:
    """One DuckDB database shared by the repositories. Create with :meth:`open`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, location: str, read_only: bool) -> None:
        self._con = con
        self.location = location
        #: The database file (None in memory): what compaction rewrites.
        self.file = None if location == MEMORY else Path(location).absolute()
        self.read_only = read_only
        self._local = threading.local()
        self._cursors: list[tuple[threading.Thread, duckdb.DuckDBPyConnection]] = []
        self._cursor_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._gate = ReadGate()
        #: Bumped when compaction reconnects: a thread's cursor of an older generation is stale.
        self._generation = 0
        self._closed = False

    @classmethod
    def open(cls, path: str | Path = MEMORY, *, read_only: bool = False) -> Database:
        """Connect, and migrate forward (read-write) or check the schema version (read-only)."""
        location = str(path)
        if read_only and location == MEMORY:
            raise SchemaError("an in-memory database cannot be opened read-only")
        if read_only and not Path(location).exists():
            raise SchemaError(f"database file {location} does not exist")
        # A read-write file store creates its folder and files owner-only; a read-only one creates nothing.
        private = None if read_only or location == MEMORY else Path(location)
        if private is None:
            con = _connect(location, read_only)
        else:
            try:
                private_folder(private.absolute().parent)
            except OSError as exc:
                raise SchemaError(f"cannot open database {location}: {exc}") from exc
            with owner_only_files():
                con = _connect(location, read_only)
        try:
            if private is not None:
                for existing in (private, wal_of(private)):
                    restrict_file(existing)
            if read_only:
                found = schema.current_version(con)
                latest = schema.MIGRATIONS[-1].version
                if found != latest:
                    raise SchemaError(
                        f"database {location} is at schema version {found}, this code needs "
                        f"{latest}; open it once read-write to migrate it"
                    )
            else:
                with owner_only_files():  # a migration creates the WAL
                    schema.migrate(con)
        except duckdb.Error as exc:
            con.close()
            raise unavailable(f"cannot read the schema of database {location}: {exc}", exc) from exc
        except BaseException:
            con.close()
            raise
        return cls(con, location=location, read_only=read_only)

    @property
    def schema_version(self) -> int:
        with self.read() as cur:
            return schema.current_version(cur)

    # -- cursors and transactions -------------------------------------------

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's cursor for one read, under the shared read gate (a file swap waits for it)."""
        with self._gate.shared(), self._driver_errors():
            yield self.raw_cursor()

    @contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read transaction, so several queries see one consistent state."""
        with self.read() as cursor:
            cursor.begin()
            try:
                yield cursor
            finally:
                cursor.rollback()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One serialised write transaction; rolled back on any error."""
        if self.read_only:
            raise CampaignError("the campaign store was opened read-only")
        with self._write_lock, self._driver_errors(), self._may_create_wal():
            cursor = self.raw_cursor()
            cursor.begin()
            try:
                yield cursor
            except BaseException:
                cursor.rollback()
                raise
            cursor.commit()

    def _may_create_wal(self) -> AbstractContextManager[None]:
        # Caller holds the write lock. Only a write that finds no WAL can create one (a checkpoint
        # deletes it, the next write makes it anew), so only such a write narrows the process umask.
        if self.file is None or wal_of(self.file).exists():
            return nullcontext()
        return owner_only_files()

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as exc:
            raise unavailable(f"the campaign database cannot be used right now: {exc}", exc) from exc

    def raw_cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, outside the read gate and the error translation: repositories use
        :meth:`read` and :meth:`write`; tests use this to look at rows directly."""
        # A DuckDB cursor must not be shared between threads; each thread gets
        # its own, and cursors of finished threads (Streamlit runs every script
        # run in a new thread) are closed so they do not pile up.
        if self._closed:
            raise StoreUnavailableError("the campaign store is closed")
        cursor = getattr(self._local, "cursor", None)
        if cursor is not None and self._local.generation == self._generation:
            return cursor
        with self._cursor_lock:
            if self._closed:
                raise StoreUnavailableError("the campaign store is closed")
            alive = []
            for thread, old in self._cursors:
                if thread.is_alive():
                    alive.append((thread, old))
                else:
                    with suppress(duckdb.Error):
                        old.close()
            cursor = self._con.cursor()
            alive.append((threading.current_thread(), cursor))
            self._cursors = alive
            self._local.generation = self._generation
        self._local.cursor = cursor
        return cursor

    def open_cursors(self) -> int:
        """How many per-thread cursors are open (they must not pile up)."""
        with self._cursor_lock:
            return len(self._cursors)

    def close(self) -> None:
        """Close every cursor and the connection; committed data is on disk."""
        with self._cursor_lock, self._driver_errors():
            if self._closed:
                return
            self._closed = True
            self._close_connection()

    def _close_connection(self) -> None:
        # Caller holds _cursor_lock.
        for _, cursor in self._cursors:
            with suppress(duckdb.Error):
                cursor.close()
        self._cursors.clear()
        self._con.close()

    # -- file rewrite ---------------------------------------------------------

    def compact(self) -> bool:
        """Rewrite the database file so that deleted rows leave no bytes in it; False in memory.

        DuckDB only marks deleted rows and freed blocks as free and never
        overwrites them, so an erased participant's face crops, snapshots and
        answers stay readable in the file until the blocks happen to be reused.
        Keeping crops as files instead would not help the other tables, so the
        store rewrites the whole file; it costs one copy of the live data and
        runs only after erasures and campaign deletions, which are rare.

        1. Under the write lock (no write runs; reads go on), copy the database
           into ``<file>.compacting`` and check it (:func:`copy_database`).
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
        if self.file is None:
            return False  # nothing of an in-memory database outlives the process
        fresh = self.file.with_name(self.file.name + ".compacting")
        # The copy becomes the database file: it and its WAL are owner-only from the start.
        with self._write_lock, owner_only_files():
            if self._closed:
                raise StoreUnavailableError("the campaign store is closed")
            try:
                try:
                    remove_database_files(fresh)  # a copy left by a crash mid-compaction
                    copy_database(self.raw_cursor(), fresh)
                except BaseException:
                    with suppress(OSError):
                        remove_database_files(fresh)
                    raise
                self._swap_in(fresh)
            except (duckdb.Error, OSError, CampaignError) as exc:
                raise WipePendingError(
                    "the database file could not be rewritten to wipe deleted data (is the disk full?); "
                    f"it was left as it was, and the next erasure or compaction retries: {exc}"
                ) from exc
        return True

    def _swap_in(self, fresh: Path) -> None:
        """Replace the database file by ``fresh`` and reconnect (caller holds the write lock)."""
        assert self.file is not None
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
                    remove_database_files(fresh)
                raise
            self._close_connection()  # checkpoints: the old file no longer needs its WAL
            con: duckdb.DuckDBPyConnection | None = None
            try:
                con = duckdb.connect(self.location)
                found = con.execute(
                    "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [probe]
                ).fetchone()
                if found and found[0]:
                    con.execute(f"DETACH {probe}")
                    raise CampaignError(
                        f"the database file {self.file} is open elsewhere in this process; "
                        "it cannot be rewritten to wipe deleted data"
                    )
                if wal_of(self.file).exists():
                    raise CampaignError(f"the database file {self.file} could not be checkpointed")
                con.close()
                os.replace(fresh, self.file)
                fsync(self.file.parent)
            except BaseException:
                with suppress(OSError):
                    remove_database_files(fresh)
                if con is not None:
                    with suppress(duckdb.Error):
                        con.close()
                self._reconnect()  # to the original file, which is untouched
                raise
            self._reconnect()

    def _reconnect(self) -> None:
        # Caller holds _cursor_lock; cursors of older generations were closed with the connection.
        try:
            self._con = duckdb.connect(self.location)
        except BaseException:
            self._closed = True
            raise
        self._generation += 1
