"""Property tests of the whole HTTP API against a real InfluxDB (issue 12, "API hardening").

1. Every parameter of every route in `/openapi.json` gets hostile strings and extreme numbers:
   the answer is always 2xx or 4xx, never 5xx.
2. No injection, by an oracle: for each filter parameter (a tag compared for equality), a crafted
   value returns exactly the rows that an inert value matching nothing returns (none), and a
   crafted value *stored* in InfluxDB returns exactly the rows stored under it, not a near miss.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.routes.endpoints import normalize_addr
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from tests.api.conftest import Seeded, make_client, seed_lines, write_lines

pytestmark = pytest.mark.slow

HYPO = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Each stored example writes three points and asks for every value stored so far.
HYPO_STORED = settings(HYPO, max_examples=40)

# Crafted values a tester would try by hand: InfluxQL quoting and comments, regex, statement
# separators, line-protocol escapes, control characters, time/duration edge cases, long text.
HOSTILE = [
    "' OR 1=1 --",
    "x' OR addr =~ /.*/ --",
    '" OR ""="',
    "\\",
    "\\'",
    "a\\nb",
    "/.*/",
    ".*",
    "; DROP DATABASE x",
    "x\x00y",
    "x\ry",
    "x\ny",
    "\t",
    "\x7f",
    " ",
    "%00",
    "$addr",
    "${fabric}",
    "now()",
    "fabric1' OR '1'='1",
    "-1000000d",
    "+3000000d",
    "99999999999w",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "-300000d",
    "1677-09-21T00:12:43Z",
    "NaN",
    "1e309",
    "-0",
    "ü🚀",
    "\u202e",
    "\ufeff",
    "A" * 300,
    "9" * 70,
]
# Every character class, control characters and other scripts included (no lone surrogates:
# no HTTP client can send one).
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
STRINGS = st.one_of(st.sampled_from(HOSTILE), TEXT)
NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 10**30, 100_001, 1001]),
    st.integers(),
)
# A number-typed parameter also gets text and floats: the client decides what it sends.
FOR_NUMBER = st.one_of(NUMBERS.map(str), st.floats().map(str), STRINGS)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)

# Tags compared for equality: an inert value and a crafted one must return the same rows.
FILTERS = {"addr", "fabric", "cause", "agent", "host"}
INERT = "zz-inert-zz"


def _params(spec: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(path, method, parameters) of every operation."""
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            out.append((path, method, op.get("parameters", [])))
    return out


def _types(schema: dict[str, Any]) -> set[str]:
    kinds = {schema.get("type", "")}
    for alt in schema.get("anyOf", []):
        kinds.add(alt.get("type", "") if "$ref" not in alt else "string")
    return kinds - {"", "null"}


def _value(draw: st.DrawFn, param: dict[str, Any]) -> str:
    kinds = _types(param.get("schema", {}))
    if param["in"] == "header":
        return draw(HEADER_TEXT)
    if "integer" in kinds or "number" in kinds:
        return draw(FOR_NUMBER)
    if "boolean" in kinds:
        return draw(st.one_of(st.sampled_from(["true", "0", "yes", "2", ""]), STRINGS))
    return draw(STRINGS)


@st.composite
def requests(draw: st.DrawFn, ops: list[tuple[str, str, list[dict[str, Any]]]]) -> Any:
    path, _method, params = draw(st.sampled_from(ops))
    chosen = {}
    for p in params:
        if p["in"] == "path" or draw(st.booleans()):
            chosen[p["name"]] = (p["in"], _value(draw, p))
    return path, chosen


def _build(path: str, chosen: dict[str, tuple[str, str]]) -> tuple[str, dict[str, str], dict]:
    url = path
    query: dict[str, str] = {}
    headers: dict[str, bytes] = {}
    for name, (where, value) in chosen.items():
        if where == "path":
            url = url.replace("{" + name + "}", quote(value, safe=""))
        elif where == "header":
            headers[name] = value.encode("latin-1")  # what a raw HTTP client can send
        else:
            query[name] = value
    return url, query, headers


def _rows(body: Any) -> Any:
    """The rows of a JSON answer. `time` is dropped: on aggregates (last() per port) InfluxDB
    stamps the window start, which a relative `since` moves between the two requests."""
    rows = body["items"] if isinstance(body, dict) and "items" in body else body
    if isinstance(rows, list):
        return [{k: v for k, v in r.items() if k != "time"} for r in rows if isinstance(r, dict)]
    return rows


@pytest.fixture
def api(seeded: Seeded) -> Iterator[TestClient]:
    with make_client(seeded.url, seeded.db) as c:
        yield c


def _seeded_values() -> set[str]:
    """Every tag value the fixture writes (a crafted value equal to one is not crafted)."""
    lines, _ = seed_lines(time.time_ns())
    out: set[str] = set()
    for line in lines:
        for kv in line.split(" ", 1)[0].split(",")[1:]:
            out.add(kv.partition("=")[2])
    return out


