"""Leaf-port ingress counters by traffic class (stage: collector/apic — eqptIngrPkts5min /
eqptIngrBytes5min → ``apic_interface`` fields).

The current 5-minute objects (rn ``CDeqptIngrPkts5min`` / ``CDeqptIngrBytes5min``) carry
``flood``/``multicast``/``unicast`` × ``Cum`` (never resets) and ``Rate`` (the interval's count
÷ seconds into it). ACI counts broadcast inside *flood* at the port level, which is what makes
a looping broadcast storm visible on a leaf port. Field names: docs/measurements.md.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.apic.poller import ApicPoller

PKTS = "eqptIngrPkts5min"
BYTES = "eqptIngrBytes5min"
CLASSES = (PKTS, BYTES)
KINDS = ("flood", "multicast", "unicast")


def ingress_fields(cls: str, attrs: dict[str, Any]) -> dict[str, int | float]:
    """``in_flood_pkts_cum``/``_rate`` … from one object; unparsable values are left out."""
    out: dict[str, int | float] = {}
    unit = "pkts" if cls == PKTS else "bytes" if cls == BYTES else ""
    if not unit:
        return out
    for kind in KINDS:
        cum = _int(attrs.get(f"{kind}Cum"))
        if cum is not None:
            out[f"in_{kind}_{unit}_cum"] = cum
        if unit == "pkts":
            rate = _float(attrs.get(f"{kind}Rate"))
            if rate is not None:
                out[f"in_{kind}_pkts_rate"] = rate
    return out


def _int(v: Any) -> int | None:
    try:
        return int(v)  # exact for large counters
    except (TypeError, ValueError):
        pass
    try:
        return int(float(v))
    except (TypeError, ValueError, OverflowError):
        return None


def _float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def register(poller: ApicPoller) -> None:
    """Read both classes on the poller's interface poll (one node-scoped query each)."""
    for cls in CLASSES:
        poller.interfaces.mappers.append((cls, partial(ingress_fields, cls)))


__all__ = ["BYTES", "CLASSES", "PKTS", "ingress_fields", "register"]
