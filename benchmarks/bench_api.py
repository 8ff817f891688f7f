"""Benchmark: p50/p95 latency of the main API routes on seeded data (target p95 < 100 ms).

Starts a private InfluxDB 1.8.10 (or uses --influx-url), seeds a realistic fabric day — endpoints
with learn/move/delete events, moves with analyses grouped into incidents, a 1000-move loop
incident with flood counters and a fault, anomalies, host metrics, interface counters and flow
rows — then serves the app with uvicorn on loopback and times each route over HTTP,
sequentially (a single client: latency, not throughput). Prints one result line per route.

    python benchmarks/bench_api.py [--endpoints 2000] [--requests 100]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from fabricscope.influxdb_local import LocalInfluxDB, ensure_influxd, free_port
from fabricscope.settings import Settings
from influx.query import InfluxQuery, rfc3339_nano

S = 1_000_000_000
TARGET_P95_MS = 100.0


def iso(ns: int) -> str:
    return rfc3339_nano(ns)


def mac(i: int) -> str:
    return f"00:50:56:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"


BIG_LOOP = "loop-big"


def seed(url: str, db: str, n_endpoints: int, now: int) -> int:
    rnd = random.Random(7)
    lines: list[str] = []
    incidents: dict[str, dict] = {}
    day = 86400 * S
    for i in range(n_endpoints):
        addr = mac(i) if i % 2 == 0 else f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        at = "mac" if i % 2 == 0 else "ipv4"
        node = 101 + rnd.randrange(8)
        t = now - day + rnd.randrange(day // 2)
        tags = f"addr={addr},addr_type={at},fabric=fabric1"
        lines.append(
            f'apic_endpoint_event,{tags} node={node}i,vnid=15302i,status="created",'
            f'interface="eth1/{i % 48 + 1}",encap="vlan-{100 + i % 50}" {t}'
        )
        for _ in range(rnd.randrange(4)):  # 0-3 moves each
            t += rnd.randrange(1, day // 8)
            new = 101 + rnd.randrange(8)
            lines.append(
                f'apic_endpoint_move,{tags} from_node="{node}",to_node="{new}",'
                f'from_interface="eth1/1",to_interface="eth1/2",vnid=15302i,count=1i,'
                f'epg="tn/ap/epg{i % 20}",bd="tn/bd{i % 10}",vrf="tn/vrf1" {t}'
            )
            lines.append(
                f'apic_endpoint_event,{tags} node={new}i,vnid=15302i,status="created",'
                f'interface="eth1/2",encap="vlan-100" {t}'
            )
            lines.append(
                f'apic_endpoint_event,{tags} node={node}i,vnid=15302i,status="deleted" {t + 1000}'
            )
            cause = rnd.choice(["link_failover", "vm_migration", "nic_teaming_flap", "unknown"])
            # Moves of one cause within a quarter hour form one incident.
            iid = f"{cause}-{t // (900 * S)}"
            inc = incidents.setdefault(iid, {"kind": cause, "t": [], "addrs": set()})
            inc["t"].append(t)
            inc["addrs"].add(addr)
            lines.append(
                f"move_analysis,addr={addr},cause={cause},fabric=fabric1 confidence=0.8,"
                f'evidence="synthetic",to_node="{new}",incident_id="{iid}" {t}'
            )
            node = new
        if i % 25 == 0:
            kind = rnd.choice(["rapid", "offsubnet", "stale", "rogue"])
            lines.append(
                f"apic_endpoint_anomaly,addr={addr},fabric=fabric1,kind={kind} "
                f'detail="synthetic" {t}'
            )
    for h in range(50):
        for k in range(0, 3600, 30):  # last hour, 30 s samples
            t = now - k * S
            lines.append(
                f"cpu,agent=192.0.2.{h},cpu=cpu-total,host=hv{h} usage_active="
                f"{rnd.random() * 100:.2f} {t}"
            )
            lines.append(
                f"mem,agent=192.0.2.{h},host=hv{h} used_percent={rnd.random() * 100:.2f},"
                f"total=68719476736i {t}"
            )
            lines.append(
                f"system,agent=192.0.2.{h},host=hv{h} load1={rnd.random() * 4:.2f},n_cpus=16i {t}"
            )
        lines.append(
            f"sflow_host_adapters,agent=192.0.2.{h},host=hv{h},ifindex=9,source_id=3:1,"
            f'vm=vm{h} macs="005056{h:06x}",mac_count=1i {now}'
        )
    for sw in range(8):
        for port in range(48):
            lines.append(
                f"sflow_if_counters,agent=10.0.0.{sw},ifindex={port},source_id=0:{port} "
                f"if_oper_up=1i,if_speed=10000000000i,if_in_octets={port * 1000}i {now}"
            )
            lines.append(
                f"apic_interface,fabric=fabric1,interface=eth1/{port + 1},node={101 + sw}"
                f' oper_st="up",oper_up=true {now}'
            )
    for k in range(0, 3600, 10):  # one agent's top-100 rows every 10 s for an hour
        t = now - k * S
        for f in range(100):
            lines.append(
                f"sflow_flows,agent=10.0.0.1,dst_ip=10.0.1.{f},dst_mac=005056000{f:03x},"
                f"ip_protocol=6,src_ip=10.0.0.{f},src_mac=005056001{f:03x},vlan=100 "
                f"samples=1i,packets=100i,bytes={rnd.randrange(1, 10**6)}i {t}"
            )
    # One big loop in the last half hour: 1000 moves of 200 endpoints between two leaf ports,
    # flood on them, an MCP fault (the worst case for the incident page).
    loop_t = [now - 1800 * S + k * S for k in range(0, 1000)]
    for k, t in enumerate(loop_t):
        a, b = ("101", "eth1/5"), ("102", "eth1/7")
        if k % 2:
            a, b = b, a
        lines.append(
            f"move_analysis,addr={mac(k % 200)},cause=loop,fabric=fabric1 confidence=0.95,"
            f'evidence="flood",from_node="{a[0]}",from_interface="{a[1]}",to_node="{b[0]}",'
            f'to_interface="{b[1]}",incident_id="{BIG_LOOP}" {t}'
        )
    incidents[BIG_LOOP] = {"kind": "loop", "t": loop_t, "addrs": {mac(k) for k in range(200)}}
    for k in range(0, 7200, 60):
        t = now - k * S
        flood = 40000.0 if now - 1800 * S <= t <= loop_t[-1] else 30.0
        for node, port in (("101", "eth1/5"), ("102", "eth1/7")):
            lines.append(
                f'apic_interface,fabric=fabric1,interface={port},node={node} oper_st="up",'
                f"oper_up=true,in_flood_pkts_rate={flood} {t}"
            )
    lines.append(
        'apic_fault,code=F2533,fabric=fabric1,kind=mcp_loop,node=101 interface="eth1/5",'
        f'lc="raised",active=true,descr="loop" {loop_t[10]}'
    )
    for iid, inc in incidents.items():
        ts = inc["t"]
        places = "node-101/eth1/5,node-102/eth1/7,bd:tn/bd1" if iid == BIG_LOOP else "bd:tn/bd1"
        lines.append(
            f'incident,fabric=fabric1,kind={inc["kind"]} id="{iid}",'
            f'start="{iso(min(ts))}",end="{iso(max(ts))}",start_ns={min(ts)}i,end_ns={max(ts)}i,'
            f'endpoints={len(inc["addrs"])}i,moves={len(ts)}i,places="{places}",'
            f'summary="synthetic {inc["kind"]}",evidence="synthetic",confidence=0.8,'
            f'addrs="{",".join(sorted(inc["addrs"])[:200])}" {min(ts)}'
        )
    with httpx.Client(timeout=120) as c:
        for i in range(0, len(lines), 50_000):
            r = c.post(
                f"{url}/write",
                params={"db": db, "precision": "ns"},
                content="\n".join(lines[i : i + 50_000]).encode(),
            )
            r.raise_for_status()
    return len(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoints", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=100, help="timed requests per route")
    ap.add_argument("--influx-url", help="use this InfluxDB instead of a private one")
    args = ap.parse_args()

    local = None
    url = args.influx_url
    tmp = tempfile.TemporaryDirectory(prefix="bench_api_")
    if not url:
        local = LocalInfluxDB(Path(tmp.name), free_port(), binary=ensure_influxd())
        url = local.start()
    db = "bench_api"
    try:
        httpx.post(f"{url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=30)
        httpx.post(f"{url}/query", data={"q": f'CREATE DATABASE "{db}"'}, timeout=30)
        now = time.time_ns()
        t0 = time.perf_counter()
        n = seed(url, db, args.endpoints, now)
        print(
            f"seeded {n} points ({args.endpoints} endpoints) in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )

        settings = Settings(influx_url=url, influx_bucket=db)
        app = create_app(settings, InfluxQuery(url, database=db))
        port = free_port()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        th = threading.Thread(target=srv.run, daemon=True)
        th.start()
        while not srv.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        some = mac(0)
        routes = [
            "/api/v1/health",
            f"/api/v1/endpoints?q={some}",
            "/api/v1/endpoints?q=10.0.0.0/24",
            "/api/v1/endpoints?q=00:50:56:00:00",
            f"/api/v1/endpoints/{some}/history",
            "/api/v1/moves?limit=100",
            "/api/v1/anomalies?kind=rapid",
            "/api/v1/analysis/moves?limit=100",
            "/api/v1/hosts",
            "/api/v1/hosts/hv1/metrics?since=-1h&interval=1m",
            "/api/v1/interfaces",
            "/api/v1/flows/top?since=-1h",
            f"/ui/endpoints/{some}",
            "/api/v1/incidents?since=-24h&limit=100",
            f"/api/v1/incidents/{BIG_LOOP}",
            f"/ui/incidents/{BIG_LOOP}",
            "/",
        ]
        worst = 0.0
        with httpx.Client(base_url=base, timeout=30) as c:
            for route in routes:
                for _ in range(3):  # warm-up: connection, caches
                    c.get(route).raise_for_status()
                lat = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    r = c.get(route)
                    lat.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                lat.sort()
                p50 = statistics.median(lat)
                p95 = lat[max(0, int(len(lat) * 0.95) - 1)]
                worst = max(worst, p95)
                verdict = "ok" if p95 < TARGET_P95_MS else "SLOW"
                print(
                    f"bench_api route={route} n={len(lat)} p50_ms={p50:.1f} p95_ms={p95:.1f} "
                    f"{verdict}"
                )
        srv.should_exit = True
        th.join(10)
        print(f"bench_api worst_p95_ms={worst:.1f} target_ms={TARGET_P95_MS:.0f}")
        return 0 if worst < TARGET_P95_MS else 1
    finally:
        if local is not None:
            local.stop()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
