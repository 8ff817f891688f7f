"""`fabricscope apic poll`: the APIC endpoint poller process (stage: CLI wiring).

Flags mirror the settings (FABRICSCOPE_APIC_URLS, _APIC_USERNAME, _APIC_PASSWORD, _APIC_VERIFY_TLS,
_FABRIC, _INFLUX_*, _NOTIFY_*). Output goes to a sink built by ``sink_factory(settings)``: the
lead plugs the BatchingWriter in there; ``--stdout`` prints line protocol instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fabricscope.settings import Settings, load_settings
from influx.sink import LineSink

log = logging.getLogger(__name__)

SinkFactory = Callable[[Settings], LineSink]


def _writer(settings: Settings) -> LineSink:
    from fabricscope.wiring import make_writer

    sink: LineSink = make_writer(settings, name="poller")
    return sink


# The batching, retrying, spooling writer (influx/writer.py); tests may swap it.
sink_factory: SinkFactory | None = _writer


class StdoutSink:
    """Line protocol on stdout, one line each (``--stdout``; pipes into `influx write`)."""

    def write_lines(self, lines: Sequence[str]) -> None:
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("apic", help="APIC endpoint poller")
    sub = p.add_subparsers(dest="apic_command", metavar="SUBCOMMAND")
    poll = sub.add_parser("poll", help="follow the APIC endpoint tables and write line protocol")
    poll.add_argument("--apic-urls", help="comma-separated APIC URLs, tried in order")
    poll.add_argument("--username", dest="apic_username")
    poll.add_argument("--password", dest="apic_password", help="prefer FABRICSCOPE_APIC_PASSWORD")
    poll.add_argument(
        "--no-verify-tls",
        dest="apic_verify_tls",
        action="store_const",
        const=False,
        default=None,
        help="accept self-signed APIC certificates",
    )
    poll.add_argument("--fabric", help="fabric name tag")
    poll.add_argument("--influx-url")
    poll.add_argument("--influx-token")
    poll.add_argument("--influx-org")
    poll.add_argument("--influx-bucket")
    poll.add_argument("--stdout", action="store_true", help="print line protocol, no InfluxDB")
    poll.add_argument("--notify-syslog", help="host:port for RFC 5424 syslog over UDP")
    poll.add_argument("--notify-webhook", help="URL for JSON POSTs")
    poll.add_argument("--notify-kinds", help="comma list: move,rapid,rogue,offsubnet,stale,...")
    poll.add_argument("--page-size", type=int, default=10000)
    poll.add_argument(
        "--refresh-timeout", type=int, default=60, help="subscription refresh-timeout asked for (s)"
    )
    poll.add_argument(
        "--build-concurrency",
        type=int,
        default=4,
        help="node-scoped epm queries in flight during a build (default 4; mind APIC throttling)",
    )
    poll.add_argument(
        "--probe-interval",
        type=float,
        default=15.0,
        help="liveness probe: APIC's newest endpoint change vs the websocket, every N s (0: off)",
    )
    poll.add_argument(
        "--max-queue-mib",
        type=float,
        default=128.0,
        help="event backlog bound; past it the poller says so and resyncs once (default 128)",
    )
    poll.add_argument("--rapid-threshold", type=int, default=None, help="events/min")
    poll.add_argument("--rogue-factor", type=int, default=None)
    poll.add_argument("--rogue-interval", type=float, default=None)
    poll.set_defaults(handler=run_poll)

    def _help(_args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=_help)


# Poller states in which the APIC is not answering (a long build or resync is still "up").
APIC_DOWN_STATES = frozenset({"connecting", "backoff"})


def apic_probe(poller: Any) -> tuple[str, bool, str]:
    """The poller's APIC connection for its health file (fabricscope/health.py)."""
    state = str(poller.state)
    if state in APIC_DOWN_STATES:
        return "apic", False, f"{state}: {poller.stats.last_failure or 'no answer yet'}"
    return "apic", True, state


def run_poll(args: argparse.Namespace) -> int:
    from collector.apic.client import ApicClient
    from collector.apic.notify import Notifier, NotifySettings
    from collector.apic.poller import ApicPoller, PollerConfig
    from collector.apic.tracker import TrackerConfig
    from fabricscope.wiring import health_reporters

    settings = load_settings(
        apic_urls=args.apic_urls,
        apic_username=args.apic_username,
        apic_password=args.apic_password,
        apic_verify_tls=args.apic_verify_tls,
        fabric=args.fabric,
        influx_url=args.influx_url,
        influx_token=args.influx_token,
        influx_org=args.influx_org,
        influx_bucket=args.influx_bucket,
    )
    if not settings.apic_urls:
        log.error("no APIC configured: set FABRICSCOPE_APIC_URLS or --apic-urls")
        return 2
    if args.stdout:
        sink: LineSink = StdoutSink()
    elif sink_factory is not None:
        sink = sink_factory(settings)
    else:
        log.error("no InfluxDB writer available in this build; use --stdout")
        return 2
    notify_over = {
        k: v
        for k, v in {
            "notify_syslog": args.notify_syslog,
            "notify_webhook": args.notify_webhook,
            "notify_kinds": args.notify_kinds,
        }.items()
        if v is not None
    }
    notifier = Notifier(NotifySettings(**notify_over))
    tcfg = TrackerConfig()
    if args.rapid_threshold:
        tcfg.rapid_threshold = args.rapid_threshold
    if args.rogue_factor:
        tcfg.rogue_factor = args.rogue_factor
    if args.rogue_interval:
        tcfg.rogue_interval_s = args.rogue_interval
    client = ApicClient(
        settings.apic_urls.split(","),
        settings.apic_username,
        settings.apic_password.get_secret_value(),
        verify_tls=settings.apic_verify_tls,
        page_size=args.page_size,
    )
    poller = ApicPoller(
        client,
        sink,
        PollerConfig(
            fabric=settings.fabric,
            refresh_timeout_s=args.refresh_timeout,
            build_concurrency=max(1, args.build_concurrency),
            probe_s=max(0.0, args.probe_interval),
            max_queue_mib=max(1.0, args.max_queue_mib),
        ),
        tcfg,
        notifier if notifier.settings.enabled else None,
    )

    reporter = health_reporters.get("poller")
    if reporter is not None:
        reporter.add_probe(lambda: apic_probe(poller))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await poller.run(stop)
        finally:
            await client.aclose()
            notifier.close()
            close = getattr(sink, "close", None)
            if callable(close):
                close()

    asyncio.run(main())
    return 0
