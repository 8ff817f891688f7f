"""GET /api/v1/health — InfluxDB reachability and each process's last `fabricscope_stats` report.

Open without an API key (load balancers and `fabricscope demo` poll it). Answers 503 when
InfluxDB cannot be queried, so a health check fails exactly when the API cannot serve data.

A process is ``stale`` when its reports stop, ``degraded`` when its last report says
``healthy=false`` (the poller: not streaming — connecting, building, resyncing after a blind or
dead event stream, backing off — or its event backlog overflowed; it writes a report at every
state change, so this shows within seconds), else ``ok``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import QueriesDep
from api.schemas import Health, ProcessHealth
from influx.query import InfluxQueryError, time_range
from influx.reads import Window

router = APIRouter(tags=["health"])

PROCESSES = ("collector", "poller", "analyzers")
# Processes report every 10 s; three missed reports means it is stuck or gone. Analyzers report
# once per run instead and say how often they run (`interval_s`): three missed runs, then.
STALE_AFTER_S = 30.0
MISSED_REPORTS = 3


def judge(row: dict[str, Any], age: float | None) -> Literal["ok", "degraded", "stale"]:
    if age is None or age > stale_after(row):
        return "stale"
    return "degraded" if row.get("healthy") is False else "ok"


def stale_after(row: dict[str, Any]) -> float:
    interval = row.get("interval_s")
    if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0:
        return max(STALE_AFTER_S, MISSED_REPORTS * float(interval))
    return STALE_AFTER_S


def influx_state(exc: InfluxQueryError) -> Literal["unreachable", "unauthorized", "error"]:
    """Why InfluxDB cannot be queried, for `influxdb`: "unreachable", "unauthorized" (HTTP
    401/403: its own state because the fix is a token, not a network or a database) or
    "error"."""
    if exc.status in (401, 403):
        return "unauthorized"
    return "unreachable" if str(exc).startswith("InfluxDB unreachable") else "error"


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(queries: QueriesDep) -> Any:
    try:
        await queries.ping()
        stats = await queries.last_stats(Window(time_range("-1d")))
    except InfluxQueryError as exc:
        state = influx_state(exc)
        body = Health(
            status="unavailable",
            influxdb=state,
            influxdb_error=(
                f"InfluxDB refused the API's credentials (HTTP {exc.status}): check "
                "FABRICSCOPE_INFLUX_TOKEN (or _TOKEN_FILE)"
                if state == "unauthorized"
                else str(exc)
            ),
            processes={p: ProcessHealth(status="absent") for p in PROCESSES},
        )
        return JSONResponse(body.model_dump(), status_code=503)
    now = time.time()
    procs: dict[str, ProcessHealth] = {}
    for name in sorted(set(PROCESSES) | set(stats)):
        row = stats.get(name)
        if row is None:
            procs[name] = ProcessHealth(status="absent")
            continue
        ts = row.pop("time", None)
        age = now - datetime.fromisoformat(ts).timestamp() if ts else None
        row.pop("process", None)
        procs[name] = ProcessHealth(
            status=judge(row, age),
            last_report=ts,
            age_s=round(age, 1) if age is not None else None,
            **row,
        )
    degraded = any(procs[p].status != "ok" for p in PROCESSES)
    return Health(status="degraded" if degraded else "ok", influxdb="ok", processes=procs)
