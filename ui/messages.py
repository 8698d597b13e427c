"""Messages that survive a rerun, and one way to run an action and report its outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import streamlit as st

from app_state import FLASH
from campaigns.errors import CampaignError
from ui.campaign_form import error_text

Kind = Literal["success", "info", "warning"]


def flash(kind: Kind, text: str) -> None:
    """Remember a message for the next run (actions rerun the page to show fresh data)."""
    st.session_state[FLASH] = (kind, text)


def show_flash() -> None:
    """Show the remembered message once."""
    message = st.session_state.get(FLASH)
    if message:
        st.session_state[FLASH] = None
        kind, text = message
        getattr(st, kind)(text)


def attempt(action: Callable[[], str]) -> None:
    """Run ``action``; on success flash what it returns and rerun, on bad input show the store's message.

    Only :class:`CampaignError` is bad input (the store names the problem);
    anything else is a bug and should surface as one.
    """
    try:
        done = action()
    except CampaignError as exc:
        st.error(error_text(exc))
        return
    flash("success", done)
    st.rerun()
