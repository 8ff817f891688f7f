"""Query stage: the analyzers' typed reads (the API's JSON-ready reads are `influx/api_queries.py`).

Every function here takes an `InfluxQuery`, builds its InfluxQL with the helpers of
`influx.query` (identifiers quoted, values passed as bind parameters, MAC matching through
`regex_literal`) and returns plain dataclasses, so that callers never see InfluxQL or raw rows.
Times are epoch nanoseconds (`int`) on both sides: analyzers work on the exact timestamps the
collector and poller wrote, and writing a finding at a move's own timestamp stays exact.

Measurements read (docs/measurements.md, collector/apic/points.py): `apic_endpoint_move`,
`apic_endpoint_anomaly`, `apic_interface`, `sflow_host_adapters`, `sflow_if_counters`, `cpu`,
`net`, `sflow_flows`; and the analyzers' own `move_analysis`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from influx.query import InfluxQuery, delete_predicate, quote_ident, regex_literal

# A ceiling on any one read: the analyzers work on bounded windows and must not pull a whole
# database into memory when something upstream misbehaves (e.g. a flapping endpoint storm).
MAX_ROWS = 50_000


# -- helpers -------------------------------------------------------------------------------------


def _span(since_ns: int, until_ns: int) -> str:
    """`time >= a AND time <= b` on integer nanoseconds (inclusive: analyzers pass exact edges)."""
    if since_ns > until_ns:
        raise ValueError(f"since ({since_ns}) must not be after until ({until_ns})")
    return f"time >= {int(since_ns)} AND time <= {int(until_ns)}"


def _rows(
    q: InfluxQuery, stmt: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in q.query(stmt, params=params):
        out.extend(s.rows())
    return out


def _str(v: Any) -> str:
    return "" if v is None else str(v)


def _opt_float(v: Any) -> float | None:
    if v is None or isinstance(v, str):
        return None
    return float(v)


def _opt_bool(v: Any) -> bool | None:
    """`oper_up` is a bool on `apic_interface` and 0/1 on `sflow_if_counters`."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    return str(v).lower() in ("true", "up", "1")


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_ROWS))


def mac_hex(addr: str) -> str:
    """`00:50:56:AA:BB:CC` (APIC) → `005056aabbcc` (sFlow form); '' when not a MAC."""
    h = addr.replace(":", "").replace("-", "").replace(".", "").lower()
    if len(h) != 12 or any(c not in "0123456789abcdef" for c in h):
        return ""
    return h


def mac_colon(hex12: str) -> str:
    """`005056aabbcc` → `00:50:56:AA:BB:CC`, the form the APIC poller writes in `addr`."""
    h = mac_hex(hex12)
    if not h:
        return ""
    return ":".join(h[i : i + 2] for i in range(0, 12, 2)).upper()


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
        return mac_hex(self.addr) or mac_hex(self.to_mac) or mac_hex(self.from_mac)


_MOVE_FIELDS = (
    "from_node", "from_interface", "from_encap", "from_mac", "to_node", "to_interface",
    "to_encap", "to_mac", "epg", "bd", "vrf", "count",
)  # fmt: skip


