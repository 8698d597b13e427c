"""The sign-in routes and the upload guard, called as the ASGI app ``server.py`` builds."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from accounts import cookies, signin
from accounts.passwords import hash_password
from accounts.web import UploadGuard, auth_routes
from campaigns.store import Store

KEY = "web-test-key"
PASSWORD = "a long password"


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open() as db:
        db.add_staff_user("ana", "analyst", hash_password(PASSWORD))
        yield db


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    signin.default_throttle.cache_clear()
    yield
    signin.default_throttle.cache_clear()


class Reply:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = {k.decode().lower(): v.decode() for k, v in headers if k.lower() != b"set-cookie"}
        self.cookies = [v.decode() for k, v in headers if k.lower() == b"set-cookie"]
        self.body = body


def call(app: Any, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         client: str = "192.0.2.10", body_must_not_be_read: bool = False) -> Reply:
    """One HTTP request through the ASGI app, without a network."""
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        assert not body_must_not_be_read, "the body was read"
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *raw], "client": (client, 5555), "server": ("testserver", 80)}
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Reply(start["status"], start.get("headers", []),
                 b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))


def form(**fields: str) -> tuple[bytes, dict[str, str]]:
    return urlencode(fields).encode(), {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def app(store: Store) -> tuple[Starlette, list[str]]:
    reached: list[str] = []

    async def upload(request: Any) -> PlainTextResponse:
        reached.append(request.url.path)
        await request.body()
        return PlainTextResponse("stored")

    routes = [*auth_routes(lambda: store, lambda: KEY),
              Route("/_stcore/upload_file/{session}/{file}", upload, methods=["PUT", "POST"])]
    return Starlette(routes=routes, middleware=[Middleware(UploadGuard, store=lambda: store, key=lambda: KEY)]), reached


def session_cookie(reply: Reply) -> str:
    jar: SimpleCookie = SimpleCookie()
    jar.load(reply.cookies[0])
    return jar[cookies.COOKIE_NAME].value


def test_signing_in_sets_a_safe_cookie_and_follows_next(app: tuple[Starlette, list[str]], store: Store) -> None:
    body, headers = form(username="ana", password=PASSWORD, next="/results?campaign=2")
    reply = call(app[0], "POST", "/auth/sign-in", body, headers)
    assert (reply.status, reply.headers["location"]) == (303, "/results?campaign=2")
    [cookie] = reply.cookies
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert signin.resolve(store, KEY, session_cookie(reply)) is not None


def test_over_https_the_cookie_is_secure(app: tuple[Starlette, list[str]]) -> None:
    body, headers = form(username="ana", password=PASSWORD, next="/")
    scope_app = app[0]

    async def https(scope: Any, receive: Any, send: Any) -> None:
        await scope_app({**scope, "scheme": "https"}, receive, send)

    assert "Secure" in call(https, "POST", "/auth/sign-in", body, headers).cookies[0]


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(app: tuple[Starlette, list[str]], target: str) -> None:
    body, headers = form(username="ana", password=PASSWORD, next=target)
    assert call(app[0], "POST", "/auth/sign-in", body, headers).headers["location"] == "/"


def test_a_wrong_password_goes_back_to_the_sign_in_with_the_page_asked_for(app: tuple[Starlette, list[str]]) -> None:
    body, headers = form(username="ana", password="wrong", next="/results")
    reply = call(app[0], "POST", "/auth/sign-in", body, headers)
    location = urlsplit(reply.headers["location"])
    assert (reply.status, location.path) == (303, "/")
    assert parse_qs(location.query) == {"next": ["/results"], "error": ["wrong"]}
    assert not reply.cookies


def test_a_cross_site_form_is_refused(app: tuple[Starlette, list[str]]) -> None:
    body, headers = form(username="ana", password=PASSWORD, next="/")
    reply = call(app[0], "POST", "/auth/sign-in", body, {**headers, "origin": "https://evil.example"})
    assert reply.status == 403 and not reply.cookies
    reply = call(app[0], "POST", "/auth/sign-in", body, {**headers, "origin": "http://testserver"})
    assert reply.status == 303 and reply.cookies


def test_wrong_passwords_from_one_client_are_throttled_not_others(app: tuple[Starlette, list[str]],
                                                                  store: Store) -> None:
    store.add_staff_user("mark", "marketer", hash_password(PASSWORD))
    for _ in range(3):
        call(app[0], "POST", "/auth/sign-in", *form(username="ana", password="guess", next="/"), client="203.0.113.5")
    reply = call(app[0], "POST", "/auth/sign-in", *form(username="ana", password=PASSWORD, next="/"),
                 client="203.0.113.5")
    assert parse_qs(urlsplit(reply.headers["location"]).query)["error"] == ["throttled"]
    other = call(app[0], "POST", "/auth/sign-in", *form(username="mark", password=PASSWORD, next="/"),
                 client="198.51.100.2")
    assert other.status == 303 and other.cookies


def test_signing_out_ends_the_session_and_clears_the_cookie(app: tuple[Starlette, list[str]], store: Store) -> None:
    signed = session_cookie(call(app[0], "POST", "/auth/sign-in", *form(username="ana", password=PASSWORD, next="/")))
    reply = call(app[0], "POST", "/auth/sign-out", headers={"cookie": f"{cookies.COOKIE_NAME}={signed}"})
    assert reply.status == 303 and 'emotion_ab_session=""' in reply.cookies[0]
    assert signin.resolve(store, KEY, signed) is None


def test_an_upload_without_a_staff_session_is_refused_unread(app: tuple[Starlette, list[str]]) -> None:
    big = b"x" * (8 << 20)
    for headers in ({}, {"cookie": f"{cookies.COOKIE_NAME}=forged.value.sig"}):
        reply = call(app[0], "PUT", "/_stcore/upload_file/s/f", big, headers, body_must_not_be_read=True)
        assert reply.status == 403
    assert app[1] == []


def test_an_upload_with_a_staff_session_goes_through(app: tuple[Starlette, list[str]]) -> None:
    signed = session_cookie(call(app[0], "POST", "/auth/sign-in", *form(username="ana", password=PASSWORD, next="/")))
    reply = call(app[0], "PUT", "/_stcore/upload_file/s/f", b"data", {"cookie": f"{cookies.COOKIE_NAME}={signed}"})
    assert (reply.status, reply.body) == (200, b"stored")
