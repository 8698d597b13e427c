"""Every patch of a third-party internal names the versions it was written for; an upgrade fails here.

A failure means a pinned or installed version moved: read the patch's
docstring, check whether the new version still needs it (or broke it), run
its tests and the browser tests, then update its ``WRITTEN_FOR`` with the pin.
"""

from __future__ import annotations

import re
from importlib import metadata
from types import ModuleType

import pytest

import compat.navigation_only
import compat.streamlit_cleanup
import compat.webrtc
import tests.e2e.loopback_ice
from tests.conftest import ROOT

PATCHES: list[ModuleType] = [compat.navigation_only, compat.streamlit_cleanup, compat.webrtc, tests.e2e.loopback_ice]
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """``name==version`` lines of the requirements files, by normalized name."""
    found: dict[str, str] = {}
    for file in REQUIREMENTS:
        for line in (ROOT / file).read_text(encoding="utf-8").splitlines():
            match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+).*", line)
            if match:
                found[normalized(match[1])] = match[2]
    return found


CASES = [(module.__name__, dist, version) for module in PATCHES for dist, version in module.WRITTEN_FOR.items()]


@pytest.mark.parametrize(("patch", "dist", "written_for"), CASES)
def test_the_pinned_version_is_the_one_the_patch_was_written_for(patch: str, dist: str, written_for: str) -> None:
    pinned = pins().get(normalized(dist))
    assert pinned is not None, f"{dist} (patched by {patch}) is not pinned in {' or '.join(REQUIREMENTS)}"
    assert pinned == written_for, f"{dist} is pinned at {pinned}, but {patch} was written for {written_for}"


@pytest.mark.parametrize(("patch", "dist", "written_for"), CASES)
def test_the_installed_version_is_the_one_the_patch_was_written_for(patch: str, dist: str,
                                                                    written_for: str) -> None:
    installed = metadata.version(dist)
    assert installed == written_for, f"{dist} {installed} is installed, but {patch} was written for {written_for}"


def test_every_patch_module_says_what_it_was_written_for() -> None:
    for module in PATCHES:
        assert module.WRITTEN_FOR and module.__doc__ and "Upstream:" in module.__doc__, module.__name__
