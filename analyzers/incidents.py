"""Analyzer stage: group explained moves into incidents → the `incident` measurement.

Moves whose verdicts share a cause and a place (`Verdict.key`: `bd:…` for a loop, the port that
went down for a failover, `vm:…`/`mac:…` for a migration or a teaming flap, `bd:…` for moves
with no evidence) and follow each other within `incident_gap_s` are one incident.

Ids are stable (CONTRACTS.md): a group keeps the id most of its moves carried in the previous
run (`move_analysis.incident_id`, so late evidence that turns an `unknown` incident into a loop
updates that incident rather than creating a second), else the id of a stored incident of the
same kind and key that it continues, else a new one derived from its first move. An incident
point is stamped at the incident's start (plus < 1 µs derived from its id, so two incidents of
one kind starting at the same instant stay two points); when the start or kind changes, the old
point is deleted, so re-runs never duplicate.

Moves older than the re-analyse window are not re-examined: a stored incident that began before
the window keeps its start and the moves it had there (`moves`/`endpoints` are carried over).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from analyzers.causes import BY_NAME, Verdict
from analyzers.config import MoveCauseConfig
from analyzers.evidence import LOOP_PORT_SHARE, port_place
from fabricscope import macs
from influx.line_protocol import encode_line
from influx.reads import Move, StoredIncident

NS = 1_000_000_000
MAX_ADDRS = 200  # `addrs` field cap (CONTRACTS.md)
MAX_PLACES = 40


def iso(ns: int) -> str:
    """RFC 3339 with milliseconds, UTC."""
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stamp(start_ns: int, incident_id: str) -> int:
    """The point's timestamp: the start, plus < 1 µs from the id (see the module docstring)."""
    return start_ns + int(incident_id[:8], 16) % 1000


@dataclass
class Incident:
    id: str
    kind: str
    key: str
    members: list[tuple[Move, Verdict]] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0
    endpoints: int = 0
    moves: int = 0
    addrs: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    summary: str = ""
    evidence: str = ""
    confidence: float = 0.0
    peak_flood_pps: float | None = None

    @property
    def time_ns(self) -> int:
        return stamp(self.start_ns, self.id)

    def as_stored(self) -> StoredIncident:
        """What reading this incident's point back would give (for points not yet flushed)."""
        return StoredIncident(
            self.time_ns, self.kind, self.id, self.key, iso(self.start_ns), iso(self.end_ns),
            self.start_ns, self.end_ns, self.endpoints, self.moves, ",".join(self.places),
            self.summary, self.evidence, round(self.confidence, 3),
            ",".join(self.addrs[:MAX_ADDRS]), self.peak_flood_pps,
        )  # fmt: skip

    def line(self, fabric: str) -> str | None:
        return encode_line(
            "incident",
            {"fabric": fabric, "kind": self.kind},
            {
                "id": self.id,
                "key": self.key,
                "start": iso(self.start_ns),
                "end": iso(self.end_ns),
                "start_ns": self.start_ns,
                "end_ns": self.end_ns,
                "endpoints": self.endpoints,
                "moves": self.moves,
                "places": ",".join(self.places),
                "summary": self.summary,
                "evidence": self.evidence,
                "confidence": round(self.confidence, 3),
                "addrs": ",".join(self.addrs[:MAX_ADDRS]),
                "peak_flood_pps": (
                    round(self.peak_flood_pps, 1) if self.peak_flood_pps is not None else None
                ),
            },
            self.time_ns,
        )


def _clusters(
    found: Sequence[tuple[Move, Verdict]], gap_ns: int
) -> list[tuple[str, str, list[tuple[Move, Verdict]]]]:
    """(cause, key, members) groups: same cause and key, no gap longer than `gap_ns`."""
    by_key: dict[tuple[str, str], list[tuple[Move, Verdict]]] = defaultdict(list)
    for m, v in found:
        by_key[(v.cause, v.key)].append((m, v))
    out = []
    for (cause, key), members in sorted(by_key.items()):
        members.sort(key=lambda mv: (mv[0].time_ns, mv[0].addr))
        current = [members[0]]
        for mv in members[1:]:
            if mv[0].time_ns - current[-1][0].time_ns > gap_ns:
                out.append((cause, key, current))
                current = []
            current.append(mv)
        out.append((cause, key, current))
    return out


def _new_id(fabric: str, cause: str, key: str, first: Move) -> str:
    raw = f"{fabric}|{cause}|{key}|{first.addr}|{first.time_ns}".encode()
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:16]


