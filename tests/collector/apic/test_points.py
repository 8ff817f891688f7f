"""The apic_endpoint_event fast path writes exactly what the generic encoder writes."""

from __future__ import annotations

import pytest

from collector.apic.models import addr_type, flags_text
from collector.apic.points import _loc_fields, _node_str, event_line, move_line
from collector.apic.tracker import Move, NodeChange
from influx.line_protocol import encode_line


def generic(fabric: str, o: NodeChange) -> str | None:
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
        round(o.ts * 1e6) * 1000 + o.node % 1000,  # docs/measurements.md: µs time + node ns
    )


@pytest.mark.parametrize(
    "change",
    [
        NodeChange(1.7e9, 101, 15007704, "00:50:56:AA:BB:CC", False, "created", 3, "eth1/5",
                   32771, "vlan-101", 0, ""),
        NodeChange(1.7e9 + 0.123456, 102, 2916352, "10.1.1.1", True, "modified", 4, "tunnel7",
                   0, "", (101 << 16) + 102, "00:50:56:AA:BB:CC"),
        NodeChange(1.7e9, 103, 2916352, "fe80::1", True, "deleted", 0, "", 1, "", 0, ""),
        NodeChange(1.7e9, 104, 1, 'we"ird\\a,b c=d', True, "created", 1 << 30, 'po"1', 5,
                   "vlan-1", 104, ""),
    ],
)  # fmt: skip
def test_event_line_matches_generic_encoder(change: NodeChange) -> None:
    assert event_line("fab 1", change) == generic("fab 1", change)


@pytest.mark.parametrize(
    "move",
    [
        Move(1.7e9, 15007704, "00:50:56:AA:BB:CC", False, (101, "eth1/5", "vlan-101", 32771, ""),
             ((101 << 16) + 102, "po7", "vlan-101", 32771, ""), 3, "t/ap/epg", "t/bd", "t/vrf"),
        Move(1.7e9 + 0.5, 2916352, "10.1.1.1", True, (101, "", "", 0, "00:50:56:AA:BB:CC"),
             (102, 'eth"1/1', "", 1, "00:50:56:AA:BB:CD"), 1, None, None, 'v,r f'),
    ],
)  # fmt: skip
def test_move_line_matches_generic_encoder(move: Move) -> None:
    want = encode_line(
        "apic_endpoint_move",
        {"fabric": "f", "addr": move.addr, "addr_type": addr_type(move.addr, move.is_ip)},
        {
            **_loc_fields("from", move.src),
            **_loc_fields("to", move.dst),
            "vnid": move.vnid,
            "count": move.count,
            "epg": move.epg,
            "bd": move.bd,
            "vrf": move.vrf,
        },
        int(move.ts * 1e9),
    )
    assert move_line("f", move) == want


def test_two_leafs_changing_one_address_at_once_stay_two_points(influxdb, influx_db) -> None:
    """The old leaf's `deleted` and the new leaf's `created` of one move often share a modTs;
    `node` is a field, so without the per-node nanoseconds InfluxDB kept only the last."""
    import httpx

    ts = 1.7e9 + 0.123
    lines = [
        event_line("fabric1", NodeChange(ts, node, 15007704, "00:50:56:AA:BB:CC", False, status,
                                         3, "eth1/5", 32771, "vlan-101", 0, ""))
        for node, status in ((101, "deleted"), (103, "created"))
    ]
    httpx.post(
        f"{influxdb.url}/write", params={"db": influx_db}, content="\n".join(lines)
    ).raise_for_status()
    rows = influxdb.rows('SELECT "node", "status" FROM "apic_endpoint_event"', influx_db)
    assert sorted((r[1], r[2]) for r in rows) == [(101, "deleted"), (103, "created")]
