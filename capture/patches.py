"""Three small patches of third-party WebRTC code, installed once, each undoing one known failure.

``wrap_once`` installs each wrapper (and ``app_runtime``'s patch of Streamlit).

1. ``install_start_race_fix``: a start-up race in streamlit-webrtc 0.79.0.
   ``component._get_or_create_context`` treats a context as "orphaned" (and
   tears its stream down) when Streamlit's script-run counter moved by more
   than one since the component last rendered. That check is meant for
   multipage apps that navigate away and back, but the counter is updated
   asynchronously (when a run's "finished" message is sent), and the burst of
   reruns around START can move it by two between renders: the stream
   connects and about 40 ms later is torn down ("Context for key=... was not
   rendered for 1 script runs; resetting stale state"), in about 15% of
   starts. The participant page renders its one camera component in every
   run of the flow and never navigates away, so the check has nothing to
   catch there: the patch clears the context's last-rendered run count
   before the original function runs, which skips it. Remove this patch
   when streamlit-webrtc fixes the race (see docs E2E.md, section 3).

2. ``install_restart_fix``: streamlit-webrtc 0.79.0 loses track of a
   browser that stops its camera connection and starts a new one quickly (the
   page's own reconnect from the first ad on, or a participant pressing Stop
   and Start). Streamlit delivers only the latest component value, so the
   server can miss the "stopped" value in between and see only the new
   offer. Its bookkeeping then goes wrong in three ways, each seen in the
   three-browser test's server log (one browser got no picture for three
   minutes):

   a. a worker for the old offer is still there, so the new offer is never
      answered and the browser waits for an answer that never comes;
   b. the old worker is gone but its answer is marked sent, so a worker is
      made for an offer that was answered already, and its answer is never
      sent;
   c. after any reset while the browser still shows an offer, the cached
      state says "stopped" (the value did not change, so no callback sets
      it), and every run then tears the new worker down and makes another
      one from the same offer, about once a second, for minutes.

   The patch remembers which offer the context's worker answers: a different
   offer resets the context first (a), an offer already answered by a worker
   that has gone is not answered again (b), and a context whose browser
   shows an offer counts as signalling (c). Remove it with the start-race
   patch when streamlit-webrtc fixes these.

3. ``install_loopback_ice``: aioice (under aiortc) never offers 127.0.0.1 as
   an ICE candidate, so inside a loopback-only network (the end-to-end
   tests) the server has no candidate and the video stays black. Opt-in
   only (``EMOTION_AB_LOOPBACK_ICE=1``): real deployments must not offer it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_MARK = "_emotion_ab_patch"
_lock = threading.Lock()

Function = Callable[..., Any]


def wrap_once(owner: Any, name: str, make: Callable[[Function], Function]) -> None:
    """Replace ``owner.<name>`` with ``make(original)``, marked as ours, unless ours is already there
    (idempotent and thread-safe); the original stays reachable as the wrapper's ``__wrapped__``."""
    with _lock:
        original = getattr(owner, name)
        if getattr(original, _MARK, False):
            return
        wrapper = make(original)
        setattr(wrapper, _MARK, True)
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)


def wrapped(owner: Any, name: str) -> bool:
    """Whether ``owner.<name>`` is a wrapper installed by ``wrap_once``."""
    return bool(getattr(getattr(owner, name), _MARK, False))


def install_start_race_fix() -> None:
    """Wrap ``streamlit_webrtc.component._get_or_create_context`` to skip the orphan check (idempotent)."""
    import streamlit as st
    from streamlit_webrtc import component

    def make(original: Function) -> Function:
        def get_or_create_context(key: str) -> Any:
            context = st.session_state.get(key)
            if context is not None and hasattr(context, "_last_rendered_run_count"):
                context._last_rendered_run_count = None
            return original(key)

        return get_or_create_context

    wrap_once(component, "_get_or_create_context", make)


def start_race_fix_installed() -> bool:
    from streamlit_webrtc import component

    return wrapped(component, "_get_or_create_context")


#: The offer SDP the context's worker was made for (an attribute this patch keeps on the context).
ANSWERED_OFFER = "_emotion_ab_answered_offer"


def install_restart_fix() -> None:
    """Wrap ``streamlit_webrtc.component._handle_worker_lifecycle`` so that every new offer of the
    browser is answered once, and only once (idempotent)."""
    from streamlit_webrtc import component
    from streamlit_webrtc.component import WebRtcStreamerState

    def make(original: Function) -> Function:
        def handle_worker_lifecycle(context: Any, key: str, sdp_offer: dict[str, Any] | None, **kwargs: Any) -> None:
            offer = sdp_offer.get("sdp") if isinstance(sdp_offer, dict) else None
            if offer:
                answered = getattr(context, ANSWERED_OFFER, None)
                worker = context._get_worker()
                answer_out = context._sdp_answer_json is not None or context._is_sdp_answer_sent
                if answered is not None and offer != answered and (worker is not None or answer_out):
                    log.info("camera %s: the browser sent a new offer before the server saw its last "
                             "connection stop; answering the new one", key)
                    component._reset_context(context)  # (a)
                elif offer == answered and worker is None and answer_out:
                    sdp_offer = None  # (b): that worker's answer went out already; its connection is gone
                if not context.state.playing and not context.state.signalling:
                    context._set_state(WebRtcStreamerState(playing=False, signalling=True))  # (c)
            try:
                original(context, key, sdp_offer, **kwargs)
            finally:
                if offer and sdp_offer is not None and context._get_worker() is not None:
                    setattr(context, ANSWERED_OFFER, offer)

        return handle_worker_lifecycle

    wrap_once(component, "_handle_worker_lifecycle", make)


def restart_fix_installed() -> bool:
    from streamlit_webrtc import component

    return wrapped(component, "_handle_worker_lifecycle")


def loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """The host addresses aioice gathers candidates from, limited to loopback."""
    return ["127.0.0.1"] if use_ipv4 else []


def install_loopback_ice() -> None:
    """Make aioice offer 127.0.0.1 (and nothing else) as its host candidate (idempotent)."""
    from aioice import ice

    with _lock:
        if ice.get_host_addresses is not loopback_host_addresses:
            ice.get_host_addresses = loopback_host_addresses
