"""The two WebRTC patches: the streamlit-webrtc 0.79.0 start-up race, and loopback ICE candidates."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
import streamlit as st
from aioice import Connection, ice
from streamlit_webrtc import component
from streamlit_webrtc.component import WebRtcStreamerContext, WebRtcStreamerState

from capture.patches import (
    install_loopback_ice,
    install_start_race_fix,
    loopback_host_addresses,
    start_race_fix_installed,
)

KEY = "race-test-camera"


class StreamWorker:
    """Stands in for streamlit-webrtc's worker of a live stream: only records being stopped."""

    backend = "aiortc"

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def live_context(rendered_at_run: int) -> tuple[WebRtcStreamerContext[Any, Any], StreamWorker]:
    worker = StreamWorker()
    context: WebRtcStreamerContext[Any, Any] = WebRtcStreamerContext(
        worker=None, state=WebRtcStreamerState(playing=True, signalling=True))
    context._worker_ref = lambda: worker  # type: ignore[assignment,return-value]
    context._last_rendered_run_count = rendered_at_run
    return context, worker


@pytest.fixture
def run_counter(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Streamlit's per-session script-run counter, which streamlit-webrtc reads (a bare process has none)."""
    session = SimpleNamespace(script_run_count=0)
    monkeypatch.setattr(component, "get_this_session_info", lambda: session)
    # Put the original function back after the test, whatever the test installs.
    monkeypatch.setattr(component, "_get_or_create_context", component._get_or_create_context)
    yield session
    st.session_state.pop(KEY, None)


def test_without_the_fix_a_counter_jump_of_two_tears_a_live_stream_down(run_counter: SimpleNamespace) -> None:
    """The race: START's burst of reruns moves the counter by two between two renders of the component."""
    original = getattr(component._get_or_create_context, "__wrapped__", component._get_or_create_context)
    context, worker = live_context(rendered_at_run=5)
    st.session_state[KEY] = context
    run_counter.script_run_count = 7
    assert original(KEY) is context
    assert worker.stopped and not context.state.playing  # "resetting stale state": the stream is gone


def test_with_the_fix_the_same_jump_keeps_the_stream(run_counter: SimpleNamespace) -> None:
    install_start_race_fix()
    install_start_race_fix()  # idempotent: one wrapper, not two
    assert start_race_fix_installed()
    assert not getattr(component._get_or_create_context.__wrapped__, "_emotion_ab_patch", False)  # type: ignore[attr-defined]
    context, worker = live_context(rendered_at_run=5)
    st.session_state[KEY] = context
    run_counter.script_run_count = 7
    assert component._get_or_create_context(KEY) is context
    assert not worker.stopped and context.state.playing
    assert context._last_rendered_run_count == 7  # the original still bookkeeps the run


def test_the_fix_still_creates_a_context_on_first_render(run_counter: SimpleNamespace) -> None:
    install_start_race_fix()
    created = component._get_or_create_context(KEY)
    assert type(created).__name__ == "WebRtcStreamerContext" and st.session_state[KEY] is created


def test_loopback_ice_offers_a_127_0_0_1_host_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ice, "get_host_addresses", ice.get_host_addresses)  # restored after the test
    assert "127.0.0.1" not in ice.get_host_addresses(use_ipv4=True, use_ipv6=False)  # aioice skips loopback
    install_loopback_ice()
    assert ice.get_host_addresses is loopback_host_addresses
    assert loopback_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]

    async def gather() -> list[str]:
        connection = Connection(ice_controlling=True, components=1, use_ipv6=False)
        try:
            await connection.gather_candidates()
            return [c.host for c in connection.local_candidates]
        finally:
            await connection.close()

    assert asyncio.run(gather()) == ["127.0.0.1"]
