"""Real-browser test harness: a loopback-only network, a fake camera, the app server, Chromium.

The server, chromedriver and Chromium all run inside a network namespace
that has only ``lo`` (nothing can leave the machine), the server offers a
127.0.0.1 ICE candidate (``tests/e2e/serve.py`` installs the test-only patch
of ``loopback_ice``) and Chromium streams a .y4m file as its camera.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tests.conftest import ROOT
from tests.emotion.helpers import face, place

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CLONE_NEWNET = 0x40000000
PASSWORD = "e2e-password"


def unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not sys.platform.startswith("linux"):
        return "needs Linux network namespaces"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            return f"{path} not installed (apt-get install chromium chromium-driver)"
    if shutil.which("ip") is None:
        return "the ip command is not installed (apt-get install iproute2)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    if os.geteuid() != 0:
        return "needs root to create a loopback-only network namespace"
    return None


@contextmanager
def loopback_namespace() -> Iterator[None]:
    """Move the calling thread into a fresh network namespace with only ``lo`` up; move it back after.

    Network namespaces belong to threads: only this (the test's) thread and
    the processes and threads it starts from here on are inside, so the
    server, chromedriver and Chromium can reach each other on 127.0.0.1 and
    nothing else, and pytest's other threads are untouched.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            yield
        finally:
            if libc.setns(original, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "could not return to the original network namespace")
    finally:
        os.close(original)


# -- the fake camera ---------------------------------------------------------

# 640x480, not smaller: under load Chromium scales a stream down, and a face must still be found in the
# smaller picture. 15 frames a second, as the app asks: runs at 5 a second stored
# many snapshots with no face found, and one camera check never passed (cause not established).
WIDTH, HEIGHT, FPS = 640, 480, 15
HEADER = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode()
FRAMES = FPS  # a one-second loop


def camera_frame(fixture: str | None) -> np.ndarray:
    """A BGR webcam frame: one FER2013 fixture face (``emotion/file.png``) on grey, or an empty room."""
    grey = np.full((HEIGHT, WIDTH), 120, np.uint8)
    if fixture is not None:
        side = HEIGHT * 2 // 3
        place(grey, face(fixture), (WIDTH - side) // 2, (HEIGHT - side) // 2, side)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


class FakeCamera:
    """A .y4m file Chromium streams as its camera (it loops it).

    Chromium reads a .y4m frame by frame from the open file, so rewriting the
    frames in place (same size) changes what the camera shows from the next
    frame on: ``show`` is the participant changing their expression.
    """

    def __init__(self, path: Path, fixture: str | None) -> None:
        self.path = path
        self.showing: str | None = None
        path.write_bytes(HEADER + self._frames(fixture))
        self.showing = fixture

    @staticmethod
    def _frames(fixture: str | None) -> bytes:
        i420 = cv2.cvtColor(camera_frame(fixture), cv2.COLOR_BGR2YUV_I420).tobytes()
        return (b"FRAME\n" + i420) * FRAMES

    def show(self, fixture: str | None) -> None:
        if fixture == self.showing:
            return
        with self.path.open("r+b") as f:
            f.seek(len(HEADER))
            f.write(self._frames(fixture))
        self.showing = fixture


# -- the app server ------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppServer:
    """``streamlit run server.py`` on 127.0.0.1 over a data folder, as the product runs (through ``serve``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> AppServer:
        env = {**os.environ, "EMOTION_AB_DATA": str(self.data_dir), "EMOTION_AB_PASSWORD": PASSWORD,
               "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
        for name in ("EMOTION_AB_ICE_SERVERS", "EMOTION_AB_PUBLIC_URL"):
            env.pop(name, None)
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.serve", "run", "server.py", "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--server.port", str(self.port),
                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the app server exited early:\n{self.log()}")
            with suppress(OSError), urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return self
            time.sleep(0.3)
        raise RuntimeError(f"the app server did not become healthy in {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        """What a failure report needs: the camera and capture events (the last 80), then the raw tail."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        events = [line for line in text.splitlines()
                  if (" capture." in line or " streamlit_webrtc." in line) and "does not exist anymore" not in line]
        return "\n".join(["[camera and capture events]", *events[-80:], "[raw tail]", text[-3000:]])

    def log_count(self, text: str) -> int:
        """How many lines of the whole server log contain ``text``."""
        if not self.log_path.exists():
            return 0
        return sum(text in line for line in self.log_path.read_text(errors="replace").splitlines())

    def stop(self) -> None:
        """Stop the server (and so release its database file)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None


# -- the browser -----------------------------------------------------------------

def chromium(camera: Path, profile: Path) -> Any:
    """A headless Chromium whose camera streams ``camera`` (a .y4m), driven by the system chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera.resolve()}", "--allow-loopback-in-peer-connection",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--no-default-browser-check", "--autoplay-policy=no-user-gesture-required",
                 "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the camera component's console
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    return driver


def wait_for(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # the page is re-rendering under us; try again
            last = exc
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last!r})")


# -- the campaign ------------------------------------------------------------------

def ad_image(shape: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    """A plain PNG ad of ``shape`` (width, height) in one BGR colour."""
    width, height = shape
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = colour
    cv2.putText(image, "AD", (width // 4, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 4)
    ok, png = cv2.imencode(".png", image)
    assert ok
    return png.tobytes()


def live_campaign(data_dir: Path, name: str, *, exposure_s: float, interval_s: float) -> Any:
    """Create a live campaign with two image ads in the app's database (the server must not run yet)."""
    from campaigns.store import Store
    from emotion.card import ModelCard
    from emotion.classifier import DEFAULT_MODEL_DIR
    from tests.e2e.participant import AD_SHAPES

    data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(data_dir / "app.duckdb", media_dir=data_dir / "media") as db:
        campaign = db.create_campaign(name, labels=ModelCard.load(DEFAULT_MODEL_DIR).labels,
                                      settings={"exposure_s": exposure_s, "interval_s": interval_s})
        db.set_variant(campaign, "A", ad_image(AD_SHAPES["A"], (40, 40, 200)), "a.png")
        db.set_variant(campaign, "B", ad_image(AD_SHAPES["B"], (200, 80, 40)), "b.png")
        return db.go_live(campaign)


def connection_states(driver: Any) -> str:
    """The camera component's connection state changes from the browser's console, with times (for a
    failing test's output): "failed" means the connection was never made, "disconnected" that it was
    made and then heard nothing from the server for a few seconds."""
    try:
        entries = driver.get_log("browser")
    except Exception as exc:  # the browser is gone
        return f"(console unreadable: {exc!r})"
    lines = [time.strftime("%H:%M:%S", time.localtime(e["timestamp"] / 1000)) + f".{e['timestamp'] % 1000:03d} "
             + e["message"].split(" ", 2)[-1][:160]
             for e in entries if any(k in e["message"] for k in ("connectionstatechange", "Receive answer", "rror"))]
    return "\n".join(lines) or "(none)"
