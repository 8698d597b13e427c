"""The app's settings: defaults, which source wins, every bad value refused with its name and reason."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import app_config
from app_config import (
    DATA_ENV,
    ICE_SERVERS_ENV,
    PASSWORD_ENV,
    PUBLIC_URL_ENV,
    AppConfig,
    ConfigError,
    IceServer,
    IceServersError,
    load_config,
    parse_ice_servers,
)

STUN = {"urls": ["stun:stun.example.org:3478"]}
TURN = {"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}


def config(environ: dict[str, str] | None = None, secrets: dict[str, object] | None = None) -> AppConfig:
    return AppConfig.from_mappings(environ or {}, secrets or {})


def test_defaults_when_nothing_is_set() -> None:
    assert config() == AppConfig(data_dir=Path("data"), staff_password=None, public_url=None, ice_servers=())
    assert config().rtc_configuration() == {"iceServers": []}  # an empty list, never None


def test_the_object_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        config().staff_password = "x"  # type: ignore[misc]


def test_the_data_folder_is_taken_as_given(tmp_path: Path) -> None:
    assert config({DATA_ENV: str(tmp_path / "new")}).data_dir == tmp_path / "new"  # made on first start
    assert config({DATA_ENV: "relative"}).data_dir == Path("relative")  # resolved where it is used


def test_a_data_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=f"{DATA_ENV}=.* is a file"):
        config({DATA_ENV: str(tmp_path / "file")})


@pytest.mark.parametrize(("environ", "secrets", "expected"), [
    ({PASSWORD_ENV: "from-env"}, {}, "from-env"),
    ({PASSWORD_ENV: "from-env"}, {"app_password": "from-secrets"}, "from-secrets"),  # secrets win
    ({PASSWORD_ENV: "from-env"}, {"app_password": ""}, "from-env"),  # an empty secret counts as unset
    ({PASSWORD_ENV: ""}, {"app_password": None}, None),
    ({}, {"app_password": 1234}, "1234"),  # a TOML number
])
def test_the_staff_password(environ: dict[str, str], secrets: dict[str, object], expected: str | None) -> None:
    assert config(environ, secrets).staff_password == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("https://ads.example.org/app/", "https://ads.example.org/app"),
    ("  http://10.0.0.5:8501 ", "http://10.0.0.5:8501"),
    ("   ", None),
    ("", None),
])
def test_the_public_url_is_normalised(value: str, expected: str | None) -> None:
    assert config({PUBLIC_URL_ENV: value}).public_url == expected


@pytest.mark.parametrize(("value", "message"), [
    ("ads.example.org", "http:// or https://"),
    ("ftp://ads.example.org", "http:// or https://"),
    ("https://", "with a host"),
    ("https://ads.example.org/?c=1", "query or fragment"),
])
def test_a_bad_public_url_is_refused_with_the_reason(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        config({PUBLIC_URL_ENV: value})
    assert PUBLIC_URL_ENV in str(error.value)


def test_ice_servers_from_the_environment_as_json() -> None:
    servers = config({ICE_SERVERS_ENV: json.dumps([STUN, TURN])}).ice_servers
    assert servers == (IceServer(("stun:stun.example.org:3478",)), IceServer((TURN["urls"],), "u", "p"))
    assert config({ICE_SERVERS_ENV: json.dumps([STUN, TURN])}).rtc_configuration() == {
        "iceServers": [STUN, {**TURN, "urls": [TURN["urls"]]}]}


def test_ice_servers_secrets_win_over_the_environment() -> None:
    servers = config({ICE_SERVERS_ENV: "not even json"}, {"ice_servers": [TURN]}).ice_servers
    assert [s.username for s in servers] == ["u"]
    assert config({ICE_SERVERS_ENV: json.dumps([STUN])}, {"ice_servers": []}).ice_servers == ()


def test_a_blank_ice_setting_counts_as_unset() -> None:
    assert config({ICE_SERVERS_ENV: "  "}).ice_servers == ()


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
    with pytest.raises(IceServersError, match=message) as error:
        config({ICE_SERVERS_ENV: raw})
    assert ICE_SERVERS_ENV in str(error.value)
    with pytest.raises(IceServersError, match=message):
        parse_ice_servers(raw)


def test_a_bad_secret_names_the_secret() -> None:
    with pytest.raises(IceServersError, match=r"secrets ice_servers\[0\]"):
        config({}, {"ice_servers": [{"urls": "turn:x.org"}]})


def test_the_process_reads_its_settings_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    monkeypatch.setattr(app_config, "_streamlit_secrets", lambda: {"app_password": "s"})
    first = load_config()
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "other"))
    assert load_config() is first and first.data_dir == tmp_path and first.staff_password == "s"
    load_config.cache_clear()
    assert load_config().data_dir == tmp_path / "other"


def test_a_bad_setting_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PUBLIC_URL_ENV, "nowhere")
    with pytest.raises(ConfigError):
        load_config()
    monkeypatch.setenv(PUBLIC_URL_ENV, "https://ads.example.org")
    assert load_config().public_url == "https://ads.example.org"


def test_no_other_module_reads_the_environment_or_secrets() -> None:
    from tests.conftest import ROOT

    tops = [p for p in ROOT.iterdir() if not p.name.startswith(".") and p.name not in ("tests", "runs")]
    product = [p for top in tops for p in ([top] if top.is_file() else top.rglob("*")) if p.suffix == ".py"]
    readers = sorted(str(p.relative_to(ROOT)) for p in product
                     if any(s in p.read_text(encoding="utf-8") for s in ("os.environ", "getenv", "st.secrets")))
    # benchmarks/inference.py sets OMP_NUM_THREADS for its own process; it reads no setting of the app.
    assert readers in (["app_config.py"], ["app_config.py", "benchmarks/inference.py"])
