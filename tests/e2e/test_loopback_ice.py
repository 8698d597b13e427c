"""The browser tests' loopback ICE patch (no browser needed): aioice then offers 127.0.0.1, and only that."""

from __future__ import annotations

import asyncio

import pytest
from aioice import Connection, ice

from tests.e2e.loopback_ice import install_loopback_ice, loopback_host_addresses


def test_loopback_ice_offers_a_127_0_0_1_host_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ice, "get_host_addresses", ice.get_host_addresses)  # restored after the test
    assert "127.0.0.1" not in ice.get_host_addresses(use_ipv4=True, use_ipv6=False)  # aioice skips loopback
    install_loopback_ice()
    install_loopback_ice()  # idempotent
    assert ice.get_host_addresses is loopback_host_addresses
    assert loopback_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]

    async def gather() -> list[str]:
        connection = Connection(ice_controlling=True, components=1, use_ipv6=False)
        try:
            await connection.gather_candidates()
            return [c.host for c in connection.local_candidates]
        finally:
            await connection.close()

    assert asyncio.run(gather()) == ["127.0.0.1"]


def test_the_app_never_installs_it() -> None:
    import app_state  # noqa: F401  (what the server imports)
    import capture.rtc  # noqa: F401
    import compat.webrtc  # noqa: F401

    assert ice.get_host_addresses is not loopback_host_addresses
