"""The placeholder app renders with a real Streamlit script runner and a real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_overview_page_shows_the_demo_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTION_AB_DATA", str(tmp_path))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Emotion A/B testing"
    table = app.dataframe[0].value
    assert list(table["variant"]) == ["A", "B"]
    assert (table["participants"] > 0).all()
    assert (tmp_path / "app.duckdb").is_file()  # the demo campaign was stored
