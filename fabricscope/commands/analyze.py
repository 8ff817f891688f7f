"""`fabricscope analyze`: the analyzer scheduler process (stage: CLI wiring).

Flags mirror the settings (FABRICSCOPE_INFLUX_*, _FABRIC). `--once` runs every analyzer once and
exits (tests, demo, cron); otherwise APScheduler runs each analyzer on its own interval until
SIGINT/SIGTERM, then the writer is flushed and closed. Every run also writes the analyzer's health
to `fabricscope_stats` (process=analyzers) through the same writer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

from fabricscope.settings import Settings, load_settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("analyze", help="run the analyzers (move cause, traffic)")
    p.add_argument("--influx-url")
    p.add_argument("--influx-token")
    p.add_argument("--influx-org")
    p.add_argument("--influx-bucket")
    p.add_argument("--fabric", help="fabric name tag")
    p.add_argument("--once", action="store_true", help="run every analyzer once and exit")
    p.add_argument("--move-interval", type=float, default=60.0, help="move_cause period (s)")
    p.add_argument("--traffic-interval", type=int, default=60,
                   help="traffic period and aggregation interval (s)")  # fmt: skip
    p.add_argument("--reanalyse-window", type=float, default=600.0,
                   help="re-examine moves this many seconds old (late data)")  # fmt: skip
    p.add_argument("--stdout", action="store_true", help="print findings, do not write them")
    p.set_defaults(handler=run_analyze)


def build_analyzers(
    settings: Settings, sink: Any, args: argparse.Namespace
) -> tuple[Any, list[tuple[Any, float]]]:
    """(query client, [(analyzer, interval_s)]) for these settings."""
    from analyzers.move_cause import MoveCauseAnalyzer, MoveCauseConfig
    from analyzers.traffic import TrafficAnalyzer, TrafficConfig
    from influx.query import InfluxQuery

    q = InfluxQuery(
        settings.influx_url,
        settings.influx_token.get_secret_value(),
        settings.influx_bucket,
        org=settings.influx_org,  # InfluxDB 2.x deletes superseded findings via /api/v2/delete
    )
    move = MoveCauseAnalyzer(
        q, sink, MoveCauseConfig(fabric=settings.fabric, reanalyse_window_s=args.reanalyse_window)
    )
    traffic = TrafficAnalyzer(
        q, sink, TrafficConfig(fabric=settings.fabric, interval_s=args.traffic_interval)
    )
    return q, [(move, float(args.move_interval)), (traffic, float(args.traffic_interval))]


def run_analyze(args: argparse.Namespace) -> int:
    from analyzers.scheduler import run_all_once, run_forever
    from fabricscope.wiring import StdoutSink, make_writer, resolve_influx_url

    settings = resolve_influx_url(
        load_settings(
            influx_url=args.influx_url, influx_token=args.influx_token,
            influx_org=args.influx_org, influx_bucket=args.influx_bucket, fabric=args.fabric,
        )
    )  # fmt: skip
    sink: Any = StdoutSink() if args.stdout else make_writer(settings, name="analyze")
    q, jobs = build_analyzers(settings, sink, args)

    async def main() -> int:
        if args.once:
            return 1 if await run_all_once([a for a, _ in jobs]) else 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await run_forever(jobs, stop)
        return 0

    try:
        return asyncio.run(main())
    finally:
        q.close()
        sink.close()  # flushes the writer: findings of the last run are not lost
