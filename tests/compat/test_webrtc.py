"""The two streamlit-webrtc fixes: the start-up race and quick restarts, each shown failing without its fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
import streamlit as st
from streamlit_webrtc import component
from streamlit_webrtc.component import WebRtcStreamerContext, WebRtcStreamerState

from compat import MARK
from compat.webrtc import (
    ANSWERED_OFFER,
    install_camera_fixes,
    install_restart_fix,
    install_start_race_fix,
    restart_fix_installed,
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


def unpatched(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Start the test with streamlit-webrtc's own ``component.<name>``; whatever was there is put back after."""
    current = getattr(component, name)
    monkeypatch.setattr(component, name, getattr(current, "__wrapped__", current))


@pytest.fixture
def run_counter(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """Streamlit's per-session script-run counter, which streamlit-webrtc reads (a bare process has none)."""
    session = SimpleNamespace(script_run_count=0)
    monkeypatch.setattr(component, "get_this_session_info", lambda: session)
    unpatched(monkeypatch, "_get_or_create_context")
    yield session
    st.session_state.pop(KEY, None)


def test_without_the_fix_a_counter_jump_of_two_tears_a_live_stream_down(run_counter: SimpleNamespace) -> None:
    """The race: START's burst of reruns moves the counter by two between two renders of the component."""
    context, worker = live_context(rendered_at_run=5)
    st.session_state[KEY] = context
    run_counter.script_run_count = 7
    assert component._get_or_create_context(KEY) is context
    assert worker.stopped and not context.state.playing  # "resetting stale state": the stream is gone


def test_with_the_fix_the_same_jump_keeps_the_stream(run_counter: SimpleNamespace) -> None:
    install_start_race_fix()
    install_start_race_fix()  # idempotent: one wrapper, not two
    assert start_race_fix_installed()
    assert not getattr(component._get_or_create_context.__wrapped__, MARK, False)  # type: ignore[attr-defined]
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


# -- the restart fix ----------------------------------------------------------------------------

class RerunRequestedError(Exception):
    """What st.rerun does inside a script run: ends the run (the next run starts afresh)."""


class OfferWorker:
    """Stands in for streamlit-webrtc's worker: answers the offer it was made for; records being stopped."""

    backend = "aiortc"
    made: list[OfferWorker] = []

    def __init__(self) -> None:
        self.offer: str | None = None
        self.local_description: SimpleNamespace | None = None
        self.stopped = False
        OfferWorker.made.append(self)  # held here: the context only keeps a weak reference

    def process_offer(self, sdp: str, type_: str, timeout: float) -> None:
        self.offer = sdp
        self.local_description = SimpleNamespace(sdp=f"answer to {sdp}", type="answer")

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def lifecycle(monkeypatch: pytest.MonkeyPatch) -> Any:
    """One script run's worker reconciliation: returns whether the run asked for a rerun."""
    monkeypatch.setattr(component, "rerun", lambda: (_ for _ in ()).throw(RerunRequestedError()))
    unpatched(monkeypatch, "_handle_worker_lifecycle")
    OfferWorker.made = []

    def run(context: WebRtcStreamerContext[Any, Any], offer: str | None) -> bool:
        if context._sdp_answer_json:  # as _get_or_create_context does: this run forwards the answer
            context._is_sdp_answer_sent = True
        try:
            component._handle_worker_lifecycle(context, KEY, {"sdp": offer, "type": "offer"} if offer else None,
                                               make_worker=cast(Any, OfferWorker))
        except RerunRequestedError:
            return True
        return False

    return run


def worker_of(context: WebRtcStreamerContext[Any, Any]) -> OfferWorker:
    """The context's worker, one of this module's stand-ins."""
    worker = context._get_worker()
    assert isinstance(worker, OfferWorker), worker
    return worker


def signalling(context: WebRtcStreamerContext[Any, Any]) -> None:
    """What streamlit-webrtc's on_change callback does when the browser's value holds an offer."""
    context._set_state(WebRtcStreamerState(playing=False, signalling=True))


def answered(context: WebRtcStreamerContext[Any, Any]) -> str | None:
    return json.loads(context._sdp_answer_json)["sdp"] if context._sdp_answer_json else None


def playing_context(lifecycle: Any) -> WebRtcStreamerContext[Any, Any]:
    """A context that answered offer "X" and whose stream then played (the browser's value drops the offer)."""
    context: WebRtcStreamerContext[Any, Any] = WebRtcStreamerContext(
        worker=None, state=WebRtcStreamerState(playing=False, signalling=True))
    assert lifecycle(context, "X")  # worker made, answer flushed with a rerun
    assert not lifecycle(context, "X")  # the answer went out
    context._set_state(WebRtcStreamerState(playing=True, signalling=False))
    assert not lifecycle(context, None)
    return context


def test_the_normal_start_and_stop_are_unchanged(lifecycle: Any) -> None:
    install_restart_fix()
    install_restart_fix()  # idempotent
    assert restart_fix_installed()
    context = playing_context(lifecycle)
    first = worker_of(context)
    assert answered(context) == "answer to X" and getattr(context, ANSWERED_OFFER) == "X"
    context._set_state(WebRtcStreamerState(playing=False, signalling=False))  # the browser stopped
    assert lifecycle(context, None)  # reset, rerun to clear the answer
    assert first.stopped and context._get_worker() is None and answered(context) is None
    signalling(context)  # Start again: a new offer
    assert lifecycle(context, "Y")
    assert answered(context) == "answer to Y" and worker_of(context).offer == "Y"


def test_without_the_fix_a_quick_restart_is_never_answered(lifecycle: Any) -> None:
    context = playing_context(lifecycle)
    signalling(context)  # the browser stopped and sent offer Y; the server only saw Y
    for _ in range(3):
        assert not lifecycle(context, "Y")
    assert worker_of(context).offer == "X" and answered(context) == "answer to X"  # Y waits for ever


def test_with_the_fix_a_quick_restart_gets_its_answer(lifecycle: Any) -> None:
    install_restart_fix()
    context = playing_context(lifecycle)
    old = worker_of(context)
    signalling(context)
    assert lifecycle(context, "Y")  # the old connection is torn down, the new offer answered
    assert old.stopped and worker_of(context).offer == "Y" and answered(context) == "answer to Y"
    assert not lifecycle(context, "Y") and len(OfferWorker.made) == 2  # and only once


def stale_state_context(lifecycle: Any) -> WebRtcStreamerContext[Any, Any]:
    """The browser shows offer X and got its answer; the cached state says "stopped" (a reset the
    browser's value did not follow, so no callback set the state back)."""
    context: WebRtcStreamerContext[Any, Any] = WebRtcStreamerContext(
        worker=None, state=WebRtcStreamerState(playing=False, signalling=True))
    assert lifecycle(context, "X") and not lifecycle(context, "X")
    context._set_state(WebRtcStreamerState(playing=False, signalling=False))
    return context


def test_without_the_fix_a_stale_state_makes_a_worker_every_other_run(lifecycle: Any) -> None:
    context = stale_state_context(lifecycle)
    for _ in range(6):
        assert lifecycle(context, "X")  # reset, make, reset, make...
    assert len(OfferWorker.made) == 4 and sum(w.stopped for w in OfferWorker.made) == 3


def test_with_the_fix_a_stale_state_keeps_its_worker(lifecycle: Any) -> None:
    install_restart_fix()
    context = stale_state_context(lifecycle)
    for _ in range(6):
        assert not lifecycle(context, "X")
    assert len(OfferWorker.made) == 1 and not OfferWorker.made[0].stopped
    assert context.state.signalling and answered(context) == "answer to X"


def test_an_offer_whose_worker_is_gone_is_not_answered_twice(lifecycle: Any) -> None:
    install_restart_fix()
    context: WebRtcStreamerContext[Any, Any] = WebRtcStreamerContext(
        worker=None, state=WebRtcStreamerState(playing=False, signalling=True))
    assert lifecycle(context, "X") and not lifecycle(context, "X")
    context._set_worker(None)  # the worker ended (the context holds it only weakly)
    assert not lifecycle(context, "X")
    assert len(OfferWorker.made) == 1 and context._get_worker() is None
    signalling(context)
    assert lifecycle(context, "Y")  # a new offer still is
    assert worker_of(context).offer == "Y" and answered(context) == "answer to Y"


def test_the_camera_installs_both_fixes(run_counter: SimpleNamespace, lifecycle: Any) -> None:
    install_camera_fixes()
    install_camera_fixes()  # idempotent
    assert start_race_fix_installed() and restart_fix_installed()
