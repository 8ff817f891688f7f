"""The `fabricscope` command line: one sub-command group per process (ARCHITECTURE.md)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Each module registers its own sub-commands; imports stay lazy so `fabricscope --help` is fast
# and a missing optional dependency of one process cannot break another.
COMMAND_MODULES = (
    "fabricscope.commands.demo",
    "fabricscope.commands.sflow",
    "fabricscope.commands.apic",
    "fabricscope.commands.analyze",
    "fabricscope.commands.serve",
    "fabricscope.commands.sim",
    "fabricscope.commands.influxdb",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabricscope",
        description="sFlow collector, APIC endpoint tracker and move analyzers on InfluxDB.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from fabricscope.logsetup import quiet_library_loggers

    quiet_library_loggers(args.verbose)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
