"""Orchestration: build the writer and sinks a process needs from Settings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from fabricscope.errors import UserError, check_influx_url
from fabricscope.settings import Settings


class StdoutSink:
    """Prints line protocol (`--stdout`): debugging a collector without a database."""

    def write_lines(self, lines: Sequence[str]) -> None:
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()

    def close(self, timeout: float = 0.0) -> None:
        del timeout
        sys.stdout.flush()

    def stats(self) -> dict[str, int | float | str]:
        return {}


def resolve_influx_url(settings: Settings) -> Settings:
    """An empty FABRICSCOPE_INFLUX_URL means the managed local InfluxDB, which must be running.
    A malformed URL is refused here, naming it, rather than retried forever by a writer."""
    if settings.influx_url:
        check_influx_url(settings.influx_url)
        return settings
    from fabricscope.influxdb_local import LocalInfluxDB

    local = LocalInfluxDB(None)
    if not local.running():
        raise UserError(
            "no InfluxDB: set FABRICSCOPE_INFLUX_URL or run `fabricscope influxdb start` first"
        )
    return settings.model_copy(update={"influx_url": local.url})


def make_writer(settings: Settings, *, name: str, **overrides: Any) -> Any:
    """The batching, retrying, spooling writer for one process (`name` picks its spool dir and
    its health file, `<state dir>/health/<name>.json`, which container health checks read)."""
    from fabricscope.health import HealthReporter, health_dir
    from influx.writer import BatchingWriter

    writer = BatchingWriter.from_settings(resolve_influx_url(settings), name=name, **overrides)
    reporter = HealthReporter(health_dir(settings.state_dir) / f"{name}.json", writer)
    health_reporters[name] = reporter.start()
    return writer


# The health file reporter (fabricscope.health.HealthReporter) of each writer made in this
# process, by writer name: a process adds its own probes to it (the poller: its APIC
# connection, fabricscope/commands/apic.py).
health_reporters: dict[str, Any] = {}
