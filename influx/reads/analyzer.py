"""The analyzers' typed reads: plain dataclasses on exact nanosecond times.

Part of the one read layer `influx.reads`. Two kinds of read:
- per-key reads (one endpoint, one BD): the API-free helpers and tests use them;
- bulk reads (`*_in` functions): one statement per measurement for a whole run window, which the
  move-cause analyzer turns into in-memory indexes (analyzers/evidence.py) — a run's query count
  does not grow with its number of moves.

Measurements read (docs/measurements.md): `apic_endpoint_move`, `apic_endpoint_anomaly`,
`apic_interface`, `apic_adjacency`, `apic_fault`, `sflow_host_adapters`, `sflow_if_counters`,
`cpu`, `net`, `sflow_flows`; and the analyzers' own `move_analysis` and `incident`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fabricscope import macs
from influx.query import InfluxQuery, delete_predicate, quote_ident, regex_escape
from influx.reads._core import (
    MAX_BULK_ROWS,
    MAX_ROWS,
    Binds,
    as_str,
    cols,
    opt_bool,
    opt_float,
    opt_int,
    rows,
    span,
    table,
)
from influx.reads._core import (
    limit as clamp,
)

# -- apic_endpoint_move --------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One `apic_endpoint_move` point."""

    time_ns: int
    fabric: str
    addr: str
    addr_type: str
    from_node: str
    from_interface: str
    from_encap: str
    from_mac: str
    to_node: str
    to_interface: str
    to_encap: str
    to_mac: str
    epg: str
    bd: str
    vrf: str
    count: int

    @property
    def from_loc(self) -> tuple[str, str]:
        return (self.from_node, self.from_interface)

    @property
    def to_loc(self) -> tuple[str, str]:
        return (self.to_node, self.to_interface)

    @property
    def mac(self) -> str:
        """The endpoint's MAC in sFlow form: the addr for MAC endpoints, else the rewrite MAC."""
        return (
            macs.to_sflow(self.addr) or macs.to_sflow(self.to_mac) or macs.to_sflow(self.from_mac)
        )


_MOVE_FIELDS = (
    "from_node", "from_interface", "from_encap", "from_mac", "to_node", "to_interface",
    "to_encap", "to_mac", "epg", "bd", "vrf", "count",
)  # fmt: skip


def _move(r: dict[str, Any], fabric: str) -> Move:
    count = r.get("count")
    return Move(
        time_ns=int(r["time"]),
        fabric=as_str(r.get("fabric")) or fabric,
        addr=as_str(r.get("addr")),
        addr_type=as_str(r.get("addr_type")),
        from_node=as_str(r.get("from_node")),
        from_interface=as_str(r.get("from_interface")),
        from_encap=as_str(r.get("from_encap")),
        from_mac=as_str(r.get("from_mac")),
        to_node=as_str(r.get("to_node")),
        to_interface=as_str(r.get("to_interface")),
        to_encap=as_str(r.get("to_encap")),
        to_mac=as_str(r.get("to_mac")),
        epg=as_str(r.get("epg")),
        bd=as_str(r.get("bd")),
        vrf=as_str(r.get("vrf")),
        count=int(count) if isinstance(count, int | float) else 0,
    )


def moves(
    q: InfluxQuery,
    fabric: str,
    since_ns: int,
    until_ns: int,
    *,
    addr: str | None = None,
    bd: str | None = None,
    limit: int = 10_000,
) -> list[Move]:
    """Endpoint moves in [since, until], oldest first; optionally of one addr or one BD."""
    b = Binds()
    where = [b.eq("fabric", fabric), span(since_ns, until_ns)]
    if addr is not None:
        where.append(b.eq("addr", addr))
    if bd is not None:
        where.append(b.eq("bd", bd))
    stmt = (
        f"SELECT {cols('addr', 'addr_type', *_MOVE_FIELDS)} FROM "
        f"{quote_ident('apic_endpoint_move')} WHERE {' AND '.join(where)} "
        f"ORDER BY time ASC LIMIT {clamp(limit, MAX_BULK_ROWS)}"
    )
    return [_move(r, fabric) for r in rows(q, stmt, b.values)]


