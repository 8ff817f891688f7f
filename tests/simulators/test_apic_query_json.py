"""The simulator's direct JSON rendering of a build's epm pages (QueryEngine.run_json) gives the
same bytes as the general path (QueryEngine.run + the JSON encoder), and falls back to the
encoder for values that need escaping."""

from __future__ import annotations

import json

from simulators.apic_query import QueryEngine
from simulators.apic_server import _dumps, envelope
from simulators.fabric import SimulatedFabric


def _both(eng: QueryEngine, target: str, params: dict[str, str]) -> tuple[bytes, bytes]:
    page = eng.run_json(eng.parse("class", target, dict(params)))
    assert page is not None
    total, items = page
    fast = f'{{"totalCount":"{total}","imdata":[{items}]}}'.encode()
    r = eng.run(eng.parse("class", target, dict(params)))
    general = _dumps(envelope(r.imdata, r.total))
    return fast, general if isinstance(general, bytes) else general.encode()


def test_run_json_equals_general_path() -> None:
    fab = SimulatedFabric.build(leafs=6, endpoints=400, partners=2)
    eng = QueryEngine(fab)
    pages = 0
    for nid in sorted(fab.mac_tables):
        for cls in ("epmMacEp", "epmIpEp"):
            for params in (
                {"order-by": f"{cls}.dn", "page-size": "50", "page": "1"},
                {"order-by": f"{cls}.dn"},
                {},
            ):
                fast, general = _both(eng, f"topology/pod-1/node-{nid}/{cls}", params)
                assert fast == general
                pages += 1
    fast, general = _both(eng, "epmMacEp", {"order-by": "epmMacEp.dn", "page-size": "100"})
    assert fast == general and len(json.loads(fast)["imdata"]) == 100
    assert pages == 6 * 2 * 3


def test_run_json_escapes_odd_values() -> None:
    fab = SimulatedFabric.build(leafs=2, endpoints=20, partners=1)
    eng = QueryEngine(fab)
    nid = sorted(fab.mac_tables)[0]
    entry = next(iter(fab.mac_tables[nid].values()))
    entry.if_id = 'eth1/1"\\x\u00e9'
    fast, general = _both(eng, f"topology/pod-1/node-{nid}/epmMacEp", {})
    assert json.loads(fast) == json.loads(general)
    ifids = [o["epmMacEp"]["attributes"]["ifId"] for o in json.loads(fast)["imdata"]]
    assert 'eth1/1"\\x\u00e9' in ifids


def test_run_json_declines_other_queries() -> None:
    fab = SimulatedFabric.build(leafs=2, endpoints=20, partners=1)
    eng = QueryEngine(fab)
    assert eng.run_json(eng.parse("class", "fvBD", {})) is None
    assert eng.run_json(eng.parse("class", "epmMacEp", {"rsp-subtree": "full"})) is None
    flt = {"query-target-filter": 'eq(epmMacEp.flags,"local")'}
    assert eng.run_json(eng.parse("class", "epmMacEp", flt)) is None
    assert eng.run_json(eng.parse("class", "epmMacEp", {"order-by": "epmMacEp.modTs|desc"})) is None
