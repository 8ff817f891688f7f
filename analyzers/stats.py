"""Analyzer stage: each analyzer's own health, written to `fabricscope_stats` after every run.

Tags `process=analyzers` (the tag the collector and poller use for the same purpose, and what
`GET /api/v1/health` groups by), `instance` (`<hostname>-<pid>`, as the collector's, so two
analyzer processes never merge into one series), `analyzer` (its name) and `fabric`. Counters are
cumulative since the process started, like every other `fabricscope_stats` counter
(docs/measurements.md), so a restart shows as a reset that `non_negative_difference` ignores.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from influx.line_protocol import FieldValue, encode_line

MAX_ERROR_CHARS = 300


def process_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class AnalyzerStats:
    """Run bookkeeping (kept by `analyzers.scheduler.run_analyzer`) plus the analyzer's own work
    counters in `work`, all zero from the start so every field exists from the first point."""

    analyzer: str
    fabric: str
    work: dict[str, int] = field(default_factory=dict)
    instance: str = field(default_factory=process_instance)
    runs: int = 0
    failures: int = 0
    last_success: bool = False
    last_duration_ms: float = 0.0
    last_error: str = ""

    def count(self, name: str, n: int = 1) -> None:
        self.work[name] = self.work.get(name, 0) + n

    def record(self, ok: bool, duration_s: float, error: BaseException | None = None) -> None:
        self.runs += 1
        self.last_success = ok
        self.last_duration_ms = duration_s * 1000.0
        if not ok:
            self.failures += 1
            text = f"{type(error).__name__}: {error}" if error is not None else "failed"
            self.last_error = text[:MAX_ERROR_CHARS]

    def line(
        self,
        time_ns: int,
        interval_s: float | None = None,
        extra: Mapping[str, FieldValue] | None = None,
    ) -> str | None:
        """The point; `extra` adds the process writer's counters (scheduler.run_analyzer)."""
        fields: dict[str, FieldValue | None] = {
            "runs": self.runs,
            "failures": self.failures,
            "last_success": self.last_success,
            # Always a float (one type per field for life), rounded to the microsecond.
            "last_duration_ms": round(float(self.last_duration_ms), 3),
            **self.work,
            "interval_s": float(interval_s) if interval_s else None,
            "last_error": self.last_error or None,
        }
        for k, v in (extra or {}).items():
            fields.setdefault(k, v)  # never let a writer counter shadow the analyzer's own
        tags = {"process": "analyzers", "instance": self.instance, "analyzer": self.analyzer,
                "fabric": self.fabric}  # fmt: skip
        return encode_line("fabricscope_stats", tags, fields, time_ns)
