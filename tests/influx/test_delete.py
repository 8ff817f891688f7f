"""Deleting a superseded `move_analysis` finding on each InfluxDB major version.

1.x runs against the real InfluxDB 1.8 of the test suite. No InfluxDB 2.x or 3.x can run on
this machine (tests and CI use the 1.8.10 built from the Go module proxy), so the 2.x delete API
request and the 3.x refusal are checked with an `httpx.MockTransport` that answers like those
servers (`/ping` version header, 204 / JSON errors from `/api/v2/delete`). The predicate's
quoting is also checked against the real InfluxQL scanner of 1.8 — the same scanner 2.x uses to
parse delete predicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from analyzers.move_cause import MoveCauseAnalyzer, MoveCauseConfig
from influx import reads
from influx.line_protocol import encode_line
from influx.query import InfluxQuery, InfluxQueryError, delete_predicate, quote_ident, rfc3339_nano
from influx.sink import ListSink

NS = 1_000_000_000
T = 1_790_000_000_123_456_789
TOKEN = "tok-2x=="


# -- pure ----------------------------------------------------------------------------------------


def test_delete_predicate_quotes_keys_and_values() -> None:
    assert delete_predicate("move_analysis", {"fabric": "fab1", "addr": "00:50:56:AA:BB:01",
                                              "cause": "link_failover"}) == (
        '"_measurement"="move_analysis" AND "fabric"="fab1" AND "addr"="00:50:56:AA:BB:01" '
        'AND "cause"="link_failover"'
    )  # fmt: skip
    # Embedded quote, backslash and newline are escaped the way the InfluxQL scanner reads them;
    # a single quote needs nothing inside "…", and AND/OR/= inside a value stay literal.
    got = delete_predicate("m", {"k": 'a"b\\c\nd\'e AND x="y"'})
    assert got == '"_measurement"="m" AND "k"="a\\"b\\\\c\\nd\'e AND x=\\"y\\""'


def test_rfc3339_nano_keeps_every_digit() -> None:
    assert rfc3339_nano(0) == "1970-01-01T00:00:00.000000000Z"
    assert rfc3339_nano(T) == "2026-09-21T14:13:20.123456789Z"
    assert rfc3339_nano(T + 1) == "2026-09-21T14:13:20.123456790Z"
    assert rfc3339_nano(-1) == "1969-12-31T23:59:59.999999999Z"


# -- 2.x / 3.x: mock transport -------------------------------------------------------------------


class FakeServer:
    """Answers `/ping` with a version header and records every request."""

    def __init__(self, version: str, delete: Callable[[httpx.Request], httpx.Response]) -> None:
        self.version = version
        self.delete = delete
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/ping":
            return httpx.Response(204, headers={"X-Influxdb-Version": self.version})
        if request.url.path == "/api/v2/setup":
            return httpx.Response(200 if self.version == "unknown-2x" else 404, json={})
        if request.url.path == "/api/v2/delete":
            return self.delete(request)
        if request.url.path == "/query":
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        return httpx.Response(404, json={"message": "not found"})

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def client(server: FakeServer, **kw: object) -> InfluxQuery:
    kw.setdefault("org", "acme")
    return InfluxQuery(
        "http://influx2:8086/",
        TOKEN,
        "fabricscope",
        transport=httpx.MockTransport(server),
        **kw,  # type: ignore[arg-type]
    )


def test_v2_delete_request() -> None:
    server = FakeServer("v2.7.10", lambda _r: httpx.Response(204))
    q = client(server)
    addr = 'we"ird\\addr'
    assert reads.delete_move_finding(q, "fab 1", addr, "vm_migration", T) is True
    assert reads.delete_move_finding(q, "fab 1", "10.1.1.5", "loop", T + NS) is True
    # The version is asked once, with the token (3.x authenticates /ping).
    assert server.paths() == ["GET /ping", "POST /api/v2/delete", "POST /api/v2/delete"]
    assert server.requests[0].headers["authorization"] == f"Token {TOKEN}"
    req = server.requests[1]
    assert req.url.params["org"] == "acme" and req.url.params["bucket"] == "fabricscope"
    assert req.headers["authorization"] == f"Token {TOKEN}"
    assert req.headers["content-type"] == "application/json"
    body = json.loads(req.content)
    assert body == {
        "start": "2026-09-21T14:13:20.123456789Z",
        "stop": "2026-09-21T14:13:20.123456789Z",  # exactly the finding's timestamp
        "predicate": '"_measurement"="move_analysis" AND "fabric"="fab 1" AND '
        '"addr"="we\\"ird\\\\addr" AND "cause"="vm_migration"',
    }
    assert json.loads(server.requests[2].content)["start"] == "2026-09-21T14:13:21.123456789Z"
    # Never InfluxQL DELETE on 2.x.
    assert not any(r.url.path == "/query" for r in server.requests)


def test_v2_bucket_other_than_database() -> None:
    server = FakeServer("v2.7.10", lambda _r: httpx.Response(204))
    q = client(server, bucket="fabricscope/autogen", server_major=2)
    assert reads.delete_move_finding(q, "f", "a", "c", T)
    assert server.paths() == ["POST /api/v2/delete"]  # known major: no probe
    assert server.requests[0].url.params["bucket"] == "fabricscope/autogen"


def test_v2_delete_refused_is_an_error_with_the_servers_message() -> None:
    server = FakeServer(
        "v2.7.10",
        lambda _r: httpx.Response(
            403, json={"code": "forbidden", "message": "insufficient permissions to delete"}
        ),
    )
    with pytest.raises(InfluxQueryError, match="HTTP 403 from /api/v2/delete: insufficient") as e:
        reads.delete_move_finding(client(server), "f", "a", "c", T)
    assert e.value.status == 403
    assert TOKEN not in str(e.value)


def test_v2_delete_needs_the_org() -> None:
    server = FakeServer("v2.7.10", lambda _r: httpx.Response(204))
    with pytest.raises(InfluxQueryError, match="FABRICSCOPE_INFLUX_ORG"):
        reads.delete_move_finding(client(server, org=""), "f", "a", "c", T)
    assert "POST /api/v2/delete" not in server.paths()


def test_v2_unreachable_is_retried_on_the_next_call() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(204, headers={"X-Influxdb-Version": "v2.7.10"})

    q = InfluxQuery(
        "http://influx2:8086", TOKEN, "b", org="o", transport=httpx.MockTransport(flaky)
    )
    with pytest.raises(InfluxQueryError, match="unreachable"):
        q.server_major()
    assert q.server_major() == 2  # not cached as a failure


def test_version_header_absent_falls_back_to_setup_endpoint() -> None:
    s2 = FakeServer("unknown-2x", lambda _r: httpx.Response(204))  # a 2.x built without version
    assert client(s2).server_major() == 2
    assert s2.paths() == ["GET /ping", "GET /api/v2/setup"]
    s1 = FakeServer("unknown", lambda _r: httpx.Response(204))  # a self-built 1.8
    q1 = client(s1)
    assert reads.delete_move_finding(q1, "f", "a", "c", T) is True
    assert s1.paths() == ["GET /ping", "GET /api/v2/setup", "POST /query"]
    form = dict(httpx.QueryParams(s1.requests[-1].content.decode()))
    assert form["q"].startswith('DELETE FROM "move_analysis" WHERE "fabric" = $p0')
    assert json.loads(form["params"]) == {"p0": "f", "p1": "a", "p2": "c"}


def test_v3_cannot_delete_and_sends_nothing() -> None:
    server = FakeServer("3.0.1", lambda _r: httpx.Response(500))
    q = client(server)
    assert reads.delete_move_finding(q, "f", "a", "c", T) is False
    assert server.paths() == ["GET /ping"]


# -- 1.x: the real server ------------------------------------------------------------------------


def finding(addr: str, cause: str, t: int, confidence: float = 0.9) -> str:
    line = encode_line(
        "move_analysis",
        {"fabric": "fabric1", "addr": addr, "cause": cause},
        {"confidence": confidence, "evidence": "e"},
        t,
    )
    assert line
    return line


def post(url: str, db: str, lines: list[str]) -> None:
    r = httpx.post(f"{url}/write", params={"db": db}, content="\n".join(lines), timeout=30)
    assert r.status_code == 204, r.text


def test_v1_delete_removes_exactly_one_finding(influxdb, influx_db) -> None:
    mac, other = "00:50:56:AA:BB:01", "00:50:56:AA:BB:02"
    post(influxdb.url, influx_db, [
        finding(mac, "unknown", T), finding(mac, "link_failover", T),
        finding(mac, "unknown", T + NS),  # same series, another move of the endpoint
        finding(other, "unknown", T),
    ])  # fmt: skip
    q = InfluxQuery(influxdb.url, "", influx_db)
    assert q.server_major() == 1  # a self-built influxd says "unknown"; /api/v2/setup → 404
    assert reads.delete_move_finding(q, "fabric1", mac, "unknown", T) is True
    left = {(f.addr, f.cause, f.time_ns) for f in reads.move_analysis(q, "fabric1", 0, T + 2 * NS)}
    assert left == {(mac, "link_failover", T), (mac, "unknown", T + NS), (other, "unknown", T)}
    q.close()


def test_predicate_quoting_matches_the_real_influxql_scanner(influxdb, influx_db) -> None:
    """2.x reads predicate keys and values with InfluxQL's scanner as double-quoted identifiers:
    a key that needs every escape must come back intact from 1.8's scanner."""
    key = 'we"ird\\key x'
    post(influxdb.url, influx_db, [encode_line("m", {key: "v1"}, {"f": 1}, T) or ""])
    rows = influxdb.rows(f"SHOW TAG VALUES FROM m WITH KEY = {quote_ident(key)}", influx_db)
    assert rows == [[key, "v1"]]


