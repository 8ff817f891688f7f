"""The compose `influx-tokens` init step (fabricscope/influx_tokens.py).

No InfluxDB 2.x can be built here (it needs Rust/cgo), so the token API is exercised against a
stand-in that implements the four InfluxDB 2.x endpoints the step calls — orgs, buckets,
authorizations (create, get, delete) — with 2.x's answers and its 401 for a wrong operator
token. The 1.x path runs against the real influxd 1.8, which has no token API."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from fabricscope.influx_tokens import (
    InfluxAdmin,
    TokenInitError,
    default_slots,
    ensure_tokens,
    main,
)

ADMIN = "admin-token"


class FakeInflux2:
    """InfluxDB 2.x's /api/v2 orgs, buckets and authorizations, in memory."""

    def __init__(self) -> None:
        self.orgs = {"o1": "fabricscope"}
        self.buckets = {"b1": ("o1", "fabricscope")}
        self.auths: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []

    def handle(self, req: httpx.Request) -> httpx.Response:
        if req.headers.get("Authorization") != f"Token {ADMIN}":
            return httpx.Response(401, json={"code": "unauthorized", "message": "unauthorized"})
        path, q = req.url.path, req.url.params
        if path == "/api/v2/orgs" and req.method == "GET":
            orgs = [{"id": i, "name": n} for i, n in self.orgs.items() if n == q.get("org")]
            return httpx.Response(200, json={"orgs": orgs})
        if path == "/api/v2/buckets" and req.method == "GET":
            found = [
                {"id": i, "orgID": o, "name": n}
                for i, (o, n) in self.buckets.items()
                if o == q.get("orgID") and n == q.get("name")
            ]
            return httpx.Response(200, json={"buckets": found})
        if path == "/api/v2/authorizations" and req.method == "POST":
            body = json.loads(req.content)
            auth = {
                "id": secrets.token_hex(8),
                "token": secrets.token_urlsafe(64),
                "status": "active",
                **body,
            }
            self.auths[auth["id"]] = auth
            return httpx.Response(201, json=auth)
        if path.startswith("/api/v2/authorizations/"):
            auth_id = path.rsplit("/", 1)[1]
            if auth_id not in self.auths:
                return httpx.Response(404, json={"code": "not found"})
            if req.method == "GET":
                return httpx.Response(200, json=self.auths[auth_id])
            if req.method == "DELETE":
                del self.auths[auth_id]
                self.deleted.append(auth_id)
                return httpx.Response(204)
        return httpx.Response(404, text="404 page not found")


@pytest.fixture
def fake() -> FakeInflux2:
    return FakeInflux2()


def _admin(fake: FakeInflux2, token: str = ADMIN) -> InfluxAdmin:
    return InfluxAdmin("http://influxdb:8086", token, transport=httpx.MockTransport(fake.handle))


def _slots(tmp_path: Path) -> list[Any]:
    (tmp_path / "rw").mkdir()
    (tmp_path / "ro").mkdir()
    return default_slots(tmp_path / "rw", tmp_path / "ro")


