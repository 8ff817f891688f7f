"""Incident test data in the shapes docs/measurements.md and /work/wt/CONTRACTS.md fix: `incident`
points, `move_analysis` findings carrying `incident_id`, and the evidence the incident pages chart
(`apic_interface` oper state and flood rate, `apic_fault`, `sflow_if_counters`, `cpu`, `net`).

Three incidents in fabric1 and one in fabric2:
- LOOP: a loop in BD prod/bd-web, node-101/eth1/5 and node-102/eth1/7 flooding, MCP fault;
- FAILOVER: node-103/eth1/9 went down, endpoints moved to 104; the seeded MAC (tests/api/
  conftest.py) is one of them, at its own move time;
- OLD: an unknown mass move three hours ago (outside "the last hour");
- VM: a VM migration in fabric2 (must not leak into fabric1 queries).
"""

from __future__ import annotations

from dataclasses import dataclass

from influx.query import rfc3339_nano
from tests.api.conftest import MAC

S = 1_000_000_000
LOOP_ID = "inc-loop-9f3c2a"
FAILOVER_ID = "inc-failover-51d0e7"
OLD_ID = "inc-unknown-0b77aa"
VM_ID = "inc-vm-c0ffee"
LOOP_MACS = ["00:50:56:BB:00:01", "00:50:56:BB:00:02", "00:50:56:BB:00:03"]


@dataclass
class IncidentTimes:
    loop_start: int
    loop_end: int
    fo_start: int
    fo_end: int


def _rfc(ns: int) -> str:
    return rfc3339_nano(ns)


def _incident(
    fabric: str, kind: str, iid: str, start: int, end: int, *, places: str, summary: str,
    evidence: str, endpoints: int, moves: int, confidence: float, addrs: str, extra: str = "",
) -> str:  # fmt: skip
    return (
        f'incident,fabric={fabric},kind={kind} id="{iid}",start="{_rfc(start)}",'
        f'end="{_rfc(end)}",endpoints={endpoints}i,moves={moves}i,places="{places}",'
        f'summary="{summary}",evidence="{evidence}",confidence={confidence},addrs="{addrs}"'
        f"{extra} {start}"
    )


