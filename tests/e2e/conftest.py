"""Fixtures of the real-browser tests: a loopback-only network, the app server, Chromium sessions.

Where the browser tests cannot run (not root, no Chromium, no network
namespace) they skip with the reason; under ``CI=true`` that fails the run
instead, so a CI machine never passes without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.e2e.harness import (
    AppServer,
    FakeCamera,
    chromium,
    connection_states,
    loopback_namespace,
    unavailable_reason,
)


def cannot_run(reason: str) -> NoReturn:
    """Skip this browser test with ``reason``; fail it under CI=true, where the browser tests must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run under CI=true: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture
def loopback() -> Iterator[None]:
    """This test's thread (and everything it starts) in a network namespace with only 127.0.0.1."""
    reason = unavailable_reason()
    if reason:
        cannot_run(reason)
    try:
        namespace = loopback_namespace()
        namespace.__enter__()
    except OSError as exc:
        cannot_run(f"cannot create a network namespace ({exc})")
    try:
        yield
    finally:
        namespace.__exit__(None, None, None)


@pytest.fixture
def app_server(loopback: None, tmp_path: Path) -> Iterator[Callable[[], AppServer]]:
    """Starts ``streamlit run server.py`` over ``tmp_path/data`` when called (after the test made its campaign)."""
    servers: list[AppServer] = []

    def start() -> AppServer:
        server = AppServer(tmp_path / "data").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        print(f"--- server log (tail) ---\n{server.log()}")  # shown by pytest when the test failed


@pytest.fixture
def browser(loopback: None, tmp_path: Path) -> Iterator[Callable[[str, str | None], tuple[Any, FakeCamera]]]:
    """Opens a headless Chromium whose fake webcam (a .y4m it streams) starts by showing ``fixture``."""
    drivers: list[tuple[str, Any]] = []

    def open_browser(name: str, fixture: str | None) -> tuple[Any, FakeCamera]:
        camera = FakeCamera(tmp_path / f"{name}.y4m", fixture)
        driver = chromium(camera.path, tmp_path / f"profile-{name}")
        drivers.append((name, driver))
        return driver, camera

    yield open_browser
    for name, driver in drivers:
        print(f"--- {name}: camera connection states (browser console) ---\n{connection_states(driver)}")
        try:  # what the page (and the camera preview in it) showed at the end, for a failing test
            driver.save_screenshot(str(tmp_path / f"screen-{name}.png"))
        except Exception as exc:  # the browser is gone
            print(f"(no screenshot of {name}: {exc!r})")
        driver.quit()
