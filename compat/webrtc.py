"""Two fixes of streamlit-webrtc's camera bookkeeping, each undoing one failure seen in the browser tests.

1. ``install_start_race_fix``: a start-up race.
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
   before the original function runs, which skips it.
   Upstream: the check came with pull request whitphx/streamlit-webrtc#2478
   (for issue #2475, a worker surviving page navigation); no issue about
   the race itself was found. Remove the patch when streamlit-webrtc fixes
   the race.

2. ``install_restart_fix``: streamlit-webrtc loses track of a browser that
   stops its camera connection and starts a new one quickly (the page's own
   reconnect from the first ad on, or a participant pressing Stop and
   Start). Streamlit delivers only the latest component value, so the server
   can miss the "stopped" value in between and see only the new offer. Its
   bookkeeping then goes wrong in three ways, each seen in the three-browser
   test's server log (one browser got no picture for three minutes):

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
   shows an offer counts as signalling (c).
   Upstream: no issue about a missed stop was found; the related pull
   requests whitphx/streamlit-webrtc#2529 and #2540 (resetting a context
   whose browser is idle) are in 0.79.0 and do not cover it, because the
   server never sees the browser idle. Remove the patch with the first one when
   streamlit-webrtc handles a new offer on a live context.
"""

from __future__ import annotations

import logging
from typing import Any

from compat import Function, wrap_once, wrapped

log = logging.getLogger(__name__)

#: The versions these patches were written for (``tests/compat`` checks the installed and pinned ones).
WRITTEN_FOR = {"streamlit-webrtc": "0.79.0"}


def install_camera_fixes() -> None:
    """Install both fixes (idempotent); the camera component calls this before every render."""
    install_start_race_fix()
    install_restart_fix()


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


def register_component() -> None:
    """Register streamlit-webrtc's component with the running Streamlit server if it is not yet.

    ``components.declare_component`` registers a component only when it runs inside a script run, and
    streamlit-webrtc declares its component when it is first imported. ``server.py`` imports the app
    (and so streamlit-webrtc, which must come before TensorFlow) when the server starts, outside any
    script run: the component is then never registered, its frontend answers 404 and the camera box
    never appears. Called from a script run, this registers it once.
    Upstream: Streamlit registers a component only with a script run context
    (``components/v1/component_registry.py``); no issue about apps imported at start-up was found.
    Remove this when Streamlit registers components declared outside a script run.
    """
    from streamlit import runtime
    from streamlit_webrtc import component

    if not runtime.exists():
        return
    registry = runtime.get_instance().component_registry
    declared = component._component_func
    if registry.get_component_path(declared.name) is None:
        registry.register_component(declared)
