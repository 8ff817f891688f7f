"""Moves, anomalies and move analyses: paged, newest first."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query

from analyzers.causes import CAUSE_NAMES
from api.deps import AddrQuery, PageDep, QueriesDep, WindowDep
from api.routes.endpoints import normalize_addr, paged
from api.schemas import Anomaly, Move, MoveAnalysis, Paged
from collector.apic.anomaly_kinds import ANOMALY_KINDS

router = APIRouter(tags=["events"])


# The kinds the APIC tracker writes, from their one list (collector/apic/anomaly_kinds.py).
AnomalyKind = StrEnum("AnomalyKind", {k: k for k in ANOMALY_KINDS})  # type: ignore[misc]
# The causes the move-cause analyzer names, from its registry (analyzers/causes/).
CauseName = StrEnum("CauseName", {c: c for c in CAUSE_NAMES})  # type: ignore[misc]


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
    cause: Annotated[CauseName | None, Query(description="move cause")] = None,
) -> Any:
    a = normalize_addr(addr) if addr else None
    c = cause.value if cause else None
    rows = await queries.move_analysis(win, a, c, page.limit, page.offset)
    return paged(rows, page.limit, page.offset)
