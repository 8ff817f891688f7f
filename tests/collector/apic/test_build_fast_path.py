"""A build's shortcut for remote entries gives exactly the state the general path gives."""

from __future__ import annotations

from collector.apic.models import parse_epm
from collector.apic.tracker import Tracker
from simulators.fabric import SimulatedFabric


def _rows(fab: SimulatedFabric) -> list[tuple[str, dict[str, str]]]:
    rows = []
    for tables, cls in ((fab.ip_tables, "epmIpEp"), (fab.mac_tables, "epmMacEp")):
        for table in tables.values():
            for e in table.values():
                rows.append((cls, fab.epm_attrs(e)))
                if e.is_ip and e.local and e.rw_mac:
                    rows.append(("epmRsMacEpToIpEpAtt", fab.rs_attrs(e)))
    return rows


def _state(tr: Tracker) -> dict[tuple[tuple[int, str], int], tuple[object, ...]]:
    return {
        (key, n): (e.present, e.flags, e.if_id, e.pc_tag, e.encap, e.bd, e.rw_mac)
        for key, ep in tr.eps.items()
        for n, e in ep.nodes.items()
    }


def test_page_shortcut_equals_general_path() -> None:
    """Tracker.snapshot_page (what a build runs per page) gives the general path's state."""
    fab = SimulatedFabric.build(leafs=6, endpoints=400, seed=4, partners=4)
    rows = _rows(fab)
    general, paged = Tracker(), Tracker()
    general.begin_snapshot(initial=True)
    for cls, attrs in rows:
        rec = parse_epm(cls, attrs)
        if rec is not None:
            general.apply_snapshot(rec, 0.0)
    general.end_snapshot(0.0)
    paged.begin_snapshot(initial=True)
    imdata = [{cls: {"attributes": attrs}} for cls, attrs in rows]
    for i in range(0, len(imdata), 97):
        assert paged.snapshot_page(imdata[i : i + 97], 0.0) == len(imdata[i : i + 97])
    paged.end_snapshot(0.0)
    assert _state(paged) == _state(general)
    assert (paged.entries, paged.present_macs, paged.events) == (
        general.entries,
        general.present_macs,
        general.events,
    )
    assert {k: (ep.local, ep.vrf) for k, ep in paged.eps.items()} == {
        k: (ep.local, ep.vrf) for k, ep in general.eps.items()
    }
    shared = sum(1 for ep in paged.eps.values() for e in ep.nodes.values() if e.shared)
    assert shared > paged.entries // 2  # the shortcut carried the remote bulk
