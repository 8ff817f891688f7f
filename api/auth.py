"""API-key auth for the JSON API and the web UI (stage: api).

The JSON API takes the key in the `X-API-Key` header. A browser cannot add a header to a link or
a form, so the UI logs in once (`/ui/login`) and then carries a session cookie. The cookie holds
`v1.<expiry>.<hmac>`: an expiry (epoch seconds) signed with HMAC-SHA256 under a key derived from
the API key — never the API key itself, so a leaked cookie does not reveal the key, expires on
its own, and every session ends when the API key is rotated. Nothing is stored server-side, so
any number of API replicas sharing the key accept each other's sessions.

Both credentials are accepted everywhere (header or cookie, JSON or UI): all routes are read-only
GETs, and the cookie is `SameSite=Strict`, so a cross-site page can neither send it nor make it
do anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode, urlsplit

from fastapi import Request

SESSION_COOKIE = "fabricscope_session"
SESSION_TTL_S = 12 * 3600
# Domain separation: the MAC key is used for nothing but UI sessions, so no other HMAC of the
# API key (present or future) can be replayed as a session token.
_SESSION_CONTEXT = b"fabricscope ui session v1"
_MAX_NEXT = 2048


def _mac_key(api_key: str) -> bytes:
    return hmac.new(api_key.encode("utf-8"), _SESSION_CONTEXT, hashlib.sha256).digest()


def _sign(api_key: str, payload: str) -> str:
    return hmac.new(_mac_key(api_key), payload.encode("ascii"), hashlib.sha256).hexdigest()


def make_session_token(api_key: str, *, now: float | None = None) -> str:
    """A session token valid for SESSION_TTL_S from `now`."""
    expires = int(time.time() if now is None else now) + SESSION_TTL_S
    payload = f"v1.{expires}"
    return f"{payload}.{_sign(api_key, payload)}"


def valid_session_token(api_key: str, token: str | None, *, now: float | None = None) -> bool:
    """True when `token` was made by `make_session_token` with this key and has not expired."""
    if not api_key or not token or len(token) > 200:
        return False
    payload, _, sig = token.rpartition(".")
    version, _, expires = payload.partition(".")
    if version != "v1" or not expires.isascii() or not expires.isdigit():
        return False
    expected = _sign(api_key, payload)
    # bytes, not str: compare_digest raises TypeError on non-ASCII str, and a cookie is
    # attacker-controlled text.
    if not secrets.compare_digest(sig.encode("utf-8", "surrogateescape"), expected.encode()):
        return False
    return (time.time() if now is None else now) < int(expires)


def key_matches(api_key: str, given: str | None) -> bool:
    """Constant-time comparison of a presented key with the configured one."""
    if not api_key or not given:
        return False
    return secrets.compare_digest(given.encode("utf-8", "surrogateescape"), api_key.encode("utf-8"))


def configured_key(request: Request) -> str:
    key: str = request.app.state.api_key
    return key


def authorized(request: Request) -> bool:
    """No key configured, or a valid `X-API-Key` header, or a valid session cookie."""
    key = configured_key(request)
    if not key:
        return True
    return key_matches(key, request.headers.get("x-api-key")) or valid_session_token(
        key, request.cookies.get(SESSION_COOKIE)
    )


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": the login form must not become an
    open redirect (`//evil.example`, `https://…`, `/\\evil.example`, control characters that
    browsers strip before resolving, …)."""
    if not target or len(target) > _MAX_NEXT:
        return "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in ("/ui/login", "/ui/logout"):
        return "/"
    return target


def login_url(request: Request) -> str:
    """The login page, remembering the page that was asked for."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/ui/login?" + urlencode({"next": safe_next(target)})
