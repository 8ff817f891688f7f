"""`fabricscope demo` as a user runs it: one process starts the stack; data arrives in InfluxDB;
SIGINT (Ctrl-C) stops every child cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from fabricscope.influxdb_local import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_brings_up_the_stack_and_data_arrives(tmp_path, influxdb, influx_db):
    env = dict(
        os.environ,
        FABRICSCOPE_INFLUX_URL=influxdb.url,
        FABRICSCOPE_INFLUX_BUCKET=influx_db,
        FABRICSCOPE_SFLOW_FLOW_INTERVAL_S="2",
    )
    api_port = free_port()
    out_path = tmp_path / "demo.out"
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
        "apic_endpoint_event",
        "apic_endpoint_move",
    }
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not wanted <= seen:
            assert proc.poll() is None, out_path.read_text()
            rows = influxdb.rows("SHOW MEASUREMENTS", influx_db)
            seen = {r[0] for r in rows}
            time.sleep(2)
        output = out_path.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
    assert wanted <= seen, f"missing {wanted - seen}; demo said:\n{output}"
    # It told the user what runs where.
    for name in ("InfluxDB", "fabric-sim", "collector", "poller"):
        assert name in output
    final = out_path.read_text()
    assert "stopped collector" in final and "stopped poller" in final
    assert proc.returncode == 0, final
    # Nothing was left running: every child of the demo exited with it.
    logs = tmp_path / "state" / "logs"
    assert {p.stem for p in logs.glob("*.log")} >= {"collector", "poller", "fabric-sim"}
