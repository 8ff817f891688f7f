"""The move causes, in one registry.

Each cause is one module here behind the `Cause` interface (analyzers/causes/base.py):
`name`, `rule` (one line for the docs), `explain(move, evidence_index) -> Verdict | None` and
`summary(...)` for its incidents. `CAUSES` is the order of precedence for ties; `UNKNOWN` is the
fallback. `CAUSE_NAMES` feeds the API's `cause` enum, the docs table
(`python3 -m analyzers.causes --markdown`) and the Grafana cause variable.
"""

from __future__ import annotations

from analyzers.causes.base import Cause, Verdict
from analyzers.causes.link_failover import LinkFailover
from analyzers.causes.loop import Loop
from analyzers.causes.nic_teaming_flap import NicTeamingFlap
from analyzers.causes.unknown import Unknown
from analyzers.causes.vm_migration import VmMigration

# Ties between equally confident verdicts keep this order; a holding loop always wins (see
# analyzers/move_cause.py: a loop makes every endpoint of its BD flap, so flap evidence is
# always there too).
CAUSES: tuple[Cause, ...] = (Loop(), LinkFailover(), VmMigration(), NicTeamingFlap())
UNKNOWN = Unknown()
CAUSE_NAMES: tuple[str, ...] = (*(c.name for c in CAUSES), UNKNOWN.name)
BY_NAME: dict[str, Cause] = {c.name: c for c in (*CAUSES, UNKNOWN)}


def markdown_table() -> str:
    """The docs table of causes (docs/measurements.md is checked against it by a test)."""
    lines = ["| cause | named when |", "|---|---|"]
    lines += [f"| `{c.name}` | {c.rule} |" for c in (*CAUSES, UNKNOWN)]
    return "\n".join(lines)


__all__ = ["BY_NAME", "CAUSES", "CAUSE_NAMES", "UNKNOWN", "Cause", "Verdict", "markdown_table"]
