"""Query layer: quoting helpers and time parsing (unit), and their behaviour on a real influxd."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from influx.line_protocol import encode_line
from influx.query import (
    InfluxQuery,
    InfluxQueryError,
    duration_literal,
    parse_duration,
    parse_time,
    quote_ident,
    quote_str,
    regex_literal,
    time_range,
    to_ns,
)

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_quote_ident_and_str():
    assert quote_ident("cpu") == '"cpu"'
    assert quote_ident('a"b\\c') == '"a\\"b\\\\c"'
    assert quote_str("it's") == "'it\\'s'"
    assert quote_str("a\\b\nc") == "'a\\\\b\\nc'"


def test_regex_literal_escapes_meta_and_slashes():
    assert regex_literal("a.b") == r"/a\.b/"
    assert regex_literal("10.0.0.0/8", match="prefix") == r"/^10\.0\.0\.0\x2f8/"
    assert regex_literal("C:\\", match="exact") == r"/^C:\x5c$/"
    with pytest.raises(ValueError):
        regex_literal("x", match="fuzzy")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-1h", NOW - timedelta(hours=1)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("now-2d", NOW - timedelta(days=2)),
        ("-1h30m", NOW - timedelta(minutes=90)),
        ("2026-04-30T10:00:00Z", datetime(2026, 4, 30, 10, tzinfo=UTC)),
        ("2026-04-30T12:00:00+02:00", datetime(2026, 4, 30, 10, tzinfo=UTC)),
        ("2026-04-30T10:00:00.123456Z", datetime(2026, 4, 30, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parse_time_valid(text, expected):
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text", ["", "yesterday", "-1x", "1h", "2026-04-30", "2026-04-30T10:00:00", "-", "now-"]
)
def test_parse_time_invalid_has_clear_message(text):
    with pytest.raises(ValueError, match="time"):
        parse_time(text, now=NOW)


def test_durations():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("500ms") == timedelta(milliseconds=500)
    assert duration_literal("90s") == "90s"
    assert duration_literal(timedelta(hours=2)) == "2h"
    assert duration_literal("1500ms") == "1500ms"
    for bad in ("", "5", "m", "1 h", "-5m"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_time_range():
    clause = time_range("-1h", "now", now=NOW)
    assert clause == f"time >= {to_ns(NOW - timedelta(hours=1))} AND time < {to_ns(NOW)}"
    assert time_range(None, None) == ""
    with pytest.raises(ValueError, match="before"):
        time_range("now", "-1h", now=NOW)


def test_to_ns_is_exact():
    assert to_ns(datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)) == 1767225600_000_001_000


# -- against a real influxd -------------------------------------------------------------------

TRICKY = ["plain", "it's", 'dq"x', "back\\slash", "slash/x", "dot.star*", "sp ace,comma=eq", "ü🚀"]


@pytest.fixture
def tricky_db(influxdb, influx_db):
    import httpx

    t0 = time.time_ns() - 10**9
    body = "\n".join(
        encode_line("tri cky", {"name": v}, {"v": i, "s": v}, t0 + i) or ""
        for i, v in enumerate(TRICKY)
    )
    r = httpx.post(f"{influxdb.url}/write", params={"db": influx_db}, content=body.encode())
    assert r.status_code == 204, r.text
    return influx_db


@pytest.mark.parametrize("value", TRICKY)
def test_quote_str_and_regex_roundtrip_on_server(influxdb, tricky_db, value):
    q = InfluxQuery(influxdb.url, "", tricky_db)
    m = quote_ident("tri cky")
    by_str = q.query(f"SELECT s FROM {m} WHERE {quote_ident('name')} = {quote_str(value)}")
    assert [r["s"] for s in by_str for r in s.rows()] == [value]
    k = quote_ident("name")  # `name` is an InfluxQL keyword: unquoted it is a syntax error
    by_re = q.query(f"SELECT s FROM {m} WHERE {k} =~ {regex_literal(value, match='exact')}")
    assert [r["s"] for s in by_re for r in s.rows()] == [value]
    by_param = q.query(f"SELECT s FROM {m} WHERE {k} = $v", params={"v": value})
    assert [r["s"] for s in by_param for r in s.rows()] == [value]
    q.close()


async def test_async_query_and_errors(influxdb, tricky_db):
    q = InfluxQuery(influxdb.url, "", tricky_db)
    res = await q.aquery(f"SELECT count(v) FROM {quote_ident('tri cky')}")
    assert res[0].values[0][1] == len(TRICKY)
    assert isinstance(res[0].values[0][0], int)  # epoch=ns
    rfc = await q.aquery(f"SELECT v FROM {quote_ident('tri cky')} LIMIT 1", epoch=None)
    assert isinstance(rfc[0].values[0][0], str) and rfc[0].values[0][0].endswith("Z")
    with pytest.raises(InfluxQueryError, match="error parsing query"):
        await q.aquery("SELEC nonsense")
    await q.aclose()
    with pytest.raises(InfluxQueryError, match="unreachable"):
        InfluxQuery("http://127.0.0.1:9", "", "x", timeout_s=1).query("SHOW DATABASES")
