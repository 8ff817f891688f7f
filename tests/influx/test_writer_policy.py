"""Retry/split/isolate/spool policy of BatchingWriter against a scripted HTTP server.

The client side is the real influxdb-client over real HTTP; only the server's answers are scripted
(failure paths that a healthy influxd does not produce on demand).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from stub_server import Reply

from fabricscope.influxdb_local import free_port
from influx.writer import BatchingWriter, parse_retry_after

TOKEN = "s3cr3t-token-value"


def stats(w: BatchingWriter) -> dict[str, Any]:
    """stats() with values typed loosely for arithmetic in asserts."""
    return dict(w.stats())


def lines(n: int, start: int = 0) -> list[str]:
    return [f"m,k=a v={i}i {1_700_000_000_000_000_000 + i}" for i in range(start, start + n)]


def make_writer(url: str, **kw) -> BatchingWriter:
    opts: dict[str, Any] = {
        "batch_size": 100,
        "flush_interval_s": 0.05,
        "queue_max_lines": 10_000,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
        "create_bucket": False,
        "timeout_s": 2.0,
    }
    opts.update(kw)
    return BatchingWriter(url, TOKEN, "org", "db", **opts)


def fail_first(n: int, reply: Reply):
    """Script: answer `reply` to the first `n` writes, then 204."""

    def script(stub, req):
        return reply if len(stub.requests) < n else Reply(204)

    return script


# -- Retry-After ------------------------------------------------------------------------------


def test_parse_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after("7") == 7.0
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    )
    assert (
        parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    )
    assert parse_retry_after("soon, maybe") == 10.0
    assert parse_retry_after("") == 10.0
    assert parse_retry_after("-5") == 10.0


def gap(stub: Any) -> float:
    assert len(stub.requests) >= 2, stub.requests
    return float(stub.requests[1].t - stub.requests[0].t)


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_seconds_is_honoured(stub, status):
    s = stub(fail_first(1, Reply(status, "busy", {"Retry-After": "1"})))
    w = make_writer(s.url)
    w.write_lines(lines(10))
    assert w.flush(10)
    w.close()
    assert 0.9 <= gap(s) < 3.0
    assert sorted(s.accepted_lines()) == sorted(lines(10))
    st = stats(w)
    assert st["points_written"] == 10 and st["points_retried"] == 10 and st["points_dropped"] == 0


def test_retry_after_http_date_is_honoured(stub):
    def script(stub_, req):
        if not stub_.requests:
            when = datetime.now(UTC) + timedelta(seconds=2)
            return Reply(503, "later", {"Retry-After": format_datetime(when, usegmt=True)})
        return Reply(204)

    s = stub(script)
    w = make_writer(s.url)
    w.write_lines(lines(5))
    assert w.flush(10)
    w.close()
    # HTTP-date has 1 s resolution: the wait is between 1 and 2 s, never the 0.05 s backoff.
    assert 0.9 <= gap(s) < 3.0
    assert len(s.accepted_lines()) == 5


def test_garbage_retry_after_means_10s_capped(stub):
    s = stub(fail_first(1, Reply(503, "x", {"Retry-After": "tomorrow-ish"})))
    # Cap below 10 s keeps the test short: the wait equals the cap (not the 0.05 s backoff),
    # which shows the garbage was read as 10 s.
    w = make_writer(s.url, max_retry_after_s=1.5)
    w.write_lines(lines(5))
    assert w.flush(10)
    w.close()
    assert 1.4 <= gap(s) < 3.0


def test_500_without_retry_after_backs_off_and_lands(stub):
    s = stub(fail_first(3, Reply(500, "internal")))
    w = make_writer(s.url)
    w.write_lines(lines(20))
    assert w.flush(10)
    w.close()
    assert len(s.requests) == 4
    assert sorted(s.accepted_lines()) == sorted(lines(20))
    gaps = [b.t - a.t for a, b in zip(s.requests, s.requests[1:], strict=False)]
    assert gaps[1] >= gaps[0] * 1.2 or gaps[1] >= 0.15  # exponential, not constant


# -- 413 / 400 / 422 ---------------------------------------------------------------------------


def test_413_splits_until_it_fits(stub):
    limit = 1000  # bytes

    def script(stub_, req):
        body = "\n".join(req.lines)
        return Reply(413, "Request Entity Too Large") if len(body) > limit else Reply(204)

    s = stub(script)
    w = make_writer(s.url, batch_size=400)
    w.write_lines(lines(400))
    assert w.flush(15)
    w.close()
    assert sorted(s.accepted_lines()) == sorted(lines(400))
    assert stats(w)["batch_splits"] > 0 and stats(w)["points_dropped"] == 0


def test_400_bisects_to_the_bad_line_and_writes_the_rest(stub):
    def script(stub_, req):
        # InfluxDB 2.x semantics: one bad line rejects the whole request.
        bad = [ln for ln in req.lines if ln.startswith("BAD")]
        if bad:
            return Reply(400, f'{{"code":"invalid","message":"unable to parse \'{bad[0]}\'"}}')
        return Reply(204)

    s = stub(script)
    w = make_writer(s.url, batch_size=64)
    good = lines(63)
    batch = good[:40] + ["BAD line no fields"] + good[40:]
    w.write_lines(batch)
    assert w.flush(10)
    w.close()
    assert sorted(s.accepted_lines()) == sorted(good)
    st = stats(w)
    assert st["bad_lines"] == 1 and st["points_dropped"] == 1 and st["points_written"] == 63
    assert len(s.requests) <= 2 * 7 + 1  # bisection: O(log n) requests, not one per line


def test_422_partial_is_counted_not_retried(stub):
    s = stub(
        lambda st, req: Reply(422, '{"message":"partial write: field type conflict dropped=2"}')
    )
    w = make_writer(s.url)
    w.write_lines(lines(10))
    assert w.flush(5)
    time.sleep(0.3)
    w.close()
    assert len(s.requests) == 1
    st = stats(w)
    assert st["dropped_partial"] == 2 and st["points_written"] == 8 and st["points_retried"] == 0


def test_1x_partial_write_400_is_not_bisected(stub):
    body = '{"error":"partial write: unable to parse \'x\': invalid field format dropped=0"}'
    s = stub(lambda st, req: Reply(400, body))
    w = make_writer(s.url)
    w.write_lines(lines(10))
    assert w.flush(5)
    w.close()
    assert len(s.requests) == 1
    assert stats(w)["bad_lines"] == 1 and stats(w)["points_written"] == 9


# -- 401 / 404 / connection refused ------------------------------------------------------------


def test_401_keeps_data_alerts_without_token_and_lands_later(stub, tmp_path, caplog):
    state = {"authorized": False}

    def script(stub_, req):
        return Reply(204) if state["authorized"] else Reply(401, '{"error":"authorization failed"}')

    s = stub(script)
    caplog.set_level(logging.DEBUG)
    w = make_writer(s.url, auth_retry_s=0.3, spool_dir=tmp_path / "spool")
    w.write_lines(lines(50))
    time.sleep(1.0)
    st = stats(w)
    assert st["points_dropped"] == 0 and st["points_written"] == 0
    assert st["spool_lines"] + st["queue_depth"] == 50
    assert len(s.requests) <= 5  # "retry slowly": ~every 0.3 s, not a hot loop
    state["authorized"] = True
    assert w.flush(5)
    w.close()
    assert sorted(s.accepted_lines()) == sorted(lines(50))
    assert "ALERT" in caplog.text and "401" in caplog.text
    assert TOKEN not in caplog.text
    assert s.requests[0].headers.get("Authorization") == f"Token {TOKEN}"


def test_connection_refused_spools_then_replays_in_order(stub, tmp_path):
    port = free_port()
    w = make_writer(f"http://127.0.0.1:{port}", spool_dir=tmp_path / "spool", backoff_max_s=0.3)
    w.write_lines(lines(300))
    time.sleep(0.8)
    st = stats(w)
    assert st["spool_lines"] == 300 and st["points_written"] == 0 and st["points_spooled"] >= 300
    s = stub(port=port)
    w.write_lines(lines(100, start=300))  # newer data, arrives while the spool is replayed
    assert w.flush(10)
    w.close()
    got = s.accepted_lines()
    assert got == lines(400)  # exactly once, oldest first
    assert stats(w)["spool_lines"] == 0


def test_overflow_without_spool_drops_oldest_and_counts(stub):
    s = stub()
    w = make_writer(s.url, batch_size=50, queue_max_lines=100, start=False)
    w.write_lines(lines(150))
    assert stats(w)["dropped_overflow"] == 50 and stats(w)["queue_depth"] == 100
    w.start()
    assert w.flush(5)
    w.close()
    assert sorted(s.accepted_lines()) == sorted(lines(100, start=50))


def test_overflow_with_spool_loses_nothing(stub, tmp_path):
    s = stub()
    w = make_writer(
        s.url, batch_size=50, queue_max_lines=100, start=False, spool_dir=tmp_path / "sp"
    )
    w.write_lines(lines(1000))
    assert stats(w)["points_dropped"] == 0 and stats(w)["queue_depth"] <= 100
    w.start()
    assert w.flush(10)
    w.close()
    assert s.accepted_lines() == lines(1000)


def test_write_lines_never_blocks_on_a_hung_server(stub):
    def script(stub_, req):
        time.sleep(1.5)
        return Reply(204)

    s = stub(script)
    w = make_writer(s.url, batch_size=10)
    t0 = time.monotonic()
    for i in range(50):
        w.write_lines(lines(10, start=i * 10))
    assert time.monotonic() - t0 < 0.2
    w.close(timeout=0.1)


# -- close ----------------------------------------------------------------------------------


def test_close_flushes_everything(stub):
    s = stub()
    w = make_writer(s.url, batch_size=1000, flush_interval_s=60)
    w.write_lines(lines(250))
    w.close(timeout=5)
    assert sorted(s.accepted_lines()) == sorted(lines(250))


def test_close_when_down_spools_and_next_writer_replays(stub, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    w = make_writer(url, spool_dir=tmp_path / "sp", flush_interval_s=60, batch_size=1000)
    w.write_lines(lines(120))
    t0 = time.monotonic()
    w.close(timeout=3)
    assert time.monotonic() - t0 < 6
    assert stats(w)["points_dropped"] == 0
    s = stub(port=port)
    w2 = make_writer(url, spool_dir=tmp_path / "sp")
    assert w2.flush(10)
    w2.close()
    assert s.accepted_lines() == lines(120)


def test_write_after_close_is_counted(stub):
    s = stub()
    w = make_writer(s.url)
    w.close()
    w.write_lines(lines(3))
    assert stats(w)["points_dropped"] == 3
