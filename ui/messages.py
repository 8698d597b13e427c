"""Messages that survive a rerun, one way to run an action and report its outcome, and what a page
says when the store itself fails (a server fault, never the visitor's mistake)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, NoReturn

import streamlit as st

from accounts.roles import Staff
from app_state import FLASH
from campaigns.errors import CampaignError, StoreUnavailableError
from ui.campaign_form import error_text

Kind = Literal["success", "info", "warning"]
#: What a participant reads when the study's database fails: their link is not to blame.
STUDY_UNAVAILABLE = "The study is temporarily unavailable."
TRY_LATER = "Please try again in a few minutes."


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

    Only :class:`CampaignError` is bad input (the store names the problem; a
    :class:`StoreUnavailableError` names the database fault); anything else is
    a bug and should surface as one.
    """
    try:
        done = action()
    except CampaignError as exc:
        st.error(error_text(exc))
        return
    flash("success", done)
    st.rerun()


def study_unavailable() -> NoReturn:
    """Tell a participant the study cannot be reached right now, and end the run."""
    st.warning(f"{STUDY_UNAVAILABLE}\n\n{TRY_LATER}")
    st.stop()


@contextmanager
def store_faults() -> Iterator[None]:
    """Around a staff page: a database fault (held by another server, unreadable, closed) is shown as
    a plain error with the store's own words instead of a traceback."""
    try:
        yield
    except StoreUnavailableError as exc:
        st.error(f"{error_text(exc)}\n\n{TRY_LATER} If it persists, the server log has the details.")


def staff_or_stop() -> Staff:
    """The signed-in staff member of a staff page; without one (app.py shows staff pages to signed-in
    staff only) or when the store fails (shown in plain words) the page stops."""
    from app_state import current_staff

    staff = None
    with store_faults():
        staff = current_staff()
    if staff is None:
        st.stop()
    return staff
