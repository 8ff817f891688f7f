"""`link_failover`: the link the endpoint was behind went down and it moved to its standby.

Only the move's OLD location counts (a neighbouring port going down is not this endpoint's
failover): the old leaf port (each vPC member) going up → down on `apic_interface`, or a NIC of
the host cabled to that port (topology) — or, when the topology of that port is unknown, of a
host whose adapters carried the endpoint's MAC — going `if_oper_up` 1 → 0 on `sflow_if_counters`.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzers.causes._text import NS, hms, plural, port, rel, topology_note
from analyzers.causes.base import Verdict
from analyzers.evidence import EvidenceIndex, MovePath, port_place
from influx.reads import Move


class LinkFailover:
    name = "link_failover"
    rule = (
        "the old leaf port went up → down on apic_interface (0.9; down with no earlier up 0.7), "
        "or a NIC of the host behind the old port went down on sflow_if_counters (0.85; 0.75 "
        "when the port ↔ host topology is unknown and the host is the one listing the MAC)"
    )

    def explain(self, move: Move, ev: EvidenceIndex) -> Verdict | None:
        found = [v for v in (self._leaf_side(move, ev), self._host_side(move, ev)) if v]
        return max(found, key=lambda v: v.confidence) if found else None

    def _leaf_side(self, m: Move, ev: EvidenceIndex) -> Verdict | None:
        cfg = ev.cfg
        lo = m.time_ns - int(cfg.before_s * NS)
        hi = m.time_ns + int(cfg.after_s * NS)
        path = ev.path(m)
        # The incident's place is the endpoint's old location (node-103/po7), whichever of its
        # member ports went down first: one failover of a port-channel is one incident.
        key = port_place(*m.from_loc)
        for p in path.old:
            last: bool | None = None
            for s in ev.interfaces.get(p, ()):
                if s.time_ns > hi:
                    break
                if s.oper_up is False and s.time_ns >= lo:
                    was_up = last is True
                    member = (
                        ""
                        if p == (m.from_node, m.from_interface) or (p[1] == m.from_interface)
                        else f" (member of {m.from_interface})"
                    )
                    text = (
                        f"{port(*p)}{member} went down (oper state up → {s.oper_st or 'down'})"
                        if was_up
                        else f"{port(*p)}{member} was down ({s.oper_st or 'down'}; no earlier "
                        "'up' sample)"
                    )
                    shared = f"{text} at {hms(s.time_ns)} UTC"
                    places = tuple(dict.fromkeys((key, port_place(*p), *self._hosts(path))))
                    return Verdict(
                        self.name, 0.9 if was_up else 0.7,
                        f"{shared}, {rel(s.time_ns, m.time_ns)}; the endpoint moved to "
                        f"{port(*m.to_loc)}",
                        key, places, shared,
                    )  # fmt: skip
                if s.oper_up is not None:
                    last = s.oper_up
        return None

    @staticmethod
    def _hosts(path: MovePath) -> tuple[str, ...]:
        return tuple(f"host:{h}" for h in path.hosts()[:2])

    def _host_side(self, m: Move, ev: EvidenceIndex) -> Verdict | None:
        cfg = ev.cfg
        lo = m.time_ns - int(cfg.before_s * NS)
        hi = m.time_ns + int(cfg.after_s * NS)
        path = ev.path(m)
        if path.old_host is not None:
            candidates = [(path.old_host.host, 0.85, "")]
        elif ev.topology.host_at(*m.from_loc) is None and path.mac_hosts:
            note = topology_note("unknown")
            candidates = [(h, 0.75, note) for h in path.mac_hosts]
        else:
            candidates = []
        for host, conf, note in candidates:
            downs = ev.host_nic_downs(host, lo, hi)
            if not downs:
                continue
            c = downs[0]
            place = f"host:{host}/if{c.ifindex}"
            # Keyed by the old leaf port like the leaf side: one failover is one incident
            # whether its moves were explained by the leaf's or by the host's evidence.
            key = port_place(*m.from_loc)
            via = (
                f", cabled to {port(*m.from_loc)} ({path.old_host.via})"
                if path.old_host is not None
                else ""
            )
            shared = (
                f"NIC ifIndex {c.ifindex} of host {host} (agent {c.agent}){via} went down at "
                f"{hms(c.time_ns)} UTC{note}"
            )
            return Verdict(
                self.name, conf,
                f"{shared}, {rel(c.time_ns, m.time_ns)}; the endpoint moved from "
                f"{port(*m.from_loc)} to {port(*m.to_loc)}",
                key, (key, place, f"host:{host}"), shared,
            )  # fmt: skip
        return None

    def summary(self, key: str, endpoints: int, moves: int, places: Sequence[str]) -> str:
        what = key.removeprefix("host:")
        nics = [p.removeprefix("host:") for p in places if p.startswith("host:") and "/if" in p]
        via = f" (NIC {nics[0].replace('/if', ' ifIndex ')} down)" if nics else ""
        return (
            f"Failover of {what}{via}: {plural(endpoints, 'endpoint')} behind it moved to "
            f"their standby link ({plural(moves, 'move')})"
        )
