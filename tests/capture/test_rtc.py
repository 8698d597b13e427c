"""The camera component: its constraints, its ICE servers from the app's settings, no browser session."""

from __future__ import annotations

from typing import Any

import pytest

from app_config import ICE_SERVERS_ENV, AppConfig, ConfigError
from capture.rtc import MEDIA_CONSTRAINTS, camera

TURN = {"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}


def test_the_camera_asks_for_about_640x480_at_15_fps_and_no_microphone() -> None:
    video = MEDIA_CONSTRAINTS["video"]
    assert video["width"]["ideal"] == 640 and video["height"]["ideal"] == 480
    assert video["frameRate"]["max"] == 15 and MEDIA_CONSTRAINTS["audio"] is False


def test_without_a_browser_session_the_camera_renders_nothing() -> None:
    assert camera(lambda frame: frame, config=AppConfig()) is None


def test_the_camera_uses_the_configured_ice_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit_webrtc
    from streamlit_webrtc import component

    for patched in ("_get_or_create_context", "_handle_worker_lifecycle"):  # camera() installs compat.webrtc
        monkeypatch.setattr(component, patched, getattr(component, patched))
    seen: list[dict[str, object]] = []

    def webrtc_streamer(**kwargs: Any) -> str:
        seen.append(kwargs["rtc_configuration"])
        return "context"

    monkeypatch.setattr("capture.rtc.browser_session", lambda: True)
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", webrtc_streamer)
    config = AppConfig.from_mappings({}, {"ice_servers": [TURN]})
    assert camera(lambda frame: frame, config=config) == "context"
    assert camera(lambda frame: frame, config=AppConfig()) == "context"
    assert seen == [{"iceServers": [{**TURN, "urls": [TURN["urls"]]}]}, {"iceServers": []}]


def test_the_camera_refuses_a_bad_setting_before_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ICE_SERVERS_ENV, "[1]")
    with pytest.raises(ConfigError, match="must be an object"):
        camera(lambda frame: frame)
