"""APIC REST client (stage: collector/apic, the only code that speaks APIC HTTP).

- ``aaaLogin`` then ``aaaRefresh`` at half ``refreshTimeoutSeconds`` and a full re-login before
  ``maximumLifetimeSeconds`` (at 95 %, as EPT does); one re-login + retry on a 403 token error.
- Several APIC URLs: login walks the list from the preferred (first) URL, so a later re-login fails
  back to it; a connection error or 5xx on the current APIC fails over to the next one.
- 503 (nginx throttling) is retried with exponential backoff from ``retry_min_s`` (default 5 s, the
  aci-containers floor) up to ``retry_max_s``; never a retry storm.
- Paged class queries ordered by dn; a page that comes back empty while ``totalCount`` says more
  exist (busy APIC) is retried; ``totalCount`` changing between pages is reported to the caller so
  it can re-read (reference/faults-and-bad-inputs.md §4, D8).
- HTML error pages, malformed JSON and the APIC error envelope become :class:`ApicError` with the
  APIC's own code and text. The password is never logged or put in an exception.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

try:  # 3-5x faster than json on the multi-megabyte pages of a build
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - optional speed-up
    _loads = json.loads
loads = _loads  # the APIC's JSON decoder, for the other modules (pagescan)

log = logging.getLogger(__name__)

TOKEN_ERROR_TEXTS = ("token was invalid", "token timeout", "need a valid webtoken")


class ApicError(Exception):
    """An APIC request failed; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, text: str, url: str = "") -> None:
        super().__init__(f"APIC {status}: {text}" + (f" ({url})" if url else ""))
        self.status = status
        self.text = text
        self.url = url

    @property
    def is_token_error(self) -> bool:
        t = self.text.lower()
        return self.status == 403 or (self.status == 401 and any(x in t for x in TOKEN_ERROR_TEXTS))

    @property
    def is_no_socket(self) -> bool:
        return self.status == 405 or "unable to locate opened web socket" in self.text.lower()


class ApicUnavailable(ApicError):
    """No configured APIC answered (all URLs tried)."""


@dataclass
class Session:
    url: str
    token: str
    refresh_timeout_s: float
    max_lifetime_s: float
    created: float  # monotonic
    refreshed: float  # monotonic
    version: str = ""


@dataclass
class ClientStats:
    logins: int = 0
    refreshes: int = 0
    relogins_403: int = 0
    failovers: int = 0
    retries_503: int = 0
    requests: int = 0
    last_failure: str = ""


@dataclass
class Page:
    objects: list[tuple[str, dict[str, Any]]]
    total: int


