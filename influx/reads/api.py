"""The HTTP API's reads (api → influx.reads.api → influx/query → InfluxDB): JSON-ready rows.

Part of the one read layer `influx.reads` (the analyzers' typed reads sit beside it). Every value
that comes from a request goes in as a bind parameter (`Binds`); identifiers through
`quote_ident`, times as integer literals from `time_range`, prefixes through `regex_literal`.
Callers validate parameters first (api/deps.py) so that what reaches this module is well-typed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fabricscope import macs
from influx.query import InfluxQuery, quote_ident, regex_literal
from influx.reads._core import Binds, series_rows

# A search may be a prefix of a MAC or an IP: hex digits, ':', '.', '-' only.
_PREFIX_TEXT = re.compile(r"^[0-9A-Fa-f:.\-]{1,45}$")
SEARCH_MAX_ADDRS = 100


@dataclass(frozen=True)
class Window:
    """A validated WHERE fragment for time plus optional fabric (already quoted)."""

    time_clause: str
    fabric: str | None = None

    def where(self, b: Binds, *extra: str) -> str:
        """` WHERE time … AND extra… AND fabric = $pN` (the fabric as a bind parameter)."""
        parts = [p for p in (self.time_clause, *extra) if p]
        if self.fabric is not None:
            parts.append(b.eq("fabric", self.fabric))
        return f" WHERE {' AND '.join(parts)}" if parts else ""


def ns_to_iso(ns: Any) -> str | None:
    """Epoch nanoseconds → RFC 3339 UTC with microseconds (what JSON clients can parse)."""
    if not isinstance(ns, int):
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AddrQuery:
    """How an endpoint search matches the `addr` tag."""

    kind: str  # mac | ip | cidr | prefix
    value: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


def classify_search(q: str) -> AddrQuery:
    """Validate `q` (MAC, IP, CIDR or a MAC/IP prefix); ValueError carries the 422 message."""
    t = q.strip()
    if not t:
        raise ValueError("q is empty: give a MAC, an IP address, a CIDR or an address prefix")
    mac = macs.to_apic(t)
    if mac:
        return AddrQuery("mac", mac)
    try:
        return AddrQuery("ip", str(ipaddress.ip_address(t)))
    except ValueError:
        pass
    if "/" in t:
        try:
            net = ipaddress.ip_network(t, strict=False)
        except ValueError:
            raise ValueError(f"q {q!r} is not a valid CIDR prefix (e.g. 10.1.0.0/16)") from None
        return AddrQuery("cidr", str(net), net)
    if _PREFIX_TEXT.match(t):
        # Both MAC spellings are upper-case in APIC, IP text has no letters: upper-casing is safe.
        return AddrQuery("prefix", t.upper())
    raise ValueError(
        f"q {q!r} is not a MAC, IP address, CIDR prefix or address prefix "
        "(only hex digits, ':', '.', '-' and '/len' are allowed)"
    )


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Drop nulls (a field absent on a point) and render `time` as RFC 3339."""
    out = {k: v for k, v in row.items() if v is not None and v != ""}
    if isinstance(out.get("time"), int):
        out["time"] = ns_to_iso(out["time"])
    return out


def _state(addr: str, events: list[dict[str, Any]], last_move: dict[str, Any]) -> dict[str, Any]:
    per_node: dict[str, dict[str, Any]] = {}
    for e in events:  # newest first: the first row per node is its current state
        per_node.setdefault(str(e.get("node", "?")), e)
    locations = [
        {
            "node": n,
            "interface": e.get("interface"),
            "encap": e.get("encap"),
            "status": e.get("status"),
            "flags": e.get("flags"),
            "since": e.get("time"),
        }
        for n, e in sorted(per_node.items())
        if e.get("status") != "deleted"
    ]
    return {
        "addr": addr,
        "addr_type": next((e["addr_type"] for e in events if e.get("addr_type")), None),
        "fabric": next((e["fabric"] for e in events if e.get("fabric")), None),
        "locations": locations,
        "epg": last_move.get("epg"),
        "bd": last_move.get("bd"),
        "vrf": last_move.get("vrf"),
        "last_move_time": last_move.get("time") if last_move.get("to_node") else None,
        "last_seen": events[0]["time"] if events else None,
    }


