"""Video ads in a real browser: the ad's clock starts when the browser plays the video, not when the
server renders the page.

The browser here is made slow to start each video (a script the page cannot see holds every ad video
back for ``HOLD_S`` seconds, as a slow download would): the participant must still see each video to
its end before the rating form appears, and the server must say how late each one started.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from campaigns.store import Store
from tests.e2e.participant import AD_SHAPES, ParticipantBrowser
from tests.e2e.test_participant_flow import NEUTRAL, Browser

pytestmark = pytest.mark.e2e

HOLD_S = 3.0
VIDEO_S = 4.0
FPS = 10

#: Run in every page before its own scripts: hold each ad video back for HOLD_S, and note per video
#: (by its shape) when it started playing and how far it had played when the page took it away.
HOLD_VIDEOS = f"""
window.__ads = {{}};
new MutationObserver(() => {{
  for (const video of document.querySelectorAll('video[data-testid="stVideo"]')) {{
    if (video.__held) continue;
    video.__held = true;
    video.autoplay = false;
    video.pause();
    video.addEventListener('loadedmetadata', () => {{
      const shape = video.videoWidth + 'x' + video.videoHeight;
      const ad = window.__ads[shape] = window.__ads[shape] || {{played: 0}};
      video.addEventListener('playing', () => {{ ad.playing = ad.playing || Date.now(); }});
      video.addEventListener('timeupdate', () => {{ ad.played = Math.max(ad.played, video.currentTime); }});
      video.__ad = ad;
    }});
    setTimeout(() => video.play(), {HOLD_S * 1000});
  }}
  for (const ad of Object.values(window.__ads)) {{
    const alive = Array.from(document.querySelectorAll('video[data-testid="stVideo"]')).some(v => v.__ad === ad);
    if (!alive && ad.playing && !ad.gone) ad.gone = Date.now();
  }}
}}).observe(document, {{childList: true, subtree: true}});
"""


def ad_video(folder: Path, name: str, shape: tuple[int, int]) -> bytes:
    """A VP8 WebM (Chromium plays it without proprietary codecs) of ``shape``, VIDEO_S long."""
    width, height = shape
    path = folder / f"{name}.webm"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"VP80"), FPS, (width, height))
    assert writer.isOpened(), "OpenCV cannot write VP8 here"
    for i in range(int(VIDEO_S * FPS)):
        frame = np.full((height, width, 3), (40 + 5 * i) % 255, np.uint8)
        cv2.putText(frame, f"{name} {i}", (20, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(frame)
    writer.release()
    return path.read_bytes()


def test_a_video_ad_is_timed_from_when_the_browser_plays_it(app_server: Any, browser: Browser,
                                                            tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(parents=True)
    from emotion.card import ModelCard
    from emotion.classifier import DEFAULT_MODEL_DIR

    with Store.open(data / "app.duckdb", media_dir=data / "media") as db:
        campaign = db.create_campaign("E2E video", labels=ModelCard.load(DEFAULT_MODEL_DIR).labels,
                                      settings={"interval_s": 0.5})
        for name, shape in AD_SHAPES.items():
            db.set_variant(campaign, name, ad_video(tmp_path, name, shape), f"{name}.webm")
        assert [v.duration_s for v in db.variants(campaign).values()] == [pytest.approx(VIDEO_S, abs=0.05)] * 2
        campaign = db.go_live(campaign)
    server = app_server()
    driver, camera = browser("video", NEUTRAL)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOLD_VIDEOS})
    participant = ParticipantBrowser(driver, f"{server.url}/?c={campaign.token}", camera)
    code = participant.take_part(lambda ad: NEUTRAL, ratings={"A": 4, "B": 2})
    assert sorted(participant.ads_seen) == ["A", "B"], participant.ads_seen
    ads = driver.execute_script("return window.__ads;")
    server.stop()

    # The participant saw each video to its end although it started HOLD_S late: the page took it
    # away only after it had played (timed from the render, the last HOLD_S would be cut off).
    for name, (width, height) in AD_SHAPES.items():
        ad = ads[f"{width}x{height}"]
        assert ad.get("playing") and ad.get("gone"), (name, ad)
        assert ad["played"] >= VIDEO_S - 0.5, (name, ad)
        assert (ad["gone"] - ad["playing"]) / 1000 >= VIDEO_S - 0.5, (name, ad)
    # The server noted how late each video started, as the browser held it back.
    waits = [float(m) for m in re.findall(r"plays ([0-9.]+) s after it was put on the page",
                                          server.log_path.read_text(errors="replace"))]
    assert len(waits) == 2 and all(w >= HOLD_S - 0.5 for w in waits), waits
    # Snapshots cover each video from its own start to its end, none from the wait before it.
    rows = [(variant, offset) for pid, _, variant, _, offset in snapshots_with_offsets(data, campaign.id)
            if pid == code]
    per_variant = Counter(variant for variant, _ in rows)
    assert set(per_variant) == {"A", "B"} and all(n >= (VIDEO_S / 0.5) * 0.6 for n in per_variant.values()), rows
    assert all(0 <= offset <= VIDEO_S * 1000 + 500 for _, offset in rows), rows


def snapshots_with_offsets(data: Path, campaign_id: int) -> list[tuple[str, str, str, str | None, int]]:
    with Store.open(data / "app.duckdb", media_dir=data / "media", read_only=True) as db:
        return db._cursor().execute(
            """SELECT s.participant_id, p.variant_order, s.variant, s.top_label, s.offset_ms FROM snapshots s
               JOIN participants p ON p.id = s.participant_id WHERE s.campaign_id = ?""", [campaign_id]).fetchall()

