"""WebRTC settings and the participant's one camera component (streamlit-webrtc, SENDONLY).

ICE servers: none by default (``{"iceServers": []}``, an empty list and not
None: with None streamlit-webrtc adds a public STUN server and may first make
HTTPS requests for TURN credentials). Deployments whose participants sit
behind NAT set STUN/TURN servers in Streamlit secrets (``ice_servers``, a
list of tables) or in ``$EMOTION_AB_ICE_SERVERS`` as JSON, e.g.
``[{"urls": ["stun:stun.example.org:3478"]}]``. ``EMOTION_AB_LOOPBACK_ICE=1``
makes the server offer 127.0.0.1 (tests in a loopback-only network).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, cast

from capture.frames import FrameJob, FrameQueue
from capture.holder import CaptureHolder

ICE_SERVERS_ENV = "EMOTION_AB_ICE_SERVERS"
ICE_SERVERS_SECRET = "ice_servers"
LOOPBACK_ICE_ENV = "EMOTION_AB_LOOPBACK_ICE"
CAMERA_KEY = "participant-camera"
#: About 640x480 at 15 fps: plenty for a face, half the work of 30 fps; no microphone.
MEDIA_CONSTRAINTS: dict[str, Any] = {
    "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15, "max": 15}},
    "audio": False,
}
_URL_SCHEMES = ("stun:", "turn:", "turns:")
_SERVER_KEYS = {"urls", "username", "credential"}
#: What the camera component says to the participant (shown inside its frame).
TRANSLATIONS = {
    "start": "Start camera",
    "stop": "Stop camera",
    "media_api_not_available": "This browser cannot use a camera here. Please open the link in a current "
                               "Chrome, Edge, Firefox or Safari.",
    "device_ask_permission": "Please allow this page to use your camera.",
    "device_not_available": "No camera was found. Connect a camera (or close other apps that use it) and "
                            "press Start camera again.",
    "device_access_denied": "Camera access was denied. Allow the camera for this site in your browser's "
                            "settings and press Start camera again - the study needs your camera.",
}


class RtcConfigError(ValueError):
    """The ICE server setting is not a list of {urls, username?, credential?} entries."""


class CameraTimeoutError(RuntimeError):
    """The server did not answer the browser's camera connection in time (a busy server); try again."""


def parse_ice_servers(value: Any, source: str = ICE_SERVERS_ENV) -> list[dict[str, Any]]:
    """Validate ICE servers given as JSON text or already-parsed data; raise RtcConfigError with the reason."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RtcConfigError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(value, list | tuple):
        raise RtcConfigError(f"{source} must be a list of ICE servers, got {type(value).__name__}")
    servers = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            raise RtcConfigError(f"{source}[{i}] must be an object with 'urls', got {entry!r}")
        unknown = set(entry) - _SERVER_KEYS
        if unknown:
            raise RtcConfigError(f"{source}[{i}] has unknown key(s) {sorted(unknown)}; allowed: "
                                 f"{sorted(_SERVER_KEYS)}")
        urls = entry.get("urls")
        url_list = [urls] if isinstance(urls, str) else urls
        if not isinstance(url_list, list | tuple) or not url_list or not all(
                isinstance(u, str) and u.startswith(_URL_SCHEMES) and len(u) > 6 for u in url_list):
            raise RtcConfigError(f"{source}[{i}].urls must be one or more stun:/turn:/turns: URLs, got {urls!r}")
        for key in ("username", "credential"):
            if key in entry and not isinstance(entry[key], str):
                raise RtcConfigError(f"{source}[{i}].{key} must be a text")
        if any(u.startswith(("turn:", "turns:")) for u in url_list) and not (
                entry.get("username") and entry.get("credential")):
            raise RtcConfigError(f"{source}[{i}] is a TURN server and needs a username and a credential")
        servers.append({"urls": list(url_list), **{k: entry[k] for k in ("username", "credential") if k in entry}})
    return servers


def rtc_configuration(environ: Mapping[str, str] | None = None,
                      secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The RTCConfiguration for both ends: secrets first, then the environment, else no ICE servers."""
    environ = os.environ if environ is None else environ
    if secrets is not None and secrets.get(ICE_SERVERS_SECRET) is not None:
        return {"iceServers": parse_ice_servers(secrets[ICE_SERVERS_SECRET], f"secrets {ICE_SERVERS_SECRET}")}
    raw = environ.get(ICE_SERVERS_ENV, "").strip()
    return {"iceServers": parse_ice_servers(raw) if raw else []}


def loopback_ice_enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get(LOOPBACK_ICE_ENV, "").strip().lower() in ("1", "true", "yes")


def frame_callback(holder: CaptureHolder, frames: FrameQueue) -> Callable[[Any], Any]:
    """The video frame callback: keep a copy of the frame when the holder says so, pass the frame on.

    Runs on streamlit-webrtc's frame thread, never the script thread: it calls
    no ``st.*``, touches only the lock-guarded holder and the bounded queue,
    and never blocks (a full queue drops its oldest frame).
    """

    def on_frame(frame: Any) -> Any:
        tag = holder.tag()
        if tag is not None:
            # to_ndarray returns a new array: the job owns its pixels, the stream keeps its frame.
            frames.put(FrameJob(tag, frame.to_ndarray(format="bgr24")))
        return frame

    return on_frame


def _streamlit_secrets() -> Mapping[str, Any]:
    import streamlit as st

    try:
        return {ICE_SERVERS_SECRET: st.secrets.get(ICE_SERVERS_SECRET)}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}


def browser_session() -> bool:
    """Whether this script run serves a live browser session, which WebRTC needs (not bare mode or AppTest)."""
    from streamlit_webrtc.session_info import get_this_session_info

    try:
        return get_this_session_info() is not None
    except Exception:  # AppTest's stand-in runtime has no session manager
        return False


def camera(callback: Callable[[Any], Any], *, playing: bool | None = None,
           secrets: Mapping[str, Any] | None = None) -> Any:
    """Render the participant's camera component (one key for the whole flow); returns its context.

    ``playing=False`` stops the camera (after the last ad). Returns None without a browser session
    (AppTest drives the frame callback itself). Raises RtcConfigError for a bad ICE setting and
    CameraTimeoutError when the connection could not be answered in time.
    """
    from streamlit_webrtc import WebRtcMode, webrtc_streamer
    from streamlit_webrtc.webrtc import SignallingTimeoutError

    from capture.patches import install_loopback_ice, install_restart_fix, install_start_race_fix

    config = rtc_configuration(secrets=_streamlit_secrets() if secrets is None else secrets)
    if not browser_session():
        return None
    install_start_race_fix()
    install_restart_fix()
    if loopback_ice_enabled():
        install_loopback_ice()
    try:
        return webrtc_streamer(
            key=CAMERA_KEY,
            mode=WebRtcMode.SENDONLY,
            rtc_configuration=config,
            media_stream_constraints=MEDIA_CONSTRAINTS,
            video_frame_callback=callback,
            desired_playing_state=playing,
            translations=cast(Any, TRANSLATIONS),  # a plain dict of the Translations keys
            video_html_attrs={"autoPlay": True, "muted": True, "style": {"width": "240px"}},
        )
    except SignallingTimeoutError as exc:
        # streamlit-webrtc answers the browser's offer within a fixed 10 s; on a busy server that can
        # run out, and its exception would abort the whole script run - and with it the page's
        # timers, freezing the page. The caller tells the participant to press Start again.
        raise CameraTimeoutError(str(exc)) from exc