def _move(r: dict[str, Any], fabric: str) -> Move:
    count = r.get("count")
    return Move(
        time_ns=int(r["time"]),
        fabric=_str(r.get("fabric")) or fabric,
        addr=_str(r.get("addr")),
        addr_type=_str(r.get("addr_type")),
        from_node=_str(r.get("from_node")),
        from_interface=_str(r.get("from_interface")),
        from_encap=_str(r.get("from_encap")),
        from_mac=_str(r.get("from_mac")),
        to_node=_str(r.get("to_node")),
        to_interface=_str(r.get("to_interface")),
        to_encap=_str(r.get("to_encap")),
        to_mac=_str(r.get("to_mac")),
        epg=_str(r.get("epg")),
        bd=_str(r.get("bd")),
        vrf=_str(r.get("vrf")),
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
    cols = ", ".join(quote_ident(c) for c in ("addr", "addr_type", *_MOVE_FIELDS))
    where = [f"{quote_ident('fabric')} = $fabric", _span(since_ns, until_ns)]
    params: dict[str, Any] = {"fabric": fabric}
    if addr is not None:
        where.append(f"{quote_ident('addr')} = $addr")
        params["addr"] = addr
    if bd is not None:
        where.append(f"{quote_ident('bd')} = $bd")
        params["bd"] = bd
    stmt = (
        f"SELECT {cols} FROM {quote_ident('apic_endpoint_move')} WHERE {' AND '.join(where)} "
        f"ORDER BY time ASC LIMIT {_limit(limit)}"
    )
    return [_move(r, fabric) for r in _rows(q, stmt, params)]


def bd_moves(
    q: InfluxQuery, fabric: str, bd: str, since_ns: int, until_ns: int, *, limit: int = 10_000
) -> list[Move]:
    """Moves of every endpoint of one bridge domain (loop detection)."""
    return moves(q, fabric, since_ns, until_ns, bd=bd, limit=limit)


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
    where = [f"{quote_ident('fabric')} = $fabric", _span(since_ns, until_ns)]
    params: dict[str, Any] = {"fabric": fabric}
    if addr is not None:
        where.append(f"{quote_ident('addr')} = $addr")
        params["addr"] = addr
    kind_list = list(kinds)
    if kind_list:
        alts = []
        for i, k in enumerate(kind_list):
            alts.append(f"{quote_ident('kind')} = $kind{i}")
            params[f"kind{i}"] = k
        where.append("(" + " OR ".join(alts) + ")")
    stmt = (
        f"SELECT {quote_ident('detail')}, {quote_ident('addr')}, {quote_ident('kind')} "
        f"FROM {quote_ident('apic_endpoint_anomaly')} WHERE {' AND '.join(where)} "
        f"ORDER BY time ASC LIMIT {_limit(limit)}"
    )
    return [
        Anomaly(int(r["time"]), fabric, _str(r.get("addr")), _str(r.get("kind")),
                _str(r.get("detail")))
        for r in _rows(q, stmt, params)
    ]  # fmt: skip


# -- apic_interface ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterfaceSample:
    """One `apic_interface` poll of a leaf port."""

    time_ns: int
    node: str
    interface: str
    oper_up: bool | None
    oper_st: str
    in_pkts_rate: float | None
    out_pkts_rate: float | None


def interface_samples(
    q: InfluxQuery, fabric: str, node: str, interface: str, since_ns: int, until_ns: int
) -> list[InterfaceSample]:
    """Oper state and packet rates of one leaf port in [since, until], oldest first."""
    cols = ", ".join(
        quote_ident(c) for c in ("oper_up", "oper_st", "in_pkts_rate", "out_pkts_rate")
    )
    stmt = (
        f"SELECT {cols} FROM {quote_ident('apic_interface')} WHERE "
        f"{quote_ident('fabric')} = $fabric AND {quote_ident('node')} = $node AND "
        f"{quote_ident('interface')} = $interface AND {_span(since_ns, until_ns)} "
        f"ORDER BY time ASC LIMIT {MAX_ROWS}"
    )
    rows = _rows(q, stmt, {"fabric": fabric, "node": node, "interface": interface})
    return [
        InterfaceSample(
            int(r["time"]), node, interface, _opt_bool(r.get("oper_up")), _str(r.get("oper_st")),
            _opt_float(r.get("in_pkts_rate")), _opt_float(r.get("out_pkts_rate")),
        )
        for r in rows
    ]  # fmt: skip


def interface_changes(
    q: InfluxQuery,
    fabric: str,
    node: str,
    interface: str,
    around_ns: int,
    before_s: float = 120.0,
    after_s: float = 30.0,
) -> list[InterfaceSample]:
    """The samples of one port around an instant (default −120 s … +30 s)."""
    return interface_samples(
        q, fabric, node, interface,
        around_ns - int(before_s * 1e9), around_ns + int(after_s * 1e9),
    )  # fmt: skip


# -- sFlow: host adapters, interface counters ----------------------------------------------------


@dataclass(frozen=True)
class HostAdapters:
    """One `sflow_host_adapters` point: an adapter of `host` listing `macs`."""

    time_ns: int
    agent: str
    host: str
    source_id: str
    ifindex: str
    macs: tuple[str, ...]


def host_adapters_with_mac(
    q: InfluxQuery, mac: str, since_ns: int, until_ns: int
) -> list[HostAdapters]:
    """Adapter lists that contain `mac` (any form), oldest first: where a VM/NIC was seen.

    The regex only narrows the scan; the exact match is re-checked on the split list so that a
    MAC never matches across the comma between two others.
    """
    h = mac_hex(mac)
    if not h:
        return []
    stmt = (
        f"SELECT {quote_ident('macs')}, {quote_ident('agent')}, {quote_ident('host')}, "
        f"{quote_ident('source_id')}, {quote_ident('ifindex')} "
        f"FROM {quote_ident('sflow_host_adapters')} WHERE {quote_ident('macs')} =~ "
        f"{regex_literal(h)} AND {_span(since_ns, until_ns)} ORDER BY time ASC LIMIT {MAX_ROWS}"
    )
    out = []
    for r in _rows(q, stmt):
        macs = tuple(m for m in _str(r.get("macs")).split(",") if m)
        if h in macs:
            out.append(
                HostAdapters(int(r["time"]), _str(r.get("agent")), _str(r.get("host")),
                             _str(r.get("source_id")), _str(r.get("ifindex")), macs)
            )  # fmt: skip
    return out


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


def sflow_if_counters(
    q: InfluxQuery, since_ns: int, until_ns: int, *, host: str | None = None
) -> list[IfCounters]:
    """sFlow interface counters in [since, until], oldest first; optionally of one host/agent."""
    cols = ", ".join(
        quote_ident(c)
        for c in ("agent", "host", "ifindex", "if_oper_up", "if_in_broadcast_pkts",
                  "if_out_broadcast_pkts")
    )  # fmt: skip
    where = [_span(since_ns, until_ns)]
    params: dict[str, Any] = {}
    if host is not None:
        where.append(f"{quote_ident('host')} = $host")
        params["host"] = host
    stmt = (
        f"SELECT {cols} FROM {quote_ident('sflow_if_counters')} WHERE {' AND '.join(where)} "
        f"ORDER BY time ASC LIMIT {MAX_ROWS}"
    )

    def _int(v: Any) -> int | None:
        return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    return [
        IfCounters(
            int(r["time"]), _str(r.get("agent")), _str(r.get("host")), _str(r.get("ifindex")),
            _opt_bool(r.get("if_oper_up")), _int(r.get("if_in_broadcast_pkts")),
            _int(r.get("if_out_broadcast_pkts")),
        )
        for r in _rows(q, stmt, params)
    ]  # fmt: skip


# -- Telegraf-compatible host load ---------------------------------------------------------------


@dataclass(frozen=True)
class HostLoad:
    """Peak load of one host over a window: CPU `usage_active` (%) and network bytes/s."""

    host: str
    cpu_active_max: float | None
    net_bytes_per_s_max: float | None


def host_load(q: InfluxQuery, host: str, since_ns: int, until_ns: int) -> HostLoad:
    """Max `cpu.usage_active` and max network rate (from the cumulative `net` counters)."""
    span = _span(since_ns, until_ns)
    cpu_stmt = (
        f"SELECT max({quote_ident('usage_active')}) FROM {quote_ident('cpu')} WHERE "
        f"{quote_ident('host')} = $host AND {quote_ident('cpu')} = 'cpu-total' AND {span}"
    )
    cpu_rows = _rows(q, cpu_stmt, {"host": host})
    cpu = _opt_float(cpu_rows[0].get("max")) if cpu_rows else None
    net_stmt = (
        f"SELECT {quote_ident('bytes_recv')}, {quote_ident('bytes_sent')} "
        f"FROM {quote_ident('net')} WHERE {quote_ident('host')} = $host AND {span} "
        f"ORDER BY time ASC LIMIT {MAX_ROWS}"
    )
    net_rate: float | None = None
    prev: tuple[int, int] | None = None
    for r in _rows(q, net_stmt, {"host": host}):
        total = int(r.get("bytes_recv") or 0) + int(r.get("bytes_sent") or 0)
        t = int(r["time"])
        if prev is not None and t > prev[0] and total >= prev[1]:
            rate = (total - prev[1]) / ((t - prev[0]) / 1e9)
            net_rate = rate if net_rate is None else max(net_rate, rate)
        prev = (t, total)
    return HostLoad(host, cpu, net_rate)


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
    cols = ", ".join(
        quote_ident(c)
        for c in ("agent", "src_mac", "dst_mac", "src_ip", "dst_ip", "bytes", "packets")
    )
    stmt = (
        f"SELECT {cols} FROM {quote_ident('sflow_flows')} WHERE time >= {int(since_ns)} AND "
        f"time < {int(until_ns)} LIMIT {MAX_ROWS}"
    )
    return [
        FlowRow(
            int(r["time"]), _str(r.get("agent")), _str(r.get("src_mac")), _str(r.get("dst_mac")),
            _str(r.get("src_ip")), _str(r.get("dst_ip")), int(r.get("bytes") or 0),
            int(r.get("packets") or 0),
        )
        for r in _rows(q, stmt)
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
    cols = ", ".join(
        f"last({quote_ident(c)}) AS {quote_ident(c)}"
        for c in ("to_node", "to_interface", "to_mac", "epg", "bd", "vrf")
    )
    stmt = (
        f"SELECT {cols} FROM {quote_ident('apic_endpoint_move')} WHERE "
        f"{quote_ident('fabric')} = $fabric AND {_span(since_ns, until_ns)} "
        f"GROUP BY {quote_ident('addr')}"
    )
    out: dict[str, EndpointInfo] = {}
    for r in _rows(q, stmt, {"fabric": fabric}):
        addr = _str(r.get("addr"))
        out[addr] = EndpointInfo(
            addr, _str(r.get("to_node")), _str(r.get("to_interface")), _str(r.get("epg")),
            _str(r.get("bd")), _str(r.get("vrf")), _str(r.get("to_mac")),
        )  # fmt: skip
    return out


# -- move_analysis (the analyzer's own output) ---------------------------------------------------


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


def move_analysis(
    q: InfluxQuery,
    fabric: str,
    since_ns: int,
    until_ns: int,
    *,
    addr: str | None = None,
    cause: str | None = None,
    limit: int = 10_000,
) -> list[MoveFinding]:
    """`move_analysis` findings, oldest first (GROUP BY the tags so `cause` comes back)."""
    cols = ", ".join(
        quote_ident(c)
        for c in ("confidence", "evidence", "from_node", "from_interface", "to_node",
                  "to_interface")
    )  # fmt: skip
    where = [f"{quote_ident('fabric')} = $fabric", _span(since_ns, until_ns)]
    params: dict[str, Any] = {"fabric": fabric}
    if addr is not None:
        where.append(f"{quote_ident('addr')} = $addr")
        params["addr"] = addr
    if cause is not None:
        where.append(f"{quote_ident('cause')} = $cause")
        params["cause"] = cause
    stmt = (
        f"SELECT {cols} FROM {quote_ident('move_analysis')} WHERE {' AND '.join(where)} "
        f"GROUP BY {quote_ident('addr')}, {quote_ident('cause')} ORDER BY time ASC "
        f"LIMIT {_limit(limit)}"
    )
    out = [
        MoveFinding(
            int(r["time"]), fabric, _str(r.get("addr")), _str(r.get("cause")),
            float(r.get("confidence") or 0.0), _str(r.get("evidence")), _str(r.get("from_node")),
            _str(r.get("from_interface")), _str(r.get("to_node")), _str(r.get("to_interface")),
        )
        for r in _rows(q, stmt, params)
    ]  # fmt: skip
    out.sort(key=lambda f: (f.time_ns, f.addr))
    return out


def delete_move_finding(q: InfluxQuery, fabric: str, addr: str, cause: str, time_ns: int) -> bool:
    """Remove one finding (the series changes when its `cause` tag changes: the old one must go
    or a re-analysed move would show two causes). True when deleted, False when the server
    cannot delete single points.

    - 1.x: InfluxQL `DELETE` on `/query`, values as bind parameters.
    - 2.x: the v2 delete API. (2.x's `/query` does run DELETE, but only through the database's
      default DBRP mapping; the delete API names the bucket itself and is the documented way.)
    - 3.x: no point-level delete at all (its InfluxQL is read-only, there is no
      `/api/v2/delete`; only whole tables or databases can be deleted): nothing is sent.
    """
    major = q.server_major()
    if major == 3:
        return False
    if major == 2:
        predicate = delete_predicate(
            "move_analysis", {"fabric": fabric, "addr": addr, "cause": cause}
        )
        q.delete_v2(int(time_ns), int(time_ns), predicate)
        return True
    q.query(
        f"DELETE FROM {quote_ident('move_analysis')} WHERE {quote_ident('fabric')} = $fabric "
        f"AND {quote_ident('addr')} = $addr AND {quote_ident('cause')} = $cause "
        f"AND time >= {int(time_ns)} AND time <= {int(time_ns)}",
        params={"fabric": fabric, "addr": addr, "cause": cause},
    )
    return True
