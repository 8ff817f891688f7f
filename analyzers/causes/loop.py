"""`loop`: an L2 loop in the move's bridge domain.

Named when ≥ `loop_min_endpoints` endpoints of the move's BD moved within ±`loop_window_s` AND
there is loop evidence on the leaf ports where that BD's endpoints move (never anywhere else):
a flood storm on those ports (APIC ingress flood pkts/s, `apic_interface.in_flood_pkts_rate`), a
raised MCP-loop / EP-loop fault naming the BD or one of those ports (`apic_fault`), the poller's
`loop` anomaly for the BD, or a broadcast storm on the sFlow host cabled to one of those ports.
Mass moves alone are not a loop (a leaf reload moves many endpoints too).
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzers.causes._text import NS, hms, plural
from analyzers.causes.base import Verdict
from analyzers.evidence import EvidenceIndex, Storm, port_place
from collector.apic.anomaly_kinds import LOOP
from influx.reads import Move


class Loop:
    name = "loop"
    rule = (
        "≥ 5 endpoints of the move's BD moved within ±10 s and, on the leaf ports where that BD's "
        "endpoints move: an APIC flood storm, an MCP/EP loop fault, the poller's loop anomaly or "
        "an sFlow broadcast storm on the host behind the port (0.95 two kinds, 0.85 flood or "
        "fault, 0.8 host storm, 0.7 anomaly only)"
    )

    def explain(self, move: Move, ev: EvidenceIndex) -> Verdict | None:
        cfg = ev.cfg
        if not move.bd:
            return None
        n_addrs, n_moves, ports = ev.bd_burst(move)
        if n_addrs < cfg.loop_min_endpoints:
            return None
        lo = move.time_ns - int(cfg.before_s * NS)
        hi = move.time_ns + int(cfg.after_s * NS)
        storms = [s for p in sorted(ports) if (s := ev.port_storm(p, lo, hi)) is not None]
        faults = ev.loop_faults(move.bd, ports, lo, hi)
        anoms = ev.anomalies_of(move.bd, (LOOP,), lo, hi)
        host_storms: list[Storm] = []
        for p in sorted(ports):
            link = ev.topology.port_host.get(p)
            if link is not None and (hs := ev.host_storm(link.host, lo, hi)) is not None:
                if hs.place not in {h.place for h in host_storms}:
                    host_storms.append(hs)
        if not (storms or faults or anoms or host_storms):
            return None
        kinds = sum(1 for x in (storms or host_storms, faults, anoms) if x)
        conf = 0.95 if kinds >= 2 else 0.85 if storms or faults else 0.8 if host_storms else 0.7
        parts: list[str] = []
        places = [f"bd:{move.bd}"]
        peak: float | None = None
        for s in sorted(storms + host_storms, key=lambda s: -s.peak_pps)[:4]:
            parts.append(
                f"{s.source} storm on {s.place}: {s.peak_pps:.0f} pkts/s {_when(s)} "
                f"(quiet level {s.baseline_pps:.0f}/s)"
            )
        for s in storms + host_storms:
            places.append(s.place)
            peak = s.peak_pps if peak is None else max(peak, s.peak_pps)
        for f in faults[:3]:
            where = port_place(f.node, f.interface) if f.interface else f"node-{f.node}"
            parts.append(f"{f.kind} fault {f.code} ({f.lc or 'raised'}) on {where}: {f.descr}")
            if f.interface:
                places.append(port_place(f.node, f.interface))
        if anoms:
            parts.append(f"the APIC poller reported a loop in BD {move.bd}: {anoms[0].detail}")
        shared = "; ".join(parts)
        evidence = (
            f"{n_addrs} addresses (MACs and IPs) of BD {move.bd} moved within "
            f"±{cfg.loop_window_s:.0f}s of this move ({n_moves} moves); {shared}"
        )
        return Verdict(
            self.name, conf, evidence, f"bd:{move.bd}", tuple(dict.fromkeys(places)), shared, peak
        )

    def summary(self, key: str, endpoints: int, moves: int, places: Sequence[str]) -> str:
        ports = [p for p in places if p.startswith("node-")]
        shown = ports[:4]
        if len(shown) == 1:
            where = f" on {shown[0]}"
        elif shown:
            where = f" between {', '.join(shown[:-1])} and {shown[-1]}"
            where += f" (+{len(ports) - 4} more ports)" if len(ports) > 4 else ""
        else:
            where = ""
        return (
            f"L2 loop in BD {key.removeprefix('bd:')}: {plural(endpoints, 'endpoint')} moved "
            f"{moves} times{where}"
        )


def _when(s: Storm) -> str:
    """When the peak was measured: one instant, or the interval between two counter readings
    (the rate is that interval's average; the loop may have lasted only part of it)."""
    if s.since_ns is None:
        return f"at {hms(s.at_ns)} UTC"
    return f"between {hms(s.since_ns)} and {hms(s.at_ns)} UTC"