class ApiQueries:
    """The reads behind each route, over one `InfluxQuery` (async)."""

    def __init__(self, iq: InfluxQuery) -> None:
        self.iq = iq

    async def _select(self, stmt: str, b: Binds) -> list[dict[str, Any]]:
        return [_clean(r) for r in series_rows(await self.iq.aquery(stmt, params=b.values))]

    async def _points(
        self,
        measurement: str,
        win: Window,
        b: Binds,
        extra: Sequence[str],
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        stmt = (
            f"SELECT * FROM {quote_ident(measurement)}{win.where(b, *extra)} "
            f"ORDER BY time DESC LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        return await self._select(stmt, b)

    # -- health ------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Raises InfluxQueryError when InfluxDB is unreachable or rejects us."""
        await self.iq.aquery("SHOW DATABASES")

    async def last_stats(self, win: Window) -> dict[str, dict[str, Any]]:
        """Newest process-level `fabricscope_stats` row per process (per-agent rows excluded)."""
        b = Binds()
        no_agent = b.eq("agent", "")
        stmt = (
            f"SELECT * FROM {quote_ident('fabricscope_stats')}{win.where(b, no_agent)}"
            " GROUP BY process ORDER BY time DESC LIMIT 1"
        )
        out: dict[str, dict[str, Any]] = {}
        for s in await self.iq.aquery(stmt, params=b.values):
            for row in s.rows():
                out[str(row.get("process", ""))] = _clean(row)
        return out

    # -- endpoints ---------------------------------------------------------------------------

    async def search_addrs(self, aq: AddrQuery, win: Window) -> list[str]:
        """Endpoint addresses matching the search, seen in events or moves within the window."""
        addrs: set[str] = set()
        for m in ("apic_endpoint_event", "apic_endpoint_move"):
            b = Binds()
            if aq.kind in ("mac", "ip"):
                cond = b.eq("addr", aq.value)
            elif aq.kind == "prefix":
                cond = f"{quote_ident('addr')} =~ {regex_literal(aq.value, match='prefix')}"
            elif aq.network is not None and aq.network.version == 4 and aq.network.prefixlen >= 8:
                # Narrow an IPv4 CIDR to its whole leading octets as a literal text prefix, so
                # InfluxDB filters the series index instead of returning every address.
                octets = str(aq.network.network_address).split(".")[: aq.network.prefixlen // 8]
                prefix = regex_literal(".".join(octets) + ".", match="prefix")
                cond = f"{quote_ident('addr')} =~ {prefix}"
            else:
                cond = ""
            # count() GROUP BY addr lists the series that have points in the window.
            stmt = f"SELECT count(*) FROM {quote_ident(m)}{win.where(b, cond)} GROUP BY addr"
            for s in await self.iq.aquery(stmt, params=b.values):
                if "addr" in s.tags:
                    addrs.add(s.tags["addr"])
        if aq.network is not None:
            net = aq.network
            keep = set()
            for a in addrs:
                try:
                    if ipaddress.ip_address(a) in net:
                        keep.add(a)
                except ValueError:
                    continue
            addrs = keep
        return sorted(addrs)[: SEARCH_MAX_ADDRS + 1]  # one more: the caller sees truncation

    async def endpoint_state(self, addr: str, win: Window) -> dict[str, Any]:
        """Where `addr` is now (see `endpoint_states`)."""
        return (await self.endpoint_states([addr], win))[0]

    async def endpoint_states(
        self, addrs: Sequence[str], win: Window, max_events: int = 200
    ) -> list[dict[str, Any]]:
        """Current location(s) of each address: the latest event per node (`node` is a field,
        so the per-node fold happens here), EPG/BD/VRF from the latest move. Two statements per
        chunk of 50 addresses, whatever the number of addresses (GROUP BY addr + per-series
        LIMIT), so a search listing many endpoints stays one round trip per kind."""
        events: dict[str, list[dict[str, Any]]] = {a: [] for a in addrs}
        moves: dict[str, dict[str, Any]] = {}
        for i in range(0, len(addrs), 50):
            chunk = list(addrs[i : i + 50])
            b = Binds()
            stmt = (
                f"SELECT * FROM {quote_ident('apic_endpoint_event')}"
                f"{win.where(b, b.any_of('addr', chunk))} "
                f"GROUP BY addr ORDER BY time DESC LIMIT {int(max_events)}"
            )
            for r in await self._select(stmt, b):
                events.setdefault(str(r.get("addr")), []).append(r)
            b = Binds()
            stmt = (
                "SELECT last(epg) AS epg, last(bd) AS bd, last(vrf) AS vrf, "
                "last(to_node) AS to_node "
                f"FROM {quote_ident('apic_endpoint_move')}{win.where(b, b.any_of('addr', chunk))}"
                " GROUP BY addr"
            )
            for r in await self._select(stmt, b):
                moves[str(r.get("addr"))] = r
        return [_state(a, events.get(a, []), moves.get(a, {})) for a in addrs]

    async def history(
        self, addr: str, win: Window, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Events and moves of one endpoint merged newest first (offset applied after merging)."""
        n = limit + offset
        b = Binds()
        events = await self._points("apic_endpoint_event", win, b, [b.eq("addr", addr)], n, 0)
        b = Binds()
        moves = await self._points("apic_endpoint_move", win, b, [b.eq("addr", addr)], n, 0)
        merged = [{"type": "event", **e} for e in events] + [{"type": "move", **m} for m in moves]
        merged.sort(key=lambda r: str(r.get("time", "")), reverse=True)
        return merged[offset : offset + limit]

    async def moves(
        self, win: Window, addr: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        b = Binds()
        extra = [b.eq("addr", addr)] if addr else []
        return await self._points("apic_endpoint_move", win, b, extra, limit, offset)

    async def anomalies(
        self, win: Window, kind: str | None, addr: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        b = Binds()
        extra = []
        if kind:
            extra.append(b.eq("kind", kind))
        if addr:
            extra.append(b.eq("addr", addr))
        return await self._points("apic_endpoint_anomaly", win, b, extra, limit, offset)

    async def move_analysis(
        self, win: Window, addr: str | None, cause: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        b = Binds()
        extra = []
        if addr:
            extra.append(b.eq("addr", addr))
        if cause:
            extra.append(b.eq("cause", cause))
        return await self._points("move_analysis", win, b, extra, limit, offset)

    # -- hosts, interfaces, flows ----------------------------------------------------------------

    async def _last_by(
        self,
        measurement: str,
        fields: Sequence[str],
        win: Window,
        group: Sequence[str],
        b: Binds | None = None,
        extra: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        b = b or Binds()
        sel = ", ".join(f"last({quote_ident(f)}) AS {quote_ident(f)}" for f in fields)
        grp = ", ".join(quote_ident(g) for g in group)
        stmt = f"SELECT {sel} FROM {quote_ident(measurement)}{win.where(b, *extra)} GROUP BY {grp}"
        return await self._select(stmt, b)

    async def hosts(self, win: Window, host: str | None = None) -> list[dict[str, Any]]:
        """Telegraf-shape host summary (cpu, mem, system) plus VMs seen on each hypervisor."""
        hosts: dict[str, dict[str, Any]] = {}

        def host_cond(b: Binds) -> list[str]:
            return [b.eq("host", host)] if host else []

        def merge(rows: list[dict[str, Any]]) -> None:
            for r in rows:
                h = hosts.setdefault(r["host"], {"host": r["host"], "vms": []})
                r.pop("time", None)
                h.update({k: v for k, v in r.items() if k != "host"})

        b = Binds()
        merge(
            await self._last_by(
                "system", ["load1", "n_cpus", "uptime"], win, ["host", "agent"], b, host_cond(b)
            )
        )
        b = Binds()
        cpu_extra = [*host_cond(b), b.eq("cpu", "cpu-total")]
        merge(await self._last_by("cpu", ["usage_active"], win, ["host"], b, cpu_extra))
        b = Binds()
        merge(await self._last_by("mem", ["used_percent", "total"], win, ["host"], b, host_cond(b)))
        b = Binds()
        vm_extra = [*host_cond(b), b.ne("vm", "")]
        for r in await self._last_by(
            "sflow_host_adapters", ["macs"], win, ["host", "vm"], b, vm_extra
        ):
            h = hosts.setdefault(r["host"], {"host": r["host"], "vms": []})
            vm_macs = [m for m in str(r.get("macs", "")).split(",") if m]
            h["vms"].append({"vm": r.get("vm"), "macs": vm_macs})
        return [hosts[k] for k in sorted(hosts)]

    async def host_metrics(
        self, host: str, win: Window, interval: str, limit: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Mean cpu/mem/load per `interval` bucket (interval already a valid duration literal)."""
        specs: dict[str, tuple[str, list[str], bool]] = {
            "cpu": ("cpu", ["usage_active", "usage_user", "usage_system"], True),
            "mem": ("mem", ["used_percent"], False),
            "system": ("system", ["load1", "load5", "load15"], False),
        }
        out: dict[str, list[dict[str, Any]]] = {}
        for key, (m, fields, cpu_total) in specs.items():
            b = Binds()
            extra = [b.eq("host", host)]
            if cpu_total:
                extra.append(b.eq("cpu", "cpu-total"))
            sel = ", ".join(f"mean({quote_ident(f)}) AS {quote_ident(f)}" for f in fields)
            stmt = (
                f"SELECT {sel} FROM {quote_ident(m)}{win.where(b, *extra)} "
                f"GROUP BY time({interval}) fill(none) ORDER BY time DESC LIMIT {int(limit)}"
            )
            out[key] = await self._select(stmt, b)
        return out

    async def interfaces(
        self, win: Window, source: str, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Latest counters/oper state per port from sFlow (`sflow`) and/or APIC (`apic`)."""
        rows: list[dict[str, Any]] = []
        if source in ("all", "sflow"):
            # sFlow rows carry no fabric tag: the fabric filter applies to APIC rows only.
            sw = Window(win.time_clause)
            fields = [
                "if_oper_up",
                "if_admin_up",
                "if_speed",
                "if_in_octets",
                "if_out_octets",
                "if_in_errors",
                "if_out_errors",
                "if_in_discards",
                "if_out_discards",
            ]
            for r in await self._last_by("sflow_if_counters", fields, sw, ["agent", "ifindex"]):
                rows.append({"source": "sflow", **r})
        if source in ("all", "apic"):
            fields = [
                "oper_st",
                "oper_up",
                "speed",
                "in_bytes_rate",
                "out_bytes_rate",
                "in_bytes_cum",
                "out_bytes_cum",
            ]
            for r in await self._last_by(
                "apic_interface", fields, win, ["fabric", "node", "interface"]
            ):
                rows.append({"source": "apic", **r})
        return rows[offset : offset + limit]

    async def top_flows(
        self, win: Window, by: str, limit: int, agent: str | None
    ) -> list[dict[str, Any]]:
        """Top talkers by bytes over the window (sum per src/dst pair), largest first."""
        b = Binds()
        extra = [b.eq("agent", agent)] if agent else []
        # sflow_flows has no fabric tag: filter on time (and agent) only.
        fw = Window(win.time_clause)
        keys = ["src_ip", "dst_ip", "ip_protocol"] if by == "ip" else ["src_mac", "dst_mac"]
        stmt = (
            "SELECT sum(bytes) AS bytes, sum(packets) AS packets, sum(samples) AS samples "
            f"FROM {quote_ident('sflow_flows')}{fw.where(b, *extra)} "
            f"GROUP BY {', '.join(quote_ident(k) for k in keys)}"
        )
        rows = await self._select(stmt, b)
        for r in rows:
            r.pop("time", None)
        rows.sort(key=lambda r: int(r.get("bytes", 0)), reverse=True)
        return rows[:limit]

    async def endpoint_names(self, addrs: Sequence[str], win: Window) -> dict[str, dict[str, Any]]:
        """Latest EPG/BD/VRF per endpoint address (for joining flows to endpoints)."""
        if not addrs:
            return {}
        out: dict[str, dict[str, Any]] = {}
        # Chunked: one OR list per statement keeps statements short.
        for i in range(0, len(addrs), 50):
            chunk = list(addrs[i : i + 50])
            b = Binds()
            stmt = (
                "SELECT last(epg) AS epg, last(bd) AS bd, last(vrf) AS vrf "
                f"FROM {quote_ident('apic_endpoint_move')}"
                f"{win.where(b, b.any_of('addr', chunk))} GROUP BY addr"
            )
            for r in await self._select(stmt, b):
                r.pop("time", None)
                out[r.pop("addr")] = r
        return out
