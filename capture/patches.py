"""Two small patches of third-party WebRTC code, installed once, each undoing one known failure.

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

2. ``install_loopback_ice``: aioice (under aiortc) never offers 127.0.0.1 as
   an ICE candidate, so inside a loopback-only network (the end-to-end
   tests) the server has no candidate and the video stays black. Opt-in
   only (``EMOTION_AB_LOOPBACK_ICE=1``): real deployments must not offer it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_MARK = "_emotion_ab_patch"
_lock = threading.Lock()


def install_start_race_fix() -> None:
    """Wrap ``streamlit_webrtc.component._get_or_create_context`` to skip the orphan check (idempotent)."""
    import streamlit as st
    from streamlit_webrtc import component

    with _lock:
        original: Callable[[str], Any] = component._get_or_create_context
        if getattr(original, _MARK, False):
            return

        def get_or_create_context(key: str) -> Any:
            context = st.session_state.get(key)
            if context is not None and hasattr(context, "_last_rendered_run_count"):
                context._last_rendered_run_count = None
            return original(key)

        setattr(get_or_create_context, _MARK, True)
        get_or_create_context.__wrapped__ = original  # type: ignore[attr-defined]
        component._get_or_create_context = get_or_create_context


def start_race_fix_installed() -> bool:
    from streamlit_webrtc import component

    return bool(getattr(component._get_or_create_context, _MARK, False))


def loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """The host addresses aioice gathers candidates from, limited to loopback."""
    return ["127.0.0.1"] if use_ipv4 else []


def install_loopback_ice() -> None:
    """Make aioice offer 127.0.0.1 (and nothing else) as its host candidate (idempotent)."""
    from aioice import ice

    with _lock:
        if ice.get_host_addresses is not loopback_host_addresses:
            ice.get_host_addresses = loopback_host_addresses
