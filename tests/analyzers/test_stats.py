"""Analyzer health in `fabricscope_stats`: real analyzers, run by the real scheduler function,
writing through a real BatchingWriter into a real InfluxDB; read back with InfluxQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from analyzers.move_cause import MoveCauseAnalyzer, MoveCauseConfig
from analyzers.scheduler import run_analyzer
from analyzers.stats import AnalyzerStats
from analyzers.traffic import TrafficAnalyzer, TrafficConfig
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from influx.writer import BatchingWriter

NS = 1_000_000_000
T0 = 1_790_000_000 * NS  # a move; 1_790_000_040 s is a 60 s interval boundary
MAC = "00:50:56:AA:BB:01"


def post(url: str, db: str, lines: list[str | None]) -> None:
    body = "\n".join(x for x in lines if x)
    r = httpx.post(f"{url}/write", params={"db": db}, content=body, timeout=30)
    assert r.status_code == 204, r.text


def seed(url: str, db: str) -> None:
    post(url, db, [
        encode_line(
            "apic_endpoint_move",
            {"fabric": "fabric1", "addr": MAC, "addr_type": "mac"},
            {"from_node": "101", "from_interface": "eth1/1", "to_node": "102",
             "to_interface": "eth1/1", "epg": "t1/app/web", "bd": "t1/bd1", "vrf": "t1/v1"},
            T0,
        ),
        encode_line(
            "apic_interface", {"fabric": "fabric1", "node": "101", "interface": "eth1/1"},
            {"oper_st": "up", "oper_up": True}, T0 - 90 * NS,
        ),
        encode_line(
            "apic_interface", {"fabric": "fabric1", "node": "101", "interface": "eth1/1"},
            {"oper_st": "down", "oper_up": False}, T0 - 5 * NS,
        ),
        encode_line(
            "sflow_flows",
            {"agent": "10.0.0.1", "vlan": "10", "src_mac": "005056aabb01",
             "dst_mac": "ffffffffffff", "src_ip": "10.1.1.5", "dst_ip": "10.1.1.99",
             "ip_protocol": "6"},
            {"samples": 1, "packets": 150, "bytes": 150_000},
            T0 + 10 * NS,
        ),
    ])  # fmt: skip


def stats_rows(influxdb: Any, db: str, analyzer: str) -> list[dict[str, Any]]:
    res = influxdb.query(
        'SELECT * FROM "fabricscope_stats" WHERE "analyzer" = $a ORDER BY time ASC',
        db,
        params=f'{{"a": "{analyzer}"}}',
    )["results"][0]
    assert "error" not in res, res
    out = []
    for s in res.get("series", []):
        out.extend(dict(zip(s["columns"], v, strict=True)) for v in s["values"])
    return out


class Clock:
    def __init__(self, t_ns: int) -> None:
        self.t_ns = t_ns

    def __call__(self) -> float:
        return self.t_ns / NS


@pytest.fixture
def writer(influxdb, influx_db):
    w = BatchingWriter(influxdb.url, "", "-", influx_db, flush_interval_s=0.1)
    yield w
    w.close()


def run(analyzer: Any, interval_s: float | None = 60.0) -> bool:
    return asyncio.run(run_analyzer(analyzer, interval_s))


def test_move_cause_run_writes_its_stats_and_counts_a_failed_run(influxdb, influx_db, writer):
    seed(influxdb.url, influx_db)
    clock = Clock(T0 + 60 * NS)
    good = InfluxQuery(influxdb.url, "", influx_db)
    an = MoveCauseAnalyzer(good, writer, MoveCauseConfig(fabric="fabric1"), clock=clock)

    assert run(an) is True
    assert writer.flush(30)
    [first] = stats_rows(influxdb, influx_db, "move_cause")
    assert first["time"] == clock.t_ns  # the analyzer's own "now"
    assert (first["process"], first["analyzer"], first["fabric"]) == (
        "analyzers", "move_cause", "fabric1"
    )  # fmt: skip
    assert (first["runs"], first["failures"], first["last_success"]) == (1, 0, True)
    assert (first["moves_analysed"], first["findings_written"]) == (1, 1)
    assert (first["findings_deleted"], first["stale_findings_kept"]) == (0, 0)
    assert isinstance(first["last_duration_ms"], float) and first["last_duration_ms"] > 0
    assert first["interval_s"] == 60.0
    assert first["instance"]  # <hostname>-<pid>
    # The process's writer reports with it, as the collector's does.
    assert isinstance(first["points_written"], int) and isinstance(first["queue_depth"], int)
    assert first.get("last_error") is None  # omitted until a run fails
    # The finding itself went through the same writer.
    assert influxdb.count(influx_db, "move_analysis") == 1

    # The database goes away under the analyzer: the run fails and is counted as such.
    an.q = InfluxQuery(influxdb.url, "", "no_such_database")
    clock.t_ns += 60 * NS
    assert run(an) is False
    assert writer.flush(30)
    second = stats_rows(influxdb, influx_db, "move_cause")[-1]
    assert second["time"] == clock.t_ns
    assert (second["runs"], second["failures"], second["last_success"]) == (2, 1, False)
    assert "database not found" in second["last_error"]
    assert second["last_error"].startswith("InfluxQueryError: ")
    assert (second["moves_analysed"], second["findings_written"]) == (1, 1)  # unchanged

    # Back to normal: success again, failures stay counted (cumulative since start).
    an.q = good
    clock.t_ns += 60 * NS
    assert run(an) is True
    assert writer.flush(30)
    rows = stats_rows(influxdb, influx_db, "move_cause")
    assert [r["runs"] for r in rows] == [1, 2, 3]
    assert [r["failures"] for r in rows] == [0, 1, 1]
    assert [r["last_success"] for r in rows] == [True, False, True]
    # The move is re-examined (it is within the re-analyse window) but the stored finding is
    # identical, so nothing new is written.
    assert (rows[-1]["moves_analysed"], rows[-1]["findings_written"]) == (2, 1)
    good.close()


def test_traffic_run_writes_rows_written(influxdb, influx_db, writer):
    seed(influxdb.url, influx_db)
    clock = Clock(T0 + 70 * NS)  # the interval [T0, T0 + 60 s) is complete and 10 s old
    q = InfluxQuery(influxdb.url, "", influx_db)
    ta = TrafficAnalyzer(q, writer, TrafficConfig(fabric="fabric1", lag_s=5), clock=clock)
    assert run(ta, None) is True  # --once: no interval
    assert writer.flush(30)
    [row] = stats_rows(influxdb, influx_db, "traffic")
    assert (row["process"], row["fabric"], row["runs"], row["failures"]) == (
        "analyzers", "fabric1", 1, 0
    )  # fmt: skip
    # One flow row → one traffic_epg point and one traffic_endpoint point.
    assert (row["flow_rows"], row["rows_written"]) == (1, 2)
    assert influxdb.count(influx_db, "traffic_epg") == 1
    assert influxdb.count(influx_db, "traffic_endpoint") == 1
    assert "interval_s" not in row and row["last_success"] is True
    q.close()


def test_stats_line_types_never_change() -> None:
    """A field keeps one type for life: a 0 ms or a whole-millisecond run is still a float."""
    st = AnalyzerStats("move_cause", "fabric1", work={"moves_analysed": 0}, instance="h-1")
    st.record(True, 0.0)
    line = st.line(5)
    assert line == (
        "fabricscope_stats,analyzer=move_cause,fabric=fabric1,instance=h-1,process=analyzers "
        "runs=1i,failures=0i,last_success=true,last_duration_ms=0.0,moves_analysed=0i 5"
    )
    st.record(False, 0.002, RuntimeError("x" * 1000))
    line = st.line(6, 30, {"points_written": 7, "runs": 99})
    assert line is not None
    assert "last_duration_ms=2.0," in line and "interval_s=30.0" in line
    assert 'last_error="RuntimeError: xxx' in line and len(st.last_error) == 300
    # Writer counters ride along, but never replace the analyzer's own.
    assert "points_written=7i" in line and "runs=2i" in line and "runs=99i" not in line
