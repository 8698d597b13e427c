"""The HTTP side of staff sign-in, mounted by ``server.py`` on Streamlit's Starlette app.

- ``POST /auth/sign-in`` (form: username, password, next): through the
  throttle; on success a server-side session and the signed, HttpOnly,
  SameSite=Lax cookie (Secure over https), then 303 to ``next`` (a local path
  only); on failure 303 back to the login page with an error code.
- ``POST /auth/sign-out``: ends the session and clears the cookie.
- ``UploadGuard``: Streamlit's file upload endpoint refuses anyone without a
  staff session before it reads a byte of the body (participants never upload).

Both routes refuse a cross-site form (an ``Origin`` that is not this host), so
no other site can sign a visitor in or out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from accounts import cookies, signin
from campaigns.store import Store

log = logging.getLogger(__name__)

SIGN_IN_PATH = "/auth/sign-in"
SIGN_OUT_PATH = "/auth/sign-out"
#: A sign-in form is a few hundred bytes; anything much bigger is not one.
_MAX_FORM_BYTES = 16 * 1024
_UPLOAD = re.compile(r"(^|/)_stcore/upload_file(/|$)")
_NO_STORE = {"Cache-Control": "no-store"}

StoreFactory = Callable[[], Store]
KeyFactory = Callable[[], str]


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: the forwarded one uvicorn trusts)."""
    return request.client.host if request.client else "unknown"


def _same_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser form (a script or an old browser): nothing to forge
    host = urlsplit(origin).netloc
    return bool(host) and host in {request.headers.get("host"), request.headers.get("x-forwarded-host")}


def auth_routes(store: StoreFactory, key: KeyFactory, ensure_accounts: Callable[[], object] = lambda: None,
                ) -> list[Route]:
    """The sign-in and sign-out routes over the app's store and cookie key (given as factories, so
    they are read when a request comes, from the server's data folder)."""

    async def sign_in(request: Request) -> Response:
        if not _same_site(request):
            return PlainTextResponse("Cross-site sign-in refused.", status_code=403)
        if int(request.headers.get("content-length") or 0) > _MAX_FORM_BYTES:
            return PlainTextResponse("Sign-in form too large.", status_code=413)
        form = await request.form(max_files=0, max_fields=10)
        target = cookies.safe_next(str(form.get("next") or "/"))
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        try:
            await run_in_threadpool(ensure_accounts)
            result = await run_in_threadpool(signin.sign_in, store(), key(), username, password,
                                             client_address(request))
        except ValueError as exc:  # the store (CampaignError) or a setting (ConfigError) cannot be used now
            log.error("sign-in not possible: %s", exc)
            result = signin.SignInResult(error="unavailable")
        if result.staff is None or result.cookie is None:
            query = {"next": target, "error": result.error or "wrong"}
            if result.wait_s:
                query["wait"] = str(result.wait_s)
            return RedirectResponse("/?" + urlencode(query), status_code=303, headers=_NO_STORE)
        response = RedirectResponse(target, status_code=303, headers=_NO_STORE)
        response.set_cookie(cookies.COOKIE_NAME, result.cookie, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        return response

    async def sign_out(request: Request) -> Response:
        if not _same_site(request):
            return PlainTextResponse("Cross-site sign-out refused.", status_code=403)
        value = request.cookies.get(cookies.COOKIE_NAME)
        if value:
            try:
                await run_in_threadpool(signin.sign_out, store(), key(), value)
            except ValueError as exc:
                log.error("sign-out could not end the session: %s", exc)
        response = RedirectResponse("/", status_code=303, headers=_NO_STORE)
        response.delete_cookie(cookies.COOKIE_NAME, path="/", httponly=True, samesite="lax",
                               secure=request.url.scheme == "https")
        return response

    return [Route(SIGN_IN_PATH, sign_in, methods=["POST"]), Route(SIGN_OUT_PATH, sign_out, methods=["POST"])]


class UploadGuard:
    """ASGI middleware: a file upload (POST/PUT under ``/_stcore/upload_file/``) needs a staff session.

    The check reads only the headers; a refused upload is answered 403 before its body is received,
    so a stranger cannot make the server hold a large upload in memory.
    """

    def __init__(self, app: ASGIApp, store: StoreFactory, key: KeyFactory) -> None:
        self.app = app
        self._store = store
        self._key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope.get("method") in ("POST", "PUT")
                and _UPLOAD.search(scope.get("path", ""))):
            # HTTP/2 may split cookies over several headers.
            header = "; ".join(value.decode("latin-1") for name, value in scope.get("headers", [])
                               if name == b"cookie")
            if not await run_in_threadpool(self._signed_in, cookies.cookie_from_header(header)):
                response = PlainTextResponse("Uploads need a staff sign-in.", status_code=403,
                                             headers={"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _signed_in(self, value: str | None) -> bool:
        if not value:
            return False
        try:
            return signin.resolve(self._store(), self._key(), value) is not None
        except ValueError as exc:
            log.error("upload refused: the staff session cannot be checked: %s", exc)
            return False
