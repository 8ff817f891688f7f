"""What the incident pages show (stage: api/UI), kept apart from the templates and routes:
the landing page's "last hour", the incident list, one incident with its timeline and evidence
charts, and the incidents an endpoint was part of. Reads go through influx/reads/incident_pages.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.evidence import evidence_charts, grafana_endpoint_url
from api.routes.incidents import bounds_ns, incident_with_timeline
from fabricscope import macs
from influx.query import InfluxQuery
from influx.reads import incident_pages as reads

LAST_HOUR_NS = 3600 * reads.NS
# An incident that began before the hour but was still going within it belongs to the hour:
# incidents are looked for this far back by start and kept when they end inside the hour.
LOOKBACK_NS = 6 * 3600 * reads.NS
LIST_LIMIT = 200
TIMELINE_SHOWN = 300
ADDRS_SHOWN = 40


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


def decorate(inc: dict[str, Any]) -> dict[str, Any]:
    """Display helpers on an incident row: duration, places split by type."""
    start, end = bounds_ns(inc)
    inc["duration"] = _hms((end - start) / reads.NS)
    inc["start_ns"], inc["end_ns"] = start, end
    places = inc.get("places", [])
    inc["ports"] = [p for p in places if p.startswith("node-")]
    inc["hosts"] = [p[5:] for p in places if p.startswith("host:")]
    inc["bds"] = [p[3:] for p in places if p.startswith("bd:")]
    inc["vms"] = [p[3:] for p in places if p.startswith("vm:")]
    inc["other_places"] = [p for p in places if not p.startswith(("node-", "host:", "bd:", "vm:"))]
    return inc


async def last_hour(iq: InfluxQuery, now_ns: int, fabric: str | None = None) -> dict[str, Any]:
    """Incidents that were going on at some time in the last hour, newest first."""
    cut = now_ns - LAST_HOUR_NS
    span = reads.Span(cut - LOOKBACK_NS, None, fabric)
    rows = await reads.incidents(iq, span, None, LIST_LIMIT, 0)
    recent = [decorate(r) for r in rows]
    recent = [r for r in recent if r["end_ns"] >= cut]
    return {
        "incidents": recent,
        "hour_from": datetime.fromtimestamp(cut / reads.NS, UTC).strftime("%H:%M"),
        "hour_to": datetime.fromtimestamp(now_ns / reads.NS, UTC).strftime("%H:%M"),
    }


async def incident_list(
    iq: InfluxQuery, span: reads.Span, kind: str | None
) -> list[dict[str, Any]]:
    return [decorate(r) for r in await reads.incidents(iq, span, kind, LIST_LIMIT, 0)]


async def endpoint_incidents(iq: InfluxQuery, addr: str, span: reads.Span) -> list[dict[str, Any]]:
    """The incidents whose moves include this endpoint (via `move_analysis.incident_id`)."""
    ids = await reads.endpoint_incident_ids(iq, span, addr)
    if not ids:
        return []
    wide = reads.Span(
        None if span.since_ns is None else span.since_ns - LOOKBACK_NS, span.until_ns, span.fabric
    )
    return [decorate(r) for r in await reads.incidents_by_id(iq, wide, ids)]


async def incident_page(
    iq: InfluxQuery, span: reads.Span, incident_id: str, grafana_url: str, now_ns: int
) -> dict[str, Any] | None:
    inc = await incident_with_timeline(iq, span, incident_id, TIMELINE_SHOWN)
    if inc is None:
        return None
    decorate(inc)
    timeline: list[dict[str, Any]] = inc["timeline"]
    charts, faults, elsewhere, (t0, t1) = await evidence_charts(
        iq, inc, timeline, inc["start_ns"], inc["end_ns"], now_ns
    )
    addrs: list[str] = inc.get("addrs") or sorted({str(m["addr"]) for m in timeline if "addr" in m})
    grafana = (
        {a: grafana_endpoint_url(grafana_url, a, t0, t1) for a in addrs[:ADDRS_SHOWN]}
        if grafana_url
        else {}
    )
    # The button opens a MAC's dashboard when the incident has one (its IPs follow the MAC).
    shown = addrs[:ADDRS_SHOWN]
    first = next((a for a in shown if macs.parse(a)), shown[0] if shown else None)
    first = first if first in grafana else None
    return {
        "inc": inc,
        "timeline": timeline,
        "timeline_more": inc["timeline_truncated"],
        "charts": charts,
        "faults": faults,
        "faults_elsewhere": elsewhere,
        "addrs": addrs[:ADDRS_SHOWN],
        "addrs_more": max(0, len(addrs) - ADDRS_SHOWN),
        "grafana": grafana,
        "grafana_first": grafana.get(first) if first else None,
        "grafana_first_addr": first,
    }
