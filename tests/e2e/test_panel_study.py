"""A panel study in a real browser: participants arrive with ``?pid=...``, answer the entry questions
and are sent back to the panel's URL for their outcome (screened out, quota full, complete).

The "panel" is a small HTTP server on the loopback interface that records what
it was asked for, so the test sees the redirect as the panel would: the
outcome's path with the participant's ID in the query, URL-encoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from campaigns.store import Store
from tests.e2e.harness import AppServer, FakeCamera, ad_image, wait_for
from tests.e2e.participant import AD_SHAPES, STEP_TIMEOUT_S, ParticipantBrowser
from tests.e2e.test_participant_flow import HAPPY, NEUTRAL, SAD

pytestmark = pytest.mark.e2e

Browser = Callable[[str, str | None], tuple[Any, FakeCamera]]
#: The redirect follows by itself after a few seconds; allow for a busy machine.
REDIRECT_TIMEOUT_S = 60.0


class Panel:
    """A panel's return pages on 127.0.0.1: records (path, id) of every visit."""

    def __init__(self) -> None:
        visits: list[tuple[str, str]] = []
        self.visits = visits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                parts = urlsplit(self.path)
                visits.append((parts.path, parse_qs(parts.query).get("id", [""])[0]))
                body = b"<html><body><h1>Panel: thank you</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def panel(loopback: None) -> Iterator[Panel]:
    server = Panel()
    yield server
    server.close()


def study_campaign(data: Path, panel: Panel, *, exposure_s: float = 2.0) -> Any:
    """A live campaign with two entry questions, a quota of one man and a redirect per outcome."""
    from emotion.card import ModelCard
    from emotion.classifier import DEFAULT_MODEL_DIR

    data.mkdir(parents=True, exist_ok=True)
    with Store.open(data / "app.duckdb", media_dir=data / "media") as db:
        campaign = db.create_campaign("E2E panel", labels=ModelCard.load(DEFAULT_MODEL_DIR).labels,
                                      settings={"exposure_s": exposure_s, "interval_s": 0.5})
        db.set_variant(campaign, "A", ad_image(AD_SHAPES["A"], (40, 40, 200)), "a.png")
        db.set_variant(campaign, "B", ad_image(AD_SHAPES["B"], (200, 80, 40)), "b.png")
        db.set_study(campaign, {
            "questions": [
                {"key": "gender", "text": "Your gender", "kind": "single", "options": ["Woman", "Man", "Other"]},
                {"key": "age", "text": "Your age", "kind": "number", "min": 10, "max": 99, "eligible_min": 18},
            ],
            "quotas": [{"question": "gender", "option": "Man", "limit": 1}],
            "redirects": {outcome: f"{panel.base}/{outcome}?id={{pid}}"
                          for outcome in ("complete", "screened_out", "quota_full")},
        })
        return db.go_live(campaign)


def outcomes(data: Path, campaign_id: int) -> dict[str, str | None]:
    with Store.open(data / "app.duckdb", media_dir=data / "media", read_only=True) as db:
        return dict(db._cursor().execute("SELECT external_id, outcome FROM participants WHERE campaign_id = ?",
                                         [campaign_id]).fetchall())


def landed(driver: Any, panel: Panel, outcome: str, pid: str) -> None:
    wanted = f"{panel.base}/{outcome}?id={quote(pid, safe='')}"
    wait_for(lambda: driver.current_url == wanted, REDIRECT_TIMEOUT_S, f"the {outcome} URL ({wanted})")
    assert (f"/{outcome}", pid) in panel.visits


def test_panel_participants_are_screened_out_held_to_quota_and_not_let_in_twice(
        app_server: Callable[[], AppServer], browser: Browser, panel: Panel, tmp_path: Path) -> None:
    data = tmp_path / "data"
    campaign = study_campaign(data, panel)
    server = app_server()
    driver, camera = browser("panel", NEUTRAL)

    def visit(pid: str, gender: str, age: int) -> ParticipantBrowser:
        """Open the panel link with ``pid``, consent and answer the entry questions."""
        person = ParticipantBrowser(driver, f"{server.url}/?c={campaign.token}&pid={quote(pid, safe='')}", camera)
        person.open()
        person.consent(next_step="A few questions about you")
        person.answer({"Your gender": gender}, {"Your age": age})
        return person

    # Too young: screened out by the answer, and sent to the screen-out URL with the ID.
    young = visit("P 1/é", "Woman", 16)
    wait_for(lambda: "different profile" in young.text(), STEP_TIMEOUT_S, "the screened-out page")
    landed(driver, panel, "screened_out", "P 1/é")
    # The same ID again: told so, before any consent.
    driver.get(young.url)
    wait_for(lambda: "already taken part" in young.text(), STEP_TIMEOUT_S, "the repeat notice")
    assert "agree to take part" not in young.text()

    # The quota holds one man: the first takes the place, the next man gets "quota full".
    first = visit("M-1", "Man", 30)
    wait_for(lambda: "Camera check" in first.text(), STEP_TIMEOUT_S, "the camera check")
    second = visit("M-2", "Man", 41)
    wait_for(lambda: "enough participants like you" in second.text(), STEP_TIMEOUT_S, "the quota-full page")
    landed(driver, panel, "quota_full", "M-2")
    server.stop()

    assert outcomes(data, campaign.id) == {"P 1/é": "screened_out", "M-1": None, "M-2": "quota_full"}


def test_a_panel_participant_who_completes_lands_on_the_completion_url(
        app_server: Callable[[], AppServer], browser: Browser, panel: Panel, tmp_path: Path) -> None:
    data = tmp_path / "data"
    campaign = study_campaign(data, panel, exposure_s=3.0)
    server = app_server()
    driver, camera = browser("complete", NEUTRAL)
    participant = ParticipantBrowser(driver, f"{server.url}/?c={campaign.token}&pid=PANEL-42", camera)
    participant.open()
    participant.consent(next_step="A few questions about you")
    participant.answer({"Your gender": "Woman"}, {"Your age": 35})
    wait_for(lambda: "Camera check" in participant.text(), STEP_TIMEOUT_S, "the camera check")
    participant.start_camera()
    faces = {"A": HAPPY, "B": SAD}
    for position in (1, 2):
        ad = participant.wait(participant.ad_on_screen, f"ad {position}")
        camera.show(faces[ad])
        participant.wait(lambda: "How did this ad make you feel?" in participant.text(), "the rating form")
        participant.rate(4, position)
    landed(driver, panel, "complete", "PANEL-42")
    server.stop()

    assert outcomes(data, campaign.id) == {"PANEL-42": "complete"}
