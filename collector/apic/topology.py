"""Leaf-port adjacency from the APIC's LLDP and CDP neighbour tables (stage: collector/apic —
lldpAdjEp / cdpAdjEp → ``apic_adjacency``).

A leaf lists what it hears on each front port: ``lldpAdjEp``
(``topology/pod-1/node-101/sys/lldp/inst/if-[eth1/5]/adj-1``: ``sysName``, ``portIdV``,
``portDesc``, ``chassisIdT``/``chassisIdV``, ``mgmtIp``) and ``cdpAdjEp`` (``…/sys/cdp/inst/
if-[eth1/5]/adj-1``: ``devId``, ``sysName``, ``portId``; the management address in a child
``cdpMgmtAddr``). :class:`AdjacencyBook` keeps the current neighbour of every (node, port,
protocol) and turns it into ``apic_adjacency`` points (docs/measurements.md):

* at build (the poller's build reads the classes), on every change (subscription events), and
* every ``adjacency_interval_s`` a full read (catches what changed while no subscription was
  looking) and a re-statement of every neighbour, so a query over any 10-minute window sees
  the topology.

:func:`register` plugs it into the poller (``add_class``/``add_periodic``/``add_stats``) and pins
every port with a neighbour into the interface poll.

A neighbour that goes away is written once with ``present=false``. Pure parsing lives in
:func:`parse_adjacency`; the book does no I/O except :meth:`AdjacencyBook.build`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collector.apic.client import ApicClient, ApicError
from influx.line_protocol import FieldValue, encode_line

if TYPE_CHECKING:
    from collector.apic.poller import ApicPoller

log = logging.getLogger(__name__)

LLDP = "lldpAdjEp"
CDP = "cdpAdjEp"
CDP_MGMT = "cdpMgmtAddr"
CLASSES = (LLDP, CDP, CDP_MGMT)
PROTOCOL = {LLDP: "lldp", CDP: "cdp"}

_ADJ_DN = re.compile(
    r"^topology/pod-\d+/node-(?P<node>\d+)/sys/(?P<proto>lldp|cdp)/inst/if-\[(?P<port>[^\]]+)\]"
    r"/adj-\d+(?P<rest>/.*)?$"
)
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:.-]?[0-9A-Fa-f]{2}){5}$")

Key = tuple[int, str, str]  # (node, leaf port, protocol)


def mac_upper(value: str) -> str | None:
    """``ec:ce:13:c0:46:34`` / ``ecce.13c0.4634`` → ``EC:CE:13:C0:46:34``; None if not a MAC."""
    v = value.strip()
    if not _MAC.match(v) and not re.fullmatch(r"[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){2}", v):
        return None
    digits = re.sub(r"[^0-9A-Fa-f]", "", v).upper()
    if len(digits) != 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def key_of(dn: str) -> tuple[Key, str] | None:
    """(node, port, protocol) and the DN's remainder below ``adj-N`` (``/mgmt-addr-[…]``)."""
    m = _ADJ_DN.match(dn)
    if m is None:
        return None
    return (int(m.group("node")), m.group("port"), m.group("proto")), m.group("rest") or ""


@dataclass
class Neighbor:
    name: str = ""
    port: str = ""
    mgmt_addr: str = ""
    chassis_mac: str | None = None

    def fields(self) -> dict[str, FieldValue | None]:
        return {
            "neighbor_name": self.name or None,
            "neighbor_port": self.port or None,
            "neighbor_mgmt_addr": self.mgmt_addr or None,
            "neighbor_chassis_mac": self.chassis_mac,
            "present": True,
        }


def parse_adjacency(cls: str, attrs: dict[str, Any]) -> tuple[Key, Neighbor] | None:
    """One lldpAdjEp / cdpAdjEp object (complete, as a class read returns it)."""
    got = key_of(str(attrs.get("dn", "")))
    if got is None or got[1] or cls not in PROTOCOL:
        return None
    key = got[0]
    if cls == LLDP:
        chassis = str(attrs.get("chassisIdV", ""))
        is_mac = str(attrs.get("chassisIdT", "mac")) == "mac"
        n = Neighbor(
            name=str(attrs.get("sysName", "")),
            port=str(attrs.get("portIdV") or attrs.get("portDesc") or ""),
            mgmt_addr=_addr(attrs.get("mgmtIp")),
            chassis_mac=mac_upper(chassis) if is_mac else None,
        )
    else:
        n = Neighbor(
            name=str(attrs.get("sysName") or attrs.get("devId") or ""),
            port=str(attrs.get("portId", "")),
        )
    return key, n


def _addr(v: Any) -> str:
    s = str(v or "")
    return "" if s in ("", "0.0.0.0", "unspecified", "::") else s


def adjacency_line(
    fabric: str, key: Key, fields: dict[str, FieldValue | None], ts: float
) -> str | None:
    node, port, proto = key
    return encode_line(
        "apic_adjacency",
        {"fabric": fabric, "node": str(node), "interface": port, "protocol": proto},
        fields,
        int(ts * 1e9),
    )


