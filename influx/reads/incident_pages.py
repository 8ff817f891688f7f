"""Query stage: the front end's incident reads (routes /api/v1/incidents…, the incident pages),
part of the one read layer (`influx.reads`; bind parameters through `Binds`).

Reads the analyzers' `incident` and `move_analysis` points (docs/measurements.md) and, for the
evidence charts around an incident, `apic_interface`, `apic_fault`, `sflow_if_counters`, `cpu`
and `net`. Every user-supplied value goes to InfluxDB as a bind parameter (`$name`), never as
text; times are integer nanoseconds computed here. Rows come back JSON-ready (RFC 3339 `time`),
series as (epoch seconds, value) pairs ready for api/charts.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from influx.query import InfluxQuery, quote_ident
from influx.reads._core import Binds
from influx.reads.api import ns_to_iso

INCIDENT_KINDS = ("loop", "link_failover", "vm_migration", "nic_teaming_flap", "unknown")
MAX_MOVES = 2000  # moves listed on one incident (a loop in a big BD can move thousands)
MAX_SERIES_POINTS = 2000
NS = 1_000_000_000


@dataclass(frozen=True)
class Span:
    """[since_ns, until_ns) on integer nanoseconds, plus an optional fabric."""

    since_ns: int | None
    until_ns: int | None
    fabric: str | None = None

    def where(self, b: Binds, *extra: str) -> str:
        parts: list[str] = []
        if self.since_ns is not None:
            parts.append(f"time >= {int(self.since_ns)}")
        if self.until_ns is not None:
            parts.append(f"time < {int(self.until_ns)}")
        parts.extend(extra)
        if self.fabric is not None:
            parts.append(b.eq("fabric", self.fabric))
        return f" WHERE {' AND '.join(parts)}" if parts else ""


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if v is not None and v != ""}
    if isinstance(out.get("time"), int):
        out["time"] = ns_to_iso(out["time"])
    return out


def _split(text: Any) -> list[str]:
    return [p.strip() for p in str(text or "").split(",") if p.strip()]


def incident_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """An `incident` point as the API shows it: `places` and `addrs` as lists."""
    out = _clean(row)
    out["places"] = _split(out.get("places"))
    out["addrs"] = _split(out.get("addrs"))
    return out


async def _select(q: InfluxQuery, stmt: str, b: Binds) -> list[dict[str, Any]]:
    return [row for s in await q.aquery(stmt, params=b.values or None) for row in s.rows()]


# -- incidents -----------------------------------------------------------------------------------


async def incidents(
    q: InfluxQuery, span: Span, kind: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Incidents whose start (the point's time) is in the span, newest first."""
    b = Binds()
    extra = [b.eq("kind", kind)] if kind else []
    stmt = (
        f"SELECT * FROM {quote_ident('incident')}{span.where(b, *extra)} "
        f"ORDER BY time DESC LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    return [incident_row(r) for r in await _select(q, stmt, b)]


async def incident(q: InfluxQuery, span: Span, incident_id: str) -> dict[str, Any] | None:
    """The incident with that `id` (a field: InfluxDB scans the span's incidents), or None."""
    b = Binds()
    where = span.where(b, b.eq("id", incident_id))
    stmt = f"SELECT * FROM {quote_ident('incident')}{where} ORDER BY time DESC LIMIT 1"
    rows = await _select(q, stmt, b)
    return incident_row(rows[0]) if rows else None


async def incidents_by_id(q: InfluxQuery, span: Span, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The incidents among `ids` (newest first), 50 ids per statement."""
    rows: list[dict[str, Any]] = []
    uniq = sorted(set(ids))
    for i in range(0, len(uniq), 50):
        b = Binds()
        cond = b.any_of("id", uniq[i : i + 50])
        stmt = f"SELECT * FROM {quote_ident('incident')}{span.where(b, cond)}"
        rows.extend(await _select(q, stmt, b))
    rows.sort(key=lambda r: int(r.get("time") or 0), reverse=True)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in rows:  # one row per id, the newest (3.x may keep a superseded point)
        if str(r.get("id")) not in seen:
            seen.add(str(r.get("id")))
            out.append(incident_row(r))
    return out


async def incident_moves(
    q: InfluxQuery,
    fabric: str | None,
    incident_id: str,
    since_ns: int,
    until_ns: int,
    limit: int = MAX_MOVES + 1,
    cause: str | None = None,
) -> list[dict[str, Any]]:
    """`move_analysis` points carrying `incident_id`, oldest first (the incident's timeline).

    `cause`: the incident's kind. The analyzers group moves by cause, so every move of an
    incident has its kind as `cause` tag; filtering on that tag lets InfluxDB use its series
    index instead of scanning every finding in the window (5× faster on a 2000-endpoint day)."""
    b = Binds()
    extra = [b.eq("cause", cause)] if cause else []
    where = Span(since_ns, until_ns, fabric).where(b, *extra, b.eq("incident_id", incident_id))
    stmt = (
        f"SELECT * FROM {quote_ident('move_analysis')}{where} ORDER BY time ASC LIMIT {int(limit)}"
    )
    return [_clean(r) for r in await _select(q, stmt, b)]


async def endpoint_incident_ids(q: InfluxQuery, span: Span, addr: str) -> list[str]:
    """Incident ids on the `move_analysis` findings of one endpoint."""
    b = Binds()
    where = span.where(b, b.eq("addr", addr))
    stmt = f'SELECT "incident_id" FROM {quote_ident("move_analysis")}{where} LIMIT 5000'
    ids = {str(r["incident_id"]) for r in await _select(q, stmt, b) if r.get("incident_id")}
    return sorted(ids)


# -- evidence around an incident ---------------------------------------------------------------


@dataclass
class TimeSeries:
    """One line of a chart: `key` names it (e.g. ("101", "eth1/5")), points are (epoch s, v)."""

    key: tuple[str, ...]
    points: list[tuple[float, float]] = field(default_factory=list)


def _value(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    return None


def _series(
    rows: Iterable[Mapping[str, Any]], keys: Sequence[str], column: str
) -> dict[tuple[str, ...], TimeSeries]:
    out: dict[tuple[str, ...], TimeSeries] = {}
    for r in rows:
        v = _value(r.get(column))
        t = r.get("time")
        if v is None or not isinstance(t, int):
            continue
        key = tuple(str(r.get(k, "")) for k in keys)
        out.setdefault(key, TimeSeries(key)).points.append((t / NS, v))
    for s in out.values():
        s.points.sort()
    return out


async def bundle_members(
    q: InfluxQuery,
    fabric: str | None,
    bundles: Sequence[tuple[str, str]],
    since_ns: int,
    until_ns: int,
) -> dict[tuple[str, str], list[str]]:
    """(node, `poN`) → its member ports, from the `bundle` field of `apic_interface` (a
    port-channel has no row of its own: oper state and counters are per member port)."""
    if not bundles:
        return {}
    b = Binds()
    cond = (
        "("
        + " OR ".join(f"({b.eq('node', n)} AND {b.eq('bundle', po)})" for n, po in bundles)
        + ")"
    )
    span = Span(since_ns - 86400 * NS, until_ns, fabric)
    stmt = (
        f'SELECT last("bundle") AS "bundle" FROM {quote_ident("apic_interface")}'
        f'{span.where(b, cond)} GROUP BY "node", "interface"'
    )
    out: dict[tuple[str, str], list[str]] = {}
    for r in await _select(q, stmt, b):
        node, iface, po = r.get("node"), r.get("interface"), r.get("bundle")
        if isinstance(node, str) and isinstance(iface, str) and isinstance(po, str):
            out.setdefault((node, po), []).append(iface)
    for members in out.values():
        members.sort()
    return out


def counter_rates(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per-second rates between consecutive samples of a cumulative counter, as a step line:
    each rate starts at the earlier sample and holds until the next (a closing point at the
    last sample ends it), so a flood shows over the interval it happened in, not after it. A
    counter that went backwards (a reset) gives no rate for that interval."""
    out = [
        (t0, (v1 - v0) / (t1 - t0))
        for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False)
        if t1 > t0 and v1 >= v0
    ]
    if out:
        out.append((points[-1][0], out[-1][1]))
    return out


async def port_series(
    q: InfluxQuery,
    fabric: str | None,
    ports: Sequence[tuple[str, str]],
    since_ns: int,
    until_ns: int,
) -> tuple[dict[tuple[str, ...], TimeSeries], dict[tuple[str, ...], TimeSeries]]:
    """Leaf ports (node, interface) from `apic_interface`: (oper_up 0/1, ingress flood pkts/s).
    The state each port was in when the window opens is carried in as its first point. The
    flood rate is the exact rate between two polls (difference of `in_flood_pkts_cum`, as the
    analyzers compute it) where the cumulative counter is there, else the APIC's own
    `in_flood_pkts_rate` (the 5-minute interval's average so far, which hides a storm that ended
    before the interval began)."""
    if not ports:
        return {}, {}
    b = Binds()
    cond = (
        "(" + " OR ".join(f"({b.eq('node', n)} AND {b.eq('interface', i)})" for n, i in ports) + ")"
    )
    span = Span(since_ns, until_ns, fabric)
    m = quote_ident("apic_interface")
    stmt = (
        f'SELECT "oper_up", "in_flood_pkts_rate", "in_flood_pkts_cum" FROM {m}'
        f'{span.where(b, cond)} GROUP BY "node", "interface" ORDER BY time ASC '
        f"LIMIT {MAX_SERIES_POINTS}"
    )
    rows = await _select(q, stmt, b)
    oper = _series(rows, ("node", "interface"), "oper_up")
    flood = _series(rows, ("node", "interface"), "in_flood_pkts_rate")
    for key, cum in _series(rows, ("node", "interface"), "in_flood_pkts_cum").items():
        if len(cum.points) >= 2:
            flood[key] = TimeSeries(key, counter_rates(cum.points))
    before = Span(since_ns - 86400 * NS, since_ns, fabric)
    bb = Binds(dict(b.values))
    stmt = (
        f'SELECT last("oper_up") AS "oper_up" FROM {m}{before.where(bb, cond)} '
        'GROUP BY "node", "interface"'
    )
    for r in await _select(q, stmt, bb):
        v = _value(r.get("oper_up"))
        if v is None:
            continue
        key = (str(r.get("node", "")), str(r.get("interface", "")))
        oper.setdefault(key, TimeSeries(key)).points.insert(0, (since_ns / NS, v))
    return oper, flood


async def faults(
    q: InfluxQuery, fabric: str | None, since_ns: int, until_ns: int, limit: int = 200
) -> list[dict[str, Any]]:
    """`apic_fault` changes in the window (loop-related faults), oldest first."""
    b = Binds()
    span = Span(since_ns, until_ns, fabric)
    stmt = (
        f"SELECT * FROM {quote_ident('apic_fault')}{span.where(b)} "
        f"ORDER BY time ASC LIMIT {int(limit)}"
    )
    rows = await _select(q, stmt, b)
    for r in rows:
        r["t"] = r["time"] / NS if isinstance(r.get("time"), int) else None
    return [{**_clean(r), "t": r["t"]} for r in rows]


def _interval_s(since_ns: int, until_ns: int, buckets: int = 120) -> int:
    """A GROUP BY time() bucket giving about `buckets` points, at least 10 s."""
    raw = (until_ns - since_ns) / NS / buckets
    for s in (10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if raw <= s:
            return s
    return 3600


async def host_series(
    q: InfluxQuery, hosts: Sequence[str], since_ns: int, until_ns: int
) -> dict[str, dict[tuple[str, ...], TimeSeries]]:
    """Hypervisor evidence per host: `nic` (sflow_if_counters if_oper_up by ifindex, the lowest
    state per bucket so a short down shows), `cpu` (usage_active %), `net_rx`/`net_tx` (bit/s
    from the `net` byte counters)."""
    out: dict[str, dict[tuple[str, ...], TimeSeries]] = {
        "nic": {},
        "cpu": {},
        "net_rx": {},
        "net_tx": {},
    }
    if not hosts:
        return out
    iv = f"{_interval_s(since_ns, until_ns)}s"
    span = Span(since_ns, until_ns)

    def where(**tags: str) -> tuple[str, Binds]:
        b = Binds()
        extra = [b.eq(k, v) for k, v in tags.items()]
        return span.where(b, b.any_of("host", list(hosts)), *extra), b

    nic_w, nic_b = where()
    cpu_w, cpu_b = where(cpu="cpu-total")
    net_w, net_b = where(interface="total")
    nic_rows, cpu_rows, rows = await asyncio.gather(  # three independent reads at once
        _select(
            q,
            f'SELECT min("if_oper_up") AS "up" FROM {quote_ident("sflow_if_counters")}{nic_w} '
            f'GROUP BY time({iv}), "host", "ifindex" fill(none)',
            nic_b,
        ),
        _select(
            q,
            f'SELECT mean("usage_active") AS "cpu" FROM {quote_ident("cpu")}{cpu_w} '
            f'GROUP BY time({iv}), "host" fill(none)',
            cpu_b,
        ),
        _select(
            q,
            'SELECT non_negative_derivative(max("bytes_recv"), 1s) * 8 AS "rx", '
            'non_negative_derivative(max("bytes_sent"), 1s) * 8 AS "tx" '
            f'FROM {quote_ident("net")}{net_w} GROUP BY time({iv}), "host" fill(none)',
            net_b,
        ),
    )
    out["nic"] = _series(nic_rows, ("host", "ifindex"), "up")
    out["cpu"] = _series(cpu_rows, ("host",), "cpu")
    out["net_rx"] = _series(rows, ("host",), "rx")
    out["net_tx"] = _series(rows, ("host",), "tx")
    return out
