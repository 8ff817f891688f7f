"""Logging policy shared by every process (orchestration stage).

The product logs what it does at INFO; the libraries under it do not get to: httpx and httpcore
log every HTTP request at INFO (12,841 lines in 5 minutes of demo analyzers, issue #12),
APScheduler every job start and end. They go at WARNING unless `-v` asks for everything.
"""

from __future__ import annotations

import logging

LIBRARY_LOGGERS = ("httpx", "httpcore", "apscheduler", "urllib3", "influxdb_client", "websockets")


def quiet_library_loggers(verbose: bool) -> None:
    """Library loggers at WARNING (their warnings and errors still show); all at DEBUG with -v."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
