"""Count audit (stage: collector/apic, a periodic check beside the event stream).

The APIC's epmMacEp count (``rsp-subtree-include=count``, cheap) against the MAC entries the
tracker holds. Objects we do not track (e.g. overlay MACs without a BD) make a constant offset,
so the first audit after a build is the baseline and only a drift from it counts. In-flight events
make small drifts on a busy fabric, so a drift must exceed ``tolerance`` on two audits in a row
before the poller resyncs. A single missed change is the liveness probe's job (liveness.py);
this catches bulk losses (a stream that dropped a burst of creates or deletes).

Runs as its own task: however slow the APIC answers, subscription refreshes go on meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from collector.apic.client import ApicClient, ApicError
from collector.apic.subscriptions import SubscriptionLost


class CountAudit:
    def __init__(
        self,
        client: ApicClient,
        ours: Callable[[], int],
        tolerance: int = 20,
        tolerance_ratio: float = 0.001,
    ) -> None:
        self.client = client
        self.ours = ours
        self.tolerance = tolerance
        self.tolerance_ratio = tolerance_ratio
        self.base: int | None = None
        self.mismatches = 0
        self.runs = 0
        self.last_drift = 0
        self._prev_bad = False

    def reset(self) -> None:
        """After every build: the next audit takes a new baseline."""
        self.base = None
        self._prev_bad = False

    async def run(self) -> None:
        try:
            data = await self.client.request(
                "GET", "/api/class/epmMacEp.json", "rsp-subtree-include=count"
            )
            count = int(data["imdata"][0]["moCount"]["attributes"]["count"])
        except (ApicError, KeyError, IndexError, ValueError, TypeError):
            return  # best effort: the heartbeat and the probe judge the connection
        self.runs += 1
        offset = count - self.ours()
        if self.base is None:
            self.base = offset
            return
        drift = offset - self.base
        self.last_drift = drift
        bad = abs(drift) > max(self.tolerance, int(self.tolerance_ratio * count))
        if bad and self._prev_bad:
            self.mismatches += 1
            self._prev_bad = False
            raise SubscriptionLost(
                f"count audit: APIC has {count} epmMacEp, we hold {count - offset} "
                f"(drift {drift} from the baseline, twice in a row)"
            )
        self._prev_bad = bad
