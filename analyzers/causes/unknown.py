"""`unknown`: no evidence on the move's path — stated as such, never a guess (confidence 0)."""

from __future__ import annotations

from collections.abc import Sequence

from analyzers.causes._text import plural, port, topology_note
from analyzers.causes.base import Verdict
from analyzers.evidence import EvidenceIndex, port_place
from influx.reads import Move


class Unknown:
    name = "unknown"
    rule = "no other cause's evidence on the move's path (confidence 0)"

    def explain(self, move: Move, ev: EvidenceIndex) -> Verdict:
        cfg = ev.cfg
        path = ev.path(move)
        text = (
            f"no port down, VM migration, flapping or loop evidence seen on "
            f"{port(*move.from_loc)} or {port(*move.to_loc)} between {cfg.before_s:.0f}s before "
            f"and {cfg.after_s:.0f}s after the move{topology_note(path.topology)}"
        )
        key = f"bd:{move.bd}" if move.bd else f"endpoint:{move.addr}"
        places = (port_place(*move.from_loc), port_place(*move.to_loc))
        return Verdict(self.name, 0.0, text, key, places, "no evidence on the moves' paths")

    def summary(self, key: str, endpoints: int, moves: int, places: Sequence[str]) -> str:
        where = f" in BD {key.removeprefix('bd:')}" if key.startswith("bd:") else ""
        return (
            f"{plural(endpoints, 'endpoint')} moved{where} ({plural(moves, 'move')}) with no "
            f"evidence of a cause on {'its path' if endpoints == 1 else 'their paths'}: unknown"
        )
