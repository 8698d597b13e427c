"""Staff login (marketers and analysts). Participants never see this page."""

from __future__ import annotations

import streamlit as st

from app_config import PASSWORD_ENV, PASSWORD_SECRET
from app_state import LOGGED_IN, PASSWORD_FILE, check_password, data_dir, password_is_generated, staff_password

staff_password()  # generates and announces one on a fresh install
st.title("Emotion A/B testing")
st.caption("Staff sign-in. Participants open the campaign link they were given and need no password.")
with st.form("login"):
    password = st.text_input("Password", type="password")
    submitted = st.form_submit_button("Sign in", type="primary")
if submitted:
    if check_password(password):
        st.session_state[LOGGED_IN] = True
        st.rerun()
    st.error("Wrong password.")
if password_is_generated():
    st.info(f"No password is configured, so one was generated on first start: it is printed in the terminal "
            f"that runs the server and saved in `{data_dir() / PASSWORD_FILE}`. Set `{PASSWORD_ENV}` "
            f"(or `{PASSWORD_SECRET}` in Streamlit secrets) to choose your own.")