def incident_lines(now: int, move_ns: int) -> tuple[list[str], IncidentTimes]:
    """`move_ns`: the seeded MAC's move (conftest.seed_lines), which joins the failover."""
    ls, le = now - 1200 * S, now - 1020 * S
    fs, fe = move_ns - 3 * S, move_ns
    lines = [
        _incident(
            "fabric1",
            "loop",
            LOOP_ID,
            ls,
            le,
            places="bd:prod/bd-web,node-101/eth1/5,node-102/eth1/7",
            summary="L2 loop in BD prod/bd-web: 3 endpoints moved 6 times between "
            "node-101/eth1/5 and node-102/eth1/7",
            evidence="flood on node-101/eth1/5 peaked at 48000 pps (baseline 40); "
            "MCP loop fault F2533 on node 101",
            endpoints=3,
            moves=6,
            confidence=0.95,
            addrs=",".join(LOOP_MACS),
            extra=",peak_flood_pps=48000.0",
        ),
        _incident(
            "fabric1",
            "link_failover",
            FAILOVER_ID,
            fs,
            fe,
            places="node-101/eth1/1,host:esx-03",
            summary="node-101/eth1/1 went down: 1 endpoint failed over to node-102/eth1/2",
            evidence="eth1/1 on node 101 went down 3s before the move; esx-03 vmnic1 down",
            endpoints=1,
            moves=1,
            confidence=0.9,
            addrs=MAC,
        ),
        _incident(
            "fabric1",
            "unknown",
            OLD_ID,
            now - 3 * 3600 * S,
            now - 3 * 3600 * S + 40 * S,
            places="bd:prod/bd-db",
            summary="40 endpoints moved with no evidence",
            evidence="no port, host or loop evidence found",
            endpoints=40,
            moves=40,
            confidence=0.0,
            addrs="",
        ),
        _incident(
            "fabric2",
            "vm_migration",
            VM_ID,
            now - 400 * S,
            now - 395 * S,
            places="vm:vm-03,host:esx-13,host:esx-14",
            summary="vm-03 migrated from esx-13 to esx-14",
            evidence="adapters moved",
            endpoints=2,
            moves=2,
            confidence=0.85,
            addrs="00:50:56:CC:00:03",
        ),
        # The seeded MAC's finding (same series and time as conftest's) gains the incident id.
        f"move_analysis,addr={MAC},cause=link_failover,fabric=fabric1 "
        f'incident_id="{FAILOVER_ID}",places="node-101/eth1/1,host:esx-03",topology="known" '
        f"{move_ns}",
    ]
    # The loop's moves: endpoints bouncing between the two looped ports.
    for i in range(6):
        mac = LOOP_MACS[i % 3]
        t = ls + (10 + 20 * i) * S
        a, b = (("101", "eth1/5"), ("102", "eth1/7"))[:: 1 if i % 2 == 0 else -1]
        lines.append(
            f"move_analysis,addr={mac},cause=loop,fabric=fabric1 confidence=0.95,"
            f'evidence="flood on node-101/eth1/5 at {40000 + i}pps",move_time="{_rfc(t)}",'
            f'from_node="{a[0]}",from_interface="{a[1]}",to_node="{b[0]}",to_interface="{b[1]}",'
            f'incident_id="{LOOP_ID}",places="node-101/eth1/5,node-102/eth1/7",topology="partial" '
            f"{t}"
        )
    # Leaf port evidence: up before; flood on the looped ports during the loop; eth1/1 goes down.
    # The cumulative counter agrees with the rate: each poll adds the last minute's packets.
    cum = {"eth1/5": 1_000_000, "eth1/7": 1_000_000}
    for k in range(-10, 16):
        t = ls + k * 60 * S
        looping = ls <= t <= le + 60 * S
        for node, iface, pps in (("101", "eth1/5", 48000.0), ("102", "eth1/7", 31000.0)):
            rate = pps if looping else 40.0
            cum[iface] += int(rate * 60)
            lines.append(
                f"apic_interface,fabric=fabric1,interface={iface},node={node} "
                f'oper_st="up",oper_up=true,speed="10G",in_flood_pkts_rate={rate},'
                f"in_flood_pkts_cum={cum[iface]}i {t}"
            )
    lines += [
        'apic_interface,fabric=fabric1,interface=eth1/1,node=101 oper_st="up",oper_up=true '
        + str(fs - 120 * S),
        'apic_interface,fabric=fabric1,interface=eth1/1,node=101 oper_st="down",oper_up=false '
        + str(fs),
        "apic_fault,code=F2533,fabric=fabric1,kind=mcp_loop,node=101 "
        'interface="eth1/5",bd="prod/bd-web",severity="major",lc="raised",active=true,'
        'descr="MCP detected a loop on eth1/5",dn="topology/pod-1/node-101/sys/phys-[eth1/5]/'
        f'fault-F2533" {ls + 30 * S}',
    ]
    # Hypervisor esx-03: NIC 2 drops at the failover; CPU and network counters around it.
    for k in range(-12, 10):
        t = fs + k * 20 * S
        up = 0 if 0 <= k <= 3 else 1
        lines.append(
            "sflow_if_counters,agent=192.0.2.3,host=esx-03,ifindex=2,source_id=0:2 "
            f"if_index=2i,if_oper_up={up}i,if_admin_up=1i {t}"
        )
        lines.append(
            "sflow_if_counters,agent=192.0.2.3,host=esx-03,ifindex=3,source_id=0:3 "
            f"if_index=3i,if_oper_up=1i,if_admin_up=1i {t}"
        )
        lines.append(
            f"cpu,agent=192.0.2.3,cpu=cpu-total,host=esx-03 usage_active={20.0 + 2 * (k + 12)} {t}"
        )
        lines.append(
            "net,agent=192.0.2.3,host=esx-03,interface=total "
            f"bytes_recv={(k + 12) * 25_000_000}i,bytes_sent={(k + 12) * 5_000_000}i {t}"
        )
    return lines, IncidentTimes(ls, le, fs, fe)
