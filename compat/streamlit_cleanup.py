"""Streamlit's after-run clean-up, kept cheap: it runs after every script run.

Why: Streamlit ends every script run (a full page run or a 0.5 s fragment
timer of the participate page) with two clean-ups meant for
notebooks-turned-apps:

- ``gc.collect(2)`` (``runner.postScriptGC``), switched off in
  ``.streamlit/config.toml``;
- ``keras.backend.clear_session()`` whenever Keras is imported - and
  importing TensorFlow imports it. That call also runs a full ``gc.collect()``
  and resets Keras' global state.

With TensorFlow, OpenCV and Streamlit loaded (about 440,000 Python objects)
each of these takes about 0.2 s, holding the GIL: three participants' timers
(6 runs a second) asked for more than the server had, and the WebRTC event
loop, which answers the browsers' connectivity checks, starved - browsers
dropped their camera connections, and pages lagged by seconds
(``python -m benchmarks.run_cleanup`` measures both). This app builds no
Keras model per run (the classifier is one cached resource), so there is
nothing for ``clear_session`` to clean: ``install_run_cleanup`` replaces
``streamlit.runtime.scriptrunner.script_runner._clean_problem_modules`` with
``clean_problem_modules``, which keeps the rest of Streamlit's clean-up
(closing matplotlib figures) and skips Keras.

Upstream: no Streamlit issue asking to make the Keras reset optional was
found. Remove the patch if Streamlit makes that clean-up optional.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from compat import wrap_once, wrapped

#: The versions this patch was written for (``tests/compat`` checks the installed and pinned ones).
WRITTEN_FOR = {"streamlit": "1.67.0"}


def clean_problem_modules() -> None:
    """Streamlit's after-run clean-up of stateful modules, without ``keras.backend.clear_session()``."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")  # figures a run left open would pile up in a long-running server


def install_run_cleanup() -> None:
    """Replace Streamlit's ``_clean_problem_modules`` with ``clean_problem_modules`` (idempotent)."""
    from streamlit.runtime.scriptrunner import script_runner

    def make(original: Callable[..., object]) -> Callable[[], None]:
        def cleanup() -> None:
            clean_problem_modules()

        return cleanup

    wrap_once(script_runner, "_clean_problem_modules", make)


def run_cleanup_installed() -> bool:
    from streamlit.runtime.scriptrunner import script_runner

    return wrapped(script_runner, "_clean_problem_modules")


def streamlit_clean_problem_modules() -> Callable[[], None]:
    """Streamlit's own clean-up function, installed or not (for the benchmark and the tests)."""
    from streamlit.runtime.scriptrunner import script_runner

    current = script_runner._clean_problem_modules
    return getattr(current, "__wrapped__", current)  # type: ignore[no-any-return]
