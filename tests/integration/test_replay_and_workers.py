"""`sflow replay` writes captures to InfluxDB; `sflow listen --workers 2` shares one port
(SO_REUSEPORT) between two processes and loses nothing."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collector.sflow.decoder import decode_datagram
from collector.sflow.records import FlowSample
from fabricscope.influxdb_local import free_port

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sflow"


def env_for(influxdb, db: str, tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        FABRICSCOPE_INFLUX_URL=influxdb.url,
        FABRICSCOPE_INFLUX_BUCKET=db,
        FABRICSCOPE_SPOOL_DIR=str(tmp_path / "spool"),
        FABRICSCOPE_SFLOW_FLOW_INTERVAL_S="1",
    )


def test_replay_writes_every_capture_to_influxdb(tmp_path, influxdb, influx_db):
    # the captures themselves (the golden cases under tests/fixtures/sflow/<case>/ reuse some)
    files = sorted([*FIXTURES.glob("public/*.bin"), *FIXTURES.glob("generated/*.bin")])
    flow_samples = sum(
        1
        for f in files
        for s in decode_datagram(f.read_bytes()).samples
        if isinstance(s, FlowSample)
    )
    hosts = [f for f in files if f.name.startswith("hsflowd-host")]
    result = subprocess.run(
        [sys.executable, "-m", "fabricscope.cli", "sflow", "replay", *map(str, files)],
        env=env_for(influxdb, influx_db, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"replayed {len(files)} datagrams" in result.stderr
    rows = influxdb.rows("SELECT sum(samples) FROM sflow_flows", influx_db)
    assert rows[0][1] == flow_samples
    # Each hsflowd datagram is one host counter sample → one sflow_host_cpu point.
    assert influxdb.count(influx_db, "sflow_host_cpu") == len(hosts)


def test_two_workers_share_the_load_by_agent_and_lose_nothing(tmp_path, influxdb, influx_db):
    port = free_port()
    log_path = tmp_path / "collector.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fabricscope.cli",
            "sflow",
            "listen",
            "--listen",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=env_for(influxdb, influx_db, tmp_path),
        stderr=log_path.open("w"),
    )
    corpus = [p.read_bytes() for p in sorted((FIXTURES / "generated").glob("pmacct-*.bin"))]
    sent = 0
    try:
        deadline = time.monotonic() + 30
        while log_path.read_text().count("listening udp") < 1:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # One source socket (a relay) carrying 16 agents: the reader hands datagrams out by
        # the agent address inside them, so both workers get a share.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for agent in range(16):
            for seq, data in enumerate(corpus, start=1):
                agent_ip = bytes([10, 1, 0, agent + 1])
                payload = data[:8] + agent_ip + data[12:16] + struct.pack("!I", seq) + data[20:]
                sock.sendto(payload, ("127.0.0.1", port))
                sent += len(decode_datagram(payload).samples)
                time.sleep(0.0005)  # a steady stream, not a burst beyond the socket buffer
        sock.close()
        time.sleep(1.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert proc.returncode == 0, log_path.read_text()[-2000:]
    rows = influxdb.rows("SELECT sum(samples) FROM sflow_flows", influx_db)
    assert rows[0][1] == sent
    instances = influxdb.rows(
        "SHOW TAG VALUES FROM fabricscope_stats WITH KEY = instance", influx_db
    )
    assert len(instances) == 2  # both workers reported
    per_worker = influxdb.rows(
        "SELECT last(datagrams) FROM fabricscope_stats WHERE agent = '' GROUP BY instance",
        influx_db,
    )
    # every agent's sequence is whole in one worker: no loss, no reordering reported
    lost = influxdb.rows("SELECT sum(lost_datagrams) FROM fabricscope_stats", influx_db)
    assert not lost or lost[0][1] == 0
    assert per_worker
