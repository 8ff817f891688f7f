"""Analyzer stage: the scheduler — one APScheduler job per analyzer.

`AsyncIOScheduler` with coalesce=True (a backlog of missed runs becomes one run), max_instances=1
(a slow run never overlaps itself) and misfire_grace_time=30 s. It must be started inside the
running event loop. Analyzers are synchronous (blocking InfluxQL over HTTP), so each job runs
its analyzer in a worker thread and the loop stays responsive. After every run, successful or
not, the analyzer's health point is written (analyzers/stats.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from analyzers.stats import AnalyzerStats
from influx.sink import LineSink

log = logging.getLogger(__name__)
NS = 1_000_000_000

JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


class Analyzer(Protocol):
    name: str
    sink: LineSink  # where findings go; the run's health point goes the same way
    stats: AnalyzerStats
    clock: Callable[[], float]  # epoch seconds: "now" for the run and for its health point

    def run_once(self, now_ns: int | None = None) -> Any: ...


# Runs in progress (their worker-thread futures): shutdown waits for them, briefly.
_RUNNING: set[asyncio.Future[Any]] = set()
STOP_GRACE_S = 4.0  # SIGTERM → exit within 5 s even mid-run


async def run_analyzer(analyzer: Analyzer, interval_s: float | None = None) -> bool:
    """One run in a thread; errors are logged, never raised into the scheduler (the next run
    simply tries again). Then the run's health (runs, failures, duration, the analyzer's work
    counters) goes to `fabricscope_stats` through the analyzer's own sink. Returns whether the
    run succeeded."""
    from analyzers.move_cause import Stopped

    started = time.perf_counter()
    work_before = dict(analyzer.stats.work)
    error: Exception | None = None
    fut = asyncio.ensure_future(asyncio.to_thread(analyzer.run_once))
    _RUNNING.add(fut)
    try:
        await asyncio.shield(fut)
    except Stopped:
        log.info("analyzer %s: stopped mid-run (nothing written for that run)", analyzer.name)
        return False
    except asyncio.CancelledError:
        # The process is shutting down: the thread was told to stop (`stop_all`); no traceback.
        log.info("analyzer %s: run cancelled at shutdown", analyzer.name)
        return False
    except Exception as exc:  # noqa: BLE001 - a failed run must not stop the schedule
        log.exception("analyzer %s failed", analyzer.name)
        error = exc
    finally:
        _RUNNING.discard(fut)
    analyzer.stats.record(error is None, time.perf_counter() - started, error)
    if error is None:  # one line per run (a failure has its own line, with the traceback)
        log.info("analyzer %s: ok in %.2f s%s", analyzer.name, time.perf_counter() - started,
                 "".join(f", {k} {v - work_before.get(k, 0)}"
                         for k, v in analyzer.stats.work.items()))  # fmt: skip
    try:
        line = analyzer.stats.line(
            int(analyzer.clock() * NS), interval_s, writer_counters(analyzer.sink)
        )
        if line:
            analyzer.sink.write_lines([line])
    except Exception:  # noqa: BLE001 - losing one health point must not stop the schedule either
        log.exception("analyzer %s: could not write its stats", analyzer.name)
    return error is None


def writer_counters(sink: object) -> dict[str, int | float]:
    """The numeric counters of a sink that keeps them — the batching writer's points written,
    spooled and dropped, queue depth… — so the analyzer process's writer is watched like the
    collector's. Every analyzer's point carries the same process-wide values, as of its run."""
    stats = getattr(sink, "stats", None)
    if not callable(stats):
        return {}
    values = stats()
    if not isinstance(values, dict):
        return {}
    return {
        k: v
        for k, v in values.items()
        if isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
    }


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
            args=[analyzer, interval_s],
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
        await stop_all([a for a, _ in analyzers])


async def stop_all(analyzers: Sequence[Analyzer], grace_s: float = STOP_GRACE_S) -> None:
    """Tell every analyzer to stop and wait (at most `grace_s`) for runs in progress: a run
    checks its stop flag between statements and every few hundred moves, so it returns fast."""
    for a in analyzers:
        stop = getattr(a, "stop", None)
        if callable(stop):
            stop()
    running = [f for f in _RUNNING if not f.done()]
    if running:
        done, pending = await asyncio.wait(running, timeout=grace_s)
        for f in done:
            if not f.cancelled():
                f.exception()  # retrieved: no "exception was never retrieved" at exit
        if pending:
            log.warning("%d analyzer run(s) still in a query at shutdown", len(pending))
