"""WebRTC settings: ICE servers from secrets or the environment (with bad values), constraints, camera."""

from __future__ import annotations

import json

import pytest

from capture.rtc import (
    ICE_SERVERS_ENV,
    MEDIA_CONSTRAINTS,
    RtcConfigError,
    camera,
    loopback_ice_enabled,
    parse_ice_servers,
    rtc_configuration,
)

STUN = {"urls": ["stun:stun.example.org:3478"]}
TURN = {"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}


def test_no_setting_means_an_empty_ice_server_list_not_none() -> None:
    config = rtc_configuration(environ={}, secrets={})
    assert config == {"iceServers": []} and config["iceServers"] is not None


def test_ice_servers_from_the_environment_as_json() -> None:
    config = rtc_configuration(environ={ICE_SERVERS_ENV: json.dumps([STUN, TURN])})
    assert config == {"iceServers": [STUN, {**TURN, "urls": [TURN["urls"]]}]}


def test_secrets_win_over_the_environment() -> None:
    config = rtc_configuration(environ={ICE_SERVERS_ENV: "not even json"}, secrets={"ice_servers": [TURN]})
    assert config["iceServers"][0]["username"] == "u"


@pytest.mark.parametrize(("raw", "message"), [
    ("{not json", "not valid JSON"),
    ('{"urls": "stun:x.org"}', "must be a list"),
    ('["stun:x.org"]', "must be an object"),
    ("[{}]", "urls must be"),
    ('[{"urls": []}]', "urls must be"),
    ('[{"urls": "http://x.org"}]', "stun:/turn:/turns:"),
    ('[{"urls": ["stun:x.org", 3]}]', "urls must be"),
    ('[{"urls": "stun:x.org", "password": "p"}]', "unknown key"),
    ('[{"urls": "turn:x.org"}]', "needs a username and a credential"),
    ('[{"urls": "stun:x.org", "username": 5}]', "username must be a text"),
])
def test_bad_ice_settings_are_refused_with_the_reason(raw: str, message: str) -> None:
    with pytest.raises(RtcConfigError, match=message):
        rtc_configuration(environ={ICE_SERVERS_ENV: raw})
    with pytest.raises(RtcConfigError, match=message):
        parse_ice_servers(raw)


def test_a_blank_environment_value_counts_as_unset() -> None:
    assert rtc_configuration(environ={ICE_SERVERS_ENV: "  "}) == {"iceServers": []}


@pytest.mark.parametrize(("value", "enabled"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_loopback_ice_is_opt_in(value: str, enabled: bool) -> None:
    assert loopback_ice_enabled({"EMOTION_AB_LOOPBACK_ICE": value}) is enabled
    assert loopback_ice_enabled({}) is False


def test_the_camera_asks_for_about_640x480_at_15_fps_and_no_microphone() -> None:
    video = MEDIA_CONSTRAINTS["video"]
    assert video["width"]["ideal"] == 640 and video["height"]["ideal"] == 480
    assert video["frameRate"]["max"] == 15 and MEDIA_CONSTRAINTS["audio"] is False


def test_without_a_browser_session_the_camera_renders_nothing() -> None:
    assert camera(lambda frame: frame, secrets={}) is None


def test_the_camera_refuses_a_bad_setting_before_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ICE_SERVERS_ENV, "[1]")
    with pytest.raises(RtcConfigError):
        camera(lambda frame: frame, secrets={})
