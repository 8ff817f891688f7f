"""A progress bar for long offline work (`sflow decode`/`replay` of big captures), on stderr.

Drawn only when stderr is a terminal: in a pipe, a log file or CI it writes nothing, so output
that scripts read stays clean. Redrawn at most every `min_interval_s`; `close()` draws the final
state and ends the line.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import BinaryIO, TextIO

WIDTH = 24


class FileProgress:
    """Progress through a list of files by bytes read: finished files plus the position in the
    current one (`opened` is the `on_open` hook of `collector.sflow.pcap.read_many`)."""

    def __init__(
        self,
        label: str,
        paths: Sequence[str],
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        min_interval_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = sum(_size(p) for p in paths)
        self.min_interval_s = min_interval_s
        self.clock = clock
        self.items = 0
        self._done = 0  # bytes of files finished
        self._current: BinaryIO | None = None
        self._current_size = 0
        self._last = -1e18

    def opened(self, f: BinaryIO) -> None:
        if self._current is not None:
            self._done += self._current_size
        self._current = f
        self._current_size = _size_of(f)

    def position(self) -> int:
        pos = 0
        if self._current is not None and not self._current.closed:
            pos = self._current.tell()
        elif self._current is not None:
            pos = self._current_size
        return min(self.total, self._done + pos)

    def step(self, items: int = 1) -> None:
        """Count `items` (e.g. datagrams) and redraw when due."""
        self.items += items
        if self.enabled:
            now = self.clock()
            if now - self._last >= self.min_interval_s:
                self._last = now
                self._draw(self.position())

    def close(self) -> None:
        if self.enabled:
            self._draw(self.total)
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, pos: int) -> None:
        frac = pos / self.total if self.total else 1.0
        bar = "#" * int(frac * WIDTH)
        mb = f"{pos / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        self.stream.write(
            f"\r{self.label} [{bar:<{WIDTH}}] {frac:4.0%}  {mb}  {self.items:,} datagrams"
        )
        self.stream.flush()


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _size_of(f: BinaryIO) -> int:
    try:
        return os.fstat(f.fileno()).st_size
    except (OSError, ValueError):
        return 0
