"""CLI stage: `fabricscope influxdb start|stop|status` for the managed local InfluxDB 1.8.10."""

from __future__ import annotations

import argparse
import sys

from fabricscope.influxdb_local import DEFAULT_PORT, InfluxDBLocalError, LocalInfluxDB


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "influxdb",
        help="managed local InfluxDB 1.8.10 (used by demo and tests)",
        description="Build (when missing), start, stop or query the managed local influxd.",
    )
    actions = parser.add_subparsers(dest="influxdb_action", metavar="ACTION", required=True)
    for name, helptext in (
        ("start", "start in the background; returns once /ping answers"),
        ("stop", "stop and wait until it has exited"),
        ("status", "print the base URL (exit 0) or 'not running' (exit 1)"),
    ):
        p = actions.add_parser(name, help=helptext)
        p.add_argument(
            "--state-dir",
            default=None,
            help="config, data, pid and log files (default: $FABRICSCOPE_STATE_DIR/influxdb or "
            "~/.local/state/fabricscope/influxdb)",
        )
        if name == "start":
            p.add_argument("--port", type=int, default=DEFAULT_PORT, help="loopback HTTP port")
            p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for /ping")
        p.set_defaults(handler=_HANDLERS[name])


def _db(args: argparse.Namespace) -> LocalInfluxDB:
    return LocalInfluxDB(args.state_dir, getattr(args, "port", DEFAULT_PORT))


def _start(args: argparse.Namespace) -> int:
    try:
        url = _db(args).start(timeout_s=args.timeout)
    except InfluxDBLocalError as exc:
        sys.stderr.write(f"fabricscope influxdb start: {exc}\n")
        return 1
    sys.stdout.write(f"{url}\n")
    return 0


def _stop(args: argparse.Namespace) -> int:
    db = _db(args)
    try:
        stopped = db.stop()
    except InfluxDBLocalError as exc:
        sys.stderr.write(f"fabricscope influxdb stop: {exc}\n")
        return 1
    sys.stdout.write("stopped\n" if stopped else "not running\n")
    return 0


def _status(args: argparse.Namespace) -> int:
    db = _db(args)
    if db.running():
        sys.stdout.write(f"{db.url}\n")
        return 0
    sys.stdout.write("not running\n")
    return 1


_HANDLERS = {"start": _start, "stop": _stop, "status": _status}
