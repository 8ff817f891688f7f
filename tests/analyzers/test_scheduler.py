"""Scheduler: jobs and their defaults, run health reporting; `fabricscope analyze --once` end
to end."""

from __future__ import annotations

import asyncio
import time

import httpx

from analyzers.scheduler import build_scheduler, run_all_once, run_analyzer, run_forever
from analyzers.stats import AnalyzerStats
from fabricscope.cli import main
from influx.line_protocol import encode_line
from influx.sink import ListSink


class Counting:
    """The smallest thing the scheduler runs: counts calls, may fail, reports through a sink."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.calls = 0
        self.fail = fail
        self.sink = ListSink()
        self.stats = AnalyzerStats(name, "fab9")
        self.clock = time.time

    def run_once(self, now_ns: int | None = None) -> None:
        self.calls += 1
        if self.fail:
            raise RuntimeError("boom")


async def test_jobs_registered_with_defaults():
    a, b = Counting("move_cause"), Counting("traffic")
    sched = build_scheduler([(a, 60.0), (b, 30.0)])
    sched.start()  # inside the running loop, as AsyncIOScheduler needs
    try:
        jobs = {j.id: j for j in sched.get_jobs()}
        assert set(jobs) == {"move_cause", "traffic"}
        for j in jobs.values():
            assert j.coalesce is True
            assert j.max_instances == 1
            assert j.misfire_grace_time == 30
            assert j.next_run_time is not None  # not paused
        assert jobs["traffic"].trigger.interval.total_seconds() == 30
    finally:
        sched.shutdown(wait=False)


async def test_run_forever_runs_jobs_and_survives_failures():
    ok, bad = Counting("ok"), Counting("bad", fail=True)
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever([(ok, 3600.0), (bad, 3600.0)], stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if ok.calls and bad.calls:
            break
    stop.set()
    await task
    assert ok.calls == 1 and bad.calls == 1
    # Each run reported its health with the job's interval, failed or not.
    [good_line] = ok.sink.lines
    assert good_line.startswith("fabricscope_stats,analyzer=ok,fabric=fab9,instance=")
    assert ",process=analyzers " in good_line
    assert "points_written" not in good_line  # a ListSink keeps no writer counters
    assert "runs=1i,failures=0i,last_success=true," in good_line
    assert "interval_s=3600.0" in good_line
    [bad_line] = bad.sink.lines
    assert "runs=1i,failures=1i,last_success=false," in bad_line
    assert 'last_error="RuntimeError: boom"' in bad_line


async def test_run_all_once_counts_failures():
    a, b = Counting("a"), Counting("b", fail=True)
    assert await run_all_once([a, b]) == 1
    assert (a.stats.runs, a.stats.failures, b.stats.runs, b.stats.failures) == (1, 0, 1, 1)
    assert "interval_s" not in a.sink.lines[0]  # --once: not on a schedule


async def test_a_broken_sink_does_not_stop_the_schedule():
    class Broken:
        def write_lines(self, lines):
            raise OSError("disk full")

    a = Counting("a")
    a.sink = Broken()  # type: ignore[assignment]
    assert await run_analyzer(a) is True and a.stats.runs == 1


def test_cli_once_writes_findings(influxdb, influx_db, tmp_path, monkeypatch):
    monkeypatch.setenv("FABRICSCOPE_SPOOL_DIR", str(tmp_path))
    t = (int(time.time()) - 30) * 1_000_000_000
    line = encode_line(
        "apic_endpoint_move",
        {"fabric": "fab9", "addr": "00:50:56:AA:BB:09", "addr_type": "mac"},
        {
            "from_node": "101",
            "from_interface": "eth1/1",
            "to_node": "102",
            "to_interface": "eth1/2",
            "bd": "t1/bd1",
        },
        t,
    )
    r = httpx.post(f"{influxdb.url}/write", params={"db": influx_db}, content=line)
    assert r.status_code == 204
    rc = main(
        [
            "analyze",
            "--once",
            "--influx-url",
            influxdb.url,
            "--influx-bucket",
            influx_db,
            "--fabric",
            "fab9",
        ]
    )
    assert rc == 0
    rows = influxdb.rows(
        'SELECT "confidence", "evidence" FROM "move_analysis" GROUP BY "addr", "cause"', influx_db
    )
    assert len(rows) == 1 and rows[0][0] == t
    # Both analyzers reported their run through the process's writer.
    res = influxdb.query(
        'SELECT last("runs"), last("failures"), last("last_success") FROM "fabricscope_stats" '
        'WHERE "process" = \'analyzers\' GROUP BY "analyzer", "fabric"',
        influx_db,
    )["results"][0]
    got = {(s["tags"]["analyzer"], s["tags"]["fabric"]): s["values"][0][1:] for s in res["series"]}
    assert got == {("move_cause", "fab9"): [1, 0, True], ("traffic", "fab9"): [1, 0, True]}


class Slow(Counting):
    """A run that takes ~forever unless told to stop (checks its flag like MoveCauseAnalyzer)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        import threading

        self._stop = threading.Event()
        self.started = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self, now_ns: int | None = None) -> None:
        from analyzers.move_cause import Stopped

        self.calls += 1
        self.started.set()
        for _ in range(6000):  # 60 s of "queries"
            if self._stop.is_set():
                raise Stopped("stop")
            time.sleep(0.01)


async def test_stop_mid_run_returns_fast_without_traceback(caplog):
    slow = Slow("move_cause")
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever([(slow, 3600.0)], stop))
    for _ in range(200):
        await asyncio.sleep(0.02)
        if slow.started.is_set():
            break
    assert slow.started.is_set()
    stop.set()
    # The run would last 60 s unless stopped mid-way; shutdown waits for it (a generous bound,
    # not a timing assertion).
    await asyncio.wait_for(task, 30.0)
    assert slow.calls == 1
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
