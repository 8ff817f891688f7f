"""The seam between producers of line protocol and the writer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class LineSink(Protocol):
    """Accepts encoded lines (no trailing newline). Must never block the caller for long:
    a full queue spools or drops and counts, it does not push back on a UDP receive loop."""

    def write_lines(self, lines: Sequence[str]) -> None: ...


class ListSink:
    """Collects lines in memory (tests, `sflow decode --format lp`)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_lines(self, lines: Sequence[str]) -> None:
        self.lines.extend(lines)
