"""Fault injection for the simulated APIC (stage: simulators — chaos knobs).

One :class:`FaultInjector` per :class:`~simulators.apic_server.ApicSimulator` (each APIC of a
simulated cluster has its own).  A fault is armed with an optional ``count`` (fire that many
times, then disarm; ``None`` = until cleared) and an optional numeric ``value``.

========================== ===================================================================
name                       effect (reference §2.1-2.3, faults-and-bad-inputs §4)
========================== ===================================================================
token_timeout              next authenticated request: 403 "Token was invalid (Error: Token
                           timeout)"; the session is dropped (its websocket closes)
refresh_fail               ``aaaRefresh`` answers 403 token timeout (session dropped)
subscription_refresh_fail  ``subscriptionRefresh`` answers 400
subscribe_405              ``?subscription=yes`` answers 405 "unable to locate opened web
                           socket" even with a socket open
ws_close                   action: close every open websocket now (server-side close)
ws_silent                  websockets stay open but no frames are delivered
throttle                   503 from "nginx" (HTML body, not JSON) for each request
slow                       delay every REST answer by ``value`` seconds (default 2)
page_churn                 before answering a request for page > 0, move ``value`` (default
                           25) endpoints so objects are inserted/deleted between pages
empty_page                 reply with ``totalCount`` > 0 but an empty ``imdata`` (busy APIC)
login_fail                 ``aaaLogin`` answers 401
========================== ===================================================================

HTTP: ``GET /_sim/faults``; ``POST /_sim/faults`` with ``{"name": ..., "count": n, "value": v}``
or ``POST /_sim/faults/{name}?count=&value=``; ``DELETE /_sim/faults[/{name}]``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from simulators.fabric import SimulatedFabric

FAULT_NAMES = (
    "token_timeout",
    "refresh_fail",
    "subscription_refresh_fail",
    "subscribe_405",
    "ws_close",
    "ws_silent",
    "throttle",
    "slow",
    "page_churn",
    "empty_page",
    "login_fail",
)
DEFAULT_VALUES = {"slow": 2.0, "page_churn": 25.0}


@dataclass
class Armed:
    count: int | None  # remaining firings; None = until cleared
    value: float


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, Armed] = {}
        self.fired: dict[str, int] = {}  # how often each fault took effect (for tests/status)

    def set(self, name: str, count: int | None = None, value: float | None = None) -> None:
        if name not in FAULT_NAMES:
            raise KeyError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 (or None for 'until cleared')")
        with self._lock:
            self._armed[name] = Armed(
                count, value if value is not None else DEFAULT_VALUES.get(name, 0.0)
            )

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._armed.clear()
            else:
                self._armed.pop(name, None)

    def peek(self, name: str) -> Armed | None:
        with self._lock:
            return self._armed.get(name)

    def take(self, name: str) -> Armed | None:
        """Consume one firing of ``name`` if armed; returns the armed spec or None."""
        with self._lock:
            a = self._armed.get(name)
            if a is None:
                return None
            if a.count is not None:
                a.count -= 1
                if a.count <= 0:
                    del self._armed[name]
            self.fired[name] = self.fired.get(name, 0) + 1
            return Armed(a.count, a.value)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "armed": {k: {"count": v.count, "value": v.value} for k, v in self._armed.items()},
                "fired": dict(self.fired),
                "known": list(FAULT_NAMES),
            }


def churn(fab: SimulatedFabric, n: int, seed: int) -> int:
    """Move ``n`` endpoints to another leaf (page_churn); returns how many moved.

    Rogue counting is bypassed for churn: it models ordinary background mobility, not flapping.
    """
    from simulators.learning import move_endpoint

    rng = random.Random(seed)
    moved = 0
    with fab.lock:
        rogue = fab.policy.rogue_enabled
        fab.policy.rogue_enabled = False
        loop, damp = fab.policy.loop_protection, fab.policy.dampening
        fab.policy.loop_protection = fab.policy.dampening = False
        try:
            for _ in range(n):
                ep = fab.ep_list[rng.randrange(len(fab.ep_list))]
                if ep.att is None or ep.rogue_until > fab.clock.now():
                    continue
                candidates = [
                    a for leaf in fab.leafs for a in fab.attachments[leaf.id][:4] if a is not ep.att
                ]
                if not candidates:
                    continue
                dst = candidates[rng.randrange(len(candidates))]
                if (
                    move_endpoint(fab, ep, dst, cause="background-mobility", scenario="page_churn")
                    is not None
                ):
                    moved += 1
        finally:
            fab.policy.rogue_enabled = rogue
            fab.policy.loop_protection, fab.policy.dampening = loop, damp
    return moved
