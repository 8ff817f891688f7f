"""APIC client failure paths with httpx.MockTransport (no network): login, 403 re-login,
failover and failback, 503 backoff, HTML / malformed JSON, paging edge cases."""

from __future__ import annotations

import json

import httpx
import pytest

from collector.apic.client import ApicClient, ApicError, ApicUnavailable


def login_reply(token="tok1", refresh="600", lifetime="86400"):
    return {
        "totalCount": "1",
        "imdata": [
            {
                "aaaLogin": {
                    "attributes": {
                        "token": token,
                        "refreshTimeoutSeconds": refresh,
                        "maximumLifetimeSeconds": lifetime,
                        "version": "5.2(7f)",
                    }
                }
            }
        ],
    }


def err(code, text):
    return {
        "totalCount": "1",
        "imdata": [{"error": {"attributes": {"code": str(code), "text": text}}}],
    }


class Apic:
    """A scripted APIC: handlers per (host, path); records requests."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.down: set[str] = set()
        self.tokens: dict[str, str] = {}
        self.logins = 0
        self.objects = [f"o{i:04d}" for i in range(25)]
        self.fail_next: list[httpx.Response] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        host = req.url.host
        self.calls.append((host, req.url.path))
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=req)
        if self.fail_next:
            return self.fail_next.pop(0)
        if req.url.path == "/api/aaaLogin.json":
            body = json.loads(req.content)
            if body["aaaUser"]["attributes"]["pwd"] != "secret":
                return httpx.Response(401, json=err(401, "Username or password is incorrect"))
            self.logins += 1
            tok = f"{host}-{self.logins}"
            self.tokens[host] = tok
            return httpx.Response(200, json=login_reply(tok))
        if req.headers.get("cookie") != f"APIC-cookie={self.tokens.get(host)}":
            return httpx.Response(403, json=err(403, "Token was invalid (Error: Token timeout)"))
        if req.url.path == "/api/class/thing.json":
            q = dict(x.split("=", 1) for x in req.url.query.decode().split("&"))
            size, page = int(q["page-size"]), int(q["page"])
            chunk = self.objects[page * size : (page + 1) * size]
            return httpx.Response(
                200,
                json={
                    "totalCount": str(len(self.objects)),
                    "imdata": [{"thing": {"attributes": {"dn": d}}} for d in chunk],
                },
            )
        return httpx.Response(200, json={"totalCount": "0", "imdata": []})


def make(apic, urls=("http://a1", "http://a2"), **kw):
    sleeps: list[float] = []

    async def fake_sleep(s):
        sleeps.append(s)

    c = ApicClient(
        list(urls), "admin", "secret", transport=httpx.MockTransport(apic), sleep=fake_sleep, **kw
    )
    return c, sleeps


async def test_login_and_token_cookie():
    apic = Apic()
    c, _ = make(apic)
    s = await c.login()
    assert s.url == "http://a1" and s.refresh_timeout_s == 600 and s.max_lifetime_s == 86400
    await c.request("GET", "/api/mo/uni.json")
    assert 290 < c.refresh_due_in() <= 300
    assert c.relogin_due_in() > 80000


async def test_bad_password_is_not_retried_on_other_apics():
    apic = Apic()
    c = ApicClient(
        ["http://a1", "http://a2"], "admin", "wrong", transport=httpx.MockTransport(apic)
    )
    with pytest.raises(ApicError) as ei:
        await c.login()
    assert ei.value.status == 401 and "wrong" not in str(ei.value)
    assert [h for h, _ in apic.calls] == ["a1"]


async def test_403_token_timeout_relogs_in_once():
    apic = Apic()
    c, _ = make(apic)
    await c.login()
    apic.tokens["a1"] = "rotated"  # the APIC forgot our session
    await c.request("GET", "/api/mo/uni.json")
    assert c.stats.relogins_403 == 1 and apic.logins == 2


async def test_403_twice_raises():
    apic = Apic()
    c, _ = make(apic)
    await c.login()
    apic.fail_next = [
        httpx.Response(403, json=err(403, "Token was invalid")),
        httpx.Response(200, json=login_reply("x")),
        httpx.Response(403, json=err(403, "Token was invalid")),
    ]
    with pytest.raises(ApicError) as ei:
        await c.request("GET", "/api/mo/uni.json")
    assert ei.value.status == 403


async def test_first_apic_down_fails_over_then_back():
    apic = Apic()
    apic.down.add("a1")
    c, _ = make(apic)
    s = await c.login()
    assert s.url == "http://a2" and c.stats.failovers == 1
    apic.down.clear()
    s = await c.login(prefer_first=True)  # a later re-login fails back to the preferred APIC
    assert s.url == "http://a1"


async def test_all_apics_down():
    apic = Apic()
    apic.down.update({"a1", "a2"})
    c, _ = make(apic)
    with pytest.raises(ApicUnavailable) as ei:
        await c.login()
    assert "a1" in str(ei.value) and "a2" in str(ei.value)


async def test_connection_error_mid_session_is_an_apic_error():
    apic = Apic()
    c, _ = make(apic)
    await c.login()
    apic.down.add("a1")
    with pytest.raises(ApicError) as ei:
        await c.request("GET", "/api/mo/uni.json")
    assert ei.value.status == 0


async def test_503_backs_off_at_least_retry_min():
    apic = Apic()
    c, sleeps = make(apic, retry_min_s=5.0)
    await c.login()
    apic.fail_next = [httpx.Response(503, text="busy")] * 3
    await c.request("GET", "/api/mo/uni.json")
    assert sleeps == [5.0, 10.0, 20.0] and c.stats.retries_503 == 3


async def test_503_forever_gives_up():
    apic = Apic()
    c, sleeps = make(apic, retry_min_s=5.0, retry_max_s=30.0, max_503_retries=4)
    await c.login()
    apic.fail_next = [httpx.Response(503, text="busy")] * 10
    with pytest.raises(ApicError) as ei:
        await c.request("GET", "/api/mo/uni.json")
    assert ei.value.status == 503 and sleeps == [5.0, 10.0, 20.0, 30.0]


@pytest.mark.parametrize(
    ("resp", "needle"),
    [
        (
            httpx.Response(
                502,
                text="<html><body>Bad Gateway</body></html>",
                headers={"content-type": "text/html"},
            ),
            "HTML",
        ),
        (
            httpx.Response(200, text='{"imdata": [', headers={"content-type": "application/json"}),
            "malformed JSON",
        ),
        (httpx.Response(200, text="[1, 2]"), "not an object"),
        (httpx.Response(200, json={"imdata": "x"}), "imdata is not a list"),
        (
            httpx.Response(400, json=err(400, "Request failed, unresolved class for fooBar")),
            "unresolved class",
        ),
    ],
)
async def test_bad_replies_become_clear_errors(resp, needle):
    apic = Apic()
    c, _ = make(apic)
    await c.login()
    apic.fail_next = [resp]
    with pytest.raises(ApicError) as ei:
        await c.request("GET", "/api/mo/uni.json")
    assert needle in str(ei.value)


@pytest.mark.parametrize(("n", "size", "pages"), [(25, 10, 3), (20, 10, 3), (0, 10, 1), (5, 10, 1)])
async def test_paging(n, size, pages):
    apic = Apic()
    apic.objects = [f"o{i:04d}" for i in range(n)]
    c, _ = make(apic, page_size=size)
    got, count = [], 0
    async for page in c.class_pages("thing"):
        count += 1
        got.extend(a["dn"] for _, a in page.objects)
    assert got == apic.objects
    # exact multiple: the short (empty) last page, or received == totalCount, ends the read
    assert count <= pages


async def test_paging_sends_order_by_dn_unencoded():
    apic = Apic()
    c, _ = make(apic, page_size=10)
    async for _ in c.class_pages("thing", 'query-target-filter=eq(thing.dn,"x")'):
        pass
    assert apic.calls[-1][1] == "/api/class/thing.json"


async def test_empty_page_while_total_says_more_is_retried():
    apic = Apic()
    c, sleeps = make(apic, page_size=10)
    await c.login()
    apic.fail_next = [httpx.Response(200, json={"totalCount": "25", "imdata": []})]
    got = []
    async for page in c.class_pages("thing"):
        got.extend(a["dn"] for _, a in page.objects)
    assert got == apic.objects and sleeps


def test_websocket_url():
    c = ApicClient(["https://apic1:8443/"], "admin", "x")
    from collector.apic.client import Session

    c.session = Session("https://apic1:8443", "TOK", 600, 86400, 0, 0)
    assert c.websocket_url() == "wss://apic1:8443/socketTOK"


def test_password_not_in_repr():
    c = ApicClient(["http://a"], "admin", "s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(c)
