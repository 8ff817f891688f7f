"""Incidents: moves grouped by cause and place (the analyzers' `incident` measurement).

`GET /incidents` lists them newest first (by start); `GET /incidents/{id}` gives one with its
timeline, the `move_analysis` findings stamped with its id. Same parameter rules as the other
routes: since/until/fabric as in api/deps.py, a bad value is a 422 naming it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from api.deps import PageDep, invalid, make_window
from api.routes.endpoints import paged
from api.schemas import Incident as IncidentModel
from api.schemas import IncidentDetail, Paged
from influx.query import InfluxQuery, parse_time, to_ns
from influx.reads import incident_pages as reads

router = APIRouter(tags=["incidents"])

# InfluxDB stores int64 nanoseconds: 1677-09-21 … 2262-04-11.
_MIN_NS, _MAX_NS = -(2**63) + 2, 2**63 - 2
# Moves of an incident are looked for this far around its start/end (late findings included).
TIMELINE_PAD_NS = 600 * reads.NS


class IncidentKind(StrEnum):
    """The cause names (analyzers/move_cause.py), one per incident."""

    loop = "loop"
    link_failover = "link_failover"
    vm_migration = "vm_migration"
    nic_teaming_flap = "nic_teaming_flap"
    unknown = "unknown"


def make_span(since: str, until: str | None, fabric: str | None) -> reads.Span:
    """since/until/fabric → a `Span` in nanoseconds; 422 naming the bad parameter."""
    now = datetime.now(UTC)
    out: dict[str, int | None] = {"since": None, "until": None}
    for name, value in (("since", since), ("until", until)):
        if value is None:
            continue
        try:
            ns = to_ns(parse_time(value, now=now))
        except ValueError as exc:
            raise invalid(name, str(exc)) from None
        except OverflowError:  # e.g. -1000000d: before year 1
            ns = _MIN_NS - 1
        if not _MIN_NS <= ns <= _MAX_NS:
            raise invalid(name, f"{name} {value!r} is out of range (1677-09-22 … 2262-04-11)")
        out[name] = ns
    make_window(since, until, fabric)  # the shared checks and messages (order, empty fabric)
    return reads.Span(out["since"], out["until"], fabric)


def span_params(
    since: Annotated[
        str, Query(max_length=40, description="start: RFC 3339 or relative (-1h)")
    ] = "-24h",
    until: Annotated[
        str | None, Query(max_length=40, description="end (exclusive): RFC 3339 or relative")
    ] = None,
    fabric: Annotated[str | None, Query(max_length=256, description="fabric name tag")] = None,
) -> reads.Span:
    return make_span(since, until, fabric)


def detail_span_params(
    since: Annotated[
        str, Query(max_length=40, description="look for the incident from (default -30d)")
    ] = "-30d",
    until: Annotated[str | None, Query(max_length=40, description="… until")] = None,
    fabric: Annotated[str | None, Query(max_length=256, description="fabric name tag")] = None,
) -> reads.Span:
    return make_span(since, until, fabric)


def check_id(incident_id: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in incident_id):
        raise invalid(
            "incident_id", "incident id must not contain control characters", where="path"
        )
    return incident_id


def get_iq(request: Request) -> InfluxQuery:
    iq: InfluxQuery = request.app.state.queries.iq
    return iq


IqDep = Annotated[InfluxQuery, Depends(get_iq)]
SpanDep = Annotated[reads.Span, Depends(span_params)]
DetailSpanDep = Annotated[reads.Span, Depends(detail_span_params)]
IdPath = Annotated[str, Path(min_length=1, max_length=128, description="incident id")]


def bounds_ns(inc: dict[str, Any]) -> tuple[int, int]:
    """The incident's [start, end] in ns: the analyzer's exact `start_ns`/`end_ns` fields when
    present, else its RFC 3339 `start`/`end`, else its point time."""
    t = inc.get("time")
    fallback = to_ns(parse_time(str(t))) if t else 0
    out = []
    for key in ("start", "end"):
        exact = inc.get(f"{key}_ns")
        if isinstance(exact, int) and not isinstance(exact, bool):
            out.append(exact)
            continue
        try:
            out.append(to_ns(parse_time(str(inc[key]))))
        except (KeyError, ValueError):
            out.append(fallback)
    start, end = out
    return start, max(start, end)


async def incident_with_timeline(
    iq: InfluxQuery, span: reads.Span, incident_id: str, max_moves: int = reads.MAX_MOVES
) -> dict[str, Any] | None:
    """The incident and its first `max_moves` moves (`timeline_truncated` when there are more)."""
    inc = await reads.incident(iq, span, incident_id)
    if inc is None:
        return None
    start, end = bounds_ns(inc)
    window = (start - TIMELINE_PAD_NS, end + TIMELINE_PAD_NS + 1)
    fabric = inc.get("fabric")
    # Fast path: the moves whose cause is the incident's kind (an indexed tag). Moves that kept
    # an older cause (outside the analyzers' re-analyse window when the kind changed) are only
    # found without it: re-read when the fast path finds fewer moves than the incident counts.
    moves = await reads.incident_moves(
        iq, fabric, incident_id, *window, limit=max_moves + 1, cause=inc.get("kind")
    )
    counted = inc.get("moves")
    if isinstance(counted, int) and len(moves) < min(counted, max_moves + 1):
        moves = await reads.incident_moves(iq, fabric, incident_id, *window, limit=max_moves + 1)
    inc["timeline"] = moves[:max_moves]
    inc["timeline_truncated"] = len(moves) > max_moves
    return inc


@router.get("/incidents", response_model=Paged[IncidentModel])
async def list_incidents(
    iq: IqDep,
    span: SpanDep,
    page: PageDep,
    kind: Annotated[IncidentKind | None, Query(description="incident kind (cause)")] = None,
) -> Any:
    rows = await reads.incidents(iq, span, kind.value if kind else None, page.limit, page.offset)
    return paged(rows, page.limit, page.offset)


@router.get(
    "/incidents/{incident_id:path}",
    response_model=IncidentDetail,
    responses={404: {"description": "no incident with that id in the time range"}},
)
async def get_incident(iq: IqDep, span: DetailSpanDep, incident_id: IdPath) -> Any:
    inc = await incident_with_timeline(iq, span, check_id(incident_id))
    if inc is None:
        raise HTTPException(404, f"no incident {incident_id!r} in this time range")
    return inc