# -- apic_endpoint_anomaly -----------------------------------------------------------------------


@dataclass(frozen=True)
class Anomaly:
    time_ns: int
    fabric: str
    addr: str
    kind: str
    detail: str


def anomalies(
    q: InfluxQuery,
    fabric: str,
    since_ns: int,
    until_ns: int,
    *,
    addr: str | None = None,
    kinds: Iterable[str] = (),
    limit: int = 10_000,
) -> list[Anomaly]:
    """`apic_endpoint_anomaly` points, oldest first; `addr` is the BD name for kind=loop."""
    b = Binds()
    where = [b.eq("fabric", fabric), span(since_ns, until_ns)]
    if addr is not None:
        where.append(b.eq("addr", addr))
    kind_list = tuple(kinds)
    if kind_list:
        where.append(b.any_of("kind", kind_list))
    stmt = (
        f"SELECT {cols('detail', 'addr', 'kind')} FROM {quote_ident('apic_endpoint_anomaly')} "
        f"WHERE {' AND '.join(where)} ORDER BY time ASC LIMIT {clamp(limit, MAX_BULK_ROWS)}"
    )
    return [
        Anomaly(int(r["time"]), fabric, as_str(r.get("addr")), as_str(r.get("kind")),
                as_str(r.get("detail")))
        for r in rows(q, stmt, b.values)
    ]  # fmt: skip


# -- apic_interface ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterfaceSample:
    """One `apic_interface` point of a leaf port: an oper-state change or a counter poll."""

    time_ns: int
    node: str
    interface: str
    oper_up: bool | None
    oper_st: str
    in_pkts_rate: float | None = None
    out_pkts_rate: float | None = None
    # Ingress flood (ACI counts broadcast in it), multicast, unicast packets/s (eqptIngrPkts5min).
    in_flood_pkts_rate: float | None = None
    in_multicast_pkts_rate: float | None = None
    in_unicast_pkts_rate: float | None = None
    bundle: str = ""  # the port-channel this member port belongs to (`po7`), '' when none
    in_flood_pkts_cum: int | None = None


_IF_FIELDS = (
    "oper_up", "oper_st", "in_pkts_rate", "out_pkts_rate", "in_flood_pkts_rate",
    "in_multicast_pkts_rate", "in_unicast_pkts_rate", "bundle", "in_flood_pkts_cum",
)  # fmt: skip


def _interface(r: dict[str, Any], node: str, interface: str) -> InterfaceSample:
    return InterfaceSample(
        int(r["time"]), node, interface, opt_bool(r.get("oper_up")), as_str(r.get("oper_st")),
        opt_float(r.get("in_pkts_rate")), opt_float(r.get("out_pkts_rate")),
        opt_float(r.get("in_flood_pkts_rate")), opt_float(r.get("in_multicast_pkts_rate")),
        opt_float(r.get("in_unicast_pkts_rate")), as_str(r.get("bundle")),
        opt_int(r.get("in_flood_pkts_cum")),
    )  # fmt: skip


def interfaces_in(
    q: InfluxQuery, fabric: str, since_ns: int, until_ns: int
) -> list[InterfaceSample]:
    """Bulk: every `apic_interface` point of the fabric in [since, until], oldest first."""
    b = Binds()
    stmt = (
        f"SELECT {cols('node', 'interface', *_IF_FIELDS)} FROM {quote_ident('apic_interface')} "
        f"WHERE {b.eq('fabric', fabric)} AND {span(since_ns, until_ns)} "
        f"ORDER BY time ASC LIMIT {MAX_BULK_ROWS}"
    )
    return [
        _interface(r, as_str(r.get("node")), as_str(r.get("interface")))
        for r in rows(q, stmt, b.values)
    ]


