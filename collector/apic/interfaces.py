"""Leaf-port state and counters for the poller (stage: collector/apic, beside the tracker).

Two writers of ``apic_interface`` (docs/measurements.md):

- :meth:`InterfaceWatch.on_event`: every oper-state change of a leaf port as it happens (the
  ``ethpmPhysIf`` subscription), so a port that flaps between two polls leaves its trace;
- :meth:`InterfaceWatch.poll`: every ``interface_interval_s``, oper state and the 5-minute counter
  classes of the ports that matter — ports that had endpoint events (the most recent
  ``max_ports``) plus ports other modules pin (e.g. ports with an LLDP/CDP neighbour).

Extending: append ``(class, field prefix, attribute names)`` to :attr:`InterfaceWatch.counters`
to read another per-port counter class on the same poll (one node-scoped query per class), or
``(class, fn(attrs) → fields)`` to :attr:`InterfaceWatch.mappers` when the field names do not
follow ``prefix_snake(attr)`` (e.g. ``port_counters.py``: eqptIngrPkts5min → in_flood_pkts_cum).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from collector.apic.client import ApicClient, ApicError
from collector.apic.models import FabricTables, node_of_dn, num, port_of, snake
from collector.apic.points import interface_line

log = logging.getLogger(__name__)

EVENT_CLASS = "ethpmPhysIf"
COUNTER_ATTRS = ("bytesCum", "pktsCum", "bytesRate", "pktsRate")
DEFAULT_COUNTERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("eqptIngrTotal5min", "in", COUNTER_ATTRS),
    ("eqptEgrTotal5min", "out", COUNTER_ATTRS),
)


def bundle_of(attrs: dict[str, Any]) -> str | None:
    """The port-channel a member port belongs to (ethpmPhysIf `bundleIndex`, e.g. `po7`), so
    the analyzers can tie a `poN` endpoint location to the member ports that went down."""
    b = attrs.get("bundleIndex")
    return b if isinstance(b, str) and b and b != "unspecified" else None


class InterfaceWatch:
    def __init__(
        self,
        client: ApicClient,
        tables: FabricTables,
        fabric: str,
        write: Callable[[list[str]], None],
        max_ports: int = 200,
    ) -> None:
        self.client = client
        self.tables = tables
        self.fabric = fabric
        self.write = write
        self.max_ports = max_ports
        self.counters: list[tuple[str, str, tuple[str, ...]]] = list(DEFAULT_COUNTERS)
        self.mappers: list[tuple[str, Callable[[dict[str, Any]], Mapping[str, Any]]]] = []
        self.pinned: set[tuple[int, str]] = set()  # always polled (other modules add to it)
        self._recent: dict[tuple[int, str], float] = {}
        self.events = 0
        self.errors = 0

    def note_port(self, node: int, port: str, ts: float) -> None:
        """A port had an endpoint event: poll it next time (bounded)."""
        if len(self._recent) < 10 * self.max_ports:
            self._recent[(node, port)] = ts

    def on_event(self, attrs: dict[str, Any], ts: float) -> str | None:
        """An ``ethpmPhysIf`` event → an ``apic_interface`` line, or None when it is not an
        oper-state change (usage, bundle … changes)."""
        st = attrs.get("operSt")
        dn = attrs.get("dn", "")
        node, port = node_of_dn(dn), port_of(dn)
        if not isinstance(st, str) or not st or node is None or not port:
            return None
        fields: dict[str, Any] = {"oper_st": st, "oper_up": st == "up"}
        if attrs.get("operSpeed"):
            fields["speed"] = attrs["operSpeed"]
        fields["bundle"] = bundle_of(attrs)
        line = interface_line(self.fabric, node, port, fields, ts)
        if line:
            self.events += 1
        return line

    def _targets(self) -> dict[int, set[str]]:
        recent = sorted(self._recent.items(), key=lambda kv: -kv[1])[: self.max_ports]
        self._recent.clear()
        by_node: dict[int, set[str]] = {}
        for (node, port), _ in recent:
            by_node.setdefault(node, set()).add(port)
        for node, port in self.pinned:
            by_node.setdefault(node, set()).add(port)
        return by_node

    async def poll(self, ts: float) -> int:
        """Oper state and counters of the ports that matter; returns lines written."""
        lines: list[str] = []
        for node, ports in self._targets().items():
            scope = f"topology/pod-{self.tables.node_pod.get(node, 1)}/node-{node}"
            per_port: dict[str, dict[str, Any]] = {p: {} for p in ports}
            try:
                for _, a in await self.client.class_objects(EVENT_CLASS, scope=scope):
                    p = port_of(a.get("dn", ""))
                    if p in per_port:
                        st = a.get("operSt", "")
                        per_port[p].update(
                            oper_st=st, oper_up=st == "up", speed=a.get("operSpeed") or None,
                            bundle=bundle_of(a),
                        )  # fmt: skip
                for cls, prefix, names in self.counters:
                    try:
                        objs = await self.client.class_objects(cls, scope=scope)
                    except ApicError:
                        continue  # class unknown on this APIC: the other counters still count
                    for _, a in objs:
                        p = port_of(a.get("dn", ""))
                        if p in per_port:
                            for k in names:
                                v = num(a[k]) if k in a else None
                                if v is not None:
                                    per_port[p][f"{prefix}_{snake(k)}"] = v
                for cls, fields_of in self.mappers:
                    try:
                        objs = await self.client.class_objects(cls, scope=scope)
                    except ApicError:
                        continue
                    for _, a in objs:
                        p = port_of(a.get("dn", ""))
                        if p in per_port:
                            per_port[p].update(fields_of(a))
            except ApicError as exc:
                self.errors += 1
                log.debug("interface poll node %s: %s", node, exc)
                continue
            for p, fields in per_port.items():
                if fields:
                    line = interface_line(self.fabric, node, p, fields, ts)
                    if line:
                        lines.append(line)
        if lines:
            self.write(lines)
        return len(lines)
