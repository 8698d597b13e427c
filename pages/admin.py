"""Users & audit (admins): staff accounts, their roles and passwords, and the audit log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from accounts import manage
from accounts.passwords import MIN_LENGTH
from accounts.roles import ROLES, NotAllowed, Staff
from app_state import current_staff, store
from ui.messages import attempt, show_flash

signed_in = current_staff()
if signed_in is None or not signed_in.may("manage_users"):
    role = signed_in.role if signed_in else "none"
    st.error(str(NotAllowed(f"Your role ({role}) cannot manage staff accounts.")))
    st.stop()
staff: Staff = signed_in  # narrowed for the actions below
db = store()

st.title("Users & audit")
show_flash()
users = db.staff_users()
st.dataframe(pd.DataFrame([{"username": u.username, "role": u.role, "disabled": u.disabled,
                            "created": u.created_at, "last sign-in": u.last_sign_in} for u in users]),
             hide_index=True, width="stretch")
names = [u.username for u in users]

add_tab, role_tab, password_tab, disable_tab = st.tabs(["Add", "Change role", "Reset password", "Disable or enable"])
with add_tab, st.form("add_user", clear_on_submit=True):
    new_name = st.text_input("Username", help="1-64 letters, digits, '.', '_', '-' or '@'; case is ignored")
    new_role = st.selectbox("Role", ROLES, index=ROLES.index("marketer"))
    new_password = st.text_input("Initial password", type="password", help=f"At least {MIN_LENGTH} characters")
    if st.form_submit_button("Add user", type="primary"):
        attempt(lambda: f"Added {manage.add_user(db, staff, new_name, new_role, new_password).username}.")
with role_tab, st.form("set_role"):
    who = st.selectbox("User", names, key="role_user")
    role = st.selectbox("New role", ROLES, key="role_role")
    if st.form_submit_button("Change role") and who:
        attempt(lambda: f"{who} is now {manage.change_role(db, staff, who, role).role}.")
with password_tab, st.form("reset_password", clear_on_submit=True):
    who = st.selectbox("User", names, key="password_user")
    password = st.text_input("New password", type="password", help=f"At least {MIN_LENGTH} characters")
    if st.form_submit_button("Reset password") and who:
        attempt(lambda: f"New password set for {who}; {manage.reset_password(db, staff, who, password)} "
                        "session(s) ended.")
with disable_tab, st.form("disable_user"):
    who = st.selectbox("User", names, key="disable_user")
    disable = st.radio("Account", ["Disable", "Enable"], horizontal=True) == "Disable"
    if st.form_submit_button("Apply") and who:
        attempt(lambda: f"{manage.set_disabled(db, staff, who, disable).username} is "
                        f"{'disabled' if disable else 'enabled'}.")

st.header("Audit log")
entries = db.audit_entries(500)
st.caption(f"The newest {len(entries)} entries, newest first. Entries are never deleted.")
st.dataframe(pd.DataFrame([{"when (UTC)": e.logged_at, "who": e.username, "action": e.action,
                            "campaign": e.campaign_name or ("" if e.campaign_id is None else str(e.campaign_id)),
                            "detail": e.detail} for e in entries],
                          columns=["when (UTC)", "who", "action", "campaign", "detail"]),
             hide_index=True, width="stretch")
