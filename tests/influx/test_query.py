"""Query layer: quoting helpers and time parsing (unit), and their behaviour on a real influxd."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from influx.line_protocol import encode_line
from influx.query import (
    MAX_DURATION,
    MAX_TIME_NS,
    MIN_TIME_NS,
    InfluxQuery,
    InfluxQueryError,
    QueryValueError,
    duration_literal,
    parse_duration,
    parse_time,
    quote_ident,
    quote_str,
    regex_literal,
    time_literal,
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


@pytest.mark.parametrize(
    "text",
    [
        "-1000000d",  # OverflowError in datetime arithmetic before the fix
        "+3000000d",
        "-300000d",  # a valid datetime, but before 1677: InfluxQL cannot parse the integer
        "now-" + "9" * 400 + "d",  # float("9"*400) is inf
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # OverflowError in astimezone
        "2262-04-11T23:47:17Z",
        "1677-09-21T00:12:43Z",
    ],
)
def test_parse_time_outside_influxdb_range(text):
    with pytest.raises(QueryValueError, match="out of range: InfluxDB stores times from 1677"):
        parse_time(text, now=NOW)


def test_parse_time_range_edges_and_literals():
    first = parse_time("1677-09-21T00:12:43.145225Z")
    last = parse_time("2262-04-11T23:47:16.854775Z")
    assert MIN_TIME_NS <= to_ns(first) and to_ns(last) <= MAX_TIME_NS
    # time_literal guards datetimes passed in directly, too.
    with pytest.raises(QueryValueError, match="out of range"):
        time_literal(datetime(1000, 1, 1, tzinfo=UTC))
    with pytest.raises(QueryValueError, match="out of range"):
        time_range(datetime(3000, 1, 1, tzinfo=UTC))


def test_durations_beyond_int64_nanoseconds():
    for text in ("99999999999w", "1" + "0" * 400 + "s", "106752d", "20000000000000000000ns"):
        with pytest.raises(QueryValueError, match="too long"):
            parse_duration(text)
    assert parse_duration(f"{MAX_DURATION.days}d") <= MAX_DURATION
    with pytest.raises(QueryValueError, match="too long"):
        duration_literal(MAX_DURATION + timedelta(seconds=1))
    # Other scripts' digits are not digits here (\d would take them and float() too).
    with pytest.raises(QueryValueError, match="invalid duration"):
        parse_duration("\u0663d")


@pytest.mark.parametrize("bad", ["a\x00b", "a\rb"])
def test_literals_refuse_what_influxql_cannot_express(bad):
    """The scanner reads NUL as end of input and CR as LF: no literal can carry either."""
    with pytest.raises(QueryValueError, match="InfluxQL cannot express"):
        quote_str(bad)
    with pytest.raises(QueryValueError, match="InfluxQL cannot express"):
        quote_ident(bad)
    assert "\x00" not in regex_literal(bad) and "\r" not in regex_literal(bad)


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
