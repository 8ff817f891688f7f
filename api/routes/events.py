"""Moves, anomalies and move analyses: paged, newest first."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AddrQuery, PageDep, QueriesDep, WindowDep
from api.routes.endpoints import normalize_addr, paged
from api.schemas import Anomaly, Move, MoveAnalysis, Paged

router = APIRouter(tags=["events"])


class AnomalyKind(StrEnum):
    """The kinds the APIC tracker writes (collector/apic/tracker.py)."""

    rapid = "rapid"
    offsubnet = "offsubnet"
    stale = "stale"
    rogue = "rogue"
    duplicate_ip = "duplicate_ip"
    loop = "loop"


@router.get("/moves", response_model=Paged[Move])
async def moves(queries: QueriesDep, win: WindowDep, page: PageDep, addr: AddrQuery = None) -> Any:
    a = normalize_addr(addr) if addr else None
    return paged(await queries.moves(win, a, page.limit, page.offset), page.limit, page.offset)


@router.get("/anomalies", response_model=Paged[Anomaly])
async def anomalies(
    queries: QueriesDep,
    win: WindowDep,
    page: PageDep,
    kind: Annotated[AnomalyKind | None, Query(description="anomaly kind")] = None,
    addr: AddrQuery = None,
) -> Any:
    a = normalize_addr(addr) if addr else None
    k = kind.value if kind else None
    rows = await queries.anomalies(win, k, a, page.limit, page.offset)
    return paged(rows, page.limit, page.offset)


@router.get("/analysis/moves", response_model=Paged[MoveAnalysis])
async def analysis_moves(
    queries: QueriesDep,
    win: WindowDep,
    page: PageDep,
    addr: AddrQuery = None,
    cause: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Any:
    a = normalize_addr(addr) if addr else None
    rows = await queries.move_analysis(win, a, cause, page.limit, page.offset)
    return paged(rows, page.limit, page.offset)
