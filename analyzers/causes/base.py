"""The one small interface every move cause implements, and what it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from analyzers.evidence import EvidenceIndex
    from influx.reads import Move


@dataclass(frozen=True)
class Verdict:
    """One cause's explanation of one move.

    `key` is the place that makes moves one incident (`bd:…` for a loop, the port that went
    down for a failover, `vm:…` for a migration…); `shared` is the evidence the whole incident
    has in common (the incident's `evidence`), `evidence` the move's own sentence.
    """

    cause: str
    confidence: float
    evidence: str
    key: str
    places: tuple[str, ...] = ()
    shared: str = ""
    peak_flood_pps: float | None = None


class Cause(Protocol):
    """A move cause: one module under analyzers/causes/, listed in `CAUSES`."""

    name: str  # the `cause` tag value
    rule: str  # one line for the docs table: when this cause is named

    def explain(self, move: Move, ev: EvidenceIndex) -> Verdict | None:
        """The verdict when the evidence on the move's path shows this cause, else None."""
        ...

    def summary(self, key: str, endpoints: int, moves: int, places: Sequence[str]) -> str:
        """One human sentence for an incident of this cause."""
        ...
