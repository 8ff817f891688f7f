"""Tracker outputs → InfluxDB line protocol (stage: collector/apic, last step before the sink).

Schema (docs/measurements.md, "APIC poller measurements": full table, cardinality reasoning):

- ``apic_endpoint_event``  tags fabric, addr, addr_type; fields node, vnid, status, flags,
  interface, encap, pctag, remote_node, rw_mac
- ``apic_endpoint_move``   tags fabric, addr, addr_type; fields from_/to_ node, interface, encap,
  pctag, vnid, count, epg, bd, vrf
- ``apic_endpoint_anomaly`` tags fabric, addr, kind; fields detail, vnid, addr_type + kind extras
- ``apic_interface``       tags fabric, node, interface; fields oper_st, oper_up, speed, counters
- ``fabricscope_stats``    tags process=poller, fabric; poller counters

``node`` and ``interface`` are *fields* on the endpoint measurements: an endpoint seen on many
leaves would otherwise multiply its series (addr × node × interface), and InfluxQL can still filter
on fields. On ``apic_interface`` they are tags: bounded by the number of physical ports.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from collector.apic.models import addr_type, flags_text
from collector.apic.tracker import Anomaly, Loc, Move, NodeChange, Output
from influx.line_protocol import FieldValue, encode_line, escape_string_field, series_prefix


def _ns(ts: float) -> int:
    return int(ts * 1e9)


def event_ns(ts: float, node: int) -> int:
    """The change's time at microsecond precision plus the node id (mod 1000) in nanoseconds.

    ``node`` is a field, not a tag (cardinality: one series per address), so two leafs changing
    one address in the same instant — the new leaf's ``created`` and the old leaf's ``deleted``
    of one move often share a modTs — would otherwise be one point and the first would be lost.
    """
    return round(ts * 1e6) * 1000 + node % 1000


def _node_str(n: int) -> str:
    """Node id, or ``a-b`` for a vPC pair pseudo-node ``(a<<16)+b``."""
    return f"{n >> 16}-{n & 0xFFFF}" if n > 65535 else str(n)


def _loc_fields(prefix: str, loc: Loc) -> dict[str, FieldValue | None]:
    return {
        f"{prefix}_node": _node_str(loc[0]),
        f"{prefix}_interface": loc[1] or None,
        f"{prefix}_encap": loc[2] or None,
        f"{prefix}_pctag": loc[3],
        f"{prefix}_mac": loc[4] or None,
    }


# apic_endpoint_event is most of what the poller writes (every per-node change, tens of thousands a
# second in a storm): its line is assembled from cached pieces, byte for byte what encode_line
# gives (tests/collector/apic/test_points.py checks that).
_prefix = functools.lru_cache(maxsize=131072)(
    lambda fabric, addr, is_ip: series_prefix(
        "apic_endpoint_event",
        {"fabric": fabric, "addr": addr, "addr_type": addr_type(addr, is_ip)},
    )
)
_sfield = functools.lru_cache(maxsize=65536)(escape_string_field)
_flags = functools.lru_cache(maxsize=4096)(lambda bits: escape_string_field(flags_text(bits)))


def event_line(fabric: str, o: NodeChange) -> str:
    parts = [f"node={o.node}i,vnid={o.vnid}i,status={_sfield(o.status)},flags={_flags(o.flags)}"]
    if o.if_id:
        parts.append(f",interface={_sfield(o.if_id)}")
    if o.encap:
        parts.append(f",encap={_sfield(o.encap)}")
    parts.append(f",pctag={o.pc_tag}i")
    if o.remote:
        parts.append(f",remote_node={_sfield(_node_str(o.remote))}")
    if o.rw_mac:
        parts.append(f",rw_mac={_sfield(o.rw_mac)}")
    return f"{_prefix(fabric, o.addr, o.is_ip)} {''.join(parts)} {event_ns(o.ts, o.node)}"


_move_prefix = functools.lru_cache(maxsize=65536)(
    lambda fabric, addr, is_ip: series_prefix(
        "apic_endpoint_move",
        {"fabric": fabric, "addr": addr, "addr_type": addr_type(addr, is_ip)},
    )
)


def _loc_text(prefix: str, loc: Loc) -> str:
    out = f"{prefix}_node={_sfield(_node_str(loc[0]))}"
    if loc[1]:
        out += f",{prefix}_interface={_sfield(loc[1])}"
    if loc[2]:
        out += f",{prefix}_encap={_sfield(loc[2])}"
    out += f",{prefix}_pctag={loc[3]}i"
    if loc[4]:
        out += f",{prefix}_mac={_sfield(loc[4])}"
    return out


def move_line(fabric: str, o: Move) -> str:
    parts = [
        _loc_text("from", o.src),
        ",",
        _loc_text("to", o.dst),
        f",vnid={o.vnid}i,count={o.count}i",
    ]
    for k, v in (("epg", o.epg), ("bd", o.bd), ("vrf", o.vrf)):
        if v is not None:
            parts.append(f",{k}={_sfield(v)}")
    return f"{_move_prefix(fabric, o.addr, o.is_ip)} {''.join(parts)} {int(o.ts * 1e9)}"


def encode_output(fabric: str, o: Output) -> str | None:
    if isinstance(o, NodeChange):
        if -(2**62) < o.node < 2**62 and -(2**62) < o.vnid < 2**62 and -(2**62) < o.pc_tag < 2**62:
            return event_line(fabric, o)
        return encode_line(
            "apic_endpoint_event",
            {"fabric": fabric, "addr": o.addr, "addr_type": addr_type(o.addr, o.is_ip)},
            {
                "node": o.node,
                "vnid": o.vnid,
                "status": o.status,
                "flags": flags_text(o.flags),
                "interface": o.if_id or None,
                "encap": o.encap or None,
                "pctag": o.pc_tag,
                "remote_node": _node_str(o.remote) if o.remote else None,
                "rw_mac": o.rw_mac or None,
            },
            event_ns(o.ts, o.node),
        )
    if isinstance(o, Move):
        if all(-(2**62) < x < 2**62 for x in (o.vnid, o.count, o.src[3], o.dst[3])):
            return move_line(fabric, o)
        fields: dict[str, FieldValue | None] = {
            **_loc_fields("from", o.src),
            **_loc_fields("to", o.dst),
            "vnid": o.vnid,
            "count": o.count,
            "epg": o.epg,
            "bd": o.bd,
            "vrf": o.vrf,
        }
        return encode_line(
            "apic_endpoint_move",
            {"fabric": fabric, "addr": o.addr, "addr_type": addr_type(o.addr, o.is_ip)},
            fields,
            _ns(o.ts),
        )
    if isinstance(o, Anomaly):
        afields: dict[str, FieldValue | None] = {
            "detail": o.detail,
            "vnid": o.vnid,
            "addr_type": "bd" if o.kind == "loop" else addr_type(o.addr, o.is_ip),
        }
        for k, v in o.fields.items():
            if k not in afields and isinstance(v, int | float | str | bool):
                afields[k] = v
        return encode_line(
            "apic_endpoint_anomaly",
            {"fabric": fabric, "addr": o.addr, "kind": o.kind},
            afields,
            _ns(o.ts),
        )
    return None


def encode_outputs(fabric: str, outputs: list[Output]) -> list[str]:
    lines = []
    for o in outputs:
        line = encode_output(fabric, o)
        if line is not None:
            lines.append(line)
    return lines


def interface_line(
    fabric: str, node: int, interface: str, fields: Mapping[str, FieldValue | None], ts: float
) -> str | None:
    return encode_line(
        "apic_interface",
        {"fabric": fabric, "node": str(node), "interface": interface},
        fields,
        _ns(ts),
    )


def stats_line(fabric: str, fields: Mapping[str, FieldValue | None], ts: float) -> str | None:
    return encode_line(
        "fabricscope_stats", {"process": "poller", "fabric": fabric}, fields, _ns(ts)
    )
