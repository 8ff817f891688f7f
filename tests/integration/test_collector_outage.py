"""The whole collector through a database outage: UDP → `sflow listen` → InfluxDB stopped for 30 s
mid-stream and restarted → every sample sent is in InfluxDB (spooled to disk, replayed in order)."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from collector.sflow.decoder import decode_datagram
from fabricscope.influxdb_local import LocalInfluxDB, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sflow" / "generated"
OUTAGE_S = 30.0


def corpus() -> list[tuple[bytes, int]]:
    paths = sorted(FIXTURES.glob("pmacct-sfprobe-dg_*.bin"))
    return [(p.read_bytes(), len(decode_datagram(p.read_bytes()).samples)) for p in paths]


def stored(url: str) -> int:
    r = httpx.post(
        f"{url}/query", params={"db": "outage", "q": "SELECT sum(samples) FROM sflow_flows"}
    )
    series = r.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def test_influxdb_outage_of_30s_loses_no_sample(tmp_path, influxd_binary):
    db_server = LocalInfluxDB(tmp_path / "influxdb", free_port(), binary=influxd_binary)
    url = db_server.start()
    port = free_port()
    env = dict(
        os.environ,
        FABRICSCOPE_INFLUX_URL=url,
        FABRICSCOPE_INFLUX_BUCKET="outage",
        FABRICSCOPE_SPOOL_DIR=str(tmp_path / "spool"),
        FABRICSCOPE_SFLOW_FLOW_INTERVAL_S="1",
    )
    log_path = tmp_path / "collector.log"
    collector = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fabricscope.cli",
            "sflow",
            "listen",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stderr=log_path.open("w"),
    )
    sent = 0
    stop_sending = threading.Event()

    def sender() -> None:
        nonlocal sent
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        seq = 0
        data = corpus()
        while not stop_sending.is_set():
            for payload, n in data:
                seq += 1
                sock.sendto(
                    payload[:16] + struct.pack("!I", seq) + payload[20:], ("127.0.0.1", port)
                )
                sent += n
            time.sleep(0.05)  # ≈ 2,000 samples/s, steady
        sock.close()

    try:
        deadline = time.monotonic() + 20
        while "listening udp" not in log_path.read_text():
            assert collector.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        t = threading.Thread(target=sender)
        t.start()
        time.sleep(5)
        assert db_server.stop()
        outage_start = time.monotonic()
        time.sleep(OUTAGE_S)
        db_server.start()
        outage = time.monotonic() - outage_start
        time.sleep(5)
        stop_sending.set()
        t.join()
        # The writer backs off (≤ 30 s) while the database is down, then replays the spool.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and stored(url) < sent:
            time.sleep(1)
    finally:
        stop_sending.set()
        collector.send_signal(signal.SIGTERM)
        collector.wait(60)
    assert collector.returncode == 0, log_path.read_text()[-2000:]
    assert outage >= OUTAGE_S
    assert stored(url) == sent
    r = httpx.post(
        f"{url}/query",
        params={"db": "outage", "q": "SELECT max(points_spooled) FROM fabricscope_stats"},
    )
    spooled = r.json()["results"][0]["series"][0]["values"][0][1]
    assert spooled > 0  # the data really went through the disk spool
    db_server.stop()
