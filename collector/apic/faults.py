"""Loop-related APIC faults (stage: collector/apic — faultInst → ``apic_fault``).

Two ACI mechanisms raise a fault when a Layer-2 loop hits the edge: MCP (MisCabling Protocol:
a leaf receives its own MCP PDU back on a port) and endpoint loop protection (an endpoint
learned back and forth between two interfaces faster than the detection multiplier allows).
The fault codes could not be confirmed from a public source (simulators/loop_faults.py lists
what was searched and what *is* sourced: MCP faults hang off ``mcp:If``
``…/sys/mcp/inst/if-[eth1/5]``, EP-loop ones off the BD), so a fault is taken as loop-related
when its code is in ``codes`` (default: the simulator's ``F2533`` MCP and ``F3012`` EP loop)
**or** its ``cause`` names a loop (``mcp-loop-detected``, ``ep-loop-detected`` …). The APIC
filters for us: the build read, the subscription and the periodic reconcile all carry
:func:`query_filter` (``query-target-filter=or(eq(faultInst.code,…),wcard(faultInst.cause,
"loop"))``), so the poller never pages through or is woken by the fabric's other faults; the
handler still checks each object (a filter an old APIC ignored must not let others through).
Every ``adjacency_interval_s`` a filtered read reconciles faults that changed or vanished while
no subscription was looking.

Every change is one ``apic_fault`` point (docs/measurements.md) stamped with the fault's
``lastTransition`` (or ``created``): raised, each lifecycle step (``soaking``,
``raised-clearing``, ``retaining``), and ``active=false`` when it clears or is deleted.
Subscription ``modified`` frames carry only the changed attributes, so the last full object
of each fault is kept and merged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from collector.apic.client import ApicClient, ApicError
from collector.apic.models import FabricTables, node_of_dn
from influx.line_protocol import FieldValue, encode_line

if TYPE_CHECKING:
    from collector.apic.poller import ApicPoller

log = logging.getLogger(__name__)

CLASS = "faultInst"
DEFAULT_CODES = {"F2533": "mcp_loop", "F3012": "ep_loop"}
# the port: ethpm ``…/sys/phys-[eth1/5]/…`` or MCP ``…/sys/mcp/inst/if-[eth1/5]/…``
_PORT = re.compile(r"/(?:phys|mcp/inst/if)-\[([^\]]+)\]")
_BD = re.compile(r"/bd-\[vxlan-(\d+)\]")
_CODE = re.compile(r"/fault-(F\d+)$")
ACTIVE_LC = ("soaking", "raised")  # the condition holds; *-clearing: it has gone


def kind_of(code: str, cause: str, codes: dict[str, str]) -> str | None:
    """``mcp_loop`` | ``ep_loop`` | None (not a loop fault)."""
    if code in codes:
        return codes[code]
    c = cause.lower()
    if "loop" not in c:
        return None
    return "mcp_loop" if "mcp" in c else "ep_loop"


def query_filter(codes: dict[str, str]) -> str:
    """The faultInst filter of the build read and the subscription."""
    terms = [f'eq(faultInst.code,"{c}")' for c in sorted(codes)]
    terms.append('wcard(faultInst.cause,"loop")')
    return f"query-target-filter=or({','.join(terms)})"


def event_ts(attrs: dict[str, Any]) -> float | None:
    for k in ("lastTransition", "created", "modTs"):
        v = attrs.get(k)
        if isinstance(v, str) and v[:1].isdigit():
            try:
                return datetime.fromisoformat(v).timestamp()
            except ValueError:
                continue
    return None


@dataclass
class LoopFaults:
    """Loop faults by DN → ``apic_fault`` lines."""

    fabric: str
    tables: FabricTables
    codes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CODES))
    known: dict[str, dict[str, Any]] = field(default_factory=dict)  # dn → last full attrs
    points: int = 0

    @property
    def filter(self) -> str:
        return query_filter(self.codes)

    async def build(self, client: ApicClient, now: float) -> list[str]:
        """Read the loop faults the APIC holds: new ones and changed ones are written, ones
        that vanished while we were away are written inactive."""
        seen: dict[str, dict[str, Any]] = {}
        try:
            async for page in client.class_pages(CLASS, self.filter):
                for c, attrs in page.objects:
                    if c == CLASS and isinstance(attrs.get("dn"), str):
                        seen[attrs["dn"]] = attrs
        except ApicError as exc:
            if exc.status != 400:
                raise
            log.debug("faultInst not readable: %s", exc.text)
            return []
        lines: list[str] = []
        for dn in sorted(set(self.known) - set(seen)):
            lines += self.handle({"dn": dn, "status": "deleted"}, now)
        for dn, attrs in sorted(seen.items()):
            old = self.known.get(dn)
            if old is None or any(old.get(k) != attrs.get(k) for k in ("lc", "severity")):
                lines += self.handle(dict(attrs, status="created"), now)
        return lines

    def handle(self, attrs: dict[str, Any], now: float) -> list[str]:
        """One faultInst object or event (created / modified with partial attributes /
        deleted)."""
        dn = attrs.get("dn")
        if not isinstance(dn, str):
            return []
        status = attrs.get("status", "")
        old = self.known.get(dn)
        if status == "deleted":
            if old is None:
                return []
            del self.known[dn]
            full = dict(old)
            active = False
            ts = now
        else:
            full = dict(old or {})
            full.update({k: v for k, v in attrs.items() if k not in ("status", "childAction")})
            m = _CODE.search(dn)
            code = str(full.get("code") or (m.group(1) if m else ""))
            full["code"] = code
            if kind_of(code, str(full.get("cause", "")), self.codes) is None:
                return []
            self.known[dn] = full
            lc = str(full.get("lc", ""))
            active = lc in ACTIVE_LC and full.get("severity") != "cleared"
            ts = event_ts(full) or now
        line = self._line(dn, full, active, ts)
        if not line:
            return []
        self.points += 1
        return [line]

    def _line(self, dn: str, f: dict[str, Any], active: bool, ts: float) -> str | None:
        code = str(f.get("code", ""))
        kind = kind_of(code, str(f.get("cause", "")), self.codes)
        node = node_of_dn(dn)
        if kind is None or node is None:
            return None
        port = _PORT.search(dn)
        bd = _BD.search(dn)
        fields: dict[str, FieldValue | None] = {
            "interface": port.group(1) if port else None,
            "bd": self.tables.bd_name.get(int(bd.group(1))) if bd else None,
            "severity": str(f.get("severity", "")) or None,
            "lc": str(f.get("lc", "")) or None,
            "active": active,
            "descr": str(f.get("descr", "")) or None,
            "dn": dn,
        }
        return encode_line(
            "apic_fault",
            {"fabric": self.fabric, "node": str(node), "code": code, "kind": kind},
            fields,
            int(ts * 1e9),
        )

    def active_count(self) -> int:
        return sum(
            1
            for f in self.known.values()
            if f.get("lc") in ACTIVE_LC and f.get("severity") != "cleared"
        )


def register(poller: ApicPoller) -> LoopFaults | None:
    """Plug the loop faults into the poller (``add_class``/``add_periodic``/``add_stats``)."""
    cfg = poller.cfg
    if not cfg.loop_faults:
        return None
    lf = LoopFaults(cfg.fabric, poller.tables, dict(cfg.loop_fault_codes))

    def handle(attrs: dict[str, Any], _ts: float, _snapshot: bool) -> None:
        # The fault's own lastTransition stamps the point, not the frame's modTs.
        poller.write_lines(lf.handle(attrs, poller.now()))

    async def reconcile() -> None:
        poller.write_lines(await lf.build(poller.client, poller.now()))

    poller.add_class(CLASS, handle, filter=lf.filter)
    poller.add_periodic("loop_faults", cfg.adjacency_interval_s, reconcile)
    poller.add_stats(lambda: {"loop_faults_active": lf.active_count(), "fault_points": lf.points})
    return lf


__all__ = ["DEFAULT_CODES", "LoopFaults", "event_ts", "kind_of", "query_filter", "register"]
