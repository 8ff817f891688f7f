"""Simulated clock for the fabric simulator (stage: simulators — time source + timer wheel).

The fabric model never reads the wall clock directly: every timestamp (createTs/modTs, aging,
rogue hold, scenario steps) comes from a :class:`SimClock` so that tests can jump hours ahead
instantly and a demo can run faster than real time.

Two modes:

* manual (``speed=None``, the default for tests): time only moves when :meth:`SimClock.advance`
  is called; due timers fire inside ``advance`` in time order, each seeing ``now()`` equal to its
  own due time.
* live (``speed=1.0`` or any factor): ``now()`` follows the wall clock multiplied by ``speed``.
  Somebody must call :meth:`SimClock.run_due` periodically (``start_ticker`` runs a daemon thread
  for that); ``advance`` still works and jumps ahead.

Timers are one-shot callbacks ``fn()`` scheduled with :meth:`call_at` / :meth:`call_later`; they
run with the clock's lock *not* held (callbacks take the fabric lock themselves).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# 2024-01-01T00:00:00Z: a fixed epoch keeps manual-mode timestamps deterministic per seed.
DEFAULT_START = 1_704_067_200.0


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    fn: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class TimerHandle:
    """Returned by :meth:`SimClock.call_at`; ``cancel()`` prevents the callback from running."""

    __slots__ = ("_timer",)

    def __init__(self, timer: _Timer) -> None:
        self._timer = timer

    @property
    def due(self) -> float:
        return self._timer.due

    def cancel(self) -> None:
        self._timer.cancelled = True


class SimClock:
    """Adjustable simulated clock with a timer heap. Thread-safe."""

    def __init__(self, start: float = DEFAULT_START, speed: float | None = None) -> None:
        self._lock = threading.RLock()
        self._base = start
        self._offset = 0.0
        self._speed = speed
        self._mono0 = time.monotonic()
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._override: float | None = None  # pinned "now" while a timer callback runs
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def live(self) -> bool:
        return self._speed is not None

    def now(self) -> float:
        """Current simulated epoch seconds."""
        with self._lock:
            if self._override is not None:
                return self._override
            return self._raw_now()

    def _raw_now(self) -> float:
        t = self._base + self._offset
        if self._speed is not None:
            t += (time.monotonic() - self._mono0) * self._speed
        return t

    def set_speed(self, speed: float | None) -> None:
        """Change the speed factor without a jump in simulated time."""
        with self._lock:
            now = self._raw_now()
            self._speed = speed
            self._mono0 = time.monotonic()
            self._base, self._offset = now, 0.0

    def call_at(self, due: float, fn: Callable[[], None]) -> TimerHandle:
        with self._lock:
            timer = _Timer(due, next(self._seq), fn)
            heapq.heappush(self._timers, timer)
            return TimerHandle(timer)

    def call_later(self, delay: float, fn: Callable[[], None]) -> TimerHandle:
        return self.call_at(self.now() + delay, fn)

    def pending(self) -> int:
        with self._lock:
            return sum(1 for t in self._timers if not t.cancelled)

    def next_due(self) -> float | None:
        with self._lock:
            for t in sorted(self._timers):
                if not t.cancelled:
                    return t.due
            return None

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward, firing every timer that falls due on the way, in order."""
        if seconds < 0:
            raise ValueError("the simulated clock cannot go backwards")
        with self._lock:
            target = self._raw_now() + seconds
        self._fire_until(target)
        with self._lock:
            # Timers may themselves have advanced nothing; land exactly on the target.
            self._offset += max(0.0, target - self._raw_now())

    def run_due(self) -> int:
        """Fire timers due at the current time (live mode ticker). Returns how many ran."""
        with self._lock:
            target = self._raw_now()
        return self._fire_until(target)

    def _fire_until(self, target: float) -> int:
        fired = 0
        while True:
            with self._lock:
                if not self._timers or self._timers[0].due > target:
                    break
                timer = heapq.heappop(self._timers)
                if timer.cancelled:
                    continue
                # Pin now() to the timer's due time so its events carry the right timestamps;
                # in manual mode also move the clock there.
                if self._speed is None and timer.due > self._raw_now():
                    self._offset += timer.due - self._raw_now()
                self._override = max(timer.due, self._raw_now()) if self._speed is None else None
            try:
                timer.fn()
            finally:
                with self._lock:
                    self._override = None
            fired += 1
        return fired

    def start_ticker(self, interval: float = 0.05) -> None:
        """Start a daemon thread calling :meth:`run_due` every ``interval`` real seconds."""
        if self._ticker is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.run_due()

        self._ticker = threading.Thread(target=loop, name="simclock-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self._ticker = None
