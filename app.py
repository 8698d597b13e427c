"""The Streamlit script the server runs (started through ``server.py``: ``streamlit run server.py``).

``st.navigation`` is the only multipage mechanism and decides what a visitor
may see: a participant link (``/?c=<token>``) opens the participate page and
nothing else; a visitor without a staff session gets the sign-in page at
whatever staff address they asked for (so ``/results`` signs in to the
results); a signed-in staff member sees the pages their role allows
(``accounts.roles``). Streamlit's automatic ``pages/`` sidebar is never used.
A setting the app cannot use (``app_config``) stops every page with its reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

import streamlit as st

from accounts.roles import Staff
from app_config import ConfigError
from app_state import SIGN_IN_NEXT, TOKEN_PARAM, config, current_staff, init_session, sign_out
from compat.streamlit_cleanup import install_run_cleanup
from ui.messages import store_faults

install_run_cleanup()  # before this run ends: its clean-up is the first to be kept cheap
st.set_page_config(page_title="Emotion A/B testing", page_icon=":bar_chart:", layout="wide")
try:
    config()
except ConfigError as exc:
    logging.getLogger(__name__).error("bad setting: %s", exc)
    st.error(f"This app is not configured correctly and cannot be used right now. Please tell the "
             f"organisers: {exc}")
    st.stop()
init_session()

#: Query parameters of the sign-in page itself, never carried on to the page asked for.
_SIGN_IN_PARAMS = {"next", "error", "wait"}


def staff_pages(staff: Staff | None) -> list[st.Page]:
    """The staff pages ``staff``'s role may see (each with the action that shows it, None: any staff);
    all of them when ``staff`` is None: their addresses are where a signed-out visitor signs in."""
    pages: list[tuple[str | None, st.Page]] = [
        ("view_campaigns", st.Page("pages/campaigns.py", title="Campaigns", icon=":material/campaign:", url_path="",
                                   default=True)),
        ("view_results", st.Page("pages/results.py", title="Results", icon=":material/analytics:")),
        (None, st.Page("pages/model.py", title="Model", icon=":material/psychology:")),
        ("manage_users", st.Page("pages/admin.py", title="Users & audit", icon=":material/group:", url_path="admin")),
    ]
    if (Path(__file__).parent / "pages" / "preview.py").exists():  # the preview page ships separately
        pages.insert(2, ("preview", st.Page("pages/preview.py", title="Preview", icon=":material/visibility:",
                                            url_path="preview")))
    return [page for action, page in pages if staff is None or action is None or staff.may(action)]


def signed_in() -> Staff | None:
    """The staff member of this run; a database fault (held by a second server) stops the page in plain
    words, as on every staff page."""
    with store_faults():
        return current_staff()
    st.stop()


position: Literal["sidebar", "hidden"] = "hidden"
staff = None
participant = TOKEN_PARAM in st.query_params
if participant:
    pages = [st.Page("pages/participate.py", title="Take part", url_path="", default=True)]
elif (staff := signed_in()) is None:
    # The sign-in page answers at every staff address, so the address asked for survives it.
    pages = [st.Page("pages/login.py", title="Sign in", url_path=page.url_path, default=page.url_path == "",
                     visibility="visible" if page.url_path == "" else "hidden") for page in staff_pages(None)]
else:
    pages = staff_pages(staff)
    position = "sidebar"
# Every role's first page sits at the root URL (url_path ""), so signing in or
# out lands on the new role's first page instead of a "page not found".
navigation = st.navigation(pages, position=position)
if staff is None and not participant:
    asked = {key: value for key, value in st.query_params.to_dict().items() if key not in _SIGN_IN_PARAMS}
    st.session_state[SIGN_IN_NEXT] = f"/{navigation.url_path}" + (f"?{urlencode(asked)}" if asked else "")
if staff is not None:
    st.sidebar.caption(f"Signed in as {staff.username} ({staff.role})")
    if st.sidebar.button("Sign out"):
        sign_out()
        st.rerun()
if participant:
    navigation.run()  # the participate page words its own faults for participants
else:
    with store_faults():
        navigation.run()
