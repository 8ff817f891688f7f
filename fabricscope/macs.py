"""MAC address forms, in one place.

Two spellings meet in the database (docs/measurements.md):
- APIC side (`apic_*`, `move_analysis`, `incident`): upper-case colon form `00:50:56:AA:BB:CC`
  — how the APIC writes them;
- sFlow side (`sflow_flows` src_mac/dst_mac, `sflow_host_adapters` macs): 12 lower-case hex
  digits `005056aabbcc` — how sflowtool prints them.

Users type anything (`00-50-56-aa-bb-cc`, Cisco's `0050.56aa.bbcc`): `parse` accepts the common
spellings and says None for anything else, so callers never guess.
"""

from __future__ import annotations

import functools
import re

_HEX = frozenset("0123456789abcdefABCDEF")
# Six colon/dash separated octets (one separator style), or Cisco dotted triplets, or 12 digits.
_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:.-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")
_DOTTED = re.compile(r"^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$")
_PLAIN = re.compile(r"^[0-9A-Fa-f]{12}$")


def parse(text: str) -> str | None:
    """Any common spelling of one MAC → its 12 lower-case hex digits; None when not a MAC."""
    t = text.strip()
    if _PLAIN.match(t) or _SEPARATED.match(t) or _DOTTED.match(t):
        return re.sub(r"[^0-9A-Fa-f]", "", t).lower()
    return None


def to_sflow(text: str) -> str:
    """Any spelling → sFlow form `005056aabbcc`; '' when not a MAC (e.g. an IP endpoint)."""
    return parse(text) or ""


def to_apic(text: str) -> str | None:
    """Any spelling → APIC form `00:50:56:AA:BB:CC`; None when not a MAC."""
    h = parse(text)
    if h is None:
        return None
    return ":".join(h[i : i + 2] for i in range(0, 12, 2)).upper()


_APIC_FORM = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){5}")


def apic_form(text: str) -> str:
    """A MAC the APIC wrote → APIC form. Already `00:50:56:AA:BB:CC` (every epm row): returned
    as is, the poller's fast path; another spelling → `to_apic`; not a MAC → upper-cased, so an
    odd address is kept rather than dropped."""
    if _APIC_FORM.fullmatch(text) is not None:
        return text
    return to_apic(text) or text.upper()


def sflow_to_apic(mac: str) -> str | None:
    """sFlow's `0050560a0b0c` → `00:50:56:0A:0B:0C`; None for sflowtool's `none`/`other`."""
    if len(mac) == 12 and all(c in _HEX for c in mac):
        return ":".join(mac[i : i + 2] for i in range(0, 12, 2)).upper()
    return None


@functools.lru_cache(maxsize=1 << 16)
def split_list(macs: str) -> tuple[str, ...]:
    """A comma-separated sFlow MAC list (`sflow_host_adapters.macs`) → its sFlow-form MACs.
    Cached: every host re-lists the same adapters every 20 s."""
    return tuple(h for m in macs.split(",") if (h := to_sflow(m)))