# -- apic_adjacency, apic_fault --------------------------------------------------------------------


@dataclass(frozen=True)
class Adjacency:
    """One `apic_adjacency` point: an LLDP/CDP neighbour of a leaf port."""

    time_ns: int
    node: str
    interface: str
    protocol: str
    neighbor_name: str
    neighbor_port: str
    neighbor_mgmt_addr: str
    neighbor_chassis_mac: str  # sFlow form (macs.to_sflow), '' when not a MAC
    present: bool


def adjacency_in(q: InfluxQuery, fabric: str, since_ns: int, until_ns: int) -> list[Adjacency]:
    """Bulk: LLDP/CDP neighbour points of the fabric in [since, until], oldest first."""
    b = Binds()
    sel = cols(
        "node", "interface", "protocol", "neighbor_name", "neighbor_port", "neighbor_mgmt_addr",
        "neighbor_chassis_mac", "present",
    )  # fmt: skip
    stmt = (
        f"SELECT {sel} FROM {quote_ident('apic_adjacency')} WHERE {b.eq('fabric', fabric)} AND "
        f"{span(since_ns, until_ns)} ORDER BY time ASC LIMIT {MAX_BULK_ROWS}"
    )
    return [
        Adjacency(
            int(r["time"]), as_str(r.get("node")), as_str(r.get("interface")),
            as_str(r.get("protocol")), as_str(r.get("neighbor_name")),
            as_str(r.get("neighbor_port")), as_str(r.get("neighbor_mgmt_addr")),
            macs.to_sflow(as_str(r.get("neighbor_chassis_mac"))),
            opt_bool(r.get("present")) is not False,
        )
        for r in rows(q, stmt, b.values)
    ]  # fmt: skip


@dataclass(frozen=True)
class Fault:
    """One `apic_fault` point: a loop-related fault (MCP loop detection, EP loop protection)."""

    time_ns: int
    node: str
    code: str
    kind: str  # mcp_loop | ep_loop
    interface: str
    bd: str
    severity: str
    lc: str
    active: bool
    descr: str


def faults_in(q: InfluxQuery, fabric: str, since_ns: int, until_ns: int) -> list[Fault]:
    """Bulk: loop-related faults of the fabric in [since, until], oldest first."""
    b = Binds()
    sel = cols("node", "code", "kind", "interface", "bd", "severity", "lc", "active", "descr")
    stmt = (
        f"SELECT {sel} FROM {quote_ident('apic_fault')} WHERE {b.eq('fabric', fabric)} AND "
        f"{span(since_ns, until_ns)} ORDER BY time ASC LIMIT {MAX_BULK_ROWS}"
    )
    return [
        Fault(
            int(r["time"]), as_str(r.get("node")), as_str(r.get("code")), as_str(r.get("kind")),
            as_str(r.get("interface")), as_str(r.get("bd")), as_str(r.get("severity")),
            as_str(r.get("lc")), opt_bool(r.get("active")) is not False, as_str(r.get("descr")),
        )
        for r in rows(q, stmt, b.values)
    ]  # fmt: skip


# -- sFlow: host adapters, interface counters ----------------------------------------------------


@dataclass(frozen=True)
class HostAdapters:
    """One `sflow_host_adapters` point: an adapter of `host` listing `macs` (sFlow form)."""

    time_ns: int
    agent: str
    host: str
    source_id: str
    ifindex: str
    macs: tuple[str, ...]
    vm: str = ""


# Beyond this many keys a filter is dropped and the whole window read instead (statement size).
MAX_FILTER_KEYS = 3000


def _any_regex(values: Iterable[str], *, exact: bool) -> str:
    """`/(?:a|b|…)/` (or anchored `^(?:…)$`) matching any of `values` literally."""
    body = "|".join(sorted({regex_escape(v) for v in values}))
    return f"/^(?:{body})$/" if exact else f"/(?:{body})/"


