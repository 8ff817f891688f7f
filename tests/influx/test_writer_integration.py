"""BatchingWriter against a real influxd 1.8.10 (the `influxdb` fixtures in tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from influx.line_protocol import encode_line
from influx.query import InfluxQuery, quote_ident, quote_str
from influx.writer import BatchingWriter

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000_000_000


def stats(w: BatchingWriter) -> dict[str, Any]:
    """stats() with values typed loosely for arithmetic in asserts."""
    return dict(w.stats())


def writer(url: str, db: str, **kw) -> BatchingWriter:
    opts: dict[str, Any] = {
        "batch_size": 500,
        "flush_interval_s": 0.1,
        "backoff_initial_s": 0.1,
        "backoff_max_s": 1.0,
    }
    opts.update(kw)
    return BatchingWriter(url, "", "-", db, **opts)


def points(n: int, start: int = 0, m: str = "w") -> list[str]:
    return [f"{m},host=h{i % 7} v={i}i {T0 + i}" for i in range(start, start + n)]


def test_lines_are_queryable_and_bucket_is_created(influxdb):
    db = f"created_{time.time_ns()}"  # does not exist: the writer must create it
    w = writer(influxdb.url, db)
    w.write_lines(points(2000))
    assert w.flush(20)
    w.close()
    assert influxdb.count(db, "w") == 2000
    assert stats(w)["points_written"] == 2000
    influxdb.drop_db(db)


def test_b1_escaping_roundtrips_through_the_server(influxdb, influx_db):
    names = [
        "tenant one", "epg,web", "bd=prod", 'quote"d', "back\\slash", "trailing\\",
        "lf\nname", "tab\tname", "nul\x00name", "emoji 🚀", "bad\udcffutf8",
    ]  # fmt: skip
    w = writer(influxdb.url, influx_db)
    w.write_lines([encode_line("b1 m,x", {"epg": n}, {"s": n, "i": k}, T0 + k) or "" for k, n in
                   enumerate(names)])  # fmt: skip
    assert w.flush(10)
    w.close()
    assert stats(w)["points_dropped"] == 0
    q = InfluxQuery(influxdb.url, "", influx_db)
    series = q.query(f"SELECT * FROM {quote_ident('b1 m,x')}")
    rows = sorted(series[0].rows(), key=lambda r: r["i"])
    assert len(rows) == len(names)
    for row, name in zip(rows, names, strict=True):
        utf8 = name.encode("utf-8", "replace").decode()
        tag = "".join("_" if ord(c) < 32 else c for c in utf8)
        tag = tag[:-1] + "_" if tag.endswith("\\") else tag
        assert row["epg"] == tag
        assert row["s"] == "".join(" " if ord(c) < 32 else c for c in utf8)
        # The stored tag is findable with the quoting helpers.
        hit = q.query(
            f"SELECT i FROM {quote_ident('b1 m,x')} WHERE {quote_ident('epg')} = {quote_str(tag)}"
        )
        assert [r["i"] for r in hit[0].rows()] == [row["i"]]


def test_bad_line_is_isolated_rest_of_batch_lands(influxdb, influx_db):
    w = writer(influxdb.url, influx_db)
    good = points(99)
    w.write_lines(good[:50] + ["this is not line protocol"] + good[50:])
    assert w.flush(10)
    w.close()
    assert influxdb.count(influx_db, "w") == 99
    st = stats(w)
    assert st["bad_lines"] == 1 and st["points_written"] == 99 and st["points_retried"] == 0


def test_batch_of_only_bad_lines_is_bisected(influxdb, influx_db):
    w = writer(influxdb.url, influx_db)
    w.write_lines(["bad one", "bad two", *points(1)])
    assert w.flush(10)
    w.close()
    assert influxdb.count(influx_db, "w") == 1
    assert stats(w)["bad_lines"] == 2


def test_413_is_split_and_everything_lands(influxdb_factory):
    small = influxdb_factory(max_body_size=4000)
    small.create_db("big")
    w = writer(small.url, "big", batch_size=2000)
    w.write_lines(points(2000))
    assert w.flush(60)
    w.close()
    assert small.count("big", "w") == 2000
    st = stats(w)
    assert st["batch_splits"] > 0 and st["points_dropped"] == 0 and st["points_written"] == 2000


def test_b5_type_conflict_is_partial_counted_not_retried(influxdb, influx_db):
    w = writer(influxdb.url, influx_db)
    w.write_lines(["w v=1i 1", "w v=1.5 2", "w v=2i 3"])
    assert w.flush(10)
    time.sleep(0.5)
    w.close()
    st = stats(w)
    assert st["dropped_partial"] == 1 and st["points_retried"] == 0
    assert st["points_written"] == 2
    assert influxdb.count(influx_db, "w") == 2


def test_b6_rewrite_of_same_points_does_not_duplicate(influxdb, influx_db):
    w = writer(influxdb.url, influx_db)
    w.write_lines(points(300))
    w.write_lines(points(300))
    assert w.flush(10)
    w.close()
    assert influxdb.count(influx_db, "w") == 300


def test_401_keeps_data_then_lands_when_credentials_fixed(influxdb_factory, tmp_path):
    srv = influxdb_factory(auth_enabled=True)
    import httpx

    # The first user may be created without auth; then everything needs credentials.
    httpx.post(
        f"{srv.url}/query",
        data={"q": "CREATE USER admin WITH PASSWORD 'old' WITH ALL PRIVILEGES"},
    ).raise_for_status()
    w = BatchingWriter(
        srv.url, "admin:new", "-", "authdb",
        batch_size=100, flush_interval_s=0.1, auth_retry_s=0.5, spool_dir=tmp_path / "sp",
    )  # fmt: skip
    w.write_lines(points(250))
    time.sleep(1.5)
    st = stats(w)
    assert st["points_written"] == 0 and st["points_dropped"] == 0
    assert st["spool_lines"] + st["queue_depth"] == 250
    assert "401" in str(st["last_error"]) and "new" not in str(st["last_error"])
    httpx.post(
        f"{srv.url}/query",
        data={"q": "SET PASSWORD FOR admin = 'new'"},
        headers={"Authorization": "Token admin:old"},
    ).raise_for_status()
    assert w.flush(20)
    w.close()
    srv.token = "admin:new"
    assert srv.count("authdb", "w") == 250


def test_close_flushes_on_sigterm(influxdb, influx_db, tmp_path):
    """A producer process gets SIGTERM mid-stream; its handler calls close(): nothing lost."""
    script = textwrap.dedent(
        f"""
        import signal, sys, time
        from influx.writer import BatchingWriter
        w = BatchingWriter({influxdb.url!r}, "", "-", {influx_db!r}, batch_size=5000,
                           flush_interval_s=30, spool_dir={str(tmp_path / "sp")!r})
        sent = 0
        def stop(*_):
            w.close(timeout=10)
            print(sent, flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        while True:
            w.write_lines([f"sig v={{i}}i {{{T0} + i}}" for i in range(sent, sent + 100)])
            sent += 100
            time.sleep(0.005)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    sent = int(out.strip())
    assert proc.returncode == 0
    assert sent > 1000
    assert influxdb.count(influx_db, "sig") == sent


def test_corrupted_spool_is_skipped_and_counted_on_replay(influxdb, influx_db, tmp_path):
    from influx.spool import Spool

    sp = Spool(tmp_path / "sp")
    for k in range(3):
        sp.append(points(10, start=k * 10, m="sp"))
    sp.close()
    (seg,) = (tmp_path / "sp").glob("*.seg")
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x55
    seg.write_bytes(bytes(data))
    w = writer(influxdb.url, influx_db, spool_dir=tmp_path / "sp")
    assert w.flush(10)
    w.close()
    assert stats(w)["spool_corrupt_records"] == 1
    assert influxdb.count(influx_db, "sp") == 20


@pytest.mark.slow
def test_outage_30s_loses_nothing(influxdb_factory, tmp_path):
    """Steady writes; influxd stopped for 30 s mid-stream, restarted; every point arrives."""
    srv = influxdb_factory()
    w = writer(srv.url, "outage", batch_size=1000, backoff_max_s=2.0, spool_dir=tmp_path / "sp")
    sent = 0
    stop = threading.Event()

    def produce() -> None:
        nonlocal sent
        while not stop.is_set():
            w.write_lines(points(200, start=sent, m="steady"))
            sent += 200
            time.sleep(0.05)  # ~4000 points/s

    t = threading.Thread(target=produce)
    t.start()
    time.sleep(5)
    srv.local.stop()
    time.sleep(30)
    mid = stats(w)
    srv.local.start()
    time.sleep(5)
    stop.set()
    t.join()
    assert w.flush(60)
    w.close()
    assert mid["points_spooled"] > 0  # the outage really hit the writer
    assert srv.count("outage", "steady") == sent
    st = stats(w)
    assert st["points_dropped"] == 0 and st["spool_lines"] == 0
