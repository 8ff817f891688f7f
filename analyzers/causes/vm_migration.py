"""`vm_migration`: the endpoint's MAC left one hypervisor for another.

The MAC was listed first by hypervisor A's `sflow_host_adapters` and later by B's, A's last
listing before B's. The topology confirms it when A is cabled to the old leaf port and B to the
new one (LLDP/CDP); when the join is missing the evidence says so and the confidence is lower.
Peaks of `cpu` usage_active and `net` rate of both hosts go into the evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzers.causes._text import NS, hms, mac_text, plural, port, rel
from analyzers.causes.base import Verdict
from analyzers.evidence import EvidenceIndex, port_place
from influx.reads import Move


class VmMigration:
    name = "vm_migration"
    rule = (
        "the MAC left hypervisor A's sflow_host_adapters for B's (0.9 when the topology puts A "
        "behind the old port and B behind the new; 0.85 partial; 0.8 unknown; 0.6 against the "
        "topology; +0.05 with CPU ≥ 50 % or ≥ 800 Mbit/s on either)"
    )

    def explain(self, move: Move, ev: EvidenceIndex) -> Verdict | None:
        mac = move.mac
        if not mac:
            return None
        cfg = ev.cfg
        lo = move.time_ns - int(cfg.before_s * NS)
        hi = move.time_ns + int(cfg.after_s * NS)
        seen: dict[str, tuple[int, int]] = {}  # host → (first, last) sighting of the MAC
        vm = ""
        for a in ev.sightings(mac, lo, hi):
            first, last = seen.get(a.host, (a.time_ns, a.time_ns))
            seen[a.host] = (min(first, a.time_ns), max(last, a.time_ns))
            vm = a.vm or vm
        if len(seen) < 2:
            return None
        # "Leaving A for B": A was listed first and stopped being listed before B did.
        old = min(seen, key=lambda h: (seen[h][0], h))
        new = max(seen, key=lambda h: (seen[h][1], h))
        if old == new or not (seen[old][0] < seen[new][0] and seen[old][1] < seen[new][1]):
            return None
        path = ev.path(move)
        sides = [(path.old_host, old), (path.new_host, new)]
        if any(link is not None and link.host != host for link, host in sides):
            conf, topo = 0.6, "; the LLDP/CDP topology puts other hosts behind these ports"
        elif all(link is not None for link, _ in sides):
            conf, topo = 0.9, " (LLDP/CDP: each hypervisor is cabled to its port)"
        elif any(link is not None for link, _ in sides):
            conf, topo = 0.85, " (topology partial: only one hypervisor is joined to its port)"
        else:
            conf, topo = 0.8, " (leaf port ↔ hypervisor topology unknown)"
        loads = [(h, *ev.host_load(h, lo, hi)) for h in (old, new)]
        busy = any((c or 0.0) >= 50.0 or (n or 0.0) >= 100e6 for _, c, n in loads)
        if busy:
            conf = min(0.95, conf + 0.05)
        load_txt = "; ".join(_load_text(h, c, n) for h, c, n in loads)
        who = f"VM {vm} (MAC {mac_text(mac)})" if vm else f"MAC {mac_text(mac)}"
        shared = (
            f"{who} was listed by hypervisor {old} until {hms(seen[old][1])} UTC and by "
            f"hypervisor {new} from {hms(seen[new][0])} UTC{topo}"
        )
        places = (f"host:{old}", f"host:{new}", *((f"vm:{vm}",) if vm else ()),
                  port_place(*move.from_loc), port_place(*move.to_loc))  # fmt: skip
        return Verdict(
            self.name, conf,
            f"{shared} ({rel(seen[new][0], move.time_ns)}); the endpoint moved from "
            f"{port(*move.from_loc)} to {port(*move.to_loc)}. Load: {load_txt}",
            f"vm:{vm}" if vm else f"mac:{mac}", places, shared + f". Load: {load_txt}",
        )  # fmt: skip

    def summary(self, key: str, endpoints: int, moves: int, places: Sequence[str]) -> str:
        hosts = [p.removeprefix("host:") for p in places if p.startswith("host:")]
        route = f" from {hosts[0]} to {hosts[1]}" if len(hosts) >= 2 else ""
        what = f"VM {key[3:]}" if key.startswith("vm:") else f"MAC {mac_text(key[4:])}"
        who = "its MAC and IPs moved together" if endpoints == 1 else plural(endpoints, "endpoint")
        return f"{what} migrated{route} ({who}: {plural(moves, 'move')})"


def _load_text(host: str, cpu: float | None, net: float | None) -> str:
    parts = []
    if cpu is not None:
        parts.append(f"CPU peak {cpu:.0f}%")
    if net is not None:
        parts.append(f"network peak {net * 8 / 1e6:.0f} Mbit/s")
    return f"{host}: " + (", ".join(parts) if parts else "no CPU/network samples")