def host_adapters_in(
    q: InfluxQuery, since_ns: int, until_ns: int, *, with_macs: Iterable[str] | None = None
) -> list[HostAdapters]:
    """Bulk: adapter lists in [since, until], oldest first (sFlow rows have no fabric). With
    `with_macs` (sFlow form) only the lists that carry one of them: where those endpoints were
    seen, whatever the number of other VMs on the hosts."""
    names = ("time", "macs", "agent", "host", "ifindex", "vm")
    where = [span(since_ns, until_ns)]
    wanted = sorted({m for m in with_macs or () if macs.parse(m)})
    if with_macs is not None:
        if not wanted:
            return []
        if len(wanted) <= MAX_FILTER_KEYS:
            where.append(f"{quote_ident('macs')} =~ {_any_regex(wanted, exact=False)}")
    stmt = (
        f"SELECT {cols(*names[1:])} FROM {quote_ident('sflow_host_adapters')} WHERE "
        f"{' AND '.join(where)} ORDER BY time ASC LIMIT {MAX_BULK_ROWS}"
    )
    split = macs.split_list
    return [
        HostAdapters(t, agent or "", host or "", "", ifindex or "", split(m or ""), vm or "")
        for t, m, agent, host, ifindex, vm in table(q, stmt, names)
    ]


def host_own_adapters(q: InfluxQuery, since_ns: int, until_ns: int) -> list[HostAdapters]:
    """Bulk: each host's own adapters (no VM: its NICs, its chassis MAC) — the latest list per
    host/agent/ifIndex in [since, until]: what the topology join matches LLDP chassis MACs to."""
    b = Binds()
    names = ("time", "macs", "agent", "host", "ifindex")
    stmt = (
        f"SELECT last({quote_ident('macs')}) AS {quote_ident('macs')} FROM "
        f"{quote_ident('sflow_host_adapters')} WHERE {b.eq('vm', '')} AND "
        f"{span(since_ns, until_ns)} GROUP BY {cols('host', 'agent', 'ifindex')}"
    )
    split = macs.split_list
    return [
        HostAdapters(t, agent or "", host or "", "", ifindex or "", split(m or ""), "")
        for t, m, agent, host, ifindex in table(q, stmt, names, b.values)
    ]


@dataclass(frozen=True)
class IfCounters:
    """The parts of one `sflow_if_counters` point the analyzers use."""

    time_ns: int
    agent: str
    host: str
    ifindex: str
    oper_up: bool | None
    in_broadcast_pkts: int | None
    out_broadcast_pkts: int | None


def _hosts_filter(where: list[str], hosts: Iterable[str] | None) -> bool:
    """Adds `host =~ /^(?:…)$/` for a host list; False when the list is empty (read nothing)."""
    if hosts is None:
        return True
    wanted = sorted(set(hosts))
    if not wanted:
        return False
    if len(wanted) <= MAX_FILTER_KEYS:
        where.append(f"{quote_ident('host')} =~ {_any_regex(wanted, exact=True)}")
    return True


def sflow_if_counters(
    q: InfluxQuery,
    since_ns: int,
    until_ns: int,
    *,
    host: str | None = None,
    hosts: Iterable[str] | None = None,
) -> list[IfCounters]:
    """sFlow interface counters in [since, until], oldest first; optionally of one host or of
    a list of hosts (bulk: the hosts on the moves' paths)."""
    names = ("time", "agent", "host", "ifindex", "if_oper_up", "if_in_broadcast_pkts")
    b = Binds()
    where = [span(since_ns, until_ns)]
    if host is not None:
        where.append(b.eq("host", host))
    if not _hosts_filter(where, hosts):
        return []
    stmt = (
        f"SELECT {cols(*names[1:])} FROM {quote_ident('sflow_if_counters')} WHERE "
        f"{' AND '.join(where)} ORDER BY time ASC LIMIT {MAX_BULK_ROWS}"
    )
    return [
        IfCounters(t, agent or "", h or "", ifx or "", opt_bool(up), opt_int(bc), None)
        for t, agent, h, ifx, up, bc in table(q, stmt, names, b.values)
    ]


