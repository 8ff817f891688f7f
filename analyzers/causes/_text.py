"""Wording shared by the causes: times and places in evidence sentences."""

from __future__ import annotations

from datetime import UTC, datetime

from fabricscope import macs

NS = 1_000_000_000


def hms(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%H:%M:%S")


def rel(ns: int, move_ns: int) -> str:
    d = (ns - move_ns) / NS
    return f"{abs(d):.0f}s {'before' if d <= 0 else 'after'} the move"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def mac_text(mac: str) -> str:
    """A MAC as the APIC and the UI spell it (`00:50:56:AA:BB:CC`), whatever form it came in."""
    return macs.to_apic(mac) or mac


def port(node: str, interface: str) -> str:
    return f"node {node} {interface}" if interface else f"node {node}"


def topology_note(status: str) -> str:
    """What the evidence says when the leaf port ↔ host join is missing."""
    if status == "known":
        return ""
    return (
        " (leaf port ↔ host topology unknown: no LLDP/CDP neighbour of the move's ports joins "
        "to an sFlow host)"
        if status == "unknown"
        else " (leaf port ↔ host topology partial: only one of the move's ports joins to an "
        "sFlow host)"
    )