def group(
    fabric: str,
    found: Sequence[tuple[Move, Verdict]],
    cfg: MoveCauseConfig,
    *,
    since_ns: int,
    previous: Mapping[tuple[str, int], str] | None = None,
    stored: Sequence[StoredIncident] = (),
) -> list[Incident]:
    """The incidents of one run's verdicts.

    `previous`: (addr, move time) → incident id the move carried before this run;
    `stored`: the `incident` points of the lookback window (to continue and carry over).
    """
    previous = previous or {}
    gap = int(cfg.incident_gap_s * NS)
    clusters = _clusters(found, gap)
    stored_by_id = {s.id: s for s in stored}
    # How many of each stored incident's moves are inside this run (the rest are older).
    inside: Counter[str] = Counter(previous.values())
    taken: set[str] = set()
    out: list[Incident] = []
    # Bigger groups choose first: a loop keeps the id of the incident it grew from.
    for cause, key, members in sorted(clusters, key=lambda c: (-len(c[2]), c[0], c[1])):
        votes = Counter(
            previous[(m.addr, m.time_ns)] for m, _ in members if (m.addr, m.time_ns) in previous
        )
        inc_id = next((i for i, _ in votes.most_common() if i not in taken), None)
        lo, hi = members[0][0].time_ns, members[-1][0].time_ns
        if inc_id is None:
            for s in stored:
                if (
                    s.id not in taken and s.kind == cause and s.key == key
                    and s.start_ns - gap <= hi and lo <= s.end_ns + gap
                ):  # fmt: skip
                    inc_id = s.id
                    break
        if inc_id is None:
            inc_id = _new_id(fabric, cause, key, members[0][0])
        taken.add(inc_id)
        out.append(_build(inc_id, cause, key, members, stored_by_id.get(inc_id), inside, since_ns))
    out.sort(key=lambda i: (i.start_ns, i.id))
    return out


def _build(
    inc_id: str,
    cause: str,
    key: str,
    members: list[tuple[Move, Verdict]],
    prior: StoredIncident | None,
    inside: Mapping[str, int],
    since_ns: int,
) -> Incident:
    inc = Incident(inc_id, cause, key, members)
    inc.start_ns = members[0][0].time_ns
    inc.end_ns = members[-1][0].time_ns
    # Endpoints: a MAC and the IPs that follow it are one endpoint of the incident.
    addrs = list(dict.fromkeys(m.addr for m, _ in members))
    identities = {m.mac or m.addr for m, _ in members}
    inc.moves = len(members)
    if prior is not None and prior.start_ns and prior.start_ns < since_ns:
        # The incident began before this run's window: keep what it had there.
        older = max(0, prior.moves - inside.get(inc_id, 0))
        inc.moves += older
        inc.start_ns = min(inc.start_ns, prior.start_ns)
        old_addrs = [a for a in prior.addrs.split(",") if a]
        addrs = list(dict.fromkeys([*old_addrs, *addrs]))
        # An old IP's MAC is not known any more: count old MACs, and never fewer than before.
        identities |= {h for a in old_addrs if (h := macs.to_sflow(a))}
        inc.endpoints = max(len(identities), prior.endpoints)
    else:
        inc.endpoints = len(identities)
    inc.addrs = addrs
    places: dict[str, None] = {}
    if cause != "unknown" and key.startswith(("bd:", "vm:", "host:", "node-")):
        places[key] = None
    if cause == "loop":
        for p in looped_ports([m for m, _ in members]):
            places[p] = None
    for _, v in members:
        for p in v.places:
            places.setdefault(p, None)
    inc.places = list(places)[:MAX_PLACES]
    best = max((v for _, v in members), key=lambda v: v.confidence)
    inc.confidence = sum(v.confidence for _, v in members) / len(members)
    inc.evidence = best.shared or best.evidence
    peaks = [v.peak_flood_pps for _, v in members if v.peak_flood_pps is not None]
    inc.peak_flood_pps = max(peaks) if peaks else None
    if prior is not None and prior.peak_flood_pps is not None and prior.start_ns < since_ns:
        inc.peak_flood_pps = max(inc.peak_flood_pps or 0.0, prior.peak_flood_pps)
    inc.summary = BY_NAME[cause].summary(key, inc.endpoints, inc.moves, inc.places)
    return inc


def looped_ports(moves: Sequence[Move], share: float = LOOP_PORT_SHARE) -> list[str]:
    """The ports a loop moves its endpoints between: those that a good share of its moves left
    or joined (each endpoint's first move also leaves its home port, which is not the loop's),
    busiest first. Named even when no counter of theirs was polled while the loop lasted."""
    seen: Counter[str] = Counter()
    for m in moves:
        seen.update({port_place(*m.from_loc), port_place(*m.to_loc)})
    need = max(2, share * len(moves))
    return [p for p, n in seen.most_common() if n >= need]


def superseded(
    incidents: Sequence[Incident], stored: Sequence[StoredIncident], since_ns: int
) -> list[StoredIncident]:
    """Stored points to delete: an incident whose kind or start changed (its new point is
    another point), or one that no longer exists and lay wholly inside this run's window."""
    now = {i.id: i for i in incidents}
    out = []
    for s in stored:
        inc = now.get(s.id)
        if inc is not None:
            if inc.kind != s.kind or inc.time_ns != s.time_ns:
                out.append(s)
        elif s.start_ns >= since_ns:
            out.append(s)
    return out