# -- Telegraf-compatible host load -----------------------------------------------------------------


@dataclass(frozen=True)
class CpuSample:
    time_ns: int
    host: str
    usage_active: float


def cpu_in(
    q: InfluxQuery,
    since_ns: int,
    until_ns: int,
    *,
    hosts: Iterable[str] | None = None,
    bucket_s: int = 60,
) -> list[CpuSample]:
    """Bulk: peak `cpu.usage_active` of `cpu-total` per host per `bucket_s` in [since, until]
    (aggregated by InfluxDB: the analyzers want peaks, not every sample); optionally only of
    `hosts`."""
    b = Binds()
    where = [b.eq("cpu", "cpu-total"), span(since_ns, until_ns)]
    if not _hosts_filter(where, hosts):
        return []
    stmt = (
        f"SELECT max({quote_ident('usage_active')}) AS {quote_ident('usage_active')} FROM "
        f"{quote_ident('cpu')} WHERE {' AND '.join(where)} "
        f"GROUP BY time({int(bucket_s)}s), {quote_ident('host')} fill(none)"
    )
    return [
        CpuSample(t, h or "", float(v))
        for t, h, v in table(q, stmt, ("time", "host", "usage_active"), b.values)
        if isinstance(v, int | float)
    ]


@dataclass(frozen=True)
class NetSample:
    """One `net` point: cumulative bytes of one host interface (`total` for the sum)."""

    time_ns: int
    host: str
    interface: str
    bytes_total: int  # bytes_recv + bytes_sent


def net_in(
    q: InfluxQuery, since_ns: int, until_ns: int, *, hosts: Iterable[str] | None = None
) -> list[NetSample]:
    """Bulk: cumulative `net` byte counters in [since, until], oldest first; optionally only
    of `hosts`."""
    names = ("time", "host", "interface", "bytes_recv", "bytes_sent")
    where = [span(since_ns, until_ns)]
    if not _hosts_filter(where, hosts):
        return []
    stmt = (
        f"SELECT {cols(*names[1:])} FROM {quote_ident('net')} WHERE {' AND '.join(where)} "
        f"ORDER BY time ASC LIMIT {MAX_BULK_ROWS}"
    )
    return [
        NetSample(t, h or "", i or "", (opt_int(rx) or 0) + (opt_int(tx) or 0))
        for t, h, i, rx, tx in table(q, stmt, names)
    ]


# -- sflow_flows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowRow:
    time_ns: int
    agent: str
    src_mac: str
    dst_mac: str
    src_ip: str
    dst_ip: str
    bytes: int
    packets: int


def flows(q: InfluxQuery, since_ns: int, until_ns: int) -> list[FlowRow]:
    """Aggregated `sflow_flows` rows with time in [since, until) — the interval is half-open so
    that consecutive intervals never count a row twice."""
    if since_ns >= until_ns:
        raise ValueError("since must be before until")
    sel = ", ".join(
        quote_ident(c)
        for c in ("agent", "src_mac", "dst_mac", "src_ip", "dst_ip", "bytes", "packets")
    )
    stmt = (
        f"SELECT {sel} FROM {quote_ident('sflow_flows')} WHERE time >= {int(since_ns)} AND "
        f"time < {int(until_ns)} LIMIT {MAX_ROWS}"
    )
    return [
        FlowRow(
            int(r["time"]), as_str(r.get("agent")), as_str(r.get("src_mac")),
            as_str(r.get("dst_mac")),
            as_str(r.get("src_ip")), as_str(r.get("dst_ip")), int(r.get("bytes") or 0),
            int(r.get("packets") or 0),
        )
        for r in rows(q, stmt)
    ]  # fmt: skip


