"""Streamlit entry point: ``streamlit run app.py``.

``st.navigation`` is the only multipage mechanism and decides what a visitor
may see: a participant link (``/?c=<token>``) opens the participate page and
nothing else; staff see the login page until they sign in, then the campaigns,
results and model pages. Streamlit's automatic ``pages/`` sidebar is never used.
A setting the app cannot use (``app_config``) stops every page with its reason.
"""

from __future__ import annotations

import logging
from typing import Literal

import streamlit as st

from app_config import ConfigError
from app_state import LOGGED_IN, TOKEN_PARAM, config, init_session
from compat.streamlit_cleanup import install_run_cleanup

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

position: Literal["sidebar", "hidden"]

if TOKEN_PARAM in st.query_params:
    pages = [st.Page("pages/participate.py", title="Take part", url_path="", default=True)]
    position = "hidden"
elif not st.session_state[LOGGED_IN]:
    pages = [st.Page("pages/login.py", title="Sign in", url_path="", default=True)]
    position = "hidden"
else:
    pages = [st.Page("pages/campaigns.py", title="Campaigns", icon=":material/campaign:", url_path="",
                     default=True),
             st.Page("pages/results.py", title="Results", icon=":material/analytics:"),
             st.Page("pages/model.py", title="Model", icon=":material/psychology:")]
    position = "sidebar"
# Every role's first page sits at the root URL (url_path ""), so signing in or
# out lands on the new role's first page instead of a "page not found".
navigation = st.navigation(pages, position=position)
if position == "sidebar" and st.sidebar.button("Sign out"):
    st.session_state[LOGGED_IN] = False
    st.rerun()
navigation.run()
