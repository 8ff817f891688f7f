"""Hosts (Telegraf-shape cpu/mem/system + VMs), interfaces (sFlow + APIC) and top talkers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import MAX_LIMIT, PageDep, QueriesDep, WindowDep, invalid
from api.routes.endpoints import paged
from api.schemas import Host, HostMetrics, InterfaceRow, Paged, TopFlow
from fabricscope.macs import sflow_to_apic as sflow_mac_to_apic
from influx.query import duration_literal, parse_duration

router = APIRouter(tags=["sflow"])

HostPath = Annotated[str, Path(min_length=1, max_length=256, description="host name")]


@router.get("/hosts", response_model=Paged[Host])
async def hosts(queries: QueriesDep, win: WindowDep, page: PageDep) -> Any:
    rows = await queries.hosts(win)
    return paged(rows[page.offset : page.offset + page.limit], page.limit, page.offset)


@router.get("/hosts/{host:path}/metrics", response_model=HostMetrics)
async def host_metrics(
    queries: QueriesDep,
    win: WindowDep,
    host: HostPath,
    interval: Annotated[str, Query(max_length=16, description="bucket, e.g. 1m, 5m")] = "1m",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="buckets per series")] = 360,
) -> Any:
    try:
        td = parse_duration(interval)
        lit = duration_literal(td)
    except ValueError as exc:
        raise invalid("interval", str(exc)) from None
    if td.total_seconds() < 1:
        raise invalid("interval", "interval must be at least 1s")
    summary = await queries.hosts(win, host)
    if not summary:
        raise HTTPException(404, detail=f"no metrics for host {host!r} in the time range")
    series = await queries.host_metrics(host, win, lit, limit)
    return {"host": host, "interval": lit, "vms": summary[0]["vms"], **series}


@router.get("/interfaces", response_model=Paged[InterfaceRow])
async def interfaces(
    queries: QueriesDep,
    win: WindowDep,
    page: PageDep,
    source: Annotated[Literal["all", "sflow", "apic"], Query()] = "all",
) -> Any:
    rows = await queries.interfaces(win, source, page.limit, page.offset)
    return paged(rows, page.limit, page.offset)


@router.get("/flows/top", response_model=list[TopFlow])
async def top_flows(
    queries: QueriesDep,
    win: WindowDep,
    by: Annotated[Literal["ip", "mac"], Query(description="group by IP pair or MAC pair")] = "ip",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    agent: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    join: Annotated[bool, Query(description="add EPG/BD/VRF of each side")] = True,
) -> Any:
    rows = await queries.top_flows(win, by, limit, agent)
    if join and rows:

        def key(r: dict[str, Any], side: str) -> str | None:
            if by == "ip":
                v = r.get(f"{side}_ip")
                return str(v) if v and v not in ("none", "other") else None
            return sflow_mac_to_apic(str(r.get(f"{side}_mac", "")))

        addrs = sorted({k for r in rows for s in ("src", "dst") if (k := key(r, s))})
        names = await queries.endpoint_names(addrs, win)
        for r in rows:
            for side in ("src", "dst"):
                k = key(r, side)
                if k and k in names:
                    r[f"{side}_endpoint"] = {"addr": k, **{n: str(v) for n, v in names[k].items()}}
    return rows
