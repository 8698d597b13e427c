"""The participant link of a campaign and its QR code."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import segno
import streamlit as st

from app_config import PUBLIC_URL_ENV as PUBLIC_URL_ENV  # named in the share panel's hint
from app_state import TOKEN_PARAM, config

DEFAULT_BASE_URL = "http://localhost:8501"


def base_url(browser_url: str | None, configured: str | None = None) -> str:
    """The app's root URL: the configured one, else the browser's, else the local default."""
    for candidate in (configured, browser_url):
        if candidate and candidate.strip():
            return candidate.strip().rstrip("/")
    return DEFAULT_BASE_URL


def current_base_url() -> str:
    """Root URL for links made on this run: the configured public URL or ``st.context.url``.

    ``st.context.url`` is the address in the staff member's browser without
    query parameters; on the campaigns page (the root page) it is the app root.
    """
    return base_url(st.context.url, config().public_url)


def participant_link(base: str, token: str) -> str:
    """``<base>/?c=<token>``: opens only the participant flow of that campaign."""
    return f"{base.rstrip('/')}/?{urlencode({TOKEN_PARAM: token})}"


def qr_png(text: str, scale: int = 6) -> bytes:
    """A PNG QR code of ``text`` (medium error correction, so a printed code survives a smudge)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
