"""Leaf-port ingress counters by traffic class (stage: simulators — eqptIngrPkts5min /
eqptIngrBytes5min).

What a real leaf reports (acitoolkit ``docs/source/stats/ingrPkts.rst``, ``ingrBytes.rst``): per
front port, one current 5-minute object per family, rn ``CDeqptIngrPkts5min`` /
``CDeqptIngrBytes5min``, with ``flood``/``multicast``/``unicast`` × ``Avg/Cum/Max/Min/Per/Rate``
plus ``intervalStart``/``intervalEnd``. ``…Cum`` never resets; ``…Per`` is the interval so far and
``…Rate`` = ``…Per`` / seconds into the interval. ACI counts broadcast inside *flood* at the
port level, so a looping broadcast storm shows as ``floodRate`` on the looped ports.

Counters are a pure function of the clock: a steady per-port background (unicast from a
seed-stable hash, a trickle of ARP flood and multicast) plus the floods the scenarios start and
stop (``fabric.floods``). Nothing is stored per port unless it floods.
"""

from __future__ import annotations

import zlib

from simulators.fabric import Attrs, Node, SimulatedFabric, fmt_ts

INTERVAL_S = 300.0  # the 5min granularity
HISTORY_S = 86_400.0  # counters were already running for a day when the simulator starts
BG_FLOOD_PPS = 2.0  # ARP/unknown-unicast background per port
BG_MCAST_PPS = 1.0  # LLDP, IGMP …
FLOOD_FRAME = 64  # a storm is mostly minimum-size ARP broadcasts
MCAST_FRAME = 128
UCAST_FRAME = 800

PKTS_CLASS = "eqptIngrPkts5min"
BYTES_CLASS = "eqptIngrBytes5min"
CLASSES = (PKTS_CLASS, BYTES_CLASS)
KINDS = ("flood", "multicast", "unicast")


Spans = dict[tuple[int, str], list[list[float]]]


def flood_pps(spans: Spans, node: int, port: str, at: float) -> float:
    """Flood pps entering the port at ``at``."""
    return sum(p for s, e, p in spans.get((node, port), []) if s <= at < e)


def flood_pkts(spans: Spans, node: int, port: str, t: float) -> float:
    """Flooded packets that entered the port up to ``t``."""
    total = 0.0
    for s, e, pps in spans.get((node, port), []):
        if t > s:
            total += (min(t, e) - s) * pps
    return total


def _ucast_pps(fab: SimulatedFabric, leaf: Node, port: str) -> float:
    h = zlib.crc32(f"{fab.seed}/{leaf.id}/{port}".encode()) & 0xFFFF
    return (1_000 + h * 50) / UCAST_FRAME  # the same spread of bytes/s as eqptIngrTotal5min


def cumulative(fab: SimulatedFabric, leaf: Node, port: str, t: float) -> dict[str, float]:
    """Packets and bytes per kind that entered the port up to ``t``."""
    run = t - fab.build_ts + HISTORY_S
    flood = BG_FLOOD_PPS * run + flood_pkts(fab.floods, leaf.id, port, t)
    mcast = BG_MCAST_PPS * run
    ucast = _ucast_pps(fab, leaf, port) * run
    return {
        "flood_pkts": flood,
        "multicast_pkts": mcast,
        "unicast_pkts": ucast,
        "flood_bytes": flood * FLOOD_FRAME,
        "multicast_bytes": mcast * MCAST_FRAME,
        "unicast_bytes": ucast * UCAST_FRAME,
    }


def attrs(fab: SimulatedFabric, leaf: Node, port: str, cls: str) -> Attrs:
    """The current ``CDeqptIngrPkts5min`` / ``CDeqptIngrBytes5min`` object of one port."""
    now = fab.clock.now()
    start = now - (now % INTERVAL_S)
    elapsed = max(1.0, now - start)
    unit = "pkts" if cls == PKTS_CLASS else "bytes"
    cur = cumulative(fab, leaf, port, now)
    base = cumulative(fab, leaf, port, start)
    out: Attrs = {"childAction": "", "dn": f"{leaf.prefix}/sys/phys-[{port}]/CD{cls}"}
    for kind in KINDS:
        cum = cur[f"{kind}_{unit}"]
        per = cum - base[f"{kind}_{unit}"]
        rate = per / elapsed
        samples = max(1.0, elapsed // 10)  # one reading every 10 s
        out.update(
            {
                f"{kind}Avg": str(int(per / samples)),
                f"{kind}Cum": str(int(cum)),
                f"{kind}Max": str(int(per / samples)),
                f"{kind}Min": str(int(per / samples)),
                f"{kind}Per": str(int(per)),
                f"{kind}Rate": f"{rate:.6f}",
            }
        )
    out.update(
        {
            "cnt": str(int(elapsed // 10)),
            "intervalEnd": fmt_ts(now),
            "intervalStart": fmt_ts(start),
            "lastCollOffset": str(int(elapsed)),
            "modTs": "never",
            "repIntvEnd": fmt_ts(now),
            "repIntvStart": fmt_ts(start),
            "status": "",
            "suspect": "no",
        }
    )
    return out


def start_flood(fab: SimulatedFabric, node: int, port: str, pps: float) -> None:
    with fab.lock:
        fab.floods.setdefault((node, port), []).append([fab.clock.now(), float("inf"), pps])
        fab.version += 1  # query caches key on it


def stop_flood(fab: SimulatedFabric, node: int, port: str) -> None:
    with fab.lock:
        now = fab.clock.now()
        for span in fab.floods.get((node, port), []):
            if span[1] == float("inf"):
                span[1] = now
        fab.version += 1


__all__ = [
    "BYTES_CLASS",
    "CLASSES",
    "PKTS_CLASS",
    "attrs",
    "cumulative",
    "flood_pkts",
    "flood_pps",
    "start_flood",
    "stop_flood",
]
