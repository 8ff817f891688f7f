"""Server-rendered web UI (Jinja2, no build step): search, endpoint detail, moves, anomalies, hosts.

Pages call the same `ApiQueries` as the JSON routes, so UI and API always agree. With an API key
configured, api/app.py guards these routes with `require_ui_login` (login page: routes/login.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api import incident_views
from api.deps import QueriesDep, make_window
from api.routes.endpoints import normalize_addr
from api.routes.events import AnomalyKind
from api.routes.incidents import IncidentKind, check_id, make_span
from influx.reads import classify_search

router = APIRouter(include_in_schema=False)


def now_ns() -> int:
    return time.time_ns()


def _auth_context(request: Request) -> dict[str, Any]:
    """Every page knows whether a key is configured (to offer "Log out")."""
    return {"auth_enabled": bool(request.app.state.api_key)}


templates = Jinja2Templates(
    directory=Path(__file__).parent.parent / "templates", context_processors=[_auth_context]
)


def _when(value: object) -> str:
    """`2026-01-02T03:04:05.123456Z` → `2026-01-02 03:04:05` (UTC; sub-second noise hidden)."""
    text = str(value or "")
    return text[:19].replace("T", " ") if len(text) >= 19 else text


templates.env.filters["when"] = _when

Since = Annotated[str, Query(max_length=40)]


def _page(request: Request, name: str, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, ctx)


def _error(request: Request, exc: RequestValidationError, **ctx: Any) -> HTMLResponse:
    msgs = "; ".join(str(e.get("msg", "")) for e in exc.errors())
    return templates.TemplateResponse(request, "error.html", {"message": msgs, **ctx}, 422)


@router.get("/", response_class=HTMLResponse)
async def index(
    request: Request,
    queries: QueriesDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    since: Since = "-7d",
    fabric: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    if not q:
        if fabric is not None and not fabric.strip():
            fabric = None
        recent = await incident_views.last_hour(queries.iq, now_ns(), fabric)
        return _page(
            request, "index.html", q="", since=since, results=None, fabric=fabric or "", **recent
        )
    try:
        win = make_window(since, None, None)
        aq = classify_search(q)
    except RequestValidationError as exc:
        return _error(request, exc, q=q)
    except ValueError as exc:
        return templates.TemplateResponse(
            request, "index.html", {"q": q, "since": since, "results": None, "error": str(exc)}, 422
        )
    addrs = await queries.search_addrs(aq, win)
    if len(addrs) == 1 and aq.kind in ("mac", "ip"):
        return RedirectResponse(f"/ui/endpoints/{addrs[0]}?since={since}", status_code=303)
    results = await queries.endpoint_states(addrs[:100], win)
    return _page(request, "index.html", q=q, since=since, results=results, match=aq.kind)


@router.get("/ui/endpoints/{addr:path}", response_class=HTMLResponse)
async def endpoint_page(
    request: Request, queries: QueriesDep, addr: str, since: Since = "-7d"
) -> Response:
    try:
        win = make_window(since, None, None)
    except RequestValidationError as exc:
        return _error(request, exc)
    a = normalize_addr(addr)
    state = await queries.endpoint_state(a, win)
    history = await queries.history(a, win, 200, 0)
    incidents = await incident_views.endpoint_incidents(queries.iq, a, make_span(since, None, None))
    analyses = await queries.move_analysis(win, a, None, 200, 0)
    # The analyzer stamps each finding with its move's own timestamp: match on time exactly.
    by_time = {str(x.get("time")): x for x in analyses}
    for item in history:
        if item["type"] == "move":
            item["analysis"] = by_time.get(str(item.get("time")))
    unmatched = [
        x
        for x in analyses
        if not any(h.get("analysis") is x for h in history if h["type"] == "move")
    ]
    return _page(
        request,
        "endpoint.html",
        ep=state,
        history=history,
        analyses=unmatched,
        since=since,
        incidents=incidents,
    )


@router.get("/ui/moves", response_class=HTMLResponse)
async def moves_page(request: Request, queries: QueriesDep, since: Since = "-24h") -> Response:
    try:
        win = make_window(since, None, None)
    except RequestValidationError as exc:
        return _error(request, exc)
    rows = await queries.moves(win, None, 500, 0)
    analyses = await queries.move_analysis(win, None, None, 1000, 0)
    causes = {(x.get("addr"), str(x.get("time"))): x for x in analyses}
    for r in rows:
        r["analysis"] = causes.get((r.get("addr"), str(r.get("time"))))
    return _page(request, "moves.html", rows=rows, since=since)


@router.get("/ui/anomalies", response_class=HTMLResponse)
async def anomalies_page(
    request: Request,
    queries: QueriesDep,
    since: Since = "-24h",
    kind: Annotated[AnomalyKind | None, Query()] = None,
) -> Response:
    try:
        win = make_window(since, None, None)
    except RequestValidationError as exc:
        return _error(request, exc)
    rows = await queries.anomalies(win, kind.value if kind else None, None, 500, 0)
    return _page(
        request,
        "anomalies.html",
        rows=rows,
        since=since,
        kind=kind.value if kind else "",
        kinds=[k.value for k in AnomalyKind],
    )


@router.get("/ui/hosts", response_class=HTMLResponse)
async def hosts_page(request: Request, queries: QueriesDep, since: Since = "-1h") -> Response:
    try:
        win = make_window(since, None, None)
    except RequestValidationError as exc:
        return _error(request, exc)
    return _page(request, "hosts.html", rows=await queries.hosts(win), since=since)


@router.get("/ui/incidents", response_class=HTMLResponse)
async def incidents_page(
    request: Request,
    queries: QueriesDep,
    since: Since = "-24h",
    kind: Annotated[IncidentKind | None, Query()] = None,
    fabric: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    try:
        span = make_span(since, None, fabric)
    except RequestValidationError as exc:
        return _error(request, exc)
    rows = await incident_views.incident_list(queries.iq, span, kind.value if kind else None)
    return _page(
        request,
        "incidents.html",
        incidents=rows,
        since=since,
        kind=kind.value if kind else "",
        kinds=[k.value for k in IncidentKind],
        fabric=fabric or "",
    )


@router.get("/ui/incidents/{incident_id:path}", response_class=HTMLResponse)
async def incident_page(
    request: Request,
    queries: QueriesDep,
    incident_id: Annotated[str, PathParam(min_length=1, max_length=128)],
    since: Since = "-30d",
) -> Response:
    try:
        span = make_span(since, None, None)
        check_id(incident_id)
    except RequestValidationError as exc:
        return _error(request, exc)
    ctx = await incident_views.incident_page(
        queries.iq, span, incident_id, request.app.state.grafana_url, now_ns()
    )
    if ctx is None:
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "title": "Incident not found",
                "message": f"No incident {incident_id!r} since {since}.",
            },
            404,
        )
    return _page(request, "incident.html", since=since, **ctx)
