"""Analyzer stage: explain each endpoint move → `move_analysis` findings.

For every `apic_endpoint_move` of the last `reanalyse_window_s` the analyzer looks at the evidence
around it (−`before_s` … +`after_s`) and names a cause only when the data shows one:

- ``loop``: ≥ `loop_min_endpoints` endpoints of the same BD moved within ±`loop_window_s`, and a
  broadcast storm on sFlow interface counters or an APIC `loop` anomaly for that BD;
- ``link_failover``: the old leaf port went down (`apic_interface` oper_up 1→0) or a NIC of the
  hypervisor holding the MAC went down (`sflow_if_counters` if_oper_up 1→0);
- ``vm_migration``: the MAC left one hypervisor's `sflow_host_adapters` list for another's
  (their CPU / network load goes into the evidence);
- ``nic_teaming_flap``: ≥ `flap_min_moves` moves between the same two places, or a `rapid` /
  `rogue` anomaly on the endpoint;
- ``unknown`` otherwise, confidence 0 — never a guess.

Findings are written at the move's own timestamp with tags fabric, addr, cause, so a re-run
overwrites the same point. When late data changes the cause, the series changes too: the old
finding is deleted first, so each move has exactly one finding — except on InfluxDB 3, which
cannot delete single points (`reads.delete_move_finding`); those are counted as
`stale_findings_kept`. Each run's counts feed the analyzer's `fabricscope_stats` (`self.stats`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from analyzers.stats import AnalyzerStats
from influx import reads
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from influx.sink import LineSink

log = logging.getLogger(__name__)


NS = 1_000_000_000


@dataclass
class MoveCauseConfig:
    fabric: str = "fabric1"
    before_s: float = 120.0  # evidence window before the move (APIC learns lag a link drop)
    after_s: float = 30.0  # …and after it (hypervisor samples arrive every 10-30 s)
    reanalyse_window_s: float = 600.0  # each run re-examines moves this old: late data counts
    flap_window_s: float = 300.0
    flap_min_moves: int = 3
    loop_window_s: float = 10.0
    loop_min_endpoints: int = 5
    storm_min_pps: float = 500.0  # broadcast pkts/s that is a storm whatever the baseline
    storm_factor: float = 10.0  # …and this many times the interface's own baseline rate
    max_moves_per_run: int = 5000


@dataclass(frozen=True)
class Finding:
    move: reads.Move
    cause: str
    confidence: float
    evidence: str

    def line(self) -> str | None:
        m = self.move
        return encode_line(
            "move_analysis",
            {"fabric": m.fabric, "addr": m.addr, "cause": self.cause},
            {
                "confidence": round(self.confidence, 3),
                "evidence": self.evidence,
                "move_time": _iso(m.time_ns),
                "from_node": m.from_node or None,
                "from_interface": m.from_interface or None,
                "to_node": m.to_node or None,
                "to_interface": m.to_interface or None,
            },
            m.time_ns,
        )


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _hms(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%H:%M:%S")


def _rel(ns: int, move_ns: int) -> str:
    d = (ns - move_ns) / NS
    return f"{abs(d):.0f}s {'before' if d <= 0 else 'after'} the move"


def _port(node: str, interface: str) -> str:
    return f"node {node} {interface}" if interface else f"node {node}"


class MoveCauseAnalyzer:
    """One analyzer instance per process; `run_once()` is synchronous (the scheduler runs it in
    a worker thread so the event loop stays free)."""

    name = "move_cause"

    def __init__(
        self,
        q: InfluxQuery,
        sink: LineSink,
        cfg: MoveCauseConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.q = q
        self.sink = sink
        self.cfg = cfg or MoveCauseConfig()
        self.clock = clock
        self.stats = AnalyzerStats(
            self.name,
            self.cfg.fabric,
            work=dict.fromkeys(
                ("moves_analysed", "findings_written", "findings_deleted", "stale_findings_kept"), 0
            ),
        )
        # Findings written but maybe not yet visible in InfluxDB (the writer batches): without
        # this a quick re-run could miss the old cause and leave two findings for one move.
        self._written: dict[tuple[str, int], Finding] = {}

    # -- the run ---------------------------------------------------------------------------------
    def run_once(self, now_ns: int | None = None) -> list[Finding]:
        cfg = self.cfg
        now_ns = now_ns if now_ns is not None else int(self.clock() * NS)
        since = now_ns - int(cfg.reanalyse_window_s * NS)
        mv = reads.moves(self.q, cfg.fabric, since, now_ns, limit=cfg.max_moves_per_run)
        existing: dict[tuple[str, int], list[reads.MoveFinding]] = {}
        for f in reads.move_analysis(self.q, cfg.fabric, since, now_ns):
            existing.setdefault((f.addr, f.time_ns), []).append(f)
        findings: list[Finding] = []
        lines: list[str] = []
        for m in mv:
            finding = self.analyse(m)
            findings.append(finding)
            key = (m.addr, m.time_ns)
            stale = {f.cause for f in existing.get(key, []) if f.cause != finding.cause}
            prev = self._written.get(key)
            if prev is not None and prev.cause != finding.cause:
                stale.add(prev.cause)
            for cause in stale:
                if reads.delete_move_finding(self.q, cfg.fabric, m.addr, cause, m.time_ns):
                    self.stats.count("findings_deleted")
                else:
                    self._kept_stale(m, cause)
            same = [
                f for f in existing.get(key, [])
                if f.cause == finding.cause and f.evidence == finding.evidence
                and abs(f.confidence - round(finding.confidence, 3)) < 1e-9
            ]  # fmt: skip
            if same and not stale:
                continue  # identical point already stored: no write needed
            line = finding.line()
            if line:
                lines.append(line)
                self._written[key] = finding
        # Keep the pending-write memory bounded to what the next run can still re-examine.
        for k in [k for k in self._written if k[1] < since]:
            del self._written[k]
        if lines:
            self.sink.write_lines(lines)
        self.stats.count("moves_analysed", len(mv))
        self.stats.count("findings_written", len(lines))
        log.debug("move_cause: %d moves, %d findings written", len(mv), len(lines))
        return findings

    def _kept_stale(self, m: reads.Move, cause: str) -> None:
        """The server cannot delete single points (InfluxDB 3): the superseded finding stays."""
        if not self.stats.work["stale_findings_kept"]:
            log.warning(
                "move_cause: this InfluxDB cannot delete a superseded finding (InfluxDB 3 has no "
                "point delete); %s at %d keeps its old cause %r next to the new one — counted in "
                "fabricscope_stats stale_findings_kept, not logged again",
                m.addr, m.time_ns, cause,
            )  # fmt: skip
        self.stats.count("stale_findings_kept")

    def analyse(self, m: reads.Move) -> Finding:
        """The best-supported cause of one move: a loop when its evidence holds, else the most
        confident of link, VM, flap (ties keep that order)."""
        candidates = [
            c
            for c in (self._loop(m), self._link_failover(m), self._vm_migration(m), self._flap(m))
            if c is not None
        ]
        if not candidates:
            return Finding(
                m, "unknown", 0.0,
                f"no port down, VM migration, flapping or storm seen on {_port(*m.from_loc)} or "
                f"{_port(*m.to_loc)} between {self.cfg.before_s:.0f}s before and "
                f"{self.cfg.after_s:.0f}s after the move",
            )  # fmt: skip
        loop = next((c for c in candidates if c.cause == "loop"), None)
        if loop is not None:
            # A loop makes every endpoint of the BD flap between the looped ports (and the
            # poller flags them rapid/rogue): when the loop evidence holds, it is the cause.
            return loop
        best = max(candidates, key=lambda c: c.confidence)  # max keeps the first of equals
        return best

    # -- evidence --------------------------------------------------------------------------------
    def _window(self, m: reads.Move) -> tuple[int, int]:
        return m.time_ns - int(self.cfg.before_s * NS), m.time_ns + int(self.cfg.after_s * NS)

    def _link_failover(self, m: reads.Move) -> Finding | None:
        """The stronger of the leaf-side (APIC) and the host-side (sFlow) evidence."""
        found = [f for f in (self._link_leaf_side(m), self._link_host_side(m)) if f is not None]
        return max(found, key=lambda f: f.confidence) if found else None

    def _link_leaf_side(self, m: reads.Move) -> Finding | None:
        lo, hi = self._window(m)
        if m.from_node and m.from_interface:
            samples = reads.interface_samples(
                self.q, m.fabric, m.from_node, m.from_interface, lo, hi
            )
            prev_up: reads.InterfaceSample | None = None
            first_down: reads.InterfaceSample | None = None
            for s in samples:
                if s.oper_up is True:
                    prev_up = s
                elif s.oper_up is False and first_down is None:
                    first_down = s
                    if prev_up is not None:
                        return Finding(
                            m, "link_failover", 0.9,
                            f"{_port(*m.from_loc)} went down (oper state up → "
                            f"{s.oper_st or 'down'}) at {_hms(s.time_ns)} UTC, "
                            f"{_rel(s.time_ns, m.time_ns)}; the endpoint moved to "
                            f"{_port(*m.to_loc)}",
                        )  # fmt: skip
            if first_down is not None:
                return Finding(
                    m, "link_failover", 0.7,
                    f"{_port(*m.from_loc)} was down ({first_down.oper_st or 'down'}) at "
                    f"{_hms(first_down.time_ns)} UTC, {_rel(first_down.time_ns, m.time_ns)} "
                    f"(no earlier 'up' sample in the window); the endpoint moved to "
                    f"{_port(*m.to_loc)}",
                )  # fmt: skip
        return None

    def _link_host_side(self, m: reads.Move) -> Finding | None:
        # A hypervisor/server NIC that went down while the host kept the MAC is a teaming
        # failover onto the other uplink, seen in the host's own sFlow counters.
        lo, hi = self._window(m)
        mac = m.mac
        if not mac:
            return None
        hosts = sorted({a.host for a in reads.host_adapters_with_mac(self.q, mac, lo, hi)})
        for host in hosts:
            last: dict[str, bool] = {}
            for c in reads.sflow_if_counters(self.q, lo, hi, host=host):
                if c.oper_up is None:
                    continue
                if last.get(c.ifindex) is True and c.oper_up is False:
                    return Finding(
                        m, "link_failover", 0.8,
                        f"uplink ifIndex {c.ifindex} of host {host} (agent {c.agent}), which "
                        f"carries MAC {mac}, went down at {_hms(c.time_ns)} UTC, "
                        f"{_rel(c.time_ns, m.time_ns)}; the endpoint moved from "
                        f"{_port(*m.from_loc)} to {_port(*m.to_loc)}",
                    )  # fmt: skip
                last[c.ifindex] = c.oper_up
        return None

    def _vm_migration(self, m: reads.Move) -> Finding | None:
        mac = m.mac
        if not mac:
            return None
        lo, hi = self._window(m)
        seen: dict[str, tuple[int, int]] = {}  # host → (first, last) sighting of the MAC
        for a in reads.host_adapters_with_mac(self.q, mac, lo, hi):
            first, last = seen.get(a.host, (a.time_ns, a.time_ns))
            seen[a.host] = (min(first, a.time_ns), max(last, a.time_ns))
        if len(seen) < 2:
            return None
        # "Leaving A for B": A was listed first and stopped being listed before B did.
        old = min(seen, key=lambda h: (seen[h][0], h))
        new = max(seen, key=lambda h: (seen[h][1], h))
        if old == new or not (seen[old][0] < seen[new][0] and seen[old][1] < seen[new][1]):
            return None
        load_lo = m.time_ns - int(self.cfg.before_s * NS)
        loads = [reads.host_load(self.q, h, load_lo, hi) for h in (old, new)]
        load_txt = "; ".join(self._load_text(x) for x in loads)
        busy = any(
            (x.cpu_active_max or 0.0) >= 50.0 or (x.net_bytes_per_s_max or 0.0) >= 100e6
            for x in loads
        )
        return Finding(
            m, "vm_migration", 0.9 if busy else 0.85,
            f"MAC {mac} was listed by hypervisor {old} until {_hms(seen[old][1])} UTC and by "
            f"hypervisor {new} from {_hms(seen[new][0])} UTC "
            f"({_rel(seen[new][0], m.time_ns)}); the endpoint moved from {_port(*m.from_loc)} "
            f"to {_port(*m.to_loc)}. Load: {load_txt}",
        )  # fmt: skip

    @staticmethod
    def _load_text(x: reads.HostLoad) -> str:
        parts = []
        if x.cpu_active_max is not None:
            parts.append(f"CPU peak {x.cpu_active_max:.0f}%")
        if x.net_bytes_per_s_max is not None:
            parts.append(f"network peak {x.net_bytes_per_s_max * 8 / 1e6:.0f} Mbit/s")
        return f"{x.host}: " + (", ".join(parts) if parts else "no CPU/network samples")

    def _flap(self, m: reads.Move) -> Finding | None:
        cfg = self.cfg
        lo = m.time_ns - int(cfg.flap_window_s * NS)
        hi = m.time_ns + int(cfg.after_s * NS)
        pair = {m.from_loc, m.to_loc}
        between = [
            x for x in reads.moves(self.q, m.fabric, lo, hi, addr=m.addr)
            if {x.from_loc, x.to_loc} == pair
        ]  # fmt: skip
        # Alternating: each move goes back to where the previous one came from.
        alternating = all(
            b.from_loc == a.to_loc and b.to_loc == a.from_loc
            for a, b in zip(between, between[1:], strict=False)
        )
        flapping = len(between) >= cfg.flap_min_moves and alternating
        anomalies = reads.anomalies(self.q, m.fabric, lo, hi, addr=m.addr, kinds=("rapid", "rogue"))
        if not flapping and not anomalies:
            return None
        parts = []
        if flapping:
            parts.append(
                f"the endpoint moved {len(between)} times back and forth between "
                f"{_port(*m.from_loc)} and {_port(*m.to_loc)} within "
                f"{(between[-1].time_ns - between[0].time_ns) / NS:.0f}s"
            )
        if anomalies:
            kinds = sorted({a.kind for a in anomalies})
            parts.append(
                f"the APIC poller flagged it as {'/'.join(kinds)} at "
                f"{_hms(anomalies[0].time_ns)} UTC ({anomalies[0].detail})"
            )
        conf = 0.9 if flapping and anomalies else 0.8 if flapping else 0.65
        return Finding(m, "nic_teaming_flap", conf, "; ".join(parts))

    def _loop(self, m: reads.Move) -> Finding | None:
        cfg = self.cfg
        if not m.bd:
            return None
        w = int(cfg.loop_window_s * NS)
        together = reads.bd_moves(self.q, m.fabric, m.bd, m.time_ns - w, m.time_ns + w)
        addrs = {x.addr for x in together}
        if len(addrs) < cfg.loop_min_endpoints:
            return None
        lo, hi = self._window(m)
        storm = self._storm(m.time_ns, lo, hi)
        loop_anoms = reads.anomalies(self.q, m.fabric, lo, hi, addr=m.bd, kinds=("loop",))
        if storm is None and not loop_anoms:
            return None  # many moves alone could be a leaf reload: not enough to say "loop"
        parts = [
            f"{len(addrs)} endpoints of BD {m.bd} moved within ±{cfg.loop_window_s:.0f}s of "
            f"this move ({len(together)} moves)"
        ]
        if storm is not None:
            parts.append(storm)
        if loop_anoms:
            parts.append(f"the APIC poller reported a loop in BD {m.bd}: {loop_anoms[0].detail}")
        conf = 0.95 if storm and loop_anoms else 0.85 if storm else 0.7
        return Finding(m, "loop", conf, "; ".join(parts))

    def _storm(self, move_ns: int, lo: int, hi: int) -> str | None:
        """The worst broadcast-rate jump on any sFlow interface, as words; None if no storm."""
        cfg = self.cfg
        recent_from = move_ns - 60 * NS  # a storm that makes endpoints move is under way now
        series: dict[tuple[str, str], list[reads.IfCounters]] = {}
        for c in reads.sflow_if_counters(self.q, lo, hi):
            if c.in_broadcast_pkts is not None:
                series.setdefault((c.agent, c.ifindex), []).append(c)
        worst: tuple[float, float, reads.IfCounters] | None = None
        for samples in series.values():
            base: list[float] = []
            peak = 0.0
            peak_at: reads.IfCounters | None = None
            for a, b in zip(samples, samples[1:], strict=False):
                dt = (b.time_ns - a.time_ns) / NS
                if dt <= 0 or a.in_broadcast_pkts is None or b.in_broadcast_pkts is None:
                    continue
                if b.in_broadcast_pkts < a.in_broadcast_pkts:
                    continue  # counter reset: not a rate
                rate = (b.in_broadcast_pkts - a.in_broadcast_pkts) / dt
                if b.time_ns < recent_from:
                    base.append(rate)
                elif rate > peak:
                    peak, peak_at = rate, b
            baseline = sorted(base)[len(base) // 2] if base else 0.0
            if peak_at is None or peak < cfg.storm_min_pps:
                continue
            if base and peak < cfg.storm_factor * max(baseline, 1.0):
                continue
            if worst is None or peak > worst[0]:
                worst = (peak, baseline, peak_at)
        if worst is None:
            return None
        peak, baseline, c = worst
        return (
            f"broadcast storm on {c.host or c.agent} ifIndex {c.ifindex}: "
            f"{peak:.0f} broadcast pkts/s at {_hms(c.time_ns)} UTC (baseline {baseline:.0f}/s)"
        )
