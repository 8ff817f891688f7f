"""Analyzer stage: explain each endpoint move → `move_analysis` findings and `incident`s.

Each run:
1. reads every evidence measurement ONCE for the run's whole window into an `EvidenceIndex`
   (analyzers/evidence.py: a fixed number of statements, whatever the number of moves), plus
   the analyzer's own stored findings and incidents;
2. asks every cause of the registry (analyzers/causes/) about each move of the last
   `reanalyse_window_s`, looking only at evidence on the move's own path; a holding `loop` wins,
   else the most confident verdict, else `unknown` (confidence 0 — never a guess);
3. groups the verdicts into incidents (analyzers/incidents.py);
4. writes what changed: findings at the move's own timestamp with tags fabric, addr, cause (a
   re-run overwrites the same point) and `incident_id`, `places`, `topology`; incidents at their
   start. When late data changes a cause (another series, `cause` is a tag) the old finding is
   deleted first, so each move has exactly one finding — except on InfluxDB 3, which cannot
   delete single points (counted as `stale_findings_kept`).

`stop()` (SIGTERM) makes a run in progress return within one statement or a few hundred moves,
writing nothing. Each run's counts feed the analyzer's `fabricscope_stats` (`self.stats`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from analyzers import incidents as incidents_mod
from analyzers.causes import CAUSE_NAMES, CAUSES, UNKNOWN, Verdict
from analyzers.config import MoveCauseConfig
from analyzers.evidence import EvidenceIndex
from analyzers.stats import AnalyzerStats
from influx import reads
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from influx.sink import LineSink

log = logging.getLogger(__name__)

NS = 1_000_000_000

__all__ = ["CAUSE_NAMES", "Finding", "MoveCauseAnalyzer", "MoveCauseConfig", "Stopped"]


class Stopped(Exception):
    """The run was asked to stop (SIGTERM) before it finished; nothing was written."""


@dataclass(frozen=True)
class Finding:
    move: reads.Move
    verdict: Verdict
    topology: str
    incident_id: str = ""

    @property
    def cause(self) -> str:
        return self.verdict.cause

    @property
    def confidence(self) -> float:
        return self.verdict.confidence

    @property
    def evidence(self) -> str:
        return self.verdict.evidence

    @property
    def places(self) -> str:
        return ",".join(self.verdict.places)

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
                "incident_id": self.incident_id or None,
                "places": self.places or None,
                "topology": self.topology,
            },
            m.time_ns,
        )

    def same_as(self, f: reads.MoveFinding) -> bool:
        """The stored point already says exactly this."""
        return (
            f.cause == self.cause
            and f.evidence == self.evidence
            and abs(f.confidence - round(self.confidence, 3)) < 1e-9
            and f.incident_id == self.incident_id
            and f.places == self.places
            and f.topology == self.topology
        )


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


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
                (
                    "moves_analysed",
                    "findings_written",
                    "findings_deleted",
                    "stale_findings_kept",
                    "incidents_written",
                ),
                0,
            ),
        )
        # Findings written but maybe not yet visible in InfluxDB (the writer batches): without
        # this a quick re-run could miss the old cause and leave two findings for one move.
        self._written: dict[tuple[str, int], Finding] = {}
        self._stop = threading.Event()
        self.last_incidents: list[incidents_mod.Incident] = []
        self._incidents_written: dict[str, reads.StoredIncident] = {}

    def stop(self) -> None:
        """Ask a run in progress (in its worker thread) to return without writing."""
        self._stop.set()

    def _check(self) -> None:
        if self._stop.is_set():
            raise Stopped("stopped before the run finished")

    # -- the run ---------------------------------------------------------------------------------
    def run_once(self, now_ns: int | None = None) -> list[Finding]:
        cfg = self.cfg
        now_ns = now_ns if now_ns is not None else int(self.clock() * NS)
        since = now_ns - int(cfg.reanalyse_window_s * NS)
        # Moves from before the oldest move re-examined (its flap window), evidence from its
        # own look-back.
        lo = since - int(max(cfg.before_s, cfg.flap_window_s) * NS)
        elo = since - int(cfg.before_s * NS)
        self._check()
        ev = EvidenceIndex.load(self.q, cfg, lo, now_ns, evidence_since_ns=elo, check=self._check)
        self._check()
        existing: dict[tuple[str, int], list[reads.MoveFinding]] = {}
        for f in reads.move_analysis(self.q, cfg.fabric, since, now_ns, limit=reads.MAX_BULK_ROWS):
            existing.setdefault((f.addr, f.time_ns), []).append(f)
        self._check()
        lookback = since - int(cfg.incident_lookback_s * NS)
        stored = reads.incidents(self.q, cfg.fabric, lookback, now_ns)
        # Incidents this process wrote that the batching writer may not have flushed yet.
        seen = {(s.id, s.kind, s.time_ns) for s in stored}
        stored += [
            s for s in self._incidents_written.values()
            if (s.id, s.kind, s.time_ns) not in seen and s.time_ns >= lookback
        ]  # fmt: skip
        mv = [m for m in ev.moves if since <= m.time_ns <= now_ns][: cfg.max_moves_per_run]
        verdicts: list[tuple[reads.Move, Verdict]] = []
        for i, m in enumerate(mv):
            if i % cfg.stop_check_every == 0:
                self._check()
            verdicts.append((m, self.analyse(m, ev)))
        # Incident ids the moves carried before: stored ones, then this process's own writes.
        previous: dict[tuple[str, int], str] = {}
        for key, fs in existing.items():
            ids = [f.incident_id for f in fs if f.incident_id]
            if ids:
                previous[key] = ids[-1]
        for key, w in self._written.items():
            if w.incident_id and since <= key[1] <= now_ns:  # only this run's window counts
                previous[key] = w.incident_id
        incs = incidents_mod.group(
            cfg.fabric, verdicts, cfg, since_ns=since, previous=previous, stored=stored
        )
        incident_of = {(m.addr, m.time_ns): inc.id for inc in incs for m, _ in inc.members}
        findings = [
            Finding(m, v, ev.path(m).topology, incident_of[(m.addr, m.time_ns)])
            for m, v in verdicts
        ]
        self._check()
        self._write(findings, existing, incs, stored, since)
        self.stats.count("moves_analysed", len(mv))
        log.debug(
            "move_cause: %d moves, %d incidents (%d evidence rows)", len(mv), len(incs), ev.rows
        )
        self.last_incidents = incs
        return findings

    def _write(
        self,
        findings: list[Finding],
        existing: dict[tuple[str, int], list[reads.MoveFinding]],
        incs: list[incidents_mod.Incident],
        stored: list[reads.StoredIncident],
        since: int,
    ) -> None:
        cfg = self.cfg
        lines: list[str] = []
        stale: list[tuple[reads.Move, str]] = []
        for finding in findings:
            m = finding.move
            key = (m.addr, m.time_ns)
            old = {f.cause for f in existing.get(key, []) if f.cause != finding.cause}
            prev = self._written.get(key)
            if prev is not None and prev.cause != finding.cause:
                old.add(prev.cause)
            stale += [(m, cause) for cause in sorted(old)]
            if not old and any(finding.same_as(f) for f in existing.get(key, [])):
                continue  # identical point already stored: no write needed
            line = finding.line()
            if line:
                lines.append(line)
                self._written[key] = finding
        if stale:
            points = [({"fabric": cfg.fabric, "addr": m.addr, "cause": c}, m.time_ns)
                      for m, c in stale]  # fmt: skip
            if reads.delete_points(self.q, "move_analysis", points):
                self.stats.count("findings_deleted", len(stale))
            else:
                for m, cause in stale:
                    self._kept_stale(m, cause)
        gone = incidents_mod.superseded(incs, stored, since)
        if gone:
            reads.delete_points(
                self.q, "incident",
                [({"fabric": cfg.fabric, "kind": s.kind}, s.time_ns) for s in gone],
            )  # fmt: skip
        stored_by_id = {s.id: s for s in stored}
        n_inc = 0
        for s in gone:
            self._incidents_written.pop(s.id, None)
        for inc in incs:
            line = inc.line(cfg.fabric)
            if line and not _incident_same(inc, stored_by_id.get(inc.id)):
                lines.append(line)
                n_inc += 1
                self._incidents_written[inc.id] = inc.as_stored()
        horizon = since - int(cfg.incident_lookback_s * NS)
        for inc_id in [i for i, s in self._incidents_written.items() if s.time_ns < horizon]:
            del self._incidents_written[inc_id]
        # Keep the pending-write memory bounded to what the next run can still re-examine.
        for key in [key for key in self._written if key[1] < since]:
            del self._written[key]
        if lines:
            self.sink.write_lines(lines)
        self.stats.count("findings_written", len(lines) - n_inc)
        self.stats.count("incidents_written", n_inc)

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

    def analyse(self, m: reads.Move, ev: EvidenceIndex) -> Verdict:
        """The best-supported cause of one move: a loop when its evidence holds, else the most
        confident of the others (ties keep the registry's order), else unknown."""
        found = [v for c in CAUSES if (v := c.explain(m, ev)) is not None]
        loop = next((v for v in found if v.cause == "loop"), None)
        if loop is not None:
            # A loop makes every endpoint of the BD flap between the looped ports (and the
            # poller flags them rapid/rogue): when the loop evidence holds, it is the cause.
            return loop
        if found:
            return max(found, key=lambda v: v.confidence)  # max keeps the first of equals
        return UNKNOWN.explain(m, ev)


def _incident_same(inc: incidents_mod.Incident, s: reads.StoredIncident | None) -> bool:
    return (
        s is not None
        and s.kind == inc.kind
        and s.time_ns == inc.time_ns
        and s.end_ns == inc.end_ns
        and s.moves == inc.moves
        and s.endpoints == inc.endpoints
        and s.places == ",".join(inc.places)
        and s.summary == inc.summary
        and s.evidence == inc.evidence
        and abs(s.confidence - round(inc.confidence, 3)) < 1e-9
        and s.addrs == ",".join(inc.addrs[: incidents_mod.MAX_ADDRS])
    )
