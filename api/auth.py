"""API-key auth for the JSON API and the web UI (stage: api).

The JSON API takes the key in the `X-API-Key` header. A browser cannot add a header to a link or
a form, so the UI logs in once (`/ui/login`) and then carries a session cookie. The cookie holds
`v2.<expiry>.<session id>.<hmac>`: an expiry (epoch seconds) and a random id signed with
HMAC-SHA256 under a key derived from the API key — never the API key itself, so a leaked cookie
does not reveal the key, expires on its own, and every session ends when the API key is rotated.
Any number of API replicas sharing the key accept each other's sessions. Logout revokes the
session id (`Revocations`, kept until the token would have expired anyway); that list lives in
the process, so with several replicas a logout holds on the replica that served it.

Both credentials are accepted everywhere (header or cookie, JSON or UI): all routes are read-only
GETs, and the cookie is `SameSite=Strict`, so a cross-site page can neither send it nor make it
do anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from urllib.parse import urlencode, urlsplit

from fastapi import Request

from api.throttle import FailureThrottle

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
    """A session token valid for SESSION_TTL_S from `now`, with a fresh random session id."""
    expires = int(time.time() if now is None else now) + SESSION_TTL_S
    payload = f"v2.{expires}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_sign(api_key, payload)}"


def _parse(token: str) -> tuple[str, int, str, str] | None:
    """(payload, expiry, session id, signature) of a well-formed v2 token, else None."""
    payload, _, sig = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != "v2":
        return None
    _, expires, sid = parts
    if not expires.isascii() or not expires.isdigit() or not sid:
        return None
    return payload, int(expires), sid, sig


def valid_session_token(
    api_key: str,
    token: str | None,
    *,
    now: float | None = None,
    revoked: Revocations | None = None,
) -> bool:
    """True when `token` was made by `make_session_token` with this key, has not expired and
    (given `revoked`) was not logged out."""
    if not api_key or not token or len(token) > 200:
        return False
    parsed = _parse(token)
    if parsed is None:
        return False
    payload, expires, sid, sig = parsed
    expected = _sign(api_key, payload)
    # bytes, not str: compare_digest raises TypeError on non-ASCII str, and a cookie is
    # attacker-controlled text.
    if not secrets.compare_digest(sig.encode("utf-8", "surrogateescape"), expected.encode()):
        return False
    if revoked is not None and revoked.is_revoked(sid):
        return False
    return (time.time() if now is None else now) < expires


class Revocations:
    """Session ids logged out before their expiry, each kept until that expiry. Bounded: past
    `max_entries` the soonest-to-expire are dropped first (with a 12 h TTL that takes more
    logouts than any team makes)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._ids: OrderedDict[str, int] = OrderedDict()  # insertion = expiry order (fixed TTL)

    def revoke(self, token: str | None, *, now: float | None = None) -> bool:
        """Revoke a token's session (any well-formed token; forged ones expire harmlessly)."""
        parsed = _parse(token) if token and len(token) <= 200 else None
        if parsed is None:
            return False
        _, expires, sid, _ = parsed
        t = time.time() if now is None else now
        while self._ids and next(iter(self._ids.values())) <= t:
            self._ids.popitem(last=False)
        self._ids[sid] = expires
        while len(self._ids) > self.max_entries:
            self._ids.popitem(last=False)
        return True

    def is_revoked(self, sid: str) -> bool:
        return sid in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def key_matches(api_key: str, given: str | None) -> bool:
    """Constant-time comparison of a presented key with the configured one."""
    if not api_key or not given:
        return False
    return secrets.compare_digest(given.encode("utf-8", "surrogateescape"), api_key.encode("utf-8"))


def configured_key(request: Request) -> str:
    key: str = request.app.state.api_key
    return key


def revocations(request: Request) -> Revocations:
    rev: Revocations = request.app.state.revocations
    return rev


def throttle(request: Request) -> FailureThrottle:
    thr: FailureThrottle = request.app.state.throttle
    return thr


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


class Throttled(Exception):
    """Too many failed attempts from this client: answered 429 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def authorized(request: Request) -> bool:
    """No key configured, or a valid `X-API-Key` header, or a valid session cookie.

    A wrong `X-API-Key` counts as a failed attempt for the client's throttle; a throttled client
    presenting a key raises `Throttled` before the key is compared."""
    key = configured_key(request)
    if not key:
        return True
    given = request.headers.get("x-api-key")
    if given is not None:
        thr = throttle(request)
        client = client_address(request)
        wait = thr.retry_after(client)
        if wait:
            raise Throttled(wait)
        if key_matches(key, given):
            thr.success(client)
            return True
        thr.failure(client, "API key")
    return valid_session_token(
        key, request.cookies.get(SESSION_COOKIE), revoked=revocations(request)
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
