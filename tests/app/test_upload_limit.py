"""Streamlit's upload limit and the campaign store's are one limit: changing one alone fails here."""

from __future__ import annotations

import tomllib
from pathlib import Path

from campaigns.media import DEFAULT_MAX_UPLOAD_BYTES
from tests.app.staff import app_store
from tests.conftest import ROOT

#: Streamlit's "megabytes" (server.maxUploadSize) are MiB: its upload route multiplies by 1024 * 1024.
MIB = 1024 * 1024


def test_streamlit_takes_uploads_as_large_as_the_store_and_no_larger(data_dir: Path) -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    configured = config["server"]["maxUploadSize"]
    limit = app_store().max_upload_bytes  # the store the app opens, with the limit it opens it with
    assert limit == DEFAULT_MAX_UPLOAD_BYTES
    assert limit % MIB == 0, "the store's limit must be whole MiB for Streamlit's setting to equal it"
    assert configured == limit // MIB


def test_operations_doc_gives_proxies_the_same_limit() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    mib = DEFAULT_MAX_UPLOAD_BYTES // MIB
    # The proxy's body limit: the file plus Streamlit's 1 MiB allowance for the multipart envelope.
    assert f"client_max_body_size {mib + 1}m;" in doc and f"max_size {mib + 1}MiB" in doc
    assert f"server.maxUploadSize = {mib}" in doc
