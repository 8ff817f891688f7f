"""The move causes, in one registry (placeholder names until the cause modules land)."""

from __future__ import annotations

CAUSE_NAMES: tuple[str, ...] = (
    "link_failover",
    "vm_migration",
    "nic_teaming_flap",
    "loop",
    "unknown",
)
