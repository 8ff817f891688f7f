"""Scale: 50 leafs x 100k endpoints builds quickly and pages fully over HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from simulators.apic_server import ApicSimulator
from simulators.fabric import SimulatedFabric


@pytest.mark.slow
def test_50_leafs_100k_endpoints_full_paged_epmmacep_over_http():
    t0 = time.perf_counter()
    fab = SimulatedFabric.build(leafs=50, endpoints=100_000, seed=1)
    assert time.perf_counter() - t0 < 30
    counts = fab.counts()
    assert counts["endpoints"] == 100_000 and counts["epmMacEp"] > 300_000
    h = ApicSimulator(fab).start()
    try:
        c = httpx.Client(base_url=h.url, timeout=120)
        c.post(
            "/api/aaaLogin.json",
            json={"aaaUser": {"attributes": {"name": "admin", "pwd": "password"}}},
        )
        seen: set[str] = set()
        page = 0
        while True:
            body = c.get(
                "/api/class/epmMacEp.json",
                params={"order-by": "epmMacEp.addr", "page-size": "75000", "page": str(page)},
            ).json()
            total = int(body["totalCount"])
            seen.update(o["epmMacEp"]["attributes"]["dn"] for o in body["imdata"])
            page += 1
            if len(body["imdata"]) < 75_000 or len(seen) >= total:
                break
        assert len(seen) == total == counts["epmMacEp"]
        # A node-scoped count answers without rendering anything.
        cnt = c.get(
            "/api/node/class/topology/pod-1/node-101/epmMacEp.json",
            params={"rsp-subtree-include": "count"},
        ).json()
        assert int(cnt["imdata"][0]["moCount"]["attributes"]["count"]) == len(fab.mac_tables[101])
    finally:
        h.stop()
