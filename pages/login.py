"""Staff sign-in. Participants never see this page.

A plain HTML form posts to ``/auth/sign-in`` (``server.py``), which sets the
session cookie Streamlit itself cannot set; ``next`` carries the address the
visitor asked for, and a refused sign-in comes back here with an error code.
"""

from __future__ import annotations

from html import escape

import streamlit as st

from accounts.cookies import safe_next
from accounts.signin import FIRST_ADMIN, error_message
from app_config import PASSWORD_ENV, PASSWORD_SECRET
from app_state import PASSWORD_FILE, SIGN_IN_NEXT, data_dir, ensure_accounts, password_is_generated, store

ensure_accounts()  # a fresh install gets its first admin (and its password announced) here
st.title("Emotion A/B testing")
st.caption("Staff sign-in. Participants open the campaign link they were given and need no password.")

params = st.query_params
target = safe_next(params.get("next"), default=safe_next(st.session_state.get(SIGN_IN_NEXT)))
wait = params.get("wait", "0")
message = error_message(params.get("error"), int(wait) if wait.isdigit() else 0)
if message:
    st.error(message)

# On a fresh install the only account is the first admin: its name is filled in.
accounts = store().staff_users()
fresh = len(accounts) == 1 and accounts[0].username == FIRST_ADMIN and accounts[0].last_sign_in is None
username = FIRST_ADMIN if fresh else ""
st.html(f"""
<form method="post" action="/auth/sign-in" class="emotion-ab-sign-in">
  <input type="hidden" name="next" value="{escape(target)}">
  <p><label>Username<br><input name="username" autocomplete="username" required maxlength="64"
     value="{escape(username)}" style="width: 20rem"></label></p>
  <p><label>Password<br><input name="password" type="password" autocomplete="current-password" required
     style="width: 20rem"></label></p>
  <p><button type="submit">Sign in</button></p>
</form>
""")
if password_is_generated():
    st.info(f"No password is configured, so the first account, `{FIRST_ADMIN}`, was given a generated one: "
            f"it is printed in the terminal that runs the server and saved in `{data_dir() / PASSWORD_FILE}`. "
            f"Set `{PASSWORD_ENV}` (or `{PASSWORD_SECRET}` in Streamlit secrets) before the first start to "
            "choose it yourself; more accounts are added on the Users & audit page.")
