"""The browser tests' app server: ``python -m tests.e2e.serve run server.py [streamlit options]``.

``streamlit run`` itself, with two test-only additions made in the server
process before Streamlit starts: the loopback ICE patch (``loopback_ice``;
the tests' network has only 127.0.0.1) and the WebRTC and capture loggers
at INFO or DEBUG in the server log, which a failing test prints.
"""

from __future__ import annotations

import logging
import sys

from tests.e2e.loopback_ice import install_loopback_ice


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in ("streamlit_webrtc", "capture"):
        logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger("streamlit_webrtc.component").setLevel(logging.DEBUG)
    logging.getLogger("capture.worker").setLevel(logging.DEBUG)  # each camera check's verdict and frame size
    install_loopback_ice()
    from streamlit.web.cli import main as streamlit

    sys.argv[0] = "streamlit"
    return int(streamlit() or 0)


if __name__ == "__main__":
    sys.exit(main())
