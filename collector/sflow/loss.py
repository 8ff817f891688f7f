"""Per-agent datagram accounting: sequence gaps → lost datagrams (sFlow v5 §5).

A datagram that arrives after a higher number was seen is late (reordered) or a duplicate, not
loss: a late one recovers one datagram previously counted as lost. A number far below the
highest seen, or a lower number with the agent's uptime gone backwards, is an agent restart
(the spec resets sequences when the agent restarts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SEQUENCE_GAP = 100_000
REORDER_WINDOW = 1_000
RESTART_UPTIME_SLACK_MS = 10_000  # a late datagram is seconds old at most (spec: ≤ 1 s delay)
MAX_AGENTS = 10_000  # per-agent loss accounting beyond this is folded into one counter


@dataclass(slots=True)
class CollectorStats:
    """Cumulative counters since start; written as ``fabricscope_stats`` (process=collector)."""

    datagrams: int = 0
    samples: int = 0
    flow_samples: int = 0
    counter_samples: int = 0
    discard_samples: int = 0
    decode_errors: int = 0
    record_errors: int = 0
    unknown_records: int = 0
    rejected_sources: int = 0
    sequence_gaps: int = 0
    lost_datagrams: int = 0
    sequence_resets: int = 0
    duplicate_datagrams: int = 0
    reordered_datagrams: int = 0
    lines: int = 0
    untracked_agent_datagrams: int = 0
    per_agent_lost: dict[str, int] = field(default_factory=dict)
    per_agent_datagrams: dict[str, int] = field(default_factory=dict)


class SequenceTracker:
    """Counts one datagram per agent and its sequence gaps into a CollectorStats."""

    def __init__(self, stats: CollectorStats) -> None:
        self.stats = stats
        self._last: dict[tuple[str, int], tuple[int, int]] = {}  # → (highest seq, its uptime)

    def datagram(self, agent: str, sub_agent: int, seq: int, uptime_ms: int) -> None:
        st = self.stats
        per_agent = st.per_agent_datagrams
        count = per_agent.get(agent)
        if count is None and len(per_agent) >= MAX_AGENTS:
            # A flood of spoofed agent addresses must not become unbounded state or series.
            st.untracked_agent_datagrams += 1
            return
        per_agent[agent] = (count or 0) + 1
        self._check(agent, sub_agent, seq, uptime_ms)

    def _check(self, agent: str, sub_agent: int, seq: int, uptime_ms: int) -> None:
        key = (agent, sub_agent)
        st = self.stats
        top, top_uptime = self._last.get(key, (None, 0))
        restarted = uptime_ms + RESTART_UPTIME_SLACK_MS < top_uptime
        if top is None or (seq > top and not restarted):
            self._last[key] = (seq, uptime_ms)
            if top is None:
                return
            gap = seq - top - 1
            if 0 < gap <= MAX_SEQUENCE_GAP:
                st.sequence_gaps += 1
                st.lost_datagrams += gap
                st.per_agent_lost[agent] = st.per_agent_lost.get(agent, 0) + gap
            elif gap > MAX_SEQUENCE_GAP:
                st.sequence_resets += 1  # a jump this large is a restart, not a loss burst
        elif restarted or top - seq > REORDER_WINDOW:
            self._last[key] = (seq, uptime_ms)
            st.sequence_resets += 1
        elif seq == top:
            st.duplicate_datagrams += 1
        else:
            st.reordered_datagrams += 1
            if st.per_agent_lost.get(agent, 0) > 0:
                st.per_agent_lost[agent] -= 1
                st.lost_datagrams -= 1
