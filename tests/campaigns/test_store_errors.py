"""The store owns its driver: DuckDB's errors never leave it, a fault of the database itself is a
StoreUnavailableError with the driver's error chained, and only the store imports the driver."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import duckdb
import pytest

from campaigns.errors import CampaignError, StoreUnavailableError
from campaigns.store import Store
from tests.campaigns.conftest import held_by_another_process, make_live
from tests.conftest import ROOT


def test_a_database_another_process_holds_is_unavailable_with_a_clear_message(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "app.duckdb"
    with Store.open(path) as store:
        make_live(store)
    with held_by_another_process(path) as pid, caplog.at_level(logging.ERROR, logger="campaigns.store"):
        with pytest.raises(StoreUnavailableError, match="is in use by another process .*second server") as err:
            Store.open(path)
        assert str(path) in str(err.value) and f"PID {pid}" in str(err.value)  # which file, which process
        assert isinstance(err.value.__cause__, duckdb.IOException)
        assert isinstance(err.value, CampaignError)  # callers that catch the store's errors catch this too
        [record] = [r for r in caplog.records if r.name.startswith("campaigns.store")]
        assert "in use by another process" in record.getMessage()  # the message says it all: no traceback
    with Store.open(path) as store:  # the other process is gone: the same file opens again
        assert store.campaign("Spring ad").status == "live"


def test_a_driver_fault_in_a_read_or_a_write_leaves_as_a_store_error(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    campaign = make_live(store)
    store._cursor().close()  # this thread's cursor breaks behind the store's back
    calls = (store.campaigns, lambda: store.load(campaign), lambda: store.create_campaign("After"),
             lambda: store.add_participant(campaign, "v1"))
    with caplog.at_level(logging.ERROR, logger="campaigns.store"):
        for call in calls:
            with pytest.raises(StoreUnavailableError, match="cannot be used right now: .*closed") as err:
                call()
            assert isinstance(err.value.__cause__, duckdb.Error)
    records = [r for r in caplog.records if r.name.startswith("campaigns.store")]
    assert len(records) == len(calls) and all(r.exc_info for r in records)  # each logged once, with its cause


def imports_of(path: Path) -> set[str]:
    """The top-level package of every module ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    found |= {node.module for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    return {name.split(".")[0] for name in found}


def product_files() -> list[Path]:
    """Every Python file of the repository but the tests (and hidden or ignored folders)."""
    skip = {"tests", "runs", "data"}
    return [path for path in sorted(ROOT.rglob("*.py"))
            if not any(part.startswith(".") or part in skip for part in path.relative_to(ROOT).parts[:-1])]


def test_only_the_store_imports_the_database_driver() -> None:
    files = {path.relative_to(ROOT).as_posix(): imports_of(path) for path in product_files()}
    assert "pages/participate.py" in files and "campaigns/store/database.py" in files
    drivers = sorted(name for name, imported in files.items() if "duckdb" in imported)
    assert drivers and all(name.startswith("campaigns/store/") or name == "campaigns/schema.py" for name in drivers)


def test_pages_and_ui_import_neither_the_driver_nor_opencv() -> None:
    files = [path for path in product_files() if path.relative_to(ROOT).parts[0] in ("pages", "ui")]
    assert {path.name for path in files} >= {"participate.py", "model.py", "model_view.py"}
    offending = {path.relative_to(ROOT).as_posix(): sorted(imports_of(path) & {"duckdb", "cv2"}) for path in files}
    assert {name: found for name, found in offending.items() if found} == {}
