"""The read layer's shared parts: bind parameters, WHERE building, row decoding.

Every statement of `influx.reads` passes user-supplied and data-derived values as InfluxQL bind
parameters (`$p0` in the text, `params={"p0": value}` on `/query`, InfluxDB 1.x): only
identifiers (through `quote_ident`), integer times and regexes (through `regex_literal`) are ever
part of the statement text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from influx.query import InfluxQuery, Series, quote_ident

# A ceiling on per-key reads (one endpoint, one port): they must never pull a whole database.
MAX_ROWS = 50_000
# The analyzers' bulk reads (one statement per measurement per run) see a whole window of a
# large fabric at once: 400 hypervisors × 40 samples × a few interfaces is ~100k rows.
MAX_BULK_ROWS = 2_000_000


@dataclass
class Binds:
    """Collects bind parameters while a statement is built: `bind(v)` returns `$pN`."""

    values: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"

    def eq(self, key: str, value: Any) -> str:
        """`"key" = $pN`."""
        return f"{quote_ident(key)} = {self.bind(value)}"

    def ne(self, key: str, value: Any) -> str:
        return f"{quote_ident(key)} != {self.bind(value)}"

    def any_of(self, key: str, values: list[str] | tuple[str, ...]) -> str:
        """`("key" = $p0 OR "key" = $p1 …)`."""
        return "(" + " OR ".join(self.eq(key, v) for v in values) + ")"


def span(since_ns: int, until_ns: int) -> str:
    """`time >= a AND time <= b` on integer nanoseconds (inclusive: analyzers pass exact edges)."""
    if since_ns > until_ns:
        raise ValueError(f"since ({since_ns}) must not be after until ({until_ns})")
    return f"time >= {int(since_ns)} AND time <= {int(until_ns)}"


def rows(
    q: InfluxQuery, stmt: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in q.query(stmt, params=params or None):
        out.extend(s.rows())
    return out


def table(
    q: InfluxQuery, stmt: str, names: Sequence[str], params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """Rows as tuples in the order of `names` (GROUP BY tags filled in, absent columns None):
    the bulk reads decode 100k-row windows, where a dict per row costs more than the query."""
    out: list[tuple[Any, ...]] = []
    for s in q.query(stmt, params=params or None):
        pos = {c: i for i, c in enumerate(s.columns)}
        getters = []
        for n in names:
            if n in pos:
                getters.append(pos[n])
            else:
                getters.append(-1)
        tag_vals = [s.tags.get(n) for n in names]
        for v in s.values:
            out.append(tuple(v[g] if g >= 0 else tag_vals[k] for k, g in enumerate(getters)))
    return out


def series_rows(series: list[Series]) -> list[dict[str, Any]]:
    return [row for s in series for row in s.rows()]


def cols(*names: str) -> str:
    return ", ".join(quote_ident(c) for c in names)


def as_str(v: Any) -> str:
    return "" if v is None else str(v)


def opt_float(v: Any) -> float | None:
    if v is None or isinstance(v, str | bool):
        return None
    return float(v)


def opt_int(v: Any) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def opt_bool(v: Any) -> bool | None:
    """`oper_up` is a bool on `apic_interface` and 0/1 on `sflow_if_counters`."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    return str(v).lower() in ("true", "up", "1")


def limit(n: int, ceiling: int = MAX_ROWS) -> int:
    return max(1, min(int(n), ceiling))
