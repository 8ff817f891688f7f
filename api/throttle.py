"""Brute-force throttle for credentials (stage: api): UI login and the `X-API-Key` header.

Per client address, failed attempts are counted in a sliding window. Past `free_failures` in the
window the client is blocked for `base_block_s`, doubling with each further failure up to
`max_block_s`; while blocked, every credentialed request from it is answered 429 with
`Retry-After` *without checking the credential*, so guessing speed is bounded by the block, not by
the server. A success clears the client's record.

Memory and log volume are bounded: at most `max_clients` addresses are tracked (the least
recently seen is forgotten first), and a client produces one WARNING when it becomes blocked —
not one per failed attempt (each failure is logged at DEBUG).

The state is per process: replicas behind a load balancer each throttle on their own, and
behind a reverse proxy every client shares the proxy's address (run the API with uvicorn's
`--proxy-headers` / `--forwarded-allow-ips` so `request.client` is the real client).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Client:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    blocks: int = 0  # consecutive blocks: each doubles the next


class FailureThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 5,
        window_s: float = 60.0,
        base_block_s: float = 30.0,
        max_block_s: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.window_s = window_s
        self.base_block_s = base_block_s
        self.max_block_s = max_block_s
        self.max_clients = max_clients
        self.clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def retry_after(self, client: str) -> int:
        """Seconds the client must wait before its credential is checked again (0: go ahead)."""
        c = self._clients.get(client)
        if c is None:
            return 0
        left = c.blocked_until - self.clock()
        return math.ceil(left) if left > 0 else 0

    def failure(self, client: str, what: str) -> None:
        """Record a failed attempt (`what`: e.g. "UI login", "API key")."""
        now = self.clock()
        c = self._clients.pop(client, None) or _Client()
        self._clients[client] = c  # most recently seen last
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        if c.blocks and now > c.blocked_until + self.max_block_s:
            c.blocks = 0  # quiet for a while since its last block: start over
        c.failures.append(now)
        while c.failures and c.failures[0] <= now - self.window_s:
            c.failures.popleft()
        log.debug("%s refused from %s (%d in %.0f s)", what, client, len(c.failures), self.window_s)
        if len(c.failures) > self.free_failures:
            block = min(self.max_block_s, self.base_block_s * 2**c.blocks)
            c.blocks += 1
            c.blocked_until = now + block
            c.failures.clear()
            # One line per block, never per attempt: a guessing client cannot flood the log.
            log.warning(
                "%s: more than %d failed attempts from %s within %.0f s; refusing it for %.0f s",
                what,
                self.free_failures,
                client,
                self.window_s,
                block,
            )

    def success(self, client: str) -> None:
        self._clients.pop(client, None)

    def tracked(self) -> int:
        return len(self._clients)