@dataclass
class ApicClient:
    """Async APIC client. ``urls`` are tried in order; ``sleep`` is injectable for tests."""

    urls: list[str]
    username: str
    password: str = field(repr=False)
    verify_tls: bool = True
    timeout_s: float = 120.0  # APIC's own request timeout is ~90 s
    page_size: int = 10000
    retry_min_s: float = 5.0
    retry_max_s: float = 60.0
    max_503_retries: int = 6
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Any] = asyncio.sleep
    session: Session | None = None
    stats: ClientStats = field(default_factory=ClientStats)
    _index: int = 0
    _http: httpx.AsyncClient | None = None
    _login_lock: asyncio.Lock | None = None

    def __post_init__(self) -> None:
        self.urls = [u.strip().rstrip("/") for u in self.urls if u.strip()]
        if not self.urls:
            raise ValueError("no APIC URL configured (FABRICSCOPE_APIC_URLS)")

    # ------------------------------------------------------------------ plumbing
    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                verify=self.verify_tls,
                timeout=httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)),
                transport=self.transport,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def base_url(self) -> str:
        return self.session.url if self.session else self.urls[self._index]

    @property
    def on_preferred(self) -> bool:
        """True while connected to the first (preferred) APIC of the list."""
        return self._index == 0

    async def preferred_up(self) -> bool:
        """Does the preferred APIC answer again (an unauthenticated, cheap request)?"""
        try:
            resp = await self.http.get(f"{self.urls[0]}/api/aaaListDomains.json", timeout=5)
            return resp.status_code < 500
        except Exception:  # noqa: BLE001 - any failure: still down
            return False

    @property
    def token(self) -> str:
        return self.session.token if self.session else ""

    @staticmethod
    def decode(resp: httpx.Response) -> dict[str, Any]:
        """Parse an APIC reply or raise ApicError with the APIC's own words."""
        return _decode(
            resp.status_code,
            resp.headers.get("content-type", ""),
            resp.content,
            str(resp.url),
            resp.reason_phrase,
        )

    # ------------------------------------------------------------------ session
    async def login(self, prefer_first: bool = True) -> Session:
        """Log in, walking the URL list (from the first URL: fail back when it is up again)."""
        if self._login_lock is None:
            self._login_lock = asyncio.Lock()
        async with self._login_lock:
            return await self._login(prefer_first)

    async def _login(self, prefer_first: bool) -> Session:
        order = list(range(len(self.urls)))
        if not prefer_first:
            order = order[self._index :] + order[: self._index]
        errors: list[str] = []
        for i in order:
            url = self.urls[i]
            try:
                sess = await self._login_one(url)
            except ApicError as exc:
                if exc.status == 401:
                    raise  # bad credentials: another APIC will say the same; do not lock out
                errors.append(f"{url}: {exc.text}")
                continue
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            if i != self._index:
                self.stats.failovers += 1
                log.warning("APIC failover: now using %s", url)
            self._index = i
            self.session = sess
            return sess
        self.session = None
        msg = "; ".join(errors)
        self.stats.last_failure = msg
        raise ApicUnavailable(0, f"no APIC reachable: {msg}")

    async def _login_one(self, url: str) -> Session:
        body = {"aaaUser": {"attributes": {"name": self.username, "pwd": self.password}}}
        for attempt in range(self.max_503_retries + 1):
            resp = await self.http.post(f"{url}/api/aaaLogin.json", json=body)
            if resp.status_code == 503 and attempt < self.max_503_retries:
                await self._backoff(attempt, "login")
                continue
            break
        data = self.decode(resp)
        try:
            attrs = data["imdata"][0]["aaaLogin"]["attributes"]
            token = attrs["token"]
        except (KeyError, IndexError, TypeError):
            raise ApicError(resp.status_code, "login reply without aaaLogin token", url) from None
        now = time.monotonic()
        self.stats.logins += 1
        return Session(
            url=url,
            token=token,
            refresh_timeout_s=float(attrs.get("refreshTimeoutSeconds") or 600),
            max_lifetime_s=float(attrs.get("maximumLifetimeSeconds") or 86400),
            created=now,
            refreshed=now,
            version=str(attrs.get("version", "")),
        )

    async def refresh(self) -> None:
        """aaaRefresh; use whatever token comes back (sources disagree whether it changes)."""
        data = await self.request("GET", "/api/aaaRefresh.json", relogin=False)
        assert self.session is not None
        try:
            token = data["imdata"][0]["aaaLogin"]["attributes"]["token"]
            if token:
                self.session.token = token
        except (KeyError, IndexError, TypeError):
            pass
        self.session.refreshed = time.monotonic()
        self.stats.refreshes += 1

    def refresh_due_in(self) -> float:
        s = self.session
        if s is None:
            return 0.0
        return s.refreshed + s.refresh_timeout_s / 2 - time.monotonic()

    def relogin_due_in(self) -> float:
        """Seconds until the session must be replaced (95 % of maximumLifetimeSeconds)."""
        s = self.session
        if s is None:
            return 0.0
        return s.created + 0.95 * s.max_lifetime_s - time.monotonic()

    async def _backoff(self, attempt: int, what: str) -> None:
        delay = min(self.retry_max_s, self.retry_min_s * (2**attempt))
        self.stats.retries_503 += 1
        log.warning("APIC throttled (503) on %s; retrying in %.1fs", what, delay)
        await self.sleep(delay)

    # ------------------------------------------------------------------ requests
    async def request(
        self,
        method: str,
        path: str,
        params: str | None = None,
        relogin: bool = True,
    ) -> dict[str, Any]:
        return self.decode_body(*await self.request_raw(method, path, params, relogin))

    def decode_body(self, status: int, ctype: str, body: bytes, url: str) -> dict[str, Any]:
        return _decode(status, ctype, body, url)

    async def request_raw(
        self,
        method: str,
        path: str,
        params: str | None = None,
        relogin: bool = True,
    ) -> tuple[int, str, bytes, str]:
        """Like :meth:`request` but returns the checked raw reply ``(status, content-type,
        body, url)`` undecoded, so a caller can fetch ahead and decode later (builds). Token
        errors and APIC error envelopes are still handled here."""
        """One API call with 403 → re-login-once and 503 → backoff. ``params`` is a raw query
        string: APIC filters are sent unencoded (aci-containers: encoding them breaks APIC)."""
        if self.session is None:
            await self.login()
        relogged = False
        attempt = 0
        while True:
            assert self.session is not None
            url = f"{self.session.url}{path}" + (f"?{params}" if params else "")
            self.stats.requests += 1
            try:
                # An explicit Cookie header: the jar would keep a stale token after re-login.
                resp = await self.http.request(
                    method, url, headers={"Cookie": f"APIC-cookie={self.session.token}"}
                )
            except httpx.TimeoutException as exc:
                raise ApicError(0, f"timeout: {type(exc).__name__}", url) from None
            except httpx.HTTPError as exc:
                raise ApicError(0, f"{type(exc).__name__}: {exc}", url) from None
            if resp.status_code == 503 and attempt < self.max_503_retries:
                await self._backoff(attempt, path)
                attempt += 1
                continue
            status, ctype, body = (
                resp.status_code,
                resp.headers.get("content-type", ""),
                resp.content,
            )
            reason = resp.reason_phrase
            del resp  # httpx responses sit in reference cycles: drop ours before the next page
            try:
                _check(status, ctype, body, url, reason)
                return status, ctype, body, url
            except ApicError as exc:
                if exc.is_token_error and relogin and not relogged:
                    relogged = True
                    self.stats.relogins_403 += 1
                    log.info("APIC token rejected (%s); logging in again", exc.text)
                    await self.login(prefer_first=False)
                    continue
                raise

    async def get_mo(self, dn: str, params: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        data = await self.request("GET", f"/api/mo/{dn}.json", params)
        return objects_of(data)

    async def class_objects(
        self, cls: str, params: str = "", scope: str = ""
    ) -> list[tuple[str, dict[str, Any]]]:
        """One class query (``scope``: ``topology/pod-P/node-N`` for a node-scoped one)."""
        path = f"/api/node/class/{scope}/{cls}.json" if scope else f"/api/class/{cls}.json"
        return objects_of(await self.request("GET", path, params or None))

    async def class_pages(
        self, cls: str, extra: str = "", page_size: int | None = None, scope: str = ""
    ) -> AsyncIterator[Page]:
        """Pages of ``/api/class/<cls>.json?order-by=<cls>.dn&page=N`` until short or complete
        (``scope`` ``topology/pod-P/node-N``: the node-scoped ``/api/node/class/…`` query).

        A page that comes back empty while ``totalCount`` promises more (a busy APIC) is retried
        a few times before the read ends; ``Page.total`` lets callers spot a set that changed.
        """
        size = page_size or self.page_size
        page, received, empty_retries = 0, 0, 0
        path = f"/api/node/class/{scope}/{cls}.json" if scope else f"/api/class/{cls}.json"
        while True:
            q = f"order-by={cls}.dn&page-size={size}&page={page}"
            if extra:
                q = f"{q}&{extra}"
            data = await self.request("GET", path, q)
            objs = objects_of(data)
            total = _int(data.get("totalCount"), -1)
            if not objs and total > received and empty_retries < 3:
                empty_retries += 1
                await self.sleep(min(1.0, self.retry_min_s))
                continue
            empty_retries = 0
            received += len(objs)
            yield Page(objs, total)
            if len(objs) < size or (total >= 0 and received >= total):
                return
            page += 1

    async def subscribe(
        self, path: str, params: str, refresh_timeout_s: int
    ) -> tuple[str, list[Any]]:
        """``subscription=yes`` on a query; returns (subscriptionId, current objects)."""
        q = f"{params}&subscription=yes&refresh-timeout={refresh_timeout_s}"
        data = await self.request("GET", path, q.lstrip("&"))
        sid = data.get("subscriptionId")
        if isinstance(sid, list):
            sid = sid[0] if sid else None
        if not sid:
            raise ApicError(0, f"no subscriptionId in reply to {path}")
        return str(sid), objects_of(data)

    async def refresh_subscription(self, sid: str, refresh_timeout_s: int) -> None:
        await self.request(
            "GET", "/api/subscriptionRefresh.json", f"id={sid}&refresh-timeout={refresh_timeout_s}"
        )

    def websocket_url(self) -> str:
        if self.session is None:
            raise ApicError(0, "not logged in")
        base = self.session.url
        scheme = "wss" if base.startswith("https") else "ws"
        return f"{scheme}://{base.split('://', 1)[1]}/socket{self.session.token}"


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _check(status: int, ctype: str, body: bytes, url: str, reason: str = "") -> None:
    """Raise ApicError for an HTML page, an HTTP error or an error envelope; cheap (no JSON
    decode of a good body: the envelope's error object is the first thing in ``imdata``)."""
    if "html" in ctype or body.lstrip()[:1] == b"<":
        snippet = body[:120].decode("utf-8", "replace").replace("\n", " ")
        raise ApicError(status, f"HTML instead of JSON: {snippet!r}", url)
    if status >= 400 or b'"error"' in body[:200]:
        _decode(status, ctype, body, url, reason)


def _decode(status: int, ctype: str, body: bytes, url: str, reason: str = "") -> dict[str, Any]:
    """Parse an APIC reply or raise ApicError with the APIC's own words."""
    if "html" in ctype or body.lstrip()[:1] == b"<":
        snippet = body[:120].decode("utf-8", "replace").replace("\n", " ")
        raise ApicError(status, f"HTML instead of JSON: {snippet!r}", url)
    try:
        data = _loads(body) if body else {}
    except ValueError as exc:
        raise ApicError(status, f"malformed JSON ({exc})", url) from None
    if not isinstance(data, dict):
        raise ApicError(status, "malformed JSON: not an object", url)
    imdata = data.get("imdata")
    if isinstance(imdata, list) and imdata and isinstance(imdata[0], dict):
        err = imdata[0].get("error")
        if isinstance(err, dict):
            a = err.get("attributes", {})
            code = _int(a.get("code"), status or 0) or status
            raise ApicError(status if status >= 400 else code, str(a.get("text", "error")), url)
    if status >= 400:
        raise ApicError(status, reason or "error", url)
    if imdata is not None and not isinstance(imdata, list):
        raise ApicError(status, "malformed JSON: imdata is not a list", url)
    return data


def objects_of(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``imdata`` as ``(class, attributes)`` pairs; children (``rsp-subtree``) go under the
    ``__children__`` key."""
    out: list[tuple[str, dict[str, Any]]] = []
    for item in data.get("imdata") or ():
        if isinstance(item, dict):
            for cls, body in item.items():
                if isinstance(body, dict):
                    attrs = body.get("attributes")
                    if isinstance(attrs, dict):
                        if body.get("children"):
                            attrs = {**attrs, "__children__": body["children"]}
                        out.append((cls, attrs))
    return out


_objects = objects_of  # the old private name
