"""Benchmark: the highest UDP → InfluxDB rate with zero loss, end to end.

Starts a private InfluxDB 1.8.10 and `fabricscope sflow listen` (as a user would), then for each
offered rate sends real flow datagrams (the pmacct sfprobe and switch captures in
tests/fixtures/sflow, with fresh per-agent sequence numbers) over loopback for a few seconds, stops
the collector (SIGTERM flushes) and compares `sum(samples)` in InfluxDB with what was sent. The
sender, the collector and influxd share this machine's cores, as they would on a small box.
Prints one line per rate and a final result line.

    python benchmarks/bench_udp_influx.py [--rates 5000,20000,40000] [--seconds 5] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from fabricscope.influxdb_local import LocalInfluxDB, ensure_influxd, free_port

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sflow"


def flow_corpus() -> list[tuple[bytes, int]]:
    """(datagram, flow samples) for every fixture that carries only flow samples, IPv4 agent."""
    from collector.sflow.decoder import decode_datagram
    from collector.sflow.records import FlowSample

    out = []
    for path in sorted(FIXTURES.rglob("*.bin")):
        data = path.read_bytes()
        dg = decode_datagram(data)
        if (
            dg.agent_address_type == 1
            and dg.samples
            and all(type(s) is FlowSample for s in dg.samples)
        ):
            out.append((data, len(dg.samples)))
    return out


def send(port: int, rate: float, seconds: float, corpus: list[tuple[bytes, int]]) -> int:
    """Send at `rate` samples/s for `seconds`; returns samples sent. Paced in 10 ms slices."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    seq = 0
    sent = 0
    start = time.perf_counter()
    i = 0
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = rate * min(elapsed + 0.01, seconds)
        while sent < due:
            data, n = corpus[i % len(corpus)]
            i += 1
            seq += 1
            # Rewrite the datagram sequence number (word 5 with an IPv4 agent) so the collector
            # sees one continuous agent and any gap it reports is real loss.
            sock.sendto(data[:16] + struct.pack("!I", seq) + data[20:], ("127.0.0.1", port))
            sent += n
        time.sleep(0.002)
    sock.close()
    return sent


def query(url: str, db: str, q: str) -> list:
    r = httpx.post(f"{url}/query", params={"db": db, "q": q}, timeout=30)
    r.raise_for_status()
    series = r.json()["results"][0].get("series") or []
    return series[0]["values"] if series else []


def run_rate(
    url: str, rate: float, seconds: float, workers: int, tmp: Path
) -> tuple[int, int, dict]:
    db = f"bench_{int(rate)}_{os.getpid()}"
    httpx.post(f"{url}/query", params={"q": f'CREATE DATABASE "{db}"'}, timeout=10)
    port = free_port()
    env = dict(
        os.environ,
        FABRICSCOPE_INFLUX_URL=url,
        FABRICSCOPE_INFLUX_BUCKET=db,
        FABRICSCOPE_SPOOL_DIR=str(tmp / f"spool-{db}"),
        FABRICSCOPE_SFLOW_FLOW_INTERVAL_S="1",
    )
    log = (tmp / f"collector-{db}.log").open("w")
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
            str(workers),
        ],
        env=env,
        stderr=log,
    )
    deadline = time.monotonic() + 30
    while (tmp / f"collector-{db}.log").read_text().count("listening udp") < workers:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit((tmp / f"collector-{db}.log").read_text())
        time.sleep(0.1)
    sent = send(port, rate, seconds, flow_corpus())
    time.sleep(1.0)  # let the socket drain
    proc.send_signal(signal.SIGTERM)
    proc.wait(120)
    got = query(url, db, "SELECT sum(samples) FROM sflow_flows")
    stored = int(got[0][1]) if got else 0
    stats = query(
        url,
        db,
        "SELECT last(kernel_rcvbuf_errors), last(decode_errors), last(points_dropped) "
        "FROM fabricscope_stats WHERE agent='' GROUP BY instance",
    )
    info = {"rows": stats}
    return sent, stored, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="5000,10000,20000,30000,40000,60000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fabricscope-bench-") as tmpdir:
        tmp = Path(tmpdir)
        local = LocalInfluxDB(tmp / "influxdb", free_port(), binary=ensure_influxd())
        url = local.start()
        best = 0.0
        try:
            for rate in (float(r) for r in args.rates.split(",")):
                sent, stored, _ = run_rate(url, rate, args.seconds, args.workers, tmp)
                loss = sent - stored
                print(
                    f"offered {rate:>8,.0f} samples/s for {args.seconds:.0f} s: sent {sent:,}, "
                    f"in InfluxDB {stored:,}, lost {loss:,}",
                    flush=True,
                )
                if loss == 0:
                    best = max(best, rate)
                else:
                    break
        finally:
            local.stop()
    print(
        f"udp->influxdb: {best:,.0f} samples/s with zero loss "
        f"({args.workers} worker(s), collector + influxd + sender on one machine)"
    )


if __name__ == "__main__":
    main()
