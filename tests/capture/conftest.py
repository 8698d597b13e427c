"""Capture tests: the shipped classifier (real model) and a real DuckDB store with a live campaign."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import cv2
import numpy as np
import pytest

from campaigns.store import Store
from campaigns.types import Campaign
from tests.emotion.helpers import face, frame_with_face

HAPPY = "happy/04709.png"
SAD = "sad/14767.png"


@pytest.fixture(scope="session")
def classifier() -> Any:
    from emotion.classifier import EmotionClassifier

    return EmotionClassifier()


@pytest.fixture
def db() -> Iterator[Store]:
    with Store.open(":memory:") as store:
        yield store


def png(colour: int, width: int = 64, height: int = 48) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), colour, np.uint8))
    assert ok
    return data.tobytes()


@pytest.fixture
def make_campaign(db: Store, classifier: Any) -> Callable[..., Campaign]:
    """A live campaign scored with the shipped model's labels; settings as keyword arguments."""

    def make(name: str = "Capture test", **settings: Any) -> Campaign:
        campaign = db.create_campaign(name, labels=classifier.labels, settings=settings)
        db.set_variant(campaign, "A", png(60), "a.png")
        db.set_variant(campaign, "B", png(180), "b.png")
        return db.go_live(campaign)

    return make


class ManualClock:
    """A clock the test moves by hand (``time.monotonic`` stand-in for exact offsets)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def video_frame(fixture: str | None) -> av.VideoFrame:
    """A 640x480 webcam frame as WebRTC delivers it: a fixture face (close to the camera), or an empty room."""
    image = frame_with_face(face(fixture), side=300) if fixture else np.full((480, 640, 3), 120, np.uint8)
    return av.VideoFrame.from_ndarray(image, format="bgr24")


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        time.sleep(0.02)


