"""The participant's one camera component (streamlit-webrtc, SENDONLY) and its frame callback.

ICE servers come from the app's settings (``AppConfig.ice_servers``): none
by default (``{"iceServers": []}``, an empty list and not None: with None
streamlit-webrtc adds a public STUN server and may first make HTTPS
requests for TURN credentials). Deployments whose participants sit behind
NAT set STUN/TURN servers (see ``app_config``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from app_config import AppConfig, load_config
from capture.frames import FrameJob, FrameQueue
from capture.holder import CaptureHolder

CAMERA_KEY = "participant-camera"
#: About 640x480 at 15 fps: plenty for a face, half the work of 30 fps; no microphone.
MEDIA_CONSTRAINTS: dict[str, Any] = {
    "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15, "max": 15}},
    "audio": False,
}
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


class CameraTimeoutError(RuntimeError):
    """The server did not answer the browser's camera connection in time (a busy server); try again."""


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


def browser_session() -> bool:
    """Whether this script run serves a live browser session, which WebRTC needs (not bare mode or AppTest)."""
    from streamlit_webrtc.session_info import get_this_session_info

    try:
        return get_this_session_info() is not None
    except Exception:  # AppTest's stand-in runtime has no session manager
        return False


def camera(callback: Callable[[Any], Any], *, playing: bool | None = None,
           config: AppConfig | None = None) -> Any:
    """Render the participant's camera component (one key for the whole flow); returns its context.

    ``playing=False`` stops the camera (after the last ad). ``config`` defaults to the app's
    settings (``app_config.load_config``). Returns None without a browser session (AppTest drives
    the frame callback itself). Raises ConfigError for a bad setting and CameraTimeoutError when
    the connection could not be answered in time.
    """
    from streamlit_webrtc import WebRtcMode, webrtc_streamer
    from streamlit_webrtc.webrtc import SignallingTimeoutError

    from compat.webrtc import install_camera_fixes, register_component

    rtc_configuration = (load_config() if config is None else config).rtc_configuration()
    if not browser_session():
        return None
    install_camera_fixes()
    register_component()
    try:
        return webrtc_streamer(
            key=CAMERA_KEY,
            mode=WebRtcMode.SENDONLY,
            rtc_configuration=rtc_configuration,
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