def test_analyzer_on_a_server_that_cannot_delete_keeps_both_and_counts(influxdb, influx_db) -> None:
    """The move_cause path for 3.x, on the real database: the new cause is written, the old one
    cannot be deleted, the run still succeeds and says so in its stats."""
    mac = "00:50:56:AA:BB:01"
    move = encode_line(
        "apic_endpoint_move",
        {"fabric": "fabric1", "addr": mac, "addr_type": "mac"},
        {
            "from_node": "101",
            "from_interface": "eth1/1",
            "to_node": "102",
            "to_interface": "eth1/1",
        },
        T,
    )
    assert move
    post(influxdb.url, influx_db, [move, finding(mac, "link_failover", T)])  # an old cause
    for major, deleted, kept, causes in (
        (3, 0, 1, {"link_failover", "unknown"}),
        (1, 1, 0, {"unknown"}),
    ):
        q = InfluxQuery(influxdb.url, "", influx_db, server_major=major)
        sink = ListSink()
        an = MoveCauseAnalyzer(q, sink, MoveCauseConfig(fabric="fabric1"))
        [f] = an.run_once(T + 60 * NS)
        assert f.cause == "unknown"  # no evidence this time
        post(influxdb.url, influx_db, sink.lines)
        assert (an.stats.work["findings_deleted"], an.stats.work["stale_findings_kept"]) == (
            deleted,
            kept,
        )
        assert {x.cause for x in reads.move_analysis(q, "fabric1", 0, T + NS)} == causes
        q.close()
