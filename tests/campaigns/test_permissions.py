"""The store's folders and files are its owner's alone, whatever the umask lets other users read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaigns.store import Store
from campaigns.store.database import owner_only_files, wal_of
from tests.campaigns.conftest import make_live, png_bytes


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask 0o022, under which plain files are created world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("usual_umask")
def test_a_fresh_data_folder_its_database_wal_and_media_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data / "app.duckdb", media_dir=data / "media") as store:
        assert mode(data) == 0o700 and mode(data / "app.duckdb") == 0o600
        campaign = make_live(store)  # writes: DuckDB creates the WAL
        assert wal_of(data / "app.duckdb").exists()
        assert mode(wal_of(data / "app.duckdb")) == 0o600
        media = sorted((data / "media").rglob("*"))
        assert [p.name for p in media if p.is_file()] and all(
            mode(p) == (0o700 if p.is_dir() else 0o600) for p in [data / "media", *media])
        store.compact()  # the rewritten file replaces the original
        assert mode(data / "app.duckdb") == 0o600
        store.add_participant(campaign, "v1")  # the first write after a checkpoint makes a new WAL
        assert mode(wal_of(data / "app.duckdb")) == 0o600
    assert os.umask(0o022) == 0o022, "the umask is restored"
    # What the umask gives everything else stays as it was.
    (tmp_path / "other.txt").write_text("x")
    assert mode(tmp_path / "other.txt") == 0o644


@pytest.mark.usefixtures("usual_umask")
def test_only_folders_the_store_creates_are_narrowed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(0o755)
    with Store.open(shared / "deep" / "app.duckdb", media_dir=shared / "media") as store:
        campaign = store.create_campaign("Ad")
        store.set_variant(campaign, "A", png_bytes(), "a.png")
    assert mode(shared) == 0o755  # the admin's folder, theirs to choose
    assert mode(shared / "deep") == 0o700 and mode(shared / "deep" / "app.duckdb") == 0o600
    assert mode(shared / "media") == 0o700


@pytest.mark.usefixtures("usual_umask")
def test_a_database_written_world_readable_is_narrowed_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "app.duckdb"
    Store.open(path).close()
    path.chmod(0o644)
    Store.open(path).close()
    assert mode(path) == 0o600


def test_nested_owner_only_sections_restore_the_umask_once(usual_umask: None) -> None:
    with owner_only_files():
        with owner_only_files():
            assert os.umask(0o077) == 0o077
        assert os.umask(0o077) == 0o077
    assert os.umask(0o022) == 0o022
