"""`fabricscope demo`: the whole stack on this machine, simulators included."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fabricscope.settings import load_settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run everything locally: InfluxDB, simulators, collector, poller, analyzers, API/UI",
    )
    p.add_argument("--state-dir", default=None, help="logs, spool and the managed InfluxDB data")
    p.add_argument("--sflow-port", type=int, default=6343)
    p.add_argument("--apic-port", type=int, default=8443)
    p.add_argument("--influx-port", type=int, default=8086, help="managed InfluxDB port")
    p.add_argument("--api-listen", default=None, help="FABRICSCOPE_API_LISTEN (127.0.0.1:8080)")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per second (default 1; above 1 the APIC's event times run ahead "
        "of the sFlow receive times, so move analysis is only meaningful at 1)",
    )
    p.add_argument(
        "--scenarios",
        default="all",
        help="comma list of fabric scenarios to repeat, or 'all' (default)",
    )
    p.add_argument(
        "--repeat", type=float, default=30.0, help="start the next scenario every N seconds"
    )
    p.add_argument(
        "--sflow-interval", type=float, default=10.0, help="sFlow counter polling interval (s)"
    )
    p.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from fabricscope.demo import Demo

    settings = load_settings(api_listen=args.api_listen)
    state = (
        Path(args.state_dir)
        if args.state_dir
        else Path(settings.state_dir or Path.home() / ".local" / "state" / "fabricscope") / "demo"
    )
    demo = Demo(
        settings,
        state_dir=state.expanduser(),
        sflow_port=args.sflow_port,
        apic_port=args.apic_port,
        api_listen=settings.api_listen,
        influx_port=args.influx_port,
        duration_s=args.duration,
        speed=args.speed,
        scenarios=args.scenarios,
        repeat_s=args.repeat,
        sflow_interval_s=args.sflow_interval,
    )
    return demo.run()