@dataclass(frozen=True)
class EndpointInfo:
    """Where an endpoint was last seen moving to, with its EPG/BD/VRF names."""

    addr: str
    node: str
    interface: str
    epg: str
    bd: str
    vrf: str
    mac: str

    @property
    def tenant(self) -> str:
        """EPG names are `tenant/app/epg` (collector/apic/models.py)."""
        return self.epg.split("/", 1)[0] if "/" in self.epg else ""


def endpoint_directory(
    q: InfluxQuery, fabric: str, since_ns: int, until_ns: int
) -> dict[str, EndpointInfo]:
    """addr → latest location and names, from `last()` of `apic_endpoint_move` per addr."""
    sel = ", ".join(
        f"last({quote_ident(c)}) AS {quote_ident(c)}"
        for c in ("to_node", "to_interface", "to_mac", "epg", "bd", "vrf")
    )
    stmt = (
        f"SELECT {sel} FROM {quote_ident('apic_endpoint_move')} WHERE "
        f"{quote_ident('fabric')} = $fabric AND {span(since_ns, until_ns)} "
        f"GROUP BY {quote_ident('addr')}"
    )
    out: dict[str, EndpointInfo] = {}
    for r in rows(q, stmt, {"fabric": fabric}):
        addr = as_str(r.get("addr"))
        out[addr] = EndpointInfo(
            addr, as_str(r.get("to_node")), as_str(r.get("to_interface")), as_str(r.get("epg")),
            as_str(r.get("bd")), as_str(r.get("vrf")), as_str(r.get("to_mac")),
        )  # fmt: skip
    return out


# -- move_analysis, incident (the analyzer's own output) -----------------------------------------


@dataclass(frozen=True)
class MoveFinding:
    time_ns: int
    fabric: str
    addr: str
    cause: str
    confidence: float
    evidence: str
    from_node: str
    from_interface: str
    to_node: str
    to_interface: str
    incident_id: str = ""
    places: str = ""
    topology: str = ""


_FINDING_FIELDS = (
    "confidence", "evidence", "from_node", "from_interface", "to_node", "to_interface",
    "incident_id", "places", "topology",
)  # fmt: skip


def move_analysis(
    q: InfluxQuery,
    fabric: str,
    since_ns: int,
    until_ns: int,
    *,
    addr: str | None = None,
    cause: str | None = None,
    incident_id: str | None = None,
    limit: int = 10_000,
) -> list[MoveFinding]:
    """`move_analysis` findings, oldest first (GROUP BY the tags so `cause` comes back)."""
    b = Binds()
    where = [b.eq("fabric", fabric), span(since_ns, until_ns)]
    if addr is not None:
        where.append(b.eq("addr", addr))
    if cause is not None:
        where.append(b.eq("cause", cause))
    if incident_id is not None:
        where.append(b.eq("incident_id", incident_id))
    stmt = (
        f"SELECT {cols(*_FINDING_FIELDS)} FROM {quote_ident('move_analysis')} WHERE "
        f"{' AND '.join(where)} GROUP BY {quote_ident('addr')}, {quote_ident('cause')} "
        f"ORDER BY time ASC LIMIT {clamp(limit, MAX_BULK_ROWS)}"
    )
    out = [
        MoveFinding(
            int(r["time"]), fabric, as_str(r.get("addr")), as_str(r.get("cause")),
            float(r.get("confidence") or 0.0), as_str(r.get("evidence")),
            as_str(r.get("from_node")), as_str(r.get("from_interface")),
            as_str(r.get("to_node")), as_str(r.get("to_interface")),
            as_str(r.get("incident_id")), as_str(r.get("places")), as_str(r.get("topology")),
        )
        for r in rows(q, stmt, b.values)
    ]  # fmt: skip
    out.sort(key=lambda f: (f.time_ns, f.addr))
    return out


@dataclass(frozen=True)
class StoredIncident:
    """One `incident` point as stored (docs/measurements.md)."""

    time_ns: int
    kind: str
    id: str
    key: str
    start: str
    end: str
    start_ns: int
    end_ns: int
    endpoints: int
    moves: int
    places: str
    summary: str
    evidence: str
    confidence: float
    addrs: str
    peak_flood_pps: float | None


