"""A test-only patch of aioice: offer 127.0.0.1 as the one host candidate.

Why: the browser tests run the server, chromedriver and Chromium in a
network namespace that has only ``lo`` (nothing can leave the machine).
aioice (under aiortc, under streamlit-webrtc) gathers its host candidates
from every interface except loopback, as RFC 8445 (section 5.1.1.1) asks,
so there it has no candidate at all and the video stays black.

The product never installs it. A normal machine needs no patch: aioice
offers the host's other addresses (e.g. 192.168.1.20, or a Docker bridge),
and a browser on the same machine reaches the server through them, with no
STUN server; only a machine whose one interface is ``lo`` has nothing to
offer. ``tests/e2e/serve.py`` installs the patch in the server process the
browser tests start.

Upstream: none, the behaviour is by design (aiortc/aioice#2, open, asks for
a way to choose the candidate addresses).
"""

from __future__ import annotations

#: The version this patch was written for (``tests/compat`` checks the installed and pinned ones).
WRITTEN_FOR = {"aioice": "0.13.0"}


def loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """The host addresses aioice gathers candidates from, limited to loopback."""
    return ["127.0.0.1"] if use_ipv4 else []


def install_loopback_ice() -> None:
    """Make aioice offer 127.0.0.1 (and nothing else) as its host candidate (idempotent)."""
    from aioice import ice

    ice.get_host_addresses = loopback_host_addresses
