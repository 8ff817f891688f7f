"""The `fabricscope` command line: one sub-command group per process (ARCHITECTURE.md)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from fabricscope.errors import UserError

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


def _version() -> str:
    """The installed distribution's version, else the source tree's."""
    from importlib.metadata import PackageNotFoundError, version

    from fabricscope import __version__

    try:
        return version("fabricscope")
    except PackageNotFoundError:
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabricscope",
        description="sFlow collector, APIC endpoint tracker and move analyzers on InfluxDB.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging, tracebacks on errors"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
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
    except UserError as exc:
        # One line that names the thing and what to do; the traceback only with -v.
        if args.verbose:
            logging.getLogger("fabricscope").exception("error")
        sys.stderr.write(f"fabricscope: error: {exc}\n")
        return exc.code
    except Exception as exc:
        if args.verbose:
            raise
        sys.stderr.write(
            f"fabricscope: error: {type(exc).__name__}: {exc} (run with -v for the traceback)\n"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
