"""`fabricscope demo` as a user runs it: one process starts the stack; data arrives in InfluxDB;
moves get causes from the evidence of the fabric's own sFlow agents; every Grafana dashboard
query returns data on what the demo wrote; SIGINT (Ctrl-C) stops every child cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from fabricscope.influxdb_local import free_port

from .loading import load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NS = 1_000_000_000
# Panel targets ("<file> '<title>' <refId>", panel ids left out: they shift when panels are
# added) that a few minutes of demo may leave empty, with the reason. Keep short.
NO_DATA_EXPECTED: dict[str, str] = {
    "fabric-overview.json 'Interfaces oper-down' A": "counts ports whose last state is down: "
    "none when every failed-over link is back (the stat then shows its noValue 0)",
    "fabric-overview.json 'Interfaces oper-down' B": "same, for sFlow interfaces",
    "endpoint-detail.json 'Events per interval by status' C": "the deleted series: the "
    "chosen endpoint (a NIC-teaming flap) may have had no entry deleted yet",
    "endpoint-detail.json 'Current leaf' B": "its local learns: a flapping endpoint is held "
    "as rapid, and held endpoints' events are not written (its moves are: target A)",
}


def test_demo_brings_up_the_stack_and_explains_moves(tmp_path, influxdb, influx_db):
    env = dict(
        os.environ,
        FABRICSCOPE_INFLUX_URL=influxdb.url,
        FABRICSCOPE_INFLUX_BUCKET=influx_db,
        FABRICSCOPE_SFLOW_FLOW_INTERVAL_S="2",
    )
    api_port = free_port()
    out_path = tmp_path / "demo.out"
    started_ns = time.time_ns()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fabricscope.cli",
            "demo",
            "--state-dir",
            str(tmp_path / "state"),
            "--sflow-port",
            str(free_port()),
            "--apic-port",
            str(free_port()),
            "--api-listen",
            f"127.0.0.1:{api_port}",
            # vm_migration, link_failover, nic_teaming_flap, l2_loop … one every 20 s
            "--repeat",
            "20",
        ],
        env=env,
        stdout=out_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    wanted = {
        "sflow_host_cpu",
        "cpu",
        "sflow_if_counters",
        "sflow_flows",
        "sflow_host_adapters",
        "apic_endpoint_event",
        "apic_endpoint_move",
        "apic_interface",
        "move_analysis",
        "traffic_epg",
    }
    want_causes = {"vm_migration", "link_failover", "nic_teaming_flap", "loop"}
    seen: set[str] = set()
    causes: set[str] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (wanted <= seen and want_causes <= causes):
            assert proc.poll() is None, out_path.read_text()
            seen = {r[0] for r in influxdb.rows("SHOW MEASUREMENTS", influx_db)}
            if "move_analysis" in seen:
                rows = influxdb.rows(
                    'SHOW TAG VALUES FROM "move_analysis" WITH KEY = "cause"', influx_db
                )
                causes = {r[1] for r in rows}
            time.sleep(3)
        output = out_path.read_text()
        assert wanted <= seen, f"missing {wanted - seen}; demo said:\n{output}"
        assert want_causes <= causes, f"causes found so far: {causes}"
        dashboards = check_dashboards(influxdb, influx_db, started_ns)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
    assert not dashboards["errors"], "\n".join(dashboards["errors"])
    assert not dashboards["empty"], (
        f"{len(dashboards['empty'])} of {dashboards['total']} dashboard queries returned no "
        "data:\n" + "\n".join(dashboards["empty"])
    )
    # It told the user what runs where.
    for name in ("InfluxDB", "fabric-sim", "collector", "poller", "analyzers", "api"):
        assert name in output
    final = out_path.read_text()
    assert "stopped collector" in final and "stopped poller" in final
    assert proc.returncode == 0, final
    # Nothing was left running: every child of the demo exited with it.
    logs = tmp_path / "state" / "logs"
    assert {p.stem for p in logs.glob("*.log")} >= {"collector", "poller", "fabric-sim"}


def check_dashboards(influxdb, db: str, started_ns: int) -> dict[str, list[str] | int]:
    qc = load("grafana/query_check.py")
    # The endpoint-detail dashboard shows one endpoint: the flapping one has events, moves
    # with a cause and rogue/rapid anomalies.
    rows = influxdb.rows(
        'SELECT "evidence", "addr" FROM "move_analysis" WHERE "cause" = \'nic_teaming_flap\'',
        db,
    )
    address = rows[0][2]
    variables: dict[str, str | list[str]] = {
        "address": address,
        "host": "$__all",
        "interfaces.json:agent": "$__all",
        "interfaces.json:ifindex": "$__all",
        "flows.json:agent": "$__all",
        "pipeline-health.json:process": "$__all",
        "pipeline-health.json:instance": "$__all",
    }
    results = qc.run_dashboard_queries(influxdb.url, db, (started_ns, time.time_ns()), variables)
    return {
        "total": len(results),
        "errors": [str(r) for r in results if r.error],
        "empty": [
            str(r)
            for r in results
            if r.empty
            and f"{r.dashboard} {re.sub(r'^panel [0-9]+ ', '', r.where)}" not in NO_DATA_EXPECTED
        ],
    }
