"""APIC poller benchmarks (stage: benchmarks). Prints one result line each:

1. ``apic_events``: sustained events/s through the poller's own event path — a websocket server
   in a separate process sends ``--events`` endpoint-move frames as fast as it can (a backlog
   forms), the poller's reader queues them (bounded by bytes) and its consumer decodes, parses,
   tracks and encodes line protocol. Reports events/s, the queue's peak bytes, frames dropped,
   ``lag_s`` (age of the last event when processed) and the poller's peak RSS. Two phases: the
   socket fills the queue while the consumer is held back (``socket_receive_per_s``), then the
   consumer drains that backlog (``events_per_s``, the figure). Bar: ≥ 20,000/s.
2. ``apic_build``: the simulator (``fabricscope sim apic``) and the poller each in their own
   process; the poller builds, then prints its ``fabricscope_stats`` figures (``build_s``,
   ``endpoints``, ``node_entries``, the time split between parsing and waiting for the APIC) and
   its own peak RSS; the simulator's CPU seconds are read from /proc. Bars: build ≤ 60 s and
   peak RSS ≤ 700 MiB at the EPT profile.

``--ept-profile``: EnhancedEndpointTracker's scale profile (Service/tests/ept/scale.py): 400 leafs,
64,500 endpoints with 31 remote leafs each, ≈ 4.18M per-node entries.

Usage: python benchmarks/bench_apic.py [--ept-profile | --leafs 40 --endpoints 20000
       --partners 2] [--events 300000] [--skip-build] [--skip-events]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPT_PROFILE = {"leafs": 400, "endpoints": 64500, "partners": 31}


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_s(pid: int) -> float:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


# ---------------------------------------------------------------------------- events
def _move_frames(n: int, t0: float) -> list[str]:
    """Moves of 5,000 MACs around 20 leafs: a local create on the new leaf, a delete on the old
    one and a bounce there (3 frames), like the simulator's move_endpoint."""
    vrf, bd = 2916352, 15007704
    leafs = list(range(101, 121))
    macs = [f"00:AA:00:{i >> 8 & 0xFF:02X}:{i & 0xFF:02X}:01" for i in range(5000)]
    where = {m: leafs[i % len(leafs)] for i, m in enumerate(macs)}

    def dn(node: int, mac: str, local: bool) -> str:
        mid = f"/bd-[vxlan-{bd}]" + ("/vlan-[vlan-101]" if local else "")
        return f"topology/pod-1/node-{node}/sys/ctx-[vxlan-{vrf}]{mid}/db-ep/mac-{mac}"

    def frame(attrs: dict[str, str]) -> str:
        return json.dumps(
            {"subscriptionId": ["1"], "imdata": [{"epmMacEp": {"attributes": attrs}}]},
            separators=(",", ":"),
        )

    out: list[str] = []
    i = 0
    while len(out) < n:
        mac = macs[i % len(macs)]
        old = where[mac]
        new = leafs[(leafs.index(old) + 1 + i % 7) % len(leafs)]
        where[mac] = new
        t = t0 + i * 1e-5
        ts = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            + f".{int(t * 1000) % 1000:03d}+00:00"
        )
        flags = {"pcTag": "32771", "modTs": ts, "createTs": ts}
        out.append(
            frame(
                {"dn": dn(new, mac, True), "status": "created", "flags": "local,mac"}
                | {"ifId": f"eth1/{i % 48 + 1}"}
                | flags
            )
        )
        out.append(frame({"dn": dn(old, mac, True), "status": "deleted", "modTs": ts}))
        out.append(
            frame(
                {"dn": dn(old, mac, False), "status": "created", "flags": "bounce,mac"}
                | {"ifId": "tunnel3"}
                | flags
            )
        )
        i += 1
    return out[:n]


def blaster_child(port: int, n: int) -> None:
    """A websocket server that sends n frames as fast as it can to the first client."""
    import websockets

    frames = _move_frames(n, time.time())

    async def handler(ws: Any) -> None:
        for i in range(0, len(frames), 1000):
            for f in frames[i : i + 1000]:
                await ws.send(f)
            await asyncio.sleep(0)
        await ws.wait_closed()

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", port, max_size=None):
            print("ready", flush=True)
            await asyncio.Future()

    asyncio.run(main())


def bench_events(n: int, max_queue_mib: int) -> None:
    from collector.apic.client import ApicClient, Session
    from collector.apic.poller import ApicPoller, PollerConfig
    from collector.apic.tracker import TrackerConfig
    from influx.sink import LineSink

    class CountSink(LineSink):
        def __init__(self) -> None:
            self.lines = 0

        def write_lines(self, lines: Any) -> None:
            self.lines += len(lines)

    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--blaster", str(port), "--events", str(n)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        child.stdout.readline()  # "ready": frames rendered, listening
        url = f"http://127.0.0.1:{port}"
        client = ApicClient([url], "admin", "password")
        now = time.monotonic()
        client.session = Session(url, "tok", 600, 86400, now, now)
        sink = CountSink()
        poller = ApicPoller(
            client,
            sink,
            PollerConfig(max_queue_mib=max_queue_mib, stats_interval_s=3600),
            TrackerConfig(rapid_threshold=65536, rogue_factor=10),
        )
        poller.state = "streaming"

        async def main() -> tuple[float, float, int]:
            subs = poller.subs
            subs.ids["1"] = "epmMacEp"
            t0 = time.perf_counter()
            await subs.open()
            # Phase 1: the socket fills the queue (a backlog: the consumer is held back).
            while subs.frames < n and not subs.overflowed:
                await asyncio.sleep(0.05)
            t1 = time.perf_counter()
            # Phase 2: the consumer drains the backlog.
            while poller.stats.events < n and subs.qsize():
                await poller._drain_queue(block=False)
            t2 = time.perf_counter()
            await subs.close()
            return t1 - t0, t2 - t1, poller.stats.events

        recv_s, dt, done = asyncio.run(main())
    finally:
        child.kill()
        child.wait()
    s = poller.subs
    rate = done / dt if dt else 0.0
    ok = rate >= 20_000 and done == n
    print(
        f"apic_events events={n} processed={done} drain_s={dt:.2f} events_per_s={rate:,.0f} "
        f"socket_receive_per_s={n / recv_s:,.0f} "
        f"queue_peak_mib={s.queue_peak_bytes / 2**20:.1f} queue_bound_mib={max_queue_mib} "
        f"dropped={s.dropped} overflows={s.overflows} lag_s={poller.stats.lag_s:.2f} "
        f"lines={sink.lines} peak_rss_mib={rss_mib():.0f} load={load()} "
        f"{'PASS' if ok else 'FAIL'} (bar: >=20,000/s, none dropped)"
    )


