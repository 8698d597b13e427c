"""App-wide state: the settings, cached resources (one per server process) and the session-state keys.

This module is the one owner of ``st.session_state`` keys and of the
``st.cache_resource`` objects every page shares: the DuckDB store, the shipped
classifier and its card. It hands out the app's settings (``config()``, read
once by ``app_config``). Pages import from here; nothing runs at import time.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path
from typing import Any

import streamlit as st

# aiortc's SRTP binding (pylibsrtp, under streamlit-webrtc) kills the server process with a
# segmentation fault when it is first imported after TensorFlow (TensorFlow's global crypto
# symbols clash with its own), so the WebRTC stack is imported with this module, before any
# page can load the model.
import streamlit_webrtc  # noqa: F401

from app_config import PASSWORD_ENV, AppConfig, load_config
from campaigns.simulate import SimulationConfig, simulate
from campaigns.store import Store
from emotion.card import ModelCard, ModelCardError

log = logging.getLogger(__name__)

DEMO_NAME = "Demo campaign"
#: Query parameter of the participant link: ``/?c=<campaign token>``.
TOKEN_PARAM = "c"
PASSWORD_FILE = "admin_password.txt"

# Session-state keys: the only place they are spelled.
LOGGED_IN = "logged_in"
#: The participant flow's state object (owned by the participate page's flow module).
PARTICIPANT_FLOW = "participant_flow"
#: Results page: the campaign picked and the confidence threshold per campaign id.
RESULTS_CAMPAIGN = "results_campaign"
RESULTS_THRESHOLD = "results_threshold"
#: Campaigns page: the campaign being edited.
EDIT_CAMPAIGN = "edit_campaign"

DEFAULTS: dict[str, Any] = {LOGGED_IN: False, PARTICIPANT_FLOW: None, RESULTS_CAMPAIGN: None,
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


@st.cache_resource
def _open_store(folder_name: str) -> Store:
    # Keyed by folder, so one process can serve (or test) several data folders.
    folder = Path(folder_name)
    folder.mkdir(parents=True, exist_ok=True)
    db = Store.open(folder / "app.duckdb", media_dir=folder / "media")
    # Sessions do not survive a server restart: participants left "started" by an earlier process
    # are abandoned (only those idle for a while, in case this cache is ever rebuilt mid-session).
    db.abandon_stale_participants()
    if not any(c.name == DEMO_NAME for c in db.campaigns()):
        simulate(db, SimulationConfig(participants=40, seed=0, name=DEMO_NAME))
    return db


@st.cache_resource
def shipped_card() -> ModelCard | None:
    from emotion.classifier import DEFAULT_MODEL_DIR

    try:
        return ModelCard.load(DEFAULT_MODEL_DIR)
    except ModelCardError:
        return None


@st.cache_resource
def classifier() -> Any:
    """The shipped EmotionClassifier, loaded once; its ``predict`` is thread-safe."""
    from emotion.classifier import EmotionClassifier

    return EmotionClassifier()


def staff_password() -> str:
    """The staff password: secrets ``app_password``, else ``$EMOTION_AB_PASSWORD``, else a generated one.

    A generated password is written to ``<data>/admin_password.txt`` (owner-only)
    and logged once, the way notebook servers hand out their first token, so a
    fresh install is never open to anyone who finds its address.
    """
    configured = config().staff_password
    if configured is not None:
        return configured
    path = data_dir() / PASSWORD_FILE
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    log.warning("no %s set: generated staff password %s (saved in %s)", PASSWORD_ENV, password, path)
    print(f"\n  Staff password (no {PASSWORD_ENV} set): {password}  -- saved in {path}\n", flush=True)
    return password


def password_is_generated() -> bool:
    """Whether the password in force is the generated one in ``admin_password.txt``.

    A configured password wins over a file left from an earlier start, so the file alone says nothing.
    """
    return config().staff_password is None and (data_dir() / PASSWORD_FILE).is_file()


def check_password(candidate: str) -> bool:
    return hmac.compare_digest(candidate.encode(), staff_password().encode())


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
def participant_session(campaign: Any) -> Any:
    """This browser session's ParticipantSession for ``campaign`` (made on first use, kept under PARTICIPANT_FLOW)."""
    from capture.session import ParticipantSession

    current = st.session_state.get(PARTICIPANT_FLOW)
    if getattr(current, "campaign_id", None) != campaign.id:
        current = ParticipantSession(campaign)
        st.session_state[PARTICIPANT_FLOW] = current
    return current
