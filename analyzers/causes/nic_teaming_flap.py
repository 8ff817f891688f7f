"""`nic_teaming_flap`: the endpoint keeps alternating between the same two ports.

≥ `flap_min_moves` moves back and forth between the same two locations within `flap_window_s`,
or the APIC poller's `rapid` / `rogue` anomaly on the endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzers.causes._text import NS, hms, mac_text, plural, port
from analyzers.causes.base import Verdict
from analyzers.evidence import EvidenceIndex, port_place
from collector.apic.anomaly_kinds import RAPID, ROGUE
from influx.reads import Move


class NicTeamingFlap:
    name = "nic_teaming_flap"
    rule = (
        "≥ 3 moves alternating between the same two ports within 300 s (0.8), a rapid/rogue "
        "anomaly on the endpoint (0.65), both (0.9)"
    )

    def explain(self, move: Move, ev: EvidenceIndex) -> Verdict | None:
        cfg = ev.cfg
        lo = move.time_ns - int(cfg.flap_window_s * NS)
        hi = move.time_ns + int(cfg.after_s * NS)
        pair = {move.from_loc, move.to_loc}
        between = [x for x in ev.addr_moves(move.addr, lo, hi) if {x.from_loc, x.to_loc} == pair]
        # Alternating: each move goes back to where the previous one came from.
        alternating = all(
            b.from_loc == a.to_loc and b.to_loc == a.from_loc
            for a, b in zip(between, between[1:], strict=False)
        )
        flapping = len(between) >= cfg.flap_min_moves and alternating
        anomalies = ev.anomalies_of(move.addr, (RAPID, ROGUE), lo, hi)
        if not flapping and not anomalies:
            return None
        parts = []
        if flapping:
            parts.append(
                f"the endpoint moved {len(between)} times back and forth between "
                f"{port(*move.from_loc)} and {port(*move.to_loc)} within "
                f"{(between[-1].time_ns - between[0].time_ns) / NS:.0f}s"
            )
        if anomalies:
            kinds = sorted({a.kind for a in anomalies})
            parts.append(
                f"the APIC poller flagged it as {'/'.join(kinds)} at "
                f"{hms(anomalies[0].time_ns)} UTC ({anomalies[0].detail})"
            )
        conf = 0.9 if flapping and anomalies else 0.8 if flapping else 0.65
        text = "; ".join(parts)
        places = tuple(sorted({port_place(*move.from_loc), port_place(*move.to_loc)}))
        return Verdict(self.name, conf, text, f"mac:{move.mac or move.addr}", places, text)

    def summary(self, key: str, endpoints: int, moves: int, places: Sequence[str]) -> str:
        ports = [p for p in places if p.startswith("node-")]
        between = f" between {' and '.join(ports[:2])}" if ports else ""
        who = mac_text(key.removeprefix("mac:"))
        return f"NIC teaming flap of {who}{between}: {plural(moves, 'move')}"
