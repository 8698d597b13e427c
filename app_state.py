"""App-wide state: the settings, cached resources (one per server process) and the session-state keys.

This module is the one owner of ``st.session_state`` keys and of the
``st.cache_resource`` objects every page shares: the DuckDB store, the shipped
classifier and its card. It hands out the app's settings (``config()``, read
once by ``app_config``). Pages import from here; nothing runs at import time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import streamlit as st

# aiortc's SRTP binding (pylibsrtp, under streamlit-webrtc) kills the server process with a
# segmentation fault when it is first imported after TensorFlow (TensorFlow's global crypto
# symbols clash with its own), so the WebRTC stack is imported with this module, before any
# page can load the model.
import streamlit_webrtc  # noqa: F401

from accounts import cookies, signin
from accounts.roles import Staff
from app_config import AppConfig, load_config
from campaigns.simulate import SimulationConfig, simulate
from campaigns.store import Store
from emotion.card import ModelCard, ModelCardError

log = logging.getLogger(__name__)

DEMO_NAME = "Demo campaign"
#: Query parameter of the participant link: ``/?c=<campaign token>``.
TOKEN_PARAM = "c"
PASSWORD_FILE = signin.PASSWORD_FILE

# Session-state keys: the only place they are spelled.
#: A signed staff session token held by this browser session instead of a cookie: how AppTest signs
#: in, since it cannot send cookies. It is checked exactly like the cookie (signature, live session).
STAFF_TOKEN = "staff_token"
#: The local path (and query) the visitor asked for, where sign-in takes them.
SIGN_IN_NEXT = "sign_in_next"
#: The participant flow's state object (owned by the participate page's flow module).
PARTICIPANT_FLOW = "participant_flow"
#: Results page: the campaign picked and the confidence threshold per campaign id.
RESULTS_CAMPAIGN = "results_campaign"
RESULTS_THRESHOLD = "results_threshold"
#: Campaigns page: the campaign being edited.
EDIT_CAMPAIGN = "edit_campaign"

DEFAULTS: dict[str, Any] = {STAFF_TOKEN: None, SIGN_IN_NEXT: "/", PARTICIPANT_FLOW: None, RESULTS_CAMPAIGN: None,
                            RESULTS_THRESHOLD: {}, EDIT_CAMPAIGN: None}


def init_session() -> None:
    """Give every session key its default once per browser session."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict) else value


def config() -> AppConfig:
    """The app's settings, read once per process (raises app_config.ConfigError for a bad setting)."""
    return load_config()


def data_dir() -> Path:
    """The app's data folder (``AppConfig.data_dir``: ``$EMOTION_AB_DATA`` or ``data/``)."""
    return config().data_dir


def store() -> Store:
    """The app's one DuckDB store (thread-safe, shared by all sessions); a demo campaign on first start."""
    return _open_store(str(data_dir().resolve()))


@st.cache_resource(show_spinner=False)  # the pages say what they wait for, never a function name
def _open_store(folder_name: str) -> Store:
    # Keyed by folder, so one process can serve (or test) several data folders.
    folder = Path(folder_name)
    db = Store.open(folder / "app.duckdb", media_dir=folder / "media")
    # Sessions do not survive a server restart: participants left "started" by an earlier process
    # are abandoned (only those idle for a while, in case this cache is ever rebuilt mid-session).
    db.abandon_stale_participants()
    if not any(c.name == DEMO_NAME for c in db.campaigns()):
        simulate(db, SimulationConfig(participants=40, seed=0, name=DEMO_NAME))
    return db


@st.cache_resource(show_spinner=False)
def shipped_card() -> ModelCard | None:
    from emotion.classifier import DEFAULT_MODEL_DIR

    try:
        return ModelCard.load(DEFAULT_MODEL_DIR)
    except ModelCardError:
        return None


