"""Benchmark: the highest UDP → InfluxDB datagram rate with zero loss, end to end.

Starts a private InfluxDB 1.8.10 and `fabricscope sflow listen` (as a user would), then offers
rising rates of the realistic mixed corpus (benchmarks/sflow_corpus.py: flow datagrams from many
agents with ~3 % counter samples, hsflowd host counters, drops) from many source addresses over
loopback, a few seconds per rate, until the first loss. After each rate it stops the collector
(SIGTERM flushes) and compares `sum(samples)` of `sflow_flows` in InfluxDB with the flow samples
sent. The sender, the collector and influxd share this machine's cores, as they would on a small
box. Prints one line per rate and a final result line.

    python3 -m benchmarks.bench_udp_influx [--rates 2000,4000,...] [--seconds 5] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import sflow_corpus
from collector.sflow.decoder import decode_datagram
from collector.sflow.records import FlowSample
from fabricscope.influxdb_local import LocalInfluxDB, ensure_influxd, free_port


def query(url: str, db: str, q: str) -> list:
    r = httpx.post(f"{url}/query", params={"db": db, "q": q}, timeout=30)
    r.raise_for_status()
    series = r.json()["results"][0].get("series") or []
    return series[0]["values"] if series else []


def run_rate(
    url: str, rate: float, seconds: float, workers: int, sources: int, tmp: Path
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
    while "listening udp" not in (tmp / f"collector-{db}.log").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit((tmp / f"collector-{db}.log").read_text())
        time.sleep(0.1)
    corpus = sflow_corpus.build()
    flows = [sum(type(x) is FlowSample for x in decode_datagram(d).samples) for d in corpus]
    datagrams, _ = sflow_corpus.send(port, int(rate), seconds, corpus, sources)
    sent = sum(flows[i % len(corpus)] for i in range(datagrams))
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
    ap.add_argument(
        "--rates", default="2000,4000,6000,8000,10000,12000,15000,20000,25000,30000,40000"
    )
    ap.add_argument("--sources", type=int, default=16, help="sender source addresses")
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
                sent, stored, _ = run_rate(url, rate, args.seconds, args.workers, args.sources, tmp)
                loss = sent - stored
                print(
                    f"offered {rate:>8,.0f} datagrams/s for {args.seconds:.0f} s from "
                    f"{args.sources} sources: flow samples sent {sent:,}, in InfluxDB "
                    f"{stored:,}, lost {loss:,}",
                    flush=True,
                )
                if loss == 0:
                    best = max(best, rate)
                else:
                    break
        finally:
            local.stop()
    corpus = sflow_corpus.build()
    per_dg = sflow_corpus.samples_in(corpus) / len(corpus)
    print(
        f"udp->influxdb: {best:,.0f} datagrams/s ({best * per_dg:,.0f} samples/s) with zero "
        f"loss ({args.workers} worker(s), collector + influxd + sender on one machine, "
        f"load {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
