"""Never blind: a REST probe of the APIC's newest endpoint change against what the websocket
delivered (stage: collector/apic, a periodic check beside the event stream).

A websocket can stay open, answer pings and still deliver nothing (the simulator's ``ws_silent``;
a wedged APIC event manager). Subscription refresh answers and pings cannot see that, and on a
busy fabric an "is anything new?" audit never repeats the same signal. So: every ``probe_s`` ask
the APIC for its newest ``createTs`` and ``modTs`` of each epm class (``order-by=…|desc`` with
``page-size=1``: one object per query) and remember it. At the next probe, the socket must have
delivered something at least that new (the reader records each class's newest timestamp as frames
arrive, before any backlog). If it has not, changes the APIC made more than one probe interval ago
never reached us: the stream is blind → :class:`SubscriptionLost` → reconnect, resubscribe,
resync (which reports what moved meanwhile).

The first probe of a connection (before the build) is the baseline: changes older than it came
with the build. On a quiet fabric nothing changes and nothing can be missed; a dead socket there
is caught by websocket pings and subscription refreshes. APIC timestamps share one format and
offset, so they compare as strings.

Cost: on a very large fabric an ordered query can take the APIC seconds; the probe then spaces
itself out (at least 3 × its own answer time apart), so it never keeps the APIC busy more than a
third of the time — detection takes longer there, and ``probe_s`` in the stats says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from collector.apic.client import ApicClient, ApicError
from collector.apic.models import newest_ts_text
from collector.apic.subscriptions import SubscriptionLost

# MACs move with their IPs, so a silent socket shows on epmMacEp alone: two one-object queries
# per probe instead of four.
PROBE_CLASSES = ("epmMacEp",)
MAX_APIC_SHARE = 1 / 3  # the probe never keeps the APIC busy more than this share of the time


class StreamProbe:
    def __init__(
        self,
        client: ApicClient,
        delivered: Callable[[str], str],
        classes: tuple[str, ...] = PROBE_CLASSES,
    ) -> None:
        self.client = client
        self.delivered = delivered  # class -> newest timestamp the socket delivered
        self.classes = classes
        self.baseline: dict[str, str] = {}
        self.pending: dict[str, str] = {}  # class -> APIC's newest at the previous probe
        self.probes = 0
        self.blind = 0
        self.last_probe_s = 0.0  # how long the last probe took (APIC answer time)
        self.last_ok = 0.0  # monotonic time of the last probe that found the stream current
        # The stream was lost (blind, dead, dropped, overflowed): the poller is not healthy until
        # a whole probe cycle on the new stream finds it current (two runs: the first sets what
        # must arrive, the second checks it), so /api/v1/health shows the loss for that long
        # even when the resync itself takes a second, and stays degraded while it repeats.
        self.suspect = False
        self._confirmed = 0
        self._not_before = 0.0

    async def newest(self, cls: str) -> str:
        best = ""
        for prop in ("modTs", "createTs"):
            objs = await self.client.class_objects(cls, f"order-by={cls}.{prop}|desc&page-size=1")
            for _, a in objs:
                best = max(best, newest_ts_text(a))
        return best

    async def start(self) -> None:
        """Baseline at the start of a connection (after subscribing, before the build)."""
        self.pending.clear()
        self.baseline.clear()
        self._confirmed = 0
        for cls in self.classes:
            try:
                self.baseline[cls] = await self.newest(cls)
            except ApicError:
                self.baseline[cls] = ""
        self.last_ok = time.monotonic()

    async def run(self) -> None:
        t0 = time.monotonic()
        if t0 < self._not_before:
            return
        seen: dict[str, str] = {}
        for cls in self.classes:
            try:
                seen[cls] = await self.newest(cls)
            except ApicError:
                return  # best effort: the heartbeat judges a failing APIC
        self.probes += 1
        self.last_probe_s = time.monotonic() - t0
        self._not_before = t0 + self.last_probe_s / MAX_APIC_SHARE
        missing = []
        for cls, want in self.pending.items():
            got = max(self.delivered(cls), self.baseline.get(cls, ""))
            if want > got:
                missing.append(f"{cls} changed at {want}, socket's newest {got or 'none'}")
        if missing:
            self.blind += 1
            self.suspect = True
            raise SubscriptionLost("event stream silent: " + "; ".join(missing))
        self.last_ok = time.monotonic()
        self._confirmed += 1
        if self._confirmed >= 2:
            self.suspect = False
        # What the APIC holds now must have arrived by the next probe.
        self.pending = {
            cls: ts for cls, ts in seen.items() if ts and ts > self.baseline.get(cls, "")
        }
