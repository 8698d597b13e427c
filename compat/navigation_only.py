"""Streamlit serves only the pages ``app.py`` hands to ``st.navigation``, from the first request on.

Why: Streamlit 1.67 takes a main script with a ``pages/`` folder beside it for
an old-style multipage app until one of its runs calls ``st.navigation``. So
the first visitor after a server start who opens ``/results`` got
``pages/results.py`` run directly, without ``app.py`` deciding who may see it
(no sign-in). ``app.py`` always navigates, so ``use_navigation_only`` sets
``PagesManager.uses_pages_directory = False`` before any session starts
(``server.py`` calls it at start-up); every request then goes through
``app.py``. The browser test of a deep link right after start
(``tests/e2e/test_staff_sign_in.py``) fails without it.

Upstream: no Streamlit option to turn the ``pages/`` folder off was found
(renaming the folder would be the other way out). Remove the patch if
Streamlit stops reading ``pages/`` once an app uses ``st.navigation``.
"""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager

WRITTEN_FOR = {"streamlit": "1.67.0"}


def use_navigation_only() -> None:
    """Stop Streamlit from serving ``pages/*.py`` by itself (see the module docstring)."""
    if not hasattr(PagesManager, "uses_pages_directory"):
        raise RuntimeError("Streamlit's PagesManager has no uses_pages_directory: compat.navigation_only "
                           "must be checked against this Streamlit version")
    PagesManager.uses_pages_directory = False
