"""API hardening (issue 12): every value the issue measured as a 500 or a 502 is a 422 with a clear
message, over a real uvicorn server whose keep-alive connection stays open throughout; InfluxDB's
own error text never reaches a client; UI pages show the error page."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fabricscope.influxdb_local import free_port
from fabricscope.settings import Settings
from influx.query import InfluxQuery, InfluxQueryError
from tests.api.conftest import Seeded, make_client
from tests.api.live import serve_in_thread

# (path, parameter, value, words the message must contain)
CASES = [
    ("/api/v1/moves", "since", "-1000000d", "out of range"),
    ("/api/v1/moves", "until", "+3000000d", "out of range"),
    ("/api/v1/hosts/hv1/metrics", "interval", "99999999999w", "too long"),
    ("/api/v1/moves", "since", "9999-12-31T23:59:59Z", "out of range"),
    ("/api/v1/moves", "since", "0001-01-01T00:00:00Z", "out of range"),
    ("/api/v1/moves", "since", "0001-01-01T00:00:00+01:00", "out of range"),
    ("/api/v1/moves", "until", "2262-04-12T00:00:00Z", "out of range"),
    ("/api/v1/moves", "since", "-300000d", "out of range"),
    ("/api/v1/moves", "since", "now-" + "9" * 50 + "d", "out of range"),
    ("/api/v1/anomalies", "since", "-1" + "0" * 30 + "w", "out of range"),
    ("/api/v1/hosts/hv1/metrics", "interval", "9" * 15 + "s", "too long"),
    ("/api/v1/moves", "addr", "a\x00b", "control character (U+0000)"),
    ("/api/v1/moves", "fabric", "a\x00b", "control character (U+0000)"),
    ("/api/v1/analysis/moves", "cause", "a\x00b", "control character (U+0000)"),
    ("/api/v1/flows/top", "agent", "a\x00b", "control character (U+0000)"),
    ("/api/v1/flows/top", "agent", "a\rb", "control character (U+000D)"),
    ("/api/v1/hosts", "fabric", "\x7f", "control character (U+007F)"),
]


@pytest.fixture
def live(seeded: Seeded) -> Iterator[str]:
    settings = Settings(influx_url=seeded.url, influx_bucket=seeded.db)  # type: ignore[call-arg]
    app = create_app(settings, InfluxQuery(seeded.url, database=seeded.db, timeout_s=5))
    with serve_in_thread(app) as base:
        yield base


def test_hostile_values_are_422_on_one_keepalive_connection(live: str) -> None:
    """All cases on one HTTP/1.1 connection: each is a 422 naming the parameter, and the server
    never closes the connection (it did after each 500)."""
    host = urlsplit(live)
    conn = http.client.HTTPConnection(host.hostname or "", host.port)
    conn.connect()
    sock = conn.sock
    try:
        for path, param, value, words in CASES:
            conn.request("GET", f"{path}?{urlencode({param: value})}")
            resp = conn.getresponse()
            body = json.loads(resp.read())
            assert resp.status == 422, (path, param, value, resp.status, body)
            assert resp.getheader("connection", "").lower() != "close"
            [err] = body["detail"]
            assert err["loc"] == ["query", param], err
            assert words in err["msg"], err
            assert "error parsing" not in err["msg"]
            assert conn.sock is sock, "the server closed the keep-alive connection"
        # …and the same connection still serves an honest request.
        conn.request("GET", "/api/v1/moves?since=-1h")
        resp = conn.getresponse()
        assert resp.status == 200 and len(json.loads(resp.read())["items"]) == 3
        assert conn.sock is sock
    finally:
        conn.close()


def test_edges_of_influxdb_time_range_are_accepted(client: TestClient) -> None:
    """The documented range itself works: the first and last representable instants."""
    r = client.get("/api/v1/moves", params={"since": "1677-09-21T00:12:43.145225Z"})
    assert r.status_code == 200, r.text
    r = client.get("/api/v1/moves", params={"until": "2262-04-11T23:47:16.854775Z"})
    assert r.status_code == 200 and len(r.json()["items"]) == 3, r.text


def test_ui_pages_show_the_error_page_for_bad_values(client: TestClient) -> None:
    for path, params in [
        ("/ui/moves", {"since": "-300000d"}),
        ("/ui/anomalies", {"since": "9999-12-31T23:59:59Z"}),
        ("/ui/hosts", {"since": "a\x00b"}),
        ("/ui/endpoints/10.1.1.5", {"since": "-1000000d"}),
    ]:
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
        assert "<h1>Bad request</h1>" in r.text
        assert "out of range" in r.text or "control character" in r.text


def test_ui_pages_when_influxdb_is_down_show_the_error_page() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with make_client(url, "nodb") as c:
        for path in (
            "/ui/moves",
            "/ui/anomalies",
            "/ui/hosts",
            "/ui/endpoints/10.1.1.5",
            "/?q=10.1",
        ):
            r = c.get(path)
            assert r.status_code == 503, (path, r.status_code)
            assert r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
            assert "InfluxDB unavailable" in r.text and "FABRICSCOPE_INFLUX_URL" in r.text
            assert '"detail"' not in r.text


class _Rejecting(InfluxQuery):
    """An InfluxDB that rejects every statement with its parser's words."""

    async def aquery(self, influxql: str, **_kw: object) -> list:  # type: ignore[override]
        raise InfluxQueryError(
            "HTTP 400 from /query: error parsing query: found a, expected identifier", 400
        )


def test_rejected_query_never_echoes_influxdb_text(caplog: pytest.LogCaptureFixture) -> None:
    """A 502 (our bug, not the user's) says so in our words; the parser text is only logged."""
    app = create_app(Settings(), _Rejecting("http://127.0.0.1:1"))  # type: ignore[call-arg]
    with TestClient(app) as c:
        r = c.get("/api/v1/moves")
        assert r.status_code == 502
        assert "error parsing" not in r.text and "InfluxDB rejected the query" in r.text
        r = c.get("/ui/moves")
        assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
        assert "error parsing" not in r.text
    assert any("error parsing" in rec.getMessage() for rec in caplog.records)
