"""Web UI login with FABRICSCOPE_API_KEY set: redirects, the form, the session cookie, logout —
against the real app on a real InfluxDB seeded like tests/api/test_routes.py."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    make_session_token,
    safe_next,
    valid_session_token,
)
from tests.api.conftest import API_KEY, Seeded, make_client


@pytest.fixture
def keyed(seeded: Seeded) -> Iterator[TestClient]:
    with make_client(seeded.url, seeded.db, api_key=API_KEY) as c:
        yield c


def login(c: TestClient, key: str, next_: str = "/ui/moves"):
    return c.post(
        "/ui/login",
        content=f"key={key}&next={next_}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def login_form(c: TestClient, data: dict[str, str]):
    return c.post("/ui/login", data=data, follow_redirects=False)


# -- session token and redirect target (pure) ------------------------------------------------------


def test_session_token_roundtrip_expiry_and_tampering() -> None:
    t = make_session_token(API_KEY, now=1000)
    assert API_KEY not in t
    assert valid_session_token(API_KEY, t, now=1000)
    assert valid_session_token(API_KEY, t, now=1000 + SESSION_TTL_S - 1)
    assert not valid_session_token(API_KEY, t, now=1000 + SESSION_TTL_S)  # expired
    assert not valid_session_token("another-key", t, now=1000)  # key rotated
    version, expires, sid, sig = t.split(".")
    assert version == "v2" and len(sid) >= 16
    assert make_session_token(API_KEY, now=1000) != t  # a fresh session id each time
    # Stretching the expiry or swapping the session id breaks the signature.
    assert not valid_session_token(API_KEY, f"v2.{int(expires) + 9999}.{sid}.{sig}", now=1000)
    assert not valid_session_token(API_KEY, f"v2.{expires}.x{sid}.{sig}", now=1000)
    for bad in (
        "",
        "v2",
        "v2...",
        f"v1.{expires}.{sig}",  # the old stateless format cannot be revoked: refused
        f"v2.{expires}.{sid}.{sig[:-1]}{'1' if sig.endswith('0') else '0'}",
        f"v2.{expires}..{sig}",
        "é.é.é.é",
    ):
        assert not valid_session_token(API_KEY, bad, now=1000), bad
    assert not valid_session_token("", t, now=1000)  # no key configured: no sessions


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example/x",
        "///evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "evil.example",
        "ui/moves",
        "/ui/login?next=/ui/moves",
        "/ui/logout",
        "/" + "a" * 3000,
    ],
)
def test_safe_next_refuses_anything_off_site(target: str | None) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize(
    "target", ["/", "/ui/moves", "/ui/endpoints/00%3A50?since=-7d", "/?q=10.1"]
)
def test_safe_next_keeps_site_paths(target: str) -> None:
    assert safe_next(target) == target


# -- routes ------------------------------------------------------------------------------------


def test_ui_pages_redirect_to_login(keyed: TestClient) -> None:
    for path in ("/", "/ui/moves?since=-1h", "/ui/endpoints/00:50:56:AA:00:01", "/ui/hosts"):
        r = keyed.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        loc = urlsplit(r.headers["location"])
        assert loc.path == "/ui/login" and not loc.netloc
        assert parse_qs(loc.query)["next"] == [path]
    # The login page itself and the stylesheet it uses are open.
    r = keyed.get("/ui/login", params={"next": "/ui/moves?since=-1h"})
    assert r.status_code == 200
    assert 'name="next" value="/ui/moves?since=-1h"' in r.text
    assert 'type="password"' in r.text
    assert keyed.get("/static/style.css").status_code == 200


def test_wrong_key_shows_the_form_again_with_401(keyed: TestClient) -> None:
    for key in ("wrong", API_KEY + "x", API_KEY[:-1], ""):
        r = login_form(keyed, {"key": key, "next": "/ui/moves"})
        assert r.status_code == 401, key
        assert "set-cookie" not in r.headers
        assert "Wrong API key." in r.text if key else "Enter the API key." in r.text
        assert 'value="/ui/moves"' in r.text  # where to go after the next attempt
    assert SESSION_COOKIE not in keyed.cookies
    assert keyed.get("/ui/moves", follow_redirects=False).status_code == 303


def test_good_key_sets_a_signed_cookie_and_opens_ui_and_json(keyed: TestClient) -> None:
    r = login_form(keyed, {"key": API_KEY, "next": "/ui/moves?since=-1h"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/moves?since=-1h"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    low = cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "path=/" in low
    assert f"max-age={SESSION_TTL_S}" in low
    assert "secure" not in low  # plain http: a Secure cookie would never be sent back
    token = keyed.cookies[SESSION_COOKIE]
    assert API_KEY not in token and valid_session_token(API_KEY, token)
    # The session opens the UI…
    page = keyed.get("/ui/moves", follow_redirects=False)
    assert page.status_code == 200 and "link_failover" in page.text and "Log out" in page.text
    assert keyed.get("/ui/login", follow_redirects=False).headers["location"] == "/"
    # …and the JSON API, without any X-API-Key header.
    r = keyed.get("/api/v1/moves", params={"fabric": "fabric1"})
    assert r.status_code == 200 and len(r.json()["items"]) == 2


def test_forged_or_foreign_cookies_are_refused(keyed: TestClient) -> None:
    for token in (
        API_KEY,  # the raw key is not a session
        make_session_token("another-key"),
        make_session_token(API_KEY, now=0),  # long expired
        "v1.99999999999.deadbeef",
        "v2.99999999999.abc.deadbeef",
    ):
        keyed.cookies.set(SESSION_COOKIE, token)
        assert keyed.get("/api/v1/moves").status_code == 401
        assert keyed.get("/ui/moves", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "%2F%2Fevil.example",  # "//evil.example" once the form is decoded
        "/%09/evil.example",  # "/\t/evil.example": browsers drop the tab and go off-site
        "/%0a/evil.example",
    ],
)
def test_login_never_redirects_off_site(keyed: TestClient, evil: str) -> None:
    # `login` sends the body as written, so the escapes reach the server as an attacker sends them.
    r = login(keyed, API_KEY, evil)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert valid_session_token(API_KEY, keyed.cookies[SESSION_COOKIE])  # logged in all the same


def test_logout_clears_the_session(keyed: TestClient) -> None:
    assert login_form(keyed, {"key": API_KEY, "next": "/"}).status_code == 303
    assert keyed.get("/ui/hosts", follow_redirects=False).status_code == 200
    r = keyed.post("/ui/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert SESSION_COOKIE not in keyed.cookies
    assert keyed.get("/ui/hosts", follow_redirects=False).status_code == 303


def test_header_still_works_for_ui_and_api(keyed: TestClient) -> None:
    h = {"X-API-Key": API_KEY}
    assert keyed.get("/ui/moves", headers=h, follow_redirects=False).status_code == 200
    assert keyed.get("/api/v1/moves", headers=h).status_code == 200


def test_no_key_configured_everything_open(client: TestClient) -> None:
    assert client.get("/ui/moves", follow_redirects=False).status_code == 200
    assert client.get("/api/v1/moves").status_code == 200
    r = client.get("/ui/login", params={"next": "/ui/hosts"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/hosts"
    r = login_form(client, {"key": "anything", "next": "//evil.example"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "set-cookie" not in r.headers
    assert "Log out" not in client.get("/ui/moves").text


def test_oversized_or_malformed_form(keyed: TestClient) -> None:
    r = keyed.post(
        "/ui/login",
        content=b"key=" + b"x" * 20_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    r = keyed.post(
        "/ui/login",
        content="&".join(f"f{i}=1" for i in range(50)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
