"""End to end: incidents written by the real analyzer (the seed of
tests/deploy/test_dashboard_queries.py: APIC outputs through collector.apic.points, then
`MoveCauseAnalyzer` under the scheduler) are listed by the API, each with its timeline, and the
incident page charts the port that went down."""

from __future__ import annotations

import re

from tests.api.conftest import make_client
from tests.deploy.test_dashboard_queries import ADDR, seeded  # noqa: F401  (fixture)


def test_analyzer_incidents_through_api_and_page(influxdb, influx_db, seeded) -> None:  # noqa: F811
    with make_client(influxdb.url, influx_db) as c:
        r = c.get("/api/v1/incidents?since=-3h&fabric=fabric1")
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        kinds = {i["kind"] for i in items}
        assert "link_failover" in kinds, items
        for inc in items:
            assert re.fullmatch(r"[0-9a-f]{16}", inc["id"])
            d = c.get(f"/api/v1/incidents/{inc['id']}").json()
            # Every move the incident counts is on its timeline, each carrying its id.
            assert len(d["timeline"]) == inc["moves"], d
            assert {m["incident_id"] for m in d["timeline"]} == {inc["id"]}
            assert {m["addr"] for m in d["timeline"]} <= set(inc["addrs"]) or not inc["addrs"]
        (fo,) = [i for i in items if i["kind"] == "link_failover"]
        assert "node-101/eth1/1" in fo["places"] and fo["addrs"] == [ADDR]
        html = c.get(f"/ui/incidents/{fo['id']}").text
        assert 'id="chart-port-oper"' in html
        oper = html.split('id="chart-port-oper"', 1)[1].split("</figure>", 1)[0]
        assert 'data-label="node-101 eth1/1"' in oper
        assert 'data-v="0.0"' in oper and 'data-v="1.0"' in oper  # up, then down