# ---------------------------------------------------------------------------- build
def poller_child(url: str, page_size: int, concurrency: int) -> None:
    """Build once from the APIC at ``url``; print the poller's stats as JSON."""
    from collector.apic.client import ApicClient
    from collector.apic.poller import ApicPoller, PollerConfig
    from influx.sink import ListSink

    client = ApicClient([url], "admin", "password", page_size=page_size, timeout_s=600)
    poller = ApicPoller(
        client,
        ListSink(),
        PollerConfig(audit_s=0, probe_s=0, interface_interval_s=0, build_concurrency=concurrency),
    )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        await asyncio.wait_for(poller.synced.wait(), 3600)
        stop.set()
        await task
        await client.aclose()

    t0 = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - t0
    fields = poller.stats_fields()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    fields.update(
        peak_rss_mib=round(ru.ru_maxrss / 1024),
        cpu_s=round(ru.ru_utime + ru.ru_stime, 1),
        wall_s=round(wall, 1),
    )
    print(json.dumps(fields), flush=True)


def bench_build(leafs: int, endpoints: int, partners: int, page_size: int, conc: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    sim = subprocess.Popen(
        [sys.executable, "-m", "fabricscope.cli", "sim", "apic", "--listen", f"127.0.0.1:{port}"]
        + ["--leafs", str(leafs), "--endpoints", str(endpoints), "--partners", str(partners)]
        + ["--scenarios", "none", "--refresh-timeout", "3600"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        while True:
            if sim.poll() is not None:
                raise SystemExit("simulator exited")
            try:
                httpx.get(f"{url}/_sim/clock", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        sim_build_s = time.perf_counter() - t0
        counts = httpx.get(f"{url}/_sim/status", timeout=600).json()["counts"]
        entries = counts["epmMacEp"] + counts["epmIpEp"]
        sim_cpu0 = proc_cpu_s(sim.pid)
        load0 = load()
        out = subprocess.run(
            [sys.executable, __file__, "--poller-child", url]
            + ["--page-size", str(page_size), "--concurrency", str(conc)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        sim_cpu = proc_cpu_s(sim.pid) - sim_cpu0
    finally:
        sim.terminate()
        sim.wait(20)
    st = json.loads(out.stdout.strip().splitlines()[-1])
    ok = st["build_s"] <= 60 and st["peak_rss_mib"] <= 700
    print(
        f"apic_build leafs={leafs} endpoints={endpoints} partners={partners} "
        f"sim_entries={entries} sim_rs={counts['epmRsMacEpToIpEpAtt']} "
        f"build_s={st['build_s']} endpoints_tracked={st['endpoints']} "
        f"node_entries={st['node_entries']} build_objects={st['build_objects']} "
        f"poller_parse_s={st['build_parse_s']} poller_wait_s={st['build_wait_s']} "
        f"poller_cpu_s={st['cpu_s']} apic_cpu_s={sim_cpu:.1f} "
        f"poller_peak_rss_mib={st['peak_rss_mib']} sim_build_s={sim_build_s:.0f} "
        f"page_size={page_size} concurrency={conc} load_before={load0} load_after={load()} "
        f"{'PASS' if ok else 'FAIL'} (bars: build <=60 s, poller peak RSS <=700 MiB)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ept-profile", action="store_true", help="400 leafs, 64,500 eps, 31 partners")
    ap.add_argument("--leafs", type=int, default=40)
    ap.add_argument("--endpoints", type=int, default=20_000)
    ap.add_argument("--partners", type=int, default=2)
    ap.add_argument("--page-size", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--max-queue-mib", type=int, default=128)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--skip-events", action="store_true")
    ap.add_argument("--poller-child", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--blaster", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.poller_child:
        poller_child(args.poller_child, args.page_size, args.concurrency)
        return
    if args.blaster:
        blaster_child(args.blaster, args.events)
        return
    if args.ept_profile:
        args.leafs, args.endpoints, args.partners = (
            EPT_PROFILE["leafs"],
            EPT_PROFILE["endpoints"],
            EPT_PROFILE["partners"],
        )
    if not args.skip_events:
        bench_events(args.events, args.max_queue_mib)
    if not args.skip_build:
        bench_build(args.leafs, args.endpoints, args.partners, args.page_size, args.concurrency)


if __name__ == "__main__":
    main()