class AdjacencyBook:
    """Current LLDP/CDP neighbours of leaf ports → ``apic_adjacency`` lines."""

    def __init__(self, fabric: str) -> None:
        self.fabric = fabric
        self.current: dict[Key, Neighbor] = {}
        self.points = 0  # lines produced
        self.changes = 0  # neighbours appeared/changed/went away

    # ---------------------------------------------------------------- reads
    async def build(self, client: ApicClient, ts: float) -> list[str]:
        """Read both tables (and CDP management addresses); lines for what changed since the
        last build (first build: everything) and ``present=false`` for what vanished."""
        seen: dict[Key, Neighbor] = {}
        mgmt: dict[Key, str] = {}
        for cls in CLASSES:
            try:
                async for page in client.class_pages(cls):
                    for c, attrs in page.objects:
                        if c == CDP_MGMT:
                            got = key_of(str(attrs.get("dn", "")))
                            if got is not None and attrs.get("addr"):
                                mgmt.setdefault(got[0], str(attrs["addr"]))
                            continue
                        parsed = parse_adjacency(c, attrs)
                        if parsed is not None:
                            seen[parsed[0]] = parsed[1]
            except ApicError as exc:
                if exc.status != 400:  # 400: no such class on this APIC (no CDP…)
                    raise
                log.debug("%s not available: %s", cls, exc.text)
        for k, addr in mgmt.items():
            if k in seen and not seen[k].mgmt_addr:
                seen[k].mgmt_addr = addr
        lines: list[str] = []
        for k in sorted(set(self.current) - set(seen)):
            lines += self._gone(k, ts)
        for k, n in sorted(seen.items()):
            if self.current.get(k) != n:
                lines += self._set(k, n, ts)
        return lines

    def restate(self, ts: float) -> list[str]:
        """Every current neighbour again (the periodic re-statement)."""
        out = []
        for k, n in sorted(self.current.items()):
            line = adjacency_line(self.fabric, k, n.fields(), ts)
            if line:
                out.append(line)
        self.points += len(out)
        return out

    # ---------------------------------------------------------------- events
    def handle(self, cls: str, attrs: dict[str, Any], ts: float) -> list[str]:
        """One subscription event (created / modified with partial attributes / deleted)."""
        got = key_of(str(attrs.get("dn", "")))
        if got is None:
            return []
        key, rest = got
        status = attrs.get("status", "")
        if cls == CDP_MGMT:
            n = self.current.get(key)
            if n is None or status == "deleted" or not attrs.get("addr"):
                return []
            return self._set(key, Neighbor(n.name, n.port, str(attrs["addr"]), n.chassis_mac), ts)
        if rest:
            return []
        if status == "deleted":
            return self._gone(key, ts)
        if status == "modified" and key in self.current:
            merged = self._merged(cls, key, attrs)
            return self._set(key, merged, ts) if merged != self.current[key] else []
        parsed = parse_adjacency(cls, attrs)
        if parsed is None:
            return []
        n = parsed[1]
        old = self.current.get(key)
        if old is not None and not n.mgmt_addr:
            n.mgmt_addr = old.mgmt_addr  # CDP: the address came in a child object
        return self._set(key, n, ts) if old != n else []

    def _merged(self, cls: str, key: Key, attrs: dict[str, Any]) -> Neighbor:
        n = self.current[key]
        m = Neighbor(n.name, n.port, n.mgmt_addr, n.chassis_mac)
        if cls == LLDP:
            if "sysName" in attrs:
                m.name = str(attrs["sysName"])
            if attrs.get("portIdV") or attrs.get("portDesc"):
                m.port = str(attrs.get("portIdV") or attrs.get("portDesc"))
            if "mgmtIp" in attrs:
                m.mgmt_addr = _addr(attrs["mgmtIp"])
            if "chassisIdV" in attrs:
                m.chassis_mac = mac_upper(str(attrs["chassisIdV"]))
        else:
            if attrs.get("sysName") or attrs.get("devId"):
                m.name = str(attrs.get("sysName") or attrs.get("devId"))
            if "portId" in attrs:
                m.port = str(attrs["portId"])
        return m

    def _set(self, key: Key, n: Neighbor, ts: float) -> list[str]:
        self.current[key] = n
        self.changes += 1
        line = adjacency_line(self.fabric, key, n.fields(), ts)
        if not line:
            return []
        self.points += 1
        return [line]

    def _gone(self, key: Key, ts: float) -> list[str]:
        n = self.current.pop(key, None)
        if n is None:
            return []
        self.changes += 1
        fields = n.fields()
        fields["present"] = False
        line = adjacency_line(self.fabric, key, fields, ts)
        if not line:
            return []
        self.points += 1
        return [line]

    def ports(self) -> set[tuple[int, str]]:
        """(node, port) of every leaf port with a neighbour (for the counter poll)."""
        return {(node, port) for node, port, _ in self.current if port.startswith("eth")}


def register(poller: ApicPoller) -> AdjacencyBook | None:
    """Plug the adjacency into the poller: subscribe to and build-read the three classes,
    reconcile + re-state every ``adjacency_interval_s``, poll the counters of every port with
    a neighbour, report ``adjacencies``/``adjacency_points`` in ``fabricscope_stats``."""
    cfg = poller.cfg
    if not cfg.adjacency:
        return None
    book = AdjacencyBook(cfg.fabric)

    def handler_for(cls: str) -> Any:
        def handle(attrs: dict[str, Any], ts: float, _snapshot: bool) -> None:
            poller.write_lines(book.handle(cls, attrs, ts))
            poller.interfaces.pinned = book.ports()

        return handle

    async def reconcile() -> None:
        # A full read catches what changed while no subscription was looking (a neighbour
        # that left during a resync), then every neighbour is re-stated.
        ts = poller.now()
        lines = await book.build(poller.client, ts)
        poller.write_lines(lines + book.restate(ts))
        poller.interfaces.pinned = book.ports()

    for cls in CLASSES:
        poller.add_class(cls, handler_for(cls))
    poller.add_periodic("adjacency", cfg.adjacency_interval_s, reconcile)
    poller.add_stats(lambda: {"adjacencies": len(book.current), "adjacency_points": book.points})
    return book


__all__ = [
    "CLASSES",
    "AdjacencyBook",
    "Neighbor",
    "adjacency_line",
    "key_of",
    "mac_upper",
    "parse_adjacency",
    "register",
]
