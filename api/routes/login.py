"""Web UI login and logout (stage: api): the browser's way to present FABRICSCOPE_API_KEY.

`GET /ui/login` shows a form; `POST /ui/login` checks the key (constant time) and on success sets
the signed session cookie of api/auth.py and redirects (303) to `next` — only ever a path on this
site. A wrong key gets the form again with a message and status 401; too many wrong keys from one
client get 429 for a while (api/throttle.py). `/ui/logout` (GET or POST) clears the cookie and
revokes the session. With no key configured there is nothing to log in to: both redirect onwards.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    authorized,
    client_address,
    configured_key,
    key_matches,
    make_session_token,
    revocations,
    safe_next,
    throttle,
)
from api.routes.ui import templates

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 16 * 1024


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded login form. Parsed here rather than with FastAPI's `Form()`, which would
    pull in python-multipart for one two-field form; the cap keeps a huge body out of memory."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="login form too large")
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=8)
    except ValueError:
        raise HTTPException(status_code=400, detail="malformed login form") from None
    return dict(pairs)


def _login_page(request: Request, target: str, error: str = "", status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "login.html", {"next": target, "error": error}, status_code=status
    )


def _secure(request: Request) -> bool:
    # Only over HTTPS: a Secure cookie set on plain http://127.0.0.1 would never come back.
    return request.url.scheme == "https"


@router.get("/ui/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next_: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    target = safe_next(next_)
    if authorized(request):  # no key configured, or already logged in
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target)


@router.post("/ui/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await _form(request)
    target = safe_next(form.get("next"))
    key = configured_key(request)
    if not key:
        return RedirectResponse(target, status_code=303)
    given = form.get("key", "")
    thr, client = throttle(request), client_address(request)
    wait = thr.retry_after(client)
    if wait:
        # Refused before the key is compared: a guesser learns nothing while blocked.
        page = _login_page(
            request, target, f"Too many wrong keys: try again in {wait} s.", status=429
        )
        page.headers["Retry-After"] = str(wait)
        return page
    if not key_matches(key, given):
        # The throttle logs the address once per block (never the submitted text: it may be a
        # mistyped real key), not once per attempt.
        if given:
            thr.failure(client, "UI login")
        message = "Wrong API key." if given else "Enter the API key."
        return _login_page(request, target, message, status=401)
    thr.success(client)
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        make_session_token(key),
        max_age=SESSION_TTL_S,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return resp


@router.api_route("/ui/logout", methods=["GET", "POST"])
async def logout(request: Request) -> Response:
    # Revoked, not only deleted from this browser: a copy of the cookie stops working too.
    revocations(request).revoke(request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/ui/login" if configured_key(request) else "/", status_code=303)
    resp.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict"
    )
    return resp
