"""APIC poller benchmarks (stage: benchmarks). Prints one result line each:

1. ``apic_build``: initial build of N endpoints (their per-leaf local and remote epmMacEp /
   epmIpEp / Rs objects) from the simulator — over real HTTP with the real poller when
   ``simulators.apic_server`` is available, else the same objects rendered in-process and fed
   through parse + tracker; wall time and peak RSS (resource.getrusage). Bars: < 60 s, < 1 GiB.
2. ``apic_events``: sustained events/s through parse + tracker (moves: local learn on a new leaf,
   bounce on the old one, XR updates), counting that every event was processed. Bar: ≥ 5,000/s.

Usage: python benchmarks/bench_apic.py [--endpoints 100000] [--events 200000] [--leafs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.apic.models import parse_epm  # noqa: E402
from collector.apic.tracker import Tracker, TrackerConfig  # noqa: E402
from influx.sink import ListSink  # noqa: E402


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_over_http(fab: Any) -> tuple[float, int, int, str]:
    from collector.apic.client import ApicClient
    from collector.apic.poller import ApicPoller, PollerConfig
    from simulators.apic_server import ApicSimulator

    handle = ApicSimulator(fab).start()
    try:
        client = ApicClient([handle.url], "admin", "password", page_size=10000)
        poller = ApicPoller(client, ListSink(), PollerConfig(audit_s=0))

        async def main() -> float:
            stop = asyncio.Event()
            t0 = time.perf_counter()
            task = asyncio.create_task(poller.run(stop))
            await asyncio.wait_for(poller.synced.wait(), 600)
            dt = time.perf_counter() - t0
            stop.set()
            await task
            await client.aclose()
            return dt

        dt = asyncio.run(main())
        return dt, poller.tracker.endpoint_count, poller.tracker.node_entry_count(), "http"
    finally:
        handle.stop()


def build_in_process(fab: Any) -> tuple[float, int, int, str]:
    tr = Tracker(config=TrackerConfig())
    t0 = time.perf_counter()
    tr.begin_snapshot(initial=True)
    for tables, cls in ((fab.ip_tables, "epmIpEp"), (fab.mac_tables, "epmMacEp")):
        for node_table in tables.values():
            for e in node_table.values():
                rec = parse_epm(cls, fab.epm_attrs(e))
                if rec is not None:
                    tr.apply_snapshot(rec, 0.0)
                if e.is_ip and e.local and e.rw_mac:
                    rs = parse_epm("epmRsMacEpToIpEpAtt", fab.rs_attrs(e))
                    if rs is not None:
                        tr.apply_snapshot(rs, 0.0)
    tr.end_snapshot(0.0)
    return time.perf_counter() - t0, tr.endpoint_count, tr.node_entry_count(), "in-process"


def bench_build(endpoints: int, leafs: int) -> None:
    from simulators.fabric import SimulatedFabric

    t0 = time.perf_counter()
    fab = SimulatedFabric.build(leafs=leafs, endpoints=endpoints, seed=1)
    sim_s = time.perf_counter() - t0
    try:
        import simulators.apic_server  # noqa: F401

        dt, eps, entries, mode = build_over_http(fab)
    except ImportError:
        dt, eps, entries, mode = build_in_process(fab)
    rss = rss_mib()
    ok = dt < 60 and rss < 1024
    print(
        f"apic_build mode={mode} endpoints={endpoints} tracked={eps} node_entries={entries} "
        f"build_s={dt:.1f} sim_build_s={sim_s:.1f} peak_rss_mib={rss:.0f} "
        f"{'PASS' if ok else 'FAIL'} (bars: <60 s, <1024 MiB)"
    )


def bench_events(n_events: int) -> None:
    """Moves of 5,000 MACs around 20 leaves: per move a local create, an old-local delete and a
    bounce create (3 events), like the simulator's move_endpoint."""
    vrf, bd = 2916352, 15007704
    leafs = list(range(101, 121))
    macs = [f"00:AA:00:{i >> 8 & 0xFF:02X}:{i & 0xFF:02X}:01" for i in range(5000)]
    where = {m: leafs[i % len(leafs)] for i, m in enumerate(macs)}
    frames: list[tuple[str, dict[str, str]]] = []

    def dn(node: int, mac: str, local: bool) -> str:
        mid = f"/bd-[vxlan-{bd}]" + ("/vlan-[vlan-101]" if local else "")
        return f"topology/pod-1/node-{node}/sys/ctx-[vxlan-{vrf}]{mid}/db-ep/mac-{mac}"

    i = 0
    while len(frames) < n_events:
        mac = macs[i % len(macs)]
        old = where[mac]
        new = leafs[(leafs.index(old) + 1 + i % 7) % len(leafs)]
        where[mac] = new
        frames.append(
            (
                "epmMacEp",
                {
                    "dn": dn(new, mac, True),
                    "status": "created",
                    "flags": "local,mac",
                    "ifId": f"eth1/{i % 48 + 1}",
                    "pcTag": "32771",
                },
            )
        )
        frames.append(("epmMacEp", {"dn": dn(old, mac, True), "status": "deleted"}))
        frames.append(
            (
                "epmMacEp",
                {
                    "dn": dn(old, mac, False),
                    "status": "created",
                    "flags": "bounce,mac",
                    "ifId": "tunnel3",
                    "pcTag": "32771",
                },
            )
        )
        i += 1
    frames = frames[:n_events]
    tr = Tracker(config=TrackerConfig(rapid_threshold=65536, rogue_factor=10))
    t0 = time.perf_counter()
    ts = 1_700_000_000.0
    outputs = 0
    for k, (cls, attrs) in enumerate(frames):
        rec = parse_epm(cls, attrs)
        if rec is not None:
            tr.process(rec, ts + k * 0.001)
        if k % 1000 == 0:
            tr.tick(ts + k * 0.001)
            outputs += len(tr.drain())
    outputs += len(tr.drain())
    dt = time.perf_counter() - t0
    rate = n_events / dt
    lost = n_events - tr.events
    print(
        f"apic_events events={n_events} processed={tr.events} lost={lost} outputs={outputs} "
        f"seconds={dt:.2f} events_per_s={rate:,.0f} "
        f"{'PASS' if rate >= 5000 and not lost else 'FAIL'} (bar: >=5,000/s, none lost)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=100_000)
    ap.add_argument("--leafs", type=int, default=40)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    bench_events(args.events)
    if not args.skip_build:
        bench_build(args.endpoints, args.leafs)


if __name__ == "__main__":
    main()
