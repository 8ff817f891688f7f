"""Benchmark: one move-cause analyzer run on a fabric-scale incident in a real InfluxDB.

Writes a synthetic incident straight into InfluxDB, in the shapes docs/measurements.md
documents (apic_endpoint_move, apic_interface with flood counters, apic_adjacency, apic_fault,
sflow_host_adapters, sflow_if_counters, cpu, net):

- an L2 loop in one BD: `--loop-endpoints` (300) endpoints × 4 moves between two looped leaf
  ports, APIC flood counters on those ports and an MCP loop fault;
- `--migrations` (40) VM migrations between hypervisors (MAC, and the IP for half of them);
- a port-channel failover: `--failover-endpoints` (60) endpoints leave node 103 po7 when it goes
  down (plus a neighbouring port going down that is not theirs);
- two NIC-teaming flaps and a mass move with no evidence at all (truth: `unknown`);
- `--hosts` (400) hypervisors reporting Host sFlow every 20 s (adapters, NIC counters, cpu,
  net), each cabled to two leaf ports that the APIC's LLDP table names;
- an unrelated flood storm on a leaf port where nothing moves, and an sFlow broadcast storm on
  a hypervisor that no moving endpoint is behind.

Then runs `MoveCauseAnalyzer.run_once` ONCE in a fresh child process and prints: wall time,
InfluxQL requests sent (InfluxDB's own `SHOW STATS` httpd `queryReq` delta, minus the stats
query itself), peak RSS of the analyzer process, findings right/total, and incidents found vs
true. Targets (issue #8) for ~1,300 moves and 400 hosts: ≤ 50 queries, ≤ 10 s, all right.

    python3 benchmarks/bench_analyzer.py [--hosts 400] [--loop-endpoints 300] [--influx-url URL]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fabricscope.influxdb_local import LocalInfluxDB, ensure_influxd, free_port  # noqa: E402
from influx.line_protocol import encode_line  # noqa: E402

NS = 1_000_000_000
FABRIC = "fabric1"
TARGET_QUERIES = 50
TARGET_WALL_S = 10.0


def mac_of(kind: int, i: int) -> str:
    return f"00:50:{kind:02X}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"


def hexmac(mac: str) -> str:
    return mac.replace(":", "").lower()


@dataclass(frozen=True)
class Truth:
    addr: str
    time_ns: int
    cause: str
    incident: str


class Scenario:
    """Builds the lines and the ground truth; `t` = the incident's start (now − 5 min)."""

    def __init__(self, args: argparse.Namespace, now_ns: int) -> None:
        self.args = args
        self.now = now_ns
        self.t = now_ns - 300 * NS
        self.lo = now_ns - 900 * NS  # the analyzer reads back to since − 300 s
        self.rnd = random.Random(11)
        self.lines: list[str] = []
        self.truth: list[Truth] = []
        # Hypervisors: esx-000…, NIC0 on leaf 101+(i%16) eth1/(1+i//16), NIC1 on the next leaf.
        self.hosts = [f"esx-{i:03d}" for i in range(args.hosts)]
        self.nic_port = {
            (h, n): (str(101 + (i + n) % 16), f"eth1/{1 + i // 16}")
            for i, h in enumerate(self.hosts)
            for n in (0, 1)
        }
        self.vms: dict[str, list[tuple[str, str]]] = {h: [] for h in self.hosts}  # (vm, mac)
        for i, h in enumerate(self.hosts):
            for k in range(args.vms_per_host):
                j = i * args.vms_per_host + k
                self.vms[h].append((f"vm-{j:04d}", mac_of(0x56, j)))
        self.migrations: list[tuple[str, str, str, str, int]] = []  # vm, mac, src, dst, at

    def line(
        self, measurement: str, tags: dict[str, str], fields: dict[str, object], t: int
    ) -> None:
        ln = encode_line(measurement, tags, fields, t)  # type: ignore[arg-type]
        if ln:
            self.lines.append(ln)

    def move(self, addr: str, t: int, frm: tuple[str, str], to: tuple[str, str], bd: str,
             cause: str, incident: str, to_mac: str = "") -> None:  # fmt: skip
        at = "mac" if ":" in addr else "ipv4"
        fields: dict[str, object] = {
            "from_node": frm[0], "from_interface": frm[1], "from_encap": "vlan-10",
            "to_node": to[0], "to_interface": to[1], "to_encap": "vlan-10", "count": 1,
            "epg": f"{bd.split('/')[0]}/app/epg", "bd": bd, "vrf": f"{bd.split('/')[0]}/vrf",
            "vnid": 15000000,
        }  # fmt: skip
        if to_mac:
            fields["to_mac"] = fields["from_mac"] = to_mac
        self.line("apic_endpoint_move", {"fabric": FABRIC, "addr": addr, "addr_type": at},
                  fields, t)  # fmt: skip
        self.truth.append(Truth(addr, t, cause, incident))

    def port_polls(self, node: str, iface: str, flood: list[tuple[int, float]] | None = None,
                   down_at: int | None = None) -> None:  # fmt: skip
        """apic_interface every 60 s (state + counters), plus the oper change if any."""
        for t in range(self.lo, self.now, 60 * NS):
            up = down_at is None or t < down_at
            fields: dict[str, object] = {
                "oper_st": "up" if up else "down", "oper_up": up, "in_pkts_rate": 100.0,
                "in_flood_pkts_rate": 2.0, "in_multicast_pkts_rate": 1.0,
                "in_unicast_pkts_rate": 97.0, "in_flood_pkts_cum": 1000,
            }  # fmt: skip
            for at, pps in flood or []:
                if at <= t:
                    fields["in_flood_pkts_rate"] = pps
            self.line("apic_interface", {"fabric": FABRIC, "node": node, "interface": iface},
                      fields, t)  # fmt: skip
        if down_at is not None:
            self.line("apic_interface", {"fabric": FABRIC, "node": node, "interface": iface},
                      {"oper_st": "down", "oper_up": False, "speed": "10G"}, down_at)  # fmt: skip

    def build(self) -> None:
        a, t, rnd = self.args, self.t, self.rnd
        # -- adjacency: every hypervisor NIC, re-stated every 300 s; the looped ports face a
        # non-ACI switch; po7 faces a blade switch. -------------------------------------------
        for rt in range(self.lo, self.now + 1, 300 * NS):
            for i, h in enumerate(self.hosts):
                for n in (0, 1):
                    node, iface = self.nic_port[(h, n)]
                    self.line(
                        "apic_adjacency",
                        {"fabric": FABRIC, "node": node, "interface": iface, "protocol": "lldp"},
                        {"neighbor_name": h, "neighbor_port": f"vmnic{n}",
                         "neighbor_mgmt_addr": f"10.200.{i >> 8}.{i & 255}",
                         "neighbor_chassis_mac": mac_of(0xCC, i), "present": True},
                        rt,
                    )  # fmt: skip
            for node in ("105", "110"):
                self.line(
                    "apic_adjacency",
                    {"fabric": FABRIC, "node": node, "interface": "eth1/40", "protocol": "cdp"},
                    {"neighbor_name": f"access-sw-{node}", "neighbor_port": "Gi0/1",
                     "neighbor_mgmt_addr": f"10.201.0.{node[-1]}", "present": True},
                    rt,
                )  # fmt: skip
        # -- hypervisors every 20 s ---------------------------------------------------------
        # VM migrations (decided first: the adapter lists follow them).
        movers = rnd.sample(self.hosts, a.migrations)
        for j, src in enumerate(movers):
            vm, mac = self.vms[src][0]
            dst = self.hosts[(self.hosts.index(src) + 37) % len(self.hosts)]
            self.migrations.append((vm, mac, src, dst, t + (10 + 3 * j) * NS))
        moved = {m[1]: m for m in self.migrations}
        involved = {m[2] for m in self.migrations} | {m[3] for m in self.migrations}
        storm_host = next(h for h in reversed(self.hosts) if h not in involved)
        for hi, h in enumerate(self.hosts):
            agent = f"10.200.{hi >> 8}.{hi & 255}"
            offset = rnd.randrange(20) * NS
            counters = [rnd.randrange(10**9), rnd.randrange(10**9)]
            bcast = [rnd.randrange(10**6), rnd.randrange(10**6)]
            net_total = rnd.randrange(10**12)
            for rt in range(self.lo + offset, self.now, 20 * NS):
                vms = list(self.vms[h])
                for mig in self.migrations:  # migrated VMs: listed where they are
                    vm, mac, src, dst, at = mig
                    if h == src and rt >= at - 2 * NS:
                        vms = [v for v in vms if v[1] != mac]
                    if h == dst and rt >= at + 2 * NS:
                        vms.append((vm, mac))
                self.line("sflow_host_adapters",
                          {"agent": agent, "host": h, "ifindex": "1", "source_id": "2:1"},
                          {"macs": hexmac(mac_of(0xCC, hi)), "mac_count": 1}, rt)  # fmt: skip
                for n in (0, 1):
                    self.line(
                        "sflow_host_adapters",
                        {"agent": agent, "host": h, "ifindex": str(2 + n), "source_id": "2:1"},
                        {"macs": hexmac(mac_of(0xCD + n, hi)), "mac_count": 1}, rt,
                    )  # fmt: skip
                for k, (vm, mac) in enumerate(vms):
                    self.line(
                        "sflow_host_adapters",
                        {"agent": agent, "host": h, "ifindex": str(100 + k),
                         "source_id": "2:1", "vm": vm},
                        {"macs": hexmac(mac), "mac_count": 1}, rt,
                    )  # fmt: skip
                for n in (0, 1):
                    counters[n] += rnd.randrange(10**6)
                    rate = 20_000 if h == storm_host and rt >= t else 5
                    bcast[n] += rate * 20
                    self.line(
                        "sflow_if_counters",
                        {"agent": agent, "host": h, "ifindex": str(2 + n),
                         "source_id": f"0:{2 + n}"},
                        {"if_index": 2 + n, "if_oper_up": 1, "if_admin_up": 1,
                         "if_in_octets": counters[n], "if_in_broadcast_pkts": bcast[n]},
                        rt,
                    )  # fmt: skip
                busy = any(m[2] == h or m[3] == h for m in moved.values())
                self.line("cpu", {"agent": agent, "host": h, "cpu": "cpu-total"},
                          {"usage_active": 70.0 if busy else rnd.uniform(5, 30)}, rt)  # fmt: skip
                net_total += rnd.randrange(10**8)
                self.line("net", {"agent": agent, "host": h, "interface": "total"},
                          {"bytes_recv": net_total, "bytes_sent": net_total // 3}, rt)  # fmt: skip
        # -- VM migrations: MAC moves (and the IP for every other VM) -------------------------
        for j, (vm, mac, src, dst, at) in enumerate(self.migrations):
            frm, to = self.nic_port[(src, 0)], self.nic_port[(dst, 0)]
            inc = f"vm_migration:{vm}"
            self.move(mac, at, frm, to, f"tn1/bd-vm{j % 5}", "vm_migration", inc)
            if j % 2 == 0:
                ip = f"10.1.{j}.{10 + j}"
                self.move(ip, at + 3_000_000, frm, to, f"tn1/bd-vm{j % 5}", "vm_migration",
                          inc, to_mac=mac)  # fmt: skip
        # -- the loop: BD tn1/bd-loop, endpoints flapping between 105/eth1/40 and 110/eth1/40 --
        pa, pb = ("105", "eth1/40"), ("110", "eth1/40")
        for p in (pa, pb):
            self.port_polls(*p, flood=[(t, 8000.0)])
        self.line("apic_fault", {"fabric": FABRIC, "node": "105", "code": "F2533",
                                 "kind": "mcp_loop"},
                  {"interface": "eth1/40", "bd": "", "severity": "major", "lc": "raised",
                   "active": True, "descr": "MCP detected a loop on port eth1/40",
                   "dn": "topology/pod-1/node-105/sys/phys-[eth1/40]/fault-F2533"},
                  t + NS)  # fmt: skip
        for i in range(a.loop_endpoints):
            mac = mac_of(0x77, i)
            for k in range(4):
                frm, to = (pa, pb) if k % 2 == 0 else (pb, pa)
                at = t + int((0.1 + 2 * k) * NS) + i * 1_000_000
                self.move(mac, at, frm, to, "tn1/bd-loop", "loop", "loop:tn1/bd-loop")
        # -- port-channel failover: node 103 po7 goes down, 60 endpoints go to node 104 po8 --
        down = t + 59 * NS
        self.port_polls("103", "po7", down_at=down)
        self.port_polls("104", "po8")
        self.port_polls("103", "eth1/20", down_at=down + 500_000_000)  # a neighbour, not theirs
        for i in range(a.failover_endpoints):
            self.move(mac_of(0x88, i), down + NS + i * 5_000_000, ("103", "po7"), ("104", "po8"),
                      "tn2/bd-pc", "link_failover", "link_failover:node-103/po7")  # fmt: skip
        # -- two NIC-teaming flaps ----------------------------------------------------------
        for f in range(2):
            mac = mac_of(0x99, f)
            p1, p2 = (str(111 + f), "eth1/30"), (str(113 + f), "eth1/30")
            for k in range(5):
                frm, to = (p1, p2) if k % 2 == 0 else (p2, p1)
                self.move(mac, t + (100 + 5 * k) * NS, frm, to, "tn3/bd-flap",
                          "nic_teaming_flap", f"nic_teaming_flap:{mac}")  # fmt: skip
        # -- a mass move with no evidence anywhere (truth: unknown) ---------------------------
        for i in range(20):
            quiet = "tn4/bd-quiet"
            self.move(mac_of(0xAA, i), t + 200 * NS + i * NS // 10, ("107", "eth1/44"),
                      ("108", "eth1/44"), quiet, "unknown", f"unknown:{quiet}")  # fmt: skip
        # -- an unrelated flood storm on a leaf port where nothing moves ----------------------
        self.port_polls("118", "eth1/45", flood=[(t - 30 * NS, 20000.0)])


def write(url: str, db: str, lines: list[str]) -> None:
    with httpx.Client(timeout=120) as c:
        for i in range(0, len(lines), 20_000):
            r = c.post(f"{url}/write", params={"db": db, "precision": "ns"},
                       content="\n".join(lines[i : i + 20_000]).encode())  # fmt: skip
            r.raise_for_status()


def query_requests(url: str) -> int:
    r = httpx.post(f"{url}/query", data={"q": "SHOW STATS FOR 'httpd'"}, timeout=30)
    r.raise_for_status()
    for s in r.json()["results"][0].get("series", []):
        cols = s["columns"]
        return int(s["values"][0][cols.index("queryReq")])
    raise RuntimeError("no httpd stats")


def analyze_child(url: str, db: str, now_ns: int) -> None:
    """In a fresh process: one analyzer run; prints JSON (findings, incidents, time, RSS)."""
    from analyzers.move_cause import MoveCauseAnalyzer, MoveCauseConfig
    from influx.query import InfluxQuery
    from influx.sink import ListSink

    q = InfluxQuery(url, "", db, server_major=1)
    an = MoveCauseAnalyzer(q, ListSink(), MoveCauseConfig(fabric=FABRIC))
    t0 = time.perf_counter()
    findings = an.run_once(now_ns)
    wall = time.perf_counter() - t0
    out = {
        "wall_s": wall,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "findings": [[f.move.addr, f.move.time_ns, f.cause, f.incident_id] for f in findings],
        "incidents": [[i.id, i.kind, i.key, i.moves, i.summary] for i in an.last_incidents],
    }
    sys.stdout.write(json.dumps(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=400)
    ap.add_argument("--vms-per-host", type=int, default=3)
    ap.add_argument("--loop-endpoints", type=int, default=300)
    ap.add_argument("--migrations", type=int, default=40)
    ap.add_argument("--failover-endpoints", type=int, default=60)
    ap.add_argument("--influx-url", help="use this InfluxDB 1.x instead of a private one")
    ap.add_argument("--child", nargs=3, metavar=("URL", "DB", "NOW_NS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        analyze_child(args.child[0], args.child[1], int(args.child[2]))
        return 0

    tmp = tempfile.TemporaryDirectory(prefix="bench_analyzer_")
    local = None
    url = args.influx_url
    if not url:
        local = LocalInfluxDB(Path(tmp.name), free_port(), binary=ensure_influxd())
        url = local.start()
    db = "bench_analyzer"
    try:
        httpx.post(f"{url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=30)
        httpx.post(f"{url}/query", data={"q": f'CREATE DATABASE "{db}"'}, timeout=30)
        now = time.time_ns()
        sc = Scenario(args, now)
        t0 = time.perf_counter()
        sc.build()
        write(url, db, sc.lines)
        print(f"wrote {len(sc.lines)} points ({len(sc.truth)} moves, {args.hosts} hypervisors) "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)  # fmt: skip
        before = query_requests(url)
        res = subprocess.run(
            [sys.executable, __file__, "--child", url, db, str(now)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        after = query_requests(url)
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            return 1
        out = json.loads(res.stdout)
        queries = after - before - 1  # the second SHOW STATS counts itself
        return report(sc, out, queries, load=Path("/proc/loadavg").read_text().split()[:3])
    finally:
        if local is not None:
            local.stop()
        tmp.cleanup()


def report(sc: Scenario, out: dict[str, Any], queries: int, load: list[str]) -> int:
    truth = {(x.addr, x.time_ns): x for x in sc.truth}
    found = {(a, t): (c, i) for a, t, c, i in out["findings"]}
    right = sum(1 for k, x in truth.items() if found.get(k, ("",))[0] == x.cause)
    wrong = Counter(
        (x.cause, found.get(k, ("missing",))[0])
        for k, x in truth.items()
        if found.get(k, ("",))[0] != x.cause
    )
    # Incidents: each true incident should map to exactly one found incident and back.
    true_to_found: dict[str, set[str]] = {}
    found_to_true: dict[str, set[str]] = {}
    for k, x in truth.items():
        if k in found:
            true_to_found.setdefault(x.incident, set()).add(found[k][1])
            found_to_true.setdefault(found[k][1], set()).add(x.incident)
    kinds = {i[0]: i[1] for i in out["incidents"]}
    one_to_one = sum(
        1
        for ti, fs in true_to_found.items()
        if len(fs) == 1
        and len(found_to_true[next(iter(fs))]) == 1
        and kinds.get(next(iter(fs))) == ti.split(":")[0]
    )
    print(f"moves {len(truth)}, hypervisors {sc.args.hosts}, evidence points {len(sc.lines)}")
    print(f"wall time      {out['wall_s']:.2f} s   (target ≤ {TARGET_WALL_S:.0f} s)")
    print(f"InfluxQL reqs  {queries}   (target ≤ {TARGET_QUERIES}; SHOW STATS httpd queryReq)")
    print(f"peak RSS       {out['rss_mb']:.0f} MB (analyzer process)")
    print(f"findings right {right}/{len(truth)}" + (f"   wrong: {dict(wrong)}" if wrong else ""))
    print(f"incidents      {len(out['incidents'])} found, {len(true_to_found)} true, "
          f"{one_to_one} one-to-one with the right kind")  # fmt: skip
    print(f"load average   {' '.join(load)}")
    ok = (
        right == len(truth)
        and queries <= TARGET_QUERIES
        and out["wall_s"] <= TARGET_WALL_S
        and one_to_one == len(true_to_found) == len(out["incidents"])
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