_INCIDENT_FIELDS = (
    "id", "key", "start", "end", "start_ns", "end_ns", "endpoints", "moves", "places", "summary",
    "evidence", "confidence", "addrs", "peak_flood_pps",
)  # fmt: skip


def incidents(
    q: InfluxQuery,
    fabric: str,
    since_ns: int,
    until_ns: int,
    *,
    kind: str | None = None,
    limit: int = 10_000,
) -> list[StoredIncident]:
    """`incident` points whose timestamp (the incident's start) is in [since, until]."""
    b = Binds()
    where = [b.eq("fabric", fabric), span(since_ns, until_ns)]
    if kind is not None:
        where.append(b.eq("kind", kind))
    stmt = (
        f"SELECT {cols(*_INCIDENT_FIELDS)} FROM {quote_ident('incident')} WHERE "
        f"{' AND '.join(where)} GROUP BY {quote_ident('kind')} ORDER BY time ASC "
        f"LIMIT {clamp(limit, MAX_BULK_ROWS)}"
    )
    return [
        StoredIncident(
            int(r["time"]), as_str(r.get("kind")), as_str(r.get("id")), as_str(r.get("key")),
            as_str(r.get("start")), as_str(r.get("end")), opt_int(r.get("start_ns")) or 0,
            opt_int(r.get("end_ns")) or 0, opt_int(r.get("endpoints")) or 0,
            opt_int(r.get("moves")) or 0, as_str(r.get("places")), as_str(r.get("summary")),
            as_str(r.get("evidence")), opt_float(r.get("confidence")) or 0.0,
            as_str(r.get("addrs")), opt_float(r.get("peak_flood_pps")),
        )
        for r in rows(q, stmt, b.values)
    ]  # fmt: skip


# -- deleting the analyzer's superseded points -----------------------------------------------------

# Statements per /query request when deleting on 1.x (one HTTP round trip for many points).
DELETE_BATCH = 200


def delete_points(
    q: InfluxQuery, measurement: str, points: Sequence[tuple[Mapping[str, str], int]]
) -> bool:
    """Remove single points, each named by its full tag set and exact time. True when deleted,
    False when the server cannot delete single points (nothing is sent then).

    - 1.x: InfluxQL `DELETE` on `/query`, values as bind parameters, up to `DELETE_BATCH`
      statements per request (InfluxQL runs `;`-separated statements in order).
    - 2.x: the v2 delete API, one request per point. (2.x's `/query` does run DELETE, but only
      through the database's default DBRP mapping; the delete API names the bucket itself.)
    - 3.x: no point-level delete at all (its InfluxQL is read-only, there is no
      `/api/v2/delete`; only whole tables or databases can be deleted).
    """
    if not points:
        return True
    major = q.server_major()
    if major == 3:
        return False
    if major == 2:
        for tags, time_ns in points:
            q.delete_v2(int(time_ns), int(time_ns), delete_predicate(measurement, tags))
        return True
    for i in range(0, len(points), DELETE_BATCH):
        b = Binds()
        stmts = []
        for tags, time_ns in points[i : i + DELETE_BATCH]:
            conds = [b.eq(k, v) for k, v in tags.items()]
            conds.append(f"time >= {int(time_ns)} AND time <= {int(time_ns)}")
            stmts.append(f"DELETE FROM {quote_ident(measurement)} WHERE {' AND '.join(conds)}")
        q.query("; ".join(stmts), params=b.values)
    return True


def delete_move_finding(q: InfluxQuery, fabric: str, addr: str, cause: str, time_ns: int) -> bool:
    """Remove one finding (the series changes when its `cause` tag changes: the old one must go
    or a re-analysed move would show two causes); see `delete_points`."""
    return delete_points(
        q, "move_analysis", [({"fabric": fabric, "addr": addr, "cause": cause}, time_ns)]
    )