def test_every_route_every_parameter_only_2xx_4xx_and_no_injection(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    ops = _params(spec)
    assert len(ops) >= 9, [p for p, _, _ in ops]  # the test covers the routes that exist
    seeded = _seeded_values()

    @HYPO
    @given(requests(ops))
    def check(req: tuple[str, dict[str, tuple[str, str]]]) -> None:
        path, chosen = req
        url, query, headers = _build(path, chosen)
        r = api.get(url, params=query, headers=headers)
        assert r.status_code < 500, (url, query, r.status_code, r.text[:300])
        assert "error parsing" not in r.text
        if r.status_code != 200:
            return
        # The oracle: the crafted filter values replaced by an inert one give the same rows.
        crafted = {n: v for n, (w, v) in chosen.items() if n in FILTERS and w in ("query", "path")}
        if not crafted:
            return
        for v in crafted.values():
            assume(v.strip() not in seeded and normalize_addr(v) not in seeded)
        inert = {n: (w, INERT if n in crafted else v) for n, (w, v) in chosen.items()}
        url2, query2, headers2 = _build(path, inert)
        r2 = api.get(url2, params=query2, headers=headers2)
        assert r2.status_code == 200, (url2, r2.text[:300])
        assert _rows(r.json()) == _rows(r2.json()), (url, query)

    check()


# -- stored crafted values ------------------------------------------------------------------------

STORED = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and not s.endswith("\\")
)

# route, parameter, measurement, tag, extra tags, field
ROUTES = [
    ("/api/v1/moves", "fabric", "apic_endpoint_move", "fabric", {}, {"to_node": "102"}),
    ("/api/v1/moves", "addr", "apic_endpoint_move", "addr", {"fabric": "f"}, {"to_node": "1"}),
    ("/api/v1/analysis/moves", "addr", "move_analysis", "addr", {"cause": "loop"}, {"c": 0.5}),
    ("/api/v1/anomalies", "fabric", "apic_endpoint_anomaly", "fabric", {"kind": "loop"}, {"x": 1}),
    ("/api/v1/anomalies", "addr", "apic_endpoint_anomaly", "addr", {"kind": "rapid"}, {"x": 1}),
]


def test_crafted_values_stored_in_influxdb_match_exactly(influxdb: Any, influx_db: str) -> None:
    """Write points whose tag is a crafted value, a near miss (value + suffix) and its prefix;
    asking for the crafted value returns exactly the points stored under it."""
    iq = InfluxQuery(influxdb.url, database=influx_db)
    stored: dict[tuple[str, str], dict[str, set[str]]] = {}

    def tag_of(measurement: str, tag: str, marker: str) -> str:
        [s] = iq.query(f'SELECT * FROM "{measurement}" WHERE "marker" = $m', params={"m": marker})
        return str(next(s.rows())[tag])

    with make_client(influxdb.url, influx_db) as c:

        @HYPO_STORED
        @given(st.sampled_from(ROUTES), STORED, st.sampled_from(["x", "'", "\\", " ", "*"]))
        def check(route: Any, value: str, suffix: str) -> None:
            path, param, measurement, tag, extra, fields = route
            assume(normalize_addr(value) == value.strip() or tag != "addr")
            now = time.time_ns()
            lines = []
            markers = []
            for i, v in enumerate((value, value + suffix, value[:-1] or "q")):
                marker = uuid.uuid4().hex
                tags = {**extra, tag: v, "marker": marker}
                if tag != "addr":
                    tags["addr"] = marker
                lines.append(encode_line(measurement, tags, {**fields, "n": i}, now - i) or "")
                markers.append(marker)
            write_lines(influxdb.url, influx_db, lines)
            by_value = stored.setdefault((measurement, tag), {})
            for m in markers:
                by_value.setdefault(tag_of(measurement, tag, m), set()).add(m)
            for asked, expected in by_value.items():
                if tag == "addr" and normalize_addr(asked) != asked:
                    continue  # a MAC in another spelling: normalised, not crafted
                r = c.get(path, params={param: asked, "since": "-1h", "limit": "1000"})
                if not asked.strip() or len(asked) > 64:
                    assert r.status_code == 422, r.text
                    continue
                assert r.status_code == 200, (asked, r.text[:300])
                got = {row.get("marker") or row.get("addr") for row in r.json()["items"]}
                assert got == expected, (asked, got, expected)

        check()
    iq.close()


# -- UI pages (not in /openapi.json) ---------------------------------------------------------------

UI_PAGES = {
    "/": ["q", "since"],
    "/ui/moves": ["since"],
    "/ui/anomalies": ["since", "kind"],
    "/ui/hosts": ["since"],
    "/ui/endpoints/{addr}": ["since"],
}


def test_ui_pages_answer_html_never_5xx(api: TestClient) -> None:
    """The same hostile values on the web UI: a page or the error page, never a 5xx or JSON."""

    @settings(HYPO, max_examples=60)
    @given(st.sampled_from(sorted(UI_PAGES)), st.data())
    def check(path: str, data: st.DataObject) -> None:
        url = path.replace("{addr}", quote(data.draw(STRINGS.filter(bool)), safe=""))
        params = {p: data.draw(STRINGS) for p in UI_PAGES[path] if data.draw(st.booleans())}
        r = api.get(url, params=params, follow_redirects=False)
        assert r.status_code < 500, (url, params, r.status_code, r.text[:300])
        if r.status_code not in (303, 307, 404):
            assert r.headers["content-type"].startswith("text/html"), (url, params, r.text[:200])
        assert "error parsing" not in r.text

    check()
