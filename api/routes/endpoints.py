"""Endpoint search and per-endpoint history (APIC `apic_endpoint_event` / `_move`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import PageDep, QueriesDep, WindowDep, invalid
from api.schemas import EndpointSearch, HistoryItem, Paged
from fabricscope import macs
from influx.reads import SEARCH_MAX_ADDRS, classify_search

router = APIRouter(tags=["endpoints"])

AddrPath = Annotated[str, Path(min_length=1, max_length=128, description="MAC or IP address")]


def normalize_addr(addr: str) -> str:
    """MACs in any spelling → APIC form; anything else is matched exactly (and quoted)."""
    return macs.to_apic(addr) or addr.strip()


@router.get("/endpoints", response_model=EndpointSearch)
async def search_endpoints(
    queries: QueriesDep,
    win: WindowDep,
    q: Annotated[str, Query(max_length=64, description="MAC, IP, CIDR or address prefix")],
    limit: Annotated[int, Query(ge=1, le=SEARCH_MAX_ADDRS, description="max endpoints")] = 50,
) -> Any:
    try:
        aq = classify_search(q)
    except ValueError as exc:
        raise invalid("q", str(exc)) from None
    addrs = await queries.search_addrs(aq, win)
    items = await queries.endpoint_states(addrs[:limit], win)
    return {"query": q, "match": aq.kind, "items": items, "truncated": len(addrs) > limit}


@router.get("/endpoints/{addr:path}/history", response_model=Paged[HistoryItem])
async def endpoint_history(
    queries: QueriesDep, win: WindowDep, page: PageDep, addr: AddrPath
) -> Any:
    items = await queries.history(normalize_addr(addr), win, page.limit, page.offset)
    return paged(items, page.limit, page.offset)


def paged(items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    return {
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(items) == limit else None,
    }