@st.cache_resource(show_spinner=False)
def classifier() -> Any:
    """The shipped EmotionClassifier, loaded once; its ``predict`` is thread-safe."""
    from emotion.classifier import EmotionClassifier

    return EmotionClassifier()


# --- staff accounts ---
def ensure_accounts() -> None:
    """Create the first admin account when there is none (``accounts.signin.ensure_first_admin``)."""
    signin.ensure_first_admin(store(), data_dir(), config().staff_password)


def cookie_key() -> str:
    """The key that signs this data folder's session cookies."""
    return _cookie_key(str(data_dir().resolve()))


@st.cache_resource(show_spinner=False)
def _cookie_key(folder_name: str) -> str:
    return cookies.session_key(Path(folder_name))


def _session_token() -> str | None:
    # The type checks matter: AppTest's st.context answers every cookie with a stand-in object.
    cookie = st.context.cookies.get(cookies.COOKIE_NAME)
    if isinstance(cookie, str) and cookie:
        return cookie
    token = st.session_state.get(STAFF_TOKEN)
    return token if isinstance(token, str) and token else None


def current_staff() -> Staff | None:
    """The signed-in staff member of this run: a validly signed cookie (or STAFF_TOKEN) naming a live,
    not idle session of an enabled account; None otherwise."""
    token = _session_token()
    if not token:
        return None
    return signin.resolve(store(), cookie_key(), token)


def sign_out() -> None:
    """End this browser's staff session (audited); its cookie, if any, then names no session."""
    signin.sign_out(store(), cookie_key(), _session_token())
    st.session_state[STAFF_TOKEN] = None


def password_is_generated() -> bool:
    """Whether the first admin still has the generated password in ``admin_password.txt``.

    A configured password wins over a file left from an earlier start, and once ``admin`` has signed in
    the file is no longer worth pointing to.
    """
    if config().staff_password is not None or not (data_dir() / PASSWORD_FILE).is_file():
        return False
    admin = store().staff_user(signin.FIRST_ADMIN)
    return admin is not None and admin.last_sign_in is None


# --- staff pages ---
# Session keys of the campaigns, results and model pages (added here so this
# module stays the one place that spells session keys).
#: Campaigns page: bumped after a save so the form's widgets start empty again.
CAMPAIGN_FORM_ROUND = "campaign_form_round"
#: One message (kind, text) shown once on the next run, after an action reruns the page.
FLASH = "staff_flash"
DEFAULTS.update({CAMPAIGN_FORM_ROUND: 0, FLASH: None})


def campaign_labels() -> tuple[str, ...]:
    """Labels new campaigns are scored with: the shipped model card's, else the design's default."""
    from campaigns.types import DEFAULT_LABELS

    card = shipped_card()
    return card.labels if card is not None else DEFAULT_LABELS


# --- participant flow ---
def participant_session(campaign: Any, study: Any = None, external_id: str | None = None,
                        key: str = PARTICIPANT_FLOW) -> Any:
    """This browser session's ParticipantSession for ``campaign`` (made on first use, kept under ``key``).

    A different panel id in the link starts afresh while the first one has not consented yet.
    """
    from capture.flow import Step
    from capture.session import ParticipantSession

    current = st.session_state.get(key)
    same = (current is not None and current.campaign_id == campaign.id
            and (current.external_id == external_id or current.flow.step is not Step.CONSENT))
    if not same:
        current = ParticipantSession(campaign, study=study, external_id=external_id)
        st.session_state[key] = current
    return current


#: The staff preview's ParticipantSession (apart from any real participation in the same browser).
PREVIEW_FLOW = "preview_flow"
#: The campaign the preview page shows.
PREVIEW_CAMPAIGN = "preview_campaign"
DEFAULTS.update({PREVIEW_FLOW: None, PREVIEW_CAMPAIGN: None})
#: Campaigns page: the study setup form's refusals by campaign id (section → message).
STUDY_ERRORS = "study_errors"
DEFAULTS.update({STUDY_ERRORS: {}})
