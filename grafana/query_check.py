"""Run every InfluxQL query of fabricscope's dashboards against a real InfluxDB, as Grafana would.

Grafana's InfluxQL macros are expanded the way its backend does (pkg/influxdb/models/query.go):
``$timeFilter`` → ``time >= <from>ms and time <= <to>ms``, ``$__interval`` / ``$interval`` → the
interval (never finer than the panel's own min ``interval``), ``$__interval_ms``, ``$__from`` /
``$__to``. Template variables come from ``variables`` or, when not given, from the first value
their own query returns (so the variable queries are exercised too); multi/All variables are
regex-escaped like Grafana's InfluxDB datasource does.

    python grafana/query_check.py --url http://127.0.0.1:8086 --db fabricscope --last 1h

Use from a test with :func:`run_dashboard_queries`; each :class:`QueryResult` says whether the
query failed (``error``) or returned nothing (``empty``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
DS_UID = "fabricscope-influxdb"
# What the dashboards reference: their datasource variable / import input (build_dashboards.py).
DS_UIDS = (DS_UID, "${DS_FABRICSCOPE_INFLUXDB}")
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass
class QueryResult:
    dashboard: str
    where: str  # "panel 3 'Title' A", "variable host", "annotation Moves"
    query: str  # as sent, macros expanded
    error: str = ""
    rows: int = 0  # rows with at least one non-null value
    values: list[list[Any]] = field(default_factory=list, repr=False)

    @property
    def empty(self) -> bool:
        return not self.error and self.rows == 0

    def __str__(self) -> str:
        state = f"ERROR {self.error}" if self.error else f"{self.rows} rows"
        return f"{self.dashboard} {self.where}: {state}\n    {self.query}"


def interval_ms(text: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip())
    if not m:
        raise ValueError(f"bad interval {text!r}")
    return int(m[1]) * _UNITS_MS[m[2]]


def _fmt_interval(ms: int) -> str:
    for unit in ("d", "h", "m", "s"):
        if ms % _UNITS_MS[unit] == 0:
            return f"{ms // _UNITS_MS[unit]}{unit}"
    return f"{ms}ms"


def _regex_escape(v: str) -> str:
    # Grafana's InfluxDB datasource escapes multi-value/All values for /regex/ contexts.
    return re.sub(r"([\\^$*+?.()|{}\[\]/])", r"\\\1", v)


def expand(
    query: str,
    time_range: tuple[int, int],
    variables: dict[str, str | list[str]],
    var_defs: dict[str, dict[str, Any]],
    interval: str = "10s",
) -> str:
    """Expand Grafana macros and template variables in one InfluxQL query."""
    start_ns, end_ns = time_range
    from_ms, to_ms = start_ns // 1_000_000, -(-end_ns // 1_000_000)
    iv_ms = interval_ms(interval)

    def var_value(name: str) -> str:
        value = variables[name]
        d = var_defs.get(name, {})
        values = value if isinstance(value, list) else [value]
        if values == ["$__all"] or value == "$__all":
            return str(d.get("allValue") or ".*")
        if d.get("multi") or d.get("includeAll") or len(values) > 1:
            esc = [_regex_escape(v) for v in values]
            return esc[0] if len(esc) == 1 else "(" + "|".join(esc) + ")"
        return values[0]

    builtins = {
        "timeFilter": f"time >= {from_ms}ms and time <= {to_ms}ms",
        "__interval_ms": str(iv_ms),
        "__interval": _fmt_interval(iv_ms),
        "interval": _fmt_interval(iv_ms),
        "__from": str(from_ms),
        "__to": str(to_ms),
    }

    def sub(m: re.Match[str]) -> str:
        name = m[1] or m[2]
        if name in builtins:
            return builtins[name]
        if name in variables:
            return var_value(name)
        return m[0]  # e.g. the regex anchor in /^x$/

    # longest names first: $__interval_ms before $__interval
    return re.sub(r"\$\{(\w+)\}|\$(__interval_ms|\w+)", sub, query)


class _Client:
    def __init__(self, url: str, db: str, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.db = db
        self.headers = {"Authorization": f"Token {token}"} if token else {}

    def run(self, q: str) -> tuple[str, list[list[Any]]]:
        try:
            resp = httpx.post(
                f"{self.url}/query",
                data={"q": q, "db": self.db, "epoch": "ms"},
                headers=self.headers,
                timeout=30,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}", []
        if resp.status_code != 200:
            return f"HTTP {resp.status_code}: {resp.text[:300]}", []
        body = resp.json()
        if "error" in body:
            return str(body["error"]), []
        values: list[list[Any]] = []
        for res in body.get("results", []):
            if "error" in res:
                return str(res["error"]), []
            for s in res.get("series", []):
                values.extend(s.get("values", []))
        return "", values


def _non_null_rows(values: list[list[Any]], show: bool) -> int:
    # SHOW results have no time column; SELECT rows start with time.
    first = 0 if show else 1
    return sum(1 for row in values if any(v is not None for v in row[first:]))


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in panels:
        out.append(p)
        out.extend(all_panels(p.get("panels", [])))
    return out


def dashboard_files(dashboards_dir: Path = DASHBOARDS) -> list[Path]:
    return sorted(dashboards_dir.glob("*.json"))


def check_dashboard(
    client: _Client,
    dash: dict[str, Any],
    name: str,
    time_range: tuple[int, int],
    variables: dict[str, str | list[str]] | None = None,
    interval: str = "10s",
) -> list[QueryResult]:
    results: list[QueryResult] = []
    given = {k: v for k, v in (variables or {}).items() if ":" not in k}
    prefix = f"{name}:"
    given.update(
        {k[len(prefix) :]: v for k, v in (variables or {}).items() if k.startswith(prefix)}
    )
    var_defs = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    resolved: dict[str, str | list[str]] = {}
    # variables in order (later ones may use earlier ones, e.g. ifindex WHERE agent)
    for vname, v in var_defs.items():
        if v.get("type") != "query":
            if vname in given:
                resolved[vname] = given[vname]
            elif v.get("type") == "custom":  # a fixed list: its current selection (All)
                resolved[vname] = v.get("current", {}).get("value", "$__all")
            continue
        q = expand(v["query"], time_range, resolved, var_defs, interval)
        err, values = client.run(q)
        r = QueryResult(name, f"variable {vname}", q, err, _non_null_rows(values, True), values)
        results.append(r)
        if vname in given:
            resolved[vname] = given[vname]
        elif values:
            resolved[vname] = str(values[0][-1])  # SHOW TAG VALUES: [key, value]
        else:
            resolved[vname] = "$__all" if v.get("includeAll") else ""

    def run(where: str, query: str, min_interval: str = "") -> None:
        iv = interval
        if min_interval and interval_ms(min_interval) > interval_ms(iv):
            iv = min_interval
        q = expand(query, time_range, resolved, var_defs, iv)
        err, values = client.run(q)
        show = q.lstrip().upper().startswith("SHOW")
        results.append(QueryResult(name, where, q, err, _non_null_rows(values, show), values))

    for a in dash.get("annotations", {}).get("list", []):
        if (a.get("datasource") or {}).get("uid") in DS_UIDS and a.get("query"):
            run(f"annotation {a['name']}", a["query"])
    for p in all_panels(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        for t in p.get("targets", []):
            run(
                f"panel {p['id']} {p.get('title')!r} {t['refId']}",
                t["query"],
                p.get("interval", ""),
            )
    return results


def run_dashboard_queries(
    url: str,
    db: str,
    time_range: tuple[int, int],
    variables: dict[str, str | list[str]] | None = None,
    *,
    token: str = "",
    interval: str = "10s",
    dashboards: list[Path] | None = None,
) -> list[QueryResult]:
    """Every variable, annotation and panel query of every dashboard, run against ``db``.

    ``time_range`` is (start_ns, end_ns); ``variables`` maps template variable names to a value
    (or list, or ``"$__all"``) for every dashboard that has that variable; a key
    ``"<file>.json:<name>"`` applies to that dashboard only and wins."""
    client = _Client(url, db, token)
    results: list[QueryResult] = []
    for path in dashboards or dashboard_files():
        dash = json.loads(path.read_text())
        results.extend(check_dashboard(client, dash, path.name, time_range, variables, interval))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--db", required=True, help="database (2.x: the bucket name)")
    ap.add_argument("--token", default="")
    ap.add_argument("--last", default="1h", help="time range ending now, e.g. 15m, 6h")
    ap.add_argument("--interval", default="10s")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args(argv)
    end = time.time_ns()
    start = end - interval_ms(args.last) * 1_000_000
    variables: dict[str, str | list[str]] = dict(v.split("=", 1) for v in args.var)
    results = run_dashboard_queries(
        args.url, args.db, (start, end), variables, token=args.token, interval=args.interval
    )
    bad = 0
    for r in results:
        if r.error or r.empty:
            bad += 1
        state = "FAIL " if r.error else "EMPTY" if r.empty else "ok   "
        print(state, str(r).split("\n")[0])  # noqa: T201
    print(f"{len(results)} queries, {bad} failed or empty", file=sys.stderr)  # noqa: T201
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
