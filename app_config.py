"""The app's settings: one frozen ``AppConfig``, read once per server process.

This is the only module that reads ``os.environ`` or ``st.secrets``; the
rest of the app asks ``app_state.config()`` for the object (or is handed
it). Where a setting can come from both, Streamlit secrets win over the
environment. Every value is checked when the object is built, so a bad
setting fails with its name and the reason, on the first page anyone
opens. Changing a setting needs a server restart.

| Setting | Environment variable | Secret key | Default | Meaning |
|---|---|---|---|---|
| data folder | `EMOTION_AB_DATA` | - | `data` | the database, uploaded ads, the cookie key, a generated password |
| first admin | `EMOTION_AB_PASSWORD` | `app_password` | generated | password of `admin`, made on first start |
| public URL | `EMOTION_AB_PUBLIC_URL` | - | the browser's address | base of participant links, QR codes |
| ICE servers | `EMOTION_AB_ICE_SERVERS` | `ice_servers` | none (`[]`) | STUN/TURN servers for NAT |

- data folder: relative to the working directory, made on first start; it
  holds ``app.duckdb``, ``media/``, ``session_key`` (signs the staff session
  cookies) and ``admin_password.txt``. Its value is used as given (no trimming).
- first admin: the password, read only while there is no staff account yet, to
  create the account ``admin`` (role admin); further accounts are added on
  the Users & audit page (docs/access.md). An empty value counts as unset.
  With none set, one is generated, printed in the server's terminal (never
  logged) and saved in ``<data folder>/admin_password.txt`` (owner-only).
- public URL: set it where staff reach the app by another address than
  participants (behind a proxy); ``http://`` or ``https://`` with a host, no
  query. Unset, links use the address in the staff member's browser, else
  ``http://localhost:8501``.
- ICE servers: a JSON list in the environment, a list of tables in secrets,
  e.g. ``[{"urls": ["stun:stun.example.org:3478"]}]``; a TURN entry needs
  ``username`` and ``credential``. Unset, browser and server connect
  directly (no STUN server is asked).

A blank public URL or ICE setting counts as unset.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DATA_ENV = "EMOTION_AB_DATA"
PASSWORD_ENV = "EMOTION_AB_PASSWORD"
PUBLIC_URL_ENV = "EMOTION_AB_PUBLIC_URL"
ICE_SERVERS_ENV = "EMOTION_AB_ICE_SERVERS"
PASSWORD_SECRET = "app_password"
ICE_SERVERS_SECRET = "ice_servers"
DEFAULT_DATA_DIR = "data"

_ICE_URL_SCHEMES = ("stun:", "turn:", "turns:")
_ICE_KEYS = {"urls", "username", "credential"}


class ConfigError(ValueError):
    """A setting has a value the app cannot use; the message names the setting and says why."""


class IceServersError(ConfigError):
    """The ICE server setting is not a list of {urls, username?, credential?} entries."""


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server, as both ends of the WebRTC connection are given it."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The RTCIceServer entry (``username``/``credential`` only when set)."""
        entry: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            entry["username"] = self.username
        if self.credential is not None:
            entry["credential"] = self.credential
        return entry


@dataclass(frozen=True)
class AppConfig:
    """Every setting of the app, validated (see the module docstring for the table)."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    #: None: no password configured (the app generates one in the data folder).
    staff_password: str | None = None
    #: None: links use the browser's address. Never ends with "/".
    public_url: str | None = None
    ice_servers: tuple[IceServer, ...] = ()

    @classmethod
    def from_mappings(cls, environ: Mapping[str, str], secrets: Mapping[str, Any]) -> AppConfig:
        """Build from explicit mappings (the environment and Streamlit secrets); raise ConfigError."""
        return cls(data_dir=_data_dir(environ.get(DATA_ENV, DEFAULT_DATA_DIR)),
                   staff_password=_password(secrets.get(PASSWORD_SECRET), environ.get(PASSWORD_ENV)),
                   public_url=_public_url(environ.get(PUBLIC_URL_ENV)),
                   ice_servers=_ice_servers(secrets, environ))

    def rtc_configuration(self) -> dict[str, Any]:
        """The RTCConfiguration for both ends: ``{"iceServers": [...]}``, an empty list when none is set
        (never None: with None streamlit-webrtc adds a public STUN server)."""
        return {"iceServers": [server.as_dict() for server in self.ice_servers]}


@functools.cache
def load_config() -> AppConfig:
    """The process's AppConfig, built from ``os.environ`` and ``st.secrets`` on first use.

    A ConfigError is not cached: every call raises it again until the setting is fixed and the
    server restarted. Tests that change the environment call ``load_config.cache_clear()``.
    """
    return AppConfig.from_mappings(os.environ, _streamlit_secrets())


def _streamlit_secrets() -> dict[str, Any]:
    """The app's keys of ``st.secrets``; empty when there is no secrets file."""
    import streamlit as st

    try:
        return {key: st.secrets.get(key) for key in (PASSWORD_SECRET, ICE_SERVERS_SECRET)}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}


def _data_dir(value: str) -> Path:
    path = Path(value)
    if path.is_file():
        raise ConfigError(f"{DATA_ENV}={value!r} is a file; it must name a folder (made on first start)")
    return path


def _password(secret: Any, environ_value: str | None) -> str | None:
    configured = secret or environ_value
    return str(configured) if configured else None


def _public_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{PUBLIC_URL_ENV} must be an http:// or https:// address with a host, "
                          f"got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"{PUBLIC_URL_ENV} must not have a query or fragment (participant links add "
                          f"their own), got {value!r}")
    return url


def _ice_servers(secrets: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[IceServer, ...]:
    if secrets.get(ICE_SERVERS_SECRET) is not None:
        return parse_ice_servers(secrets[ICE_SERVERS_SECRET], f"secrets {ICE_SERVERS_SECRET}")
    raw = environ.get(ICE_SERVERS_ENV, "").strip()
    return parse_ice_servers(raw) if raw else ()


def parse_ice_servers(value: Any, source: str = ICE_SERVERS_ENV) -> tuple[IceServer, ...]:
    """Validate ICE servers given as JSON text or already-parsed data; raise IceServersError with the reason."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise IceServersError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(value, list | tuple):
        raise IceServersError(f"{source} must be a list of ICE servers, got {type(value).__name__}")
    return tuple(_ice_server(entry, f"{source}[{i}]") for i, entry in enumerate(value))


def _ice_server(entry: Any, where: str) -> IceServer:
    if not isinstance(entry, Mapping):
        raise IceServersError(f"{where} must be an object with 'urls', got {entry!r}")
    unknown = set(entry) - _ICE_KEYS
    if unknown:
        raise IceServersError(f"{where} has unknown key(s) {sorted(unknown)}; allowed: {sorted(_ICE_KEYS)}")
    urls = entry.get("urls")
    url_list = [urls] if isinstance(urls, str) else urls
    if not isinstance(url_list, list | tuple) or not url_list or not all(
            isinstance(u, str) and u.startswith(_ICE_URL_SCHEMES) and len(u) > 6 for u in url_list):
        raise IceServersError(f"{where}.urls must be one or more stun:/turn:/turns: URLs, got {urls!r}")
    for key in ("username", "credential"):
        if key in entry and not isinstance(entry[key], str):
            raise IceServersError(f"{where}.{key} must be a text")
    if any(u.startswith(("turn:", "turns:")) for u in url_list) and not (
            entry.get("username") and entry.get("credential")):
        raise IceServersError(f"{where} is a TURN server and needs a username and a credential")
    return IceServer(tuple(url_list), entry.get("username"), entry.get("credential"))
