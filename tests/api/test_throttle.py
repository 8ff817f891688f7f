"""Brute force and logout (issue 12): wrong keys are throttled per client with a bounded log, and
logout revokes the session so a copy of the old cookie stops working."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.auth import SESSION_COOKIE, Revocations, make_session_token, valid_session_token
from api.throttle import FailureThrottle
from tests.api.conftest import API_KEY, Seeded, make_client


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keyed(seeded: Seeded, clock: Clock) -> Iterator[TestClient]:
    with make_client(seeded.url, seeded.db, api_key=API_KEY) as c:
        c.app.state.throttle.clock = clock  # type: ignore[attr-defined]
        yield c


def _login(c: TestClient, key: str):
    return c.post("/ui/login", data={"key": key, "next": "/ui/hosts"}, follow_redirects=False)


# -- the throttle alone ---------------------------------------------------------------------------


def test_throttle_blocks_after_free_failures_and_doubles(clock: Clock) -> None:
    thr = FailureThrottle(
        free_failures=3, window_s=60, base_block_s=10, max_block_s=35, clock=clock
    )
    for _ in range(3):
        thr.failure("a", "test")
        assert thr.retry_after("a") == 0
    thr.failure("a", "test")
    assert thr.retry_after("a") == 10 and thr.retry_after("b") == 0  # per client
    clock.t += 10
    assert thr.retry_after("a") == 0
    for _ in range(4):
        thr.failure("a", "test")
    assert thr.retry_after("a") == 20  # doubled
    clock.t += 20
    for _ in range(4):
        thr.failure("a", "test")
    assert thr.retry_after("a") == 35  # capped
    thr.success("a")
    assert thr.retry_after("a") == 0 and thr.tracked() == 0


def test_throttle_window_slides(clock: Clock) -> None:
    thr = FailureThrottle(free_failures=2, window_s=60, clock=clock)
    for _ in range(10):  # one failure a minute never blocks
        thr.failure("a", "test")
        clock.t += 61
    assert thr.retry_after("a") == 0


def test_throttle_memory_is_bounded(clock: Clock) -> None:
    thr = FailureThrottle(max_clients=100, clock=clock)
    for i in range(10_000):
        thr.failure(f"10.0.{i // 256}.{i % 256}", "test")
    assert thr.tracked() == 100


def test_revocations_are_bounded_and_expire() -> None:
    rev = Revocations(max_entries=10)
    tokens = [make_session_token(API_KEY, now=1000) for _ in range(50)]
    for t in tokens:
        assert rev.revoke(t, now=1000)
    assert len(rev) == 10
    assert not valid_session_token(API_KEY, tokens[-1], now=1000, revoked=rev)
    assert valid_session_token(
        API_KEY, make_session_token(API_KEY, now=1000), now=1000, revoked=rev
    )
    # Once expired, a revoked id is dropped on the next revoke: it could not be used anyway.
    rev.revoke(make_session_token(API_KEY, now=10**9), now=10**9)
    assert len(rev) == 1
    assert not rev.revoke("garbage") and not rev.revoke(None)


# -- through the app ------------------------------------------------------------------------------


def test_ui_login_brute_force_is_throttled_with_one_warning(
    keyed: TestClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    codes = [_login(keyed, f"guess-{i}").status_code for i in range(1000)]
    assert codes[:5] == [401] * 5
    assert set(codes[6:]) == {429}, codes[:10]
    # Blocked: even the right key is refused, so guessing learns nothing while blocked.
    r = _login(keyed, API_KEY)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "Too many wrong keys" in r.text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [w.getMessage() for w in warnings]
    assert "UI login" in warnings[0].getMessage() and "testclient" in warnings[0].getMessage()
    assert all("guess-" not in r.getMessage() for r in caplog.records)  # never the key text
    clock.t += int(r.headers["retry-after"])
    r = _login(keyed, API_KEY)
    assert (
        r.status_code == 303 and keyed.get("/ui/hosts", follow_redirects=False).status_code == 200
    )


def test_api_key_brute_force_is_throttled(keyed: TestClient, clock: Clock) -> None:
    codes = [
        keyed.get("/api/v1/moves", headers={"X-API-Key": f"guess-{i}"}).status_code
        for i in range(200)
    ]
    assert codes[:5] == [401] * 5 and set(codes[6:]) == {429}
    r = keyed.get("/api/v1/moves", headers={"X-API-Key": API_KEY})
    assert r.status_code == 429 and "retry in" in r.json()["detail"]
    assert int(r.headers["retry-after"]) > 0
    # Health stays open (load balancers); asking without a key is not guessing.
    assert keyed.get("/api/v1/health").status_code in (200, 503)
    assert keyed.get("/api/v1/moves").status_code == 401
    clock.t += int(r.headers["retry-after"])
    assert keyed.get("/api/v1/moves", headers={"X-API-Key": API_KEY}).status_code == 200


def test_logout_revokes_the_session(keyed: TestClient) -> None:
    assert _login(keyed, API_KEY).status_code == 303
    cookie = keyed.cookies[SESSION_COOKIE]
    assert keyed.get("/api/v1/moves").status_code == 200  # the cookie works for JSON too
    assert keyed.post("/ui/logout", follow_redirects=False).status_code == 303
    # A copy of the old cookie (another tab, a stolen copy) no longer opens anything.
    keyed.cookies.clear()
    old = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert keyed.get("/ui/hosts", headers=old, follow_redirects=False).status_code == 303
    assert keyed.get("/api/v1/moves", headers=old).status_code == 401
    # Logging in again gives a new, working session.
    assert _login(keyed, API_KEY).status_code == 303
    new = keyed.cookies[SESSION_COOKIE]
    assert new != cookie
    assert keyed.get("/ui/hosts", follow_redirects=False).status_code == 200
    keyed.cookies.clear()
    assert keyed.get("/ui/hosts", headers=old, follow_redirects=False).status_code == 303
