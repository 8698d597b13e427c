"""Staff sign-in through the real server (``server.py``): the cookie, deep links, sign-out, the
throttle and the upload guard, in Chromium and over plain HTTP."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.e2e.harness import PASSWORD, AppServer, wait_for

pytestmark = pytest.mark.e2e

STEP_TIMEOUT_S = 60
MARK_PASSWORD = "marketing password"
Browser = Callable[[str, str | None], tuple[Any, Any]]


def sign_in_page(driver: Any) -> Any:
    """The password field of the sign-in form, once it is on the page."""
    from selenium.webdriver.common.by import By

    return wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "form[action='/auth/sign-in'] input[type=password]"),
                    STEP_TIMEOUT_S, "the sign-in form")


def body_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def post_sign_in(server: AppServer, username: str, password: str, source: str = "127.0.0.1") -> tuple[int, str]:
    """POST the sign-in form from ``source`` (an address of lo); returns the status and Location."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    try:
        connection.request("POST", "/auth/sign-in", urlencode({"username": username, "password": password,
                                                               "next": "/results"}),
                           {"Content-Type": "application/x-www-form-urlencoded"})
        reply = connection.getresponse()
        reply.read()
        return reply.status, reply.getheader("Location") or ""
    finally:
        connection.close()


def prepare_accounts(data: Path) -> None:
    """The first admin (the harness's password) and a marketer, before the server starts."""
    from accounts.passwords import hash_password
    from accounts.signin import ensure_first_admin
    from campaigns.store import Store

    data.mkdir(parents=True, exist_ok=True)
    with Store.open(data / "app.duckdb", media_dir=data / "media") as db:
        ensure_first_admin(db, data, PASSWORD, announce=lambda _: None)
        db.add_staff_user("mark", "marketer", hash_password(MARK_PASSWORD))


def test_a_deep_link_survives_sign_in_and_a_reload_keeps_it(app_server: Callable[[], AppServer], browser: Browser,
                                                           tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    (tmp_path / "data").mkdir()
    server = app_server()
    driver, _ = browser("staff", None)
    driver.get(server.url + "/results")
    field = sign_in_page(driver)
    # A fresh install's one account is filled in, so the password is all there is to type.
    assert driver.find_element(By.CSS_SELECTOR, "form[action='/auth/sign-in'] input[name=username]"
                               ).get_attribute("value") == "admin"
    field.send_keys(PASSWORD, Keys.ENTER)
    wait_for(lambda: urlsplit(driver.current_url).path == "/results" and "Confidence threshold" in body_text(driver),
             STEP_TIMEOUT_S, "the Results page after signing in")
    cookie = driver.get_cookie("emotion_ab_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"

    driver.refresh()
    wait_for(lambda: "Confidence threshold" in body_text(driver) and "Signed in as admin (admin)" in body_text(driver),
             STEP_TIMEOUT_S, "the Results page again after a reload")

    button = wait_for(lambda: driver.find_element(By.XPATH, "//button[normalize-space(.)='Sign out']"),
                      STEP_TIMEOUT_S, "the sign-out button")
    button.click()
    sign_in_page(driver)
    driver.refresh()  # the cookie left behind names a session that no longer exists
    sign_in_page(driver)
    assert "Signed in as" not in body_text(driver)


def test_a_wrong_password_says_so_in_the_browser(app_server: Callable[[], AppServer], browser: Browser,
                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    (tmp_path / "data").mkdir()
    server = app_server()
    driver, _ = browser("staff", None)
    driver.get(server.url + "/model")
    sign_in_page(driver).send_keys("not the password", Keys.ENTER)
    wait_for(lambda: "Wrong username or password." in body_text(driver), STEP_TIMEOUT_S, "the refusal")
    assert parse_qs(urlsplit(driver.current_url).query)["next"] == ["/model"]


def test_the_throttle_holds_one_account_back_not_another(app_server: Callable[[], AppServer], tmp_path: Path) -> None:
    prepare_accounts(tmp_path / "data")
    server = app_server()
    answers = [post_sign_in(server, "admin", f"guess {n}") for n in range(6)]
    errors = [parse_qs(urlsplit(location).query).get("error", ["?"])[0] for _, location in answers]
    assert all(status == 303 for status, _ in answers)
    assert errors[:3] == ["wrong"] * 3 and "throttled" in errors[3:], errors
    # Even the right password waits its turn now, from this client...
    assert "error=throttled" in post_sign_in(server, "admin", PASSWORD)[1]
    # ...while another staff member elsewhere signs in at once.
    assert post_sign_in(server, "mark", MARK_PASSWORD, source="127.0.0.2") == (303, "/results")
    assert server.log_count("sign-in failed: username 'admin' from 127.0.0.1") >= 3
    assert server.log_count("guess") == 0  # passwords never reach the log


def test_an_upload_without_a_session_is_refused_before_its_body(app_server: Callable[[], AppServer],
                                                                 tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    server = app_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        # Announce a gigabyte, send a few bytes: the answer must come without waiting for the rest.
        sock.sendall(b"PUT /_stcore/upload_file/session/file HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n" + b"x" * 1024)
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 403"), reply
