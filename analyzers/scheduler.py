"""Analyzer stage: the scheduler — one APScheduler job per analyzer.

`AsyncIOScheduler` with coalesce=True (a backlog of missed runs becomes one run), max_instances=1
(a slow run never overlaps itself) and misfire_grace_time=30 s. It must be started inside the
running event loop. Analyzers are synchronous (blocking InfluxQL over HTTP), so each job runs
its analyzer in a worker thread and the loop stays responsive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


class Analyzer(Protocol):
    name: str

    def run_once(self, now_ns: int | None = None) -> Any: ...


async def run_analyzer(analyzer: Analyzer) -> bool:
    """One run in a thread; errors are logged, never raised into the scheduler (the next run
    simply tries again). Returns whether it succeeded."""
    try:
        await asyncio.to_thread(analyzer.run_once)
    except Exception:  # noqa: BLE001 - a failed run must not stop the schedule
        log.exception("analyzer %s failed", analyzer.name)
        return False
    return True


def build_scheduler(
    analyzers: Sequence[tuple[Analyzer, float]], *, start_now: bool = True
) -> AsyncIOScheduler:
    """A scheduler with one interval job per (analyzer, interval_s); not started."""
    sched = AsyncIOScheduler(job_defaults=dict(JOB_DEFAULTS), timezone=UTC)
    for analyzer, interval_s in analyzers:
        extra: dict[str, Any] = {}
        if start_now:
            # First run right away; passing None instead would add the job *paused*.
            extra["next_run_time"] = datetime.now(UTC)
        sched.add_job(
            run_analyzer,
            "interval",
            args=[analyzer],
            seconds=interval_s,
            id=analyzer.name,
            name=analyzer.name,
            **extra,
        )
    return sched


async def run_all_once(analyzers: Sequence[Analyzer]) -> int:
    """`--once`: every analyzer once, in order; the number that failed."""
    failed = 0
    for a in analyzers:
        if not await run_analyzer(a):
            failed += 1
    return failed


async def run_forever(analyzers: Sequence[tuple[Analyzer, float]], stop: asyncio.Event) -> None:
    """Start the scheduler in this loop and run until `stop` is set."""
    sched = build_scheduler(analyzers)
    sched.start()
    try:
        await stop.wait()
    finally:
        sched.shutdown(wait=False)
