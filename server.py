"""The app's server: ``streamlit run server.py`` (Streamlit finds ``app`` below and serves it).

``st.App`` runs ``app.py`` as usual and adds what a Streamlit script cannot do
itself: the sign-in and sign-out routes that set and clear the HttpOnly
session cookie, and the guard that keeps strangers away from the upload
endpoint (``accounts.web``). The first admin account is made at start-up, so
its password is in the terminal before anyone opens the page.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from accounts.web import UploadGuard, auth_routes
from app_state import cookie_key, ensure_accounts, store
from compat.navigation_only import use_navigation_only


@asynccontextmanager
async def _start(_app: object) -> AsyncIterator[None]:
    use_navigation_only()  # before any session: every page goes through app.py's sign-in
    try:
        await run_in_threadpool(ensure_accounts)
    except ValueError as exc:  # a bad setting: the first page shows it, with its reason
        logging.getLogger(__name__).error("staff accounts not ready: %s", exc)
    yield


app = st.App("app.py", routes=auth_routes(store, cookie_key, ensure_accounts),
             middleware=[Middleware(UploadGuard, store=store, key=cookie_key)], lifespan=_start)