def test_first_start_creates_two_scoped_tokens(fake: FakeInflux2, tmp_path: Path) -> None:
    slots = _slots(tmp_path)
    assert ensure_tokens(_admin(fake), "fabricscope", "fabricscope", slots) == {
        "rw": "created",
        "ro": "created",
    }
    assert len(fake.auths) == 2
    by_token = {a["token"]: a for a in fake.auths.values()}
    rw = by_token[(tmp_path / "rw" / "token").read_text()]
    ro = by_token[(tmp_path / "ro" / "token").read_text()]
    bucket = {"type": "buckets", "id": "b1", "orgID": "o1"}
    assert {"action": "read", "resource": bucket} in rw["permissions"]
    assert {"action": "write", "resource": bucket} in rw["permissions"]
    assert {"action": "write", "resource": bucket} not in ro["permissions"]
    assert {"action": "read", "resource": bucket} in ro["permissions"]
    org = {"type": "orgs", "id": "o1"}
    for auth in (rw, ro):  # nothing beyond the bucket and reading its own org
        assert all(
            p["resource"] == bucket or p == {"action": "read", "resource": org}
            for p in auth["permissions"]
        )
    assert stat.S_IMODE((tmp_path / "rw" / "token").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ro" / "token").stat().st_mode) == 0o644


def test_later_starts_keep_live_tokens_and_remake_a_deleted_one(
    fake: FakeInflux2, tmp_path: Path
) -> None:
    slots = _slots(tmp_path)
    ensure_tokens(_admin(fake), "fabricscope", "fabricscope", slots)
    rw_before = (tmp_path / "rw" / "token").read_text()
    ro_before = (tmp_path / "ro" / "token").read_text()
    assert ensure_tokens(_admin(fake), "fabricscope", "fabricscope", slots) == {
        "rw": "kept",
        "ro": "kept",
    }
    assert (tmp_path / "rw" / "token").read_text() == rw_before
    # someone revoked the read-only token with `influx auth delete`
    ro_id = json.loads((tmp_path / "ro" / "authorization.json").read_text())["id"]
    del fake.auths[ro_id]
    assert ensure_tokens(_admin(fake), "fabricscope", "fabricscope", slots) == {
        "rw": "kept",
        "ro": "created",
    }
    assert (tmp_path / "ro" / "token").read_text() != ro_before
    assert len(fake.auths) == 2


def test_rotate_swaps_the_files_then_deletes_the_old(fake: FakeInflux2, tmp_path: Path) -> None:
    slots = _slots(tmp_path)
    ensure_tokens(_admin(fake), "fabricscope", "fabricscope", slots)
    old_ids = set(fake.auths)
    old_rw = (tmp_path / "rw" / "token").read_text()
    out = ensure_tokens(_admin(fake), "fabricscope", "fabricscope", slots, rotate=True)
    assert out == {"rw": "rotated", "ro": "rotated"}
    assert set(fake.deleted) == old_ids
    assert len(fake.auths) == 2 and not old_ids & set(fake.auths)
    new_rw = (tmp_path / "rw" / "token").read_text()
    assert new_rw != old_rw and new_rw in {a["token"] for a in fake.auths.values()}


def test_main_prints_how_to_rotate_but_never_a_token(
    fake: FakeInflux2,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _slots(tmp_path)
    monkeypatch.setenv("INFLUX_ADMIN_TOKEN", ADMIN)
    real = InfluxAdmin.__init__

    def with_fake(self: InfluxAdmin, url: str, token: str, **kw: Any) -> None:
        real(self, url, token, transport=httpx.MockTransport(fake.handle))

    monkeypatch.setattr(InfluxAdmin, "__init__", with_fake)
    argv = ["--rw-dir", str(tmp_path / "rw"), "--ro-dir", str(tmp_path / "ro")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "rw token created" in out and "ro token created" in out
    assert "docker compose run --rm influx-tokens --rotate" in out
    for auth in fake.auths.values():
        assert auth["token"] not in out
    assert main(argv) == 0  # second start: kept, no rotation hint needed
    out = capsys.readouterr().out
    assert "rw token kept" in out and "--rotate" not in out


def test_wrong_admin_token_is_a_clear_error(fake: FakeInflux2, tmp_path: Path) -> None:
    with pytest.raises(TokenInitError, match="INFLUX_ADMIN_TOKEN in .env must be the token"):
        ensure_tokens(_admin(fake, "stale"), "fabricscope", "fabricscope", _slots(tmp_path))


def test_missing_bucket_or_org_is_named(fake: FakeInflux2, tmp_path: Path) -> None:
    slots = _slots(tmp_path)
    with pytest.raises(TokenInitError, match="no bucket 'other'"):
        ensure_tokens(_admin(fake), "fabricscope", "other", slots)
    with pytest.raises(TokenInitError, match="no organization 'acme'"):
        ensure_tokens(_admin(fake), "acme", "fabricscope", slots)


def test_unreachable_influxdb_is_named(tmp_path: Path) -> None:
    from fabricscope.influxdb_local import free_port

    admin = InfluxAdmin(f"http://127.0.0.1:{free_port()}", ADMIN, timeout=2)
    with pytest.raises(TokenInitError, match="unreachable"):
        ensure_tokens(admin, "fabricscope", "fabricscope", _slots(tmp_path))


def test_real_influxdb_1x_says_it_has_no_token_api(
    influxdb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(TokenInitError, match="scoped tokens need InfluxDB 2.x"):
        ensure_tokens(InfluxAdmin(influxdb.url, ADMIN), "x", "y", _slots(tmp_path))
    monkeypatch.setenv("INFLUX_ADMIN_TOKEN", ADMIN)
    dirs = ["--rw-dir", str(tmp_path / "rw"), "--ro-dir", str(tmp_path / "ro")]
    assert main(["--url", influxdb.url, *dirs]) == 2


def test_settings_read_the_token_file(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from fabricscope.settings import Settings

    f = tmp_path / "token"
    f.write_text("scoped\n")
    assert Settings(influx_token_file=str(f)).influx_token.get_secret_value() == "scoped"
    # an explicit token wins over the file
    assert (
        Settings(influx_token="x", influx_token_file=str(f)).influx_token.get_secret_value() == "x"
    )  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="FABRICSCOPE_INFLUX_TOKEN_FILE=.*cannot read it"):
        Settings(influx_token_file=str(tmp_path / "missing"))
    f.write_text("\n")
    with pytest.raises(ValidationError, match="is empty"):
        Settings(influx_token_file=str(f))
