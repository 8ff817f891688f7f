"""Shared pytest fixtures (test stage): a real, private InfluxDB 1.8.10 on loopback.

`influxdb` (session): one influxd for the whole run, built into the cache dir when missing
(`fabricscope.influxdb_local.ensure_influxd`), data under a pytest tmp dir, on a free port.
`influx_db` (function): a fresh database name on it, created before and dropped after the test.
`influxdb_factory` (function): extra servers with other options (auth, tiny max-body-size…).

Tests that use any of these are marked `integration` automatically.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fabricscope.influxdb_local import LocalInfluxDB, ensure_influxd, free_port

_INFLUX_FIXTURES = {"influxdb", "influx_db", "influxdb_factory"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _INFLUX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@dataclass
class InfluxServer:
    """A running test influxd: `url`, the managing `LocalInfluxDB`, and small InfluxQL helpers."""

    url: str
    local: LocalInfluxDB
    token: str = ""

    def query(self, q: str, db: str = "", **params: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        resp = httpx.post(
            f"{self.url}/query",
            data={"q": q, "db": db, "epoch": "ns", **params},
            headers=headers,
            timeout=30,
        )
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def rows(self, q: str, db: str) -> list[list[Any]]:
        res = self.query(q, db)["results"][0]
        assert "error" not in res, res
        series = res.get("series", [])
        return [row for s in series for row in s["values"]]

    def count(self, db: str, measurement: str, field: str = "*") -> int:
        """Number of points (max over fields of count(field))."""
        from influx.query import quote_ident

        sel = "count(*)" if field == "*" else f"count({quote_ident(field)})"
        rows = self.rows(f"SELECT {sel} FROM {quote_ident(measurement)}", db)
        return max((max(v for v in r[1:] if v is not None) for r in rows), default=0)

    def create_db(self, db: str) -> None:
        from influx.query import quote_ident

        self.query(f"CREATE DATABASE {quote_ident(db)}")

    def drop_db(self, db: str) -> None:
        from influx.query import quote_ident

        self.query(f"DROP DATABASE {quote_ident(db)}")


@pytest.fixture(scope="session")
def influxd_binary() -> Path:
    return ensure_influxd()


@pytest.fixture(scope="session")
def influxdb(
    tmp_path_factory: pytest.TempPathFactory, influxd_binary: Path
) -> Iterator[InfluxServer]:
    local = LocalInfluxDB(tmp_path_factory.mktemp("influxdb"), free_port(), binary=influxd_binary)
    url = local.start()
    try:
        yield InfluxServer(url, local)
    finally:
        local.stop()


@pytest.fixture
def influx_db(influxdb: InfluxServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database name per test (created; dropped afterwards)."""
    name = f"t_{request.node.name[:40]}_{uuid.uuid4().hex[:8]}"
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    influxdb.create_db(name)
    yield name
    influxdb.drop_db(name)


@pytest.fixture
def influxdb_factory(tmp_path: Path, influxd_binary: Path) -> Iterator[Callable[..., InfluxServer]]:
    """Start extra servers: `influxdb_factory(max_body_size=…, auth_enabled=…)`; stopped after."""
    started: list[LocalInfluxDB] = []

    def make(**options: Any) -> InfluxServer:
        local = LocalInfluxDB(
            tmp_path / f"influxdb{len(started)}", free_port(), binary=influxd_binary, **options
        )
        started.append(local)
        return InfluxServer(local.start(), local)

    yield make
    for local in started:
        local.stop()
