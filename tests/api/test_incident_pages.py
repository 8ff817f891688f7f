"""Incident pages rendered by the server (no browser): landing page, list, incident page with its
evidence charts, endpoint page with its incidents. The browser test drives the same pages."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from influx.query import rfc3339_nano
from tests.api.conftest import MAC, Seeded, make_client, write_lines
from tests.api.incident_data import FAILOVER_ID, LOOP_ID, OLD_ID, VM_ID, S, incident_lines

NS = {"s": "http://www.w3.org/2000/svg"}


@pytest.fixture
def ui(seeded: Seeded) -> Iterator[TestClient]:
    lines, _times = incident_lines(seeded.now_ns, seeded.move_ns)
    write_lines(seeded.url, seeded.db, lines)
    with make_client(seeded.url, seeded.db) as c:
        yield c


def charts(html: str) -> dict[str, ET.Element]:
    out = {}
    for m in re.finditer(
        r'<figure class="chart-box" id="chart-([\w-]+)"[^>]*>(<svg.*?</svg>)', html, re.S
    ):
        out[m[1]] = ET.fromstring(m[2])
    return out


def test_landing_page_lists_the_last_hours_incidents(ui: TestClient) -> None:
    r = ui.get("/")
    assert r.status_code == 200
    html = r.text
    assert "What happened in the fabric in the last hour" in html
    ids = re.findall(r'<tr class="incident" data-id="([^"]+)"', html)
    assert ids == [FAILOVER_ID, VM_ID, LOOP_ID]  # OLD ended three hours ago
    assert OLD_ID not in html
    assert "node-101/eth1/5" in html and "host esx-03" in html and "BD prod/bd-web" in html
    assert 'id="q"' in html  # the endpoint search is still there
    assert '<meta http-equiv="refresh" content="60">' in html  # a NOC screen stays current
    assert "http-equiv" not in ui.get("/?q=10.1.2").text  # not while searching
    one = ui.get("/?fabric=fabric2").text
    assert "What happened in fabric fabric2 in the last hour" in one
    assert re.findall(r'<tr class="incident" data-id="([^"]+)"', one) == [VM_ID]


def test_incident_list_filters(ui: TestClient) -> None:
    html = ui.get("/ui/incidents?since=-7d&kind=unknown").text
    assert re.findall(r'data-id="([^"]+)"', html) == [OLD_ID]
    html = ui.get("/ui/incidents?since=-7d&fabric=fabric2").text
    assert re.findall(r'data-id="([^"]+)"', html) == [VM_ID]
    assert 'href="/ui/incidents?kind=loop&since=-7d&fabric=fabric2"' in html
    r = ui.get("/ui/incidents?since=tomorrow")
    assert r.status_code == 422 and "invalid time" in r.text


def test_incident_page_draws_the_evidence(ui: TestClient) -> None:
    r = ui.get(f"/ui/incidents/{LOOP_ID}")
    assert r.status_code == 200, r.text
    html = r.text
    assert "L2 loop in BD prod/bd-web" in html
    c = charts(html)
    assert set(c) == {"port-oper", "port-flood"}  # the loop names ports, no host
    flood = c["port-flood"]
    labels = [s.get("data-label") for s in flood.findall(".//s:g[@class='serie']", NS)]
    assert labels == ["node-101 eth1/5", "node-102 eth1/7"]
    values = [
        float(p.get("data-v", "nan"))
        for p in flood.findall(".//s:g[@class='serie'][1]/s:circle", NS)
    ]
    assert max(values) == 48000.0 and min(values) == 40.0
    faults = flood.findall(".//s:g[@class='marker fault']", NS)
    assert [f.findtext("s:text", namespaces=NS) for f in faults] == ["F2533"]
    assert "F2533" in html and "MCP detected a loop" in html
    assert html.count('<tr class="move">') == 6
    # Grafana link: the endpoint dashboard with the first endpoint and the charts' range.
    link = re.search(r'id="grafana-link" href="([^"]+)"', html)
    assert link is not None
    url = urlparse(link[1].replace("&amp;", "&"))
    assert url.path == "/d/fabricscope-endpoint-detail/"
    q = parse_qs(url.query)
    assert q["var-address"] == ["00:50:56:BB:00:01"]
    assert int(q["from"][0]) < int(q["to"][0])


def test_failover_page_charts_port_down_and_host(ui: TestClient) -> None:
    html = ui.get(f"/ui/incidents/{FAILOVER_ID}").text
    c = charts(html)
    assert set(c) == {"port-oper", "port-flood", "host-nic", "host-cpu", "host-net"}
    oper = c["port-oper"]
    series = {s.get("data-label"): s for s in oper.findall(".//s:g[@class='serie']", NS)}
    # eth1/1 of node 101 (the place) first; its states: up, down at the failover, and still
    # down at the poll conftest.py seeds 30 s ago.
    first = next(iter(series))
    assert first == "node-101 eth1/1"
    states = [float(p.get("data-v", "nan")) for p in series[first].findall("s:circle", NS)]
    assert states == [1.0, 0.0, 0.0]
    nic = c["host-nic"]
    nic_labels = [s.get("data-label") for s in nic.findall(".//s:g[@class='serie']", NS)]
    assert nic_labels == ["esx-03 ifindex 2", "esx-03 ifindex 3"]
    down = [
        float(p.get("data-v", "nan")) for p in nic.findall(".//s:g[@class='serie'][1]/s:circle", NS)
    ]
    assert 0.0 in down and 1.0 in down
    net = c["host-net"]
    rates = [float(p.get("data-v", "nan")) for p in net.findall(".//s:circle", NS)]
    # 25 MB per 20 s in, 5 MB out: 10 Mbit/s and 2 Mbit/s.
    assert max(rates) == pytest.approx(10e6) and min(rates) == pytest.approx(2e6)


def test_endpoint_page_lists_its_incidents(ui: TestClient) -> None:
    html = ui.get(f"/ui/endpoints/{MAC}").text
    section = html.split('id="endpoint-incidents"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'data-id="([^"]+)"', section) == [FAILOVER_ID]


def test_unknown_incident_page_is_404(ui: TestClient) -> None:
    r = ui.get("/ui/incidents/does-not-exist")
    assert r.status_code == 404 and "Incident not found" in r.text


def test_long_timeline_is_cut_and_says_so(ui: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from api import incident_views

    monkeypatch.setattr(incident_views, "TIMELINE_SHOWN", 4)
    html = ui.get(f"/ui/incidents/{LOOP_ID}").text
    assert html.count('<tr class="move">') == 4
    assert "The first 4 moves of 6" in html
    full = ui.get(f"/ui/incidents/{FAILOVER_ID}").text
    assert 'id="timeline-more"' not in full


def test_pages_say_when_influxdb_is_down() -> None:
    from fabricscope.influxdb_local import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with make_client(url, "nodb") as c:
        for path in ("/", "/ui/incidents", f"/ui/incidents/{LOOP_ID}"):
            r = c.get(path)
            assert r.status_code == 503, (path, r.status_code)
            assert r.headers["content-type"].startswith("text/html")
            assert "InfluxDB" in r.text
        r = c.get("/api/v1/incidents")
        assert r.status_code == 503 and "InfluxDB unavailable" in r.json()["detail"]


def test_port_channel_failover_charts_member_ports_host_and_only_its_own_faults(
    seeded: Seeded,
) -> None:
    """A failover keyed by `node-103/po7` with a host NIC place `host:esx-07/if2` (what the
    analyzer writes when the host's NIC explains it): the port charts draw po7's member ports
    (a port-channel has no apic_interface row), the host charts draw esx-07, and a loop fault
    raised meanwhile on another leaf is listed as elsewhere, not drawn as this incident's."""
    t = seeded.now_ns - 600 * S
    iid = "inc-po7-failover"
    lines = [
        f'incident,fabric=fabric1,kind=link_failover id="{iid}",start="{rfc3339_nano(t)}",'
        f'end="{rfc3339_nano(t + S)}",endpoints=2i,moves=4i,places="node-103/po7,'
        'host:esx-07/if2",summary="Failover of node-103/po7",evidence="NIC down",'
        f'confidence=0.85,addrs="00:50:56:DD:00:01" {t}',
        'apic_fault,code=F2533,fabric=fabric1,kind=mcp_loop,node=104 interface="eth1/12",'
        'severity="major",lc="raised",active=true,descr="MCP loop elsewhere",'
        f'dn="topology/pod-1/node-104/sys/phys-[eth1/12]/fault-F2533" {t + 2 * S}',
    ]
    for iface in ("eth1/33", "eth1/34"):
        for k, up in ((-120, "true"), (-1, "false"), (60, "true")):
            lines.append(
                f"apic_interface,fabric=fabric1,interface={iface},node=103 "
                f'oper_st="{"up" if up == "true" else "down"}",oper_up={up},bundle="po7" '
                f"{t + k * S}"
            )
    for k in range(-10, 10):
        lines.append(
            "sflow_if_counters,agent=192.0.2.7,host=esx-07,ifindex=2,source_id=0:2 "
            f"if_index=2i,if_oper_up={0 if 0 <= k <= 2 else 1}i {t + k * 20 * S}"
        )
        lines.append(
            f"cpu,agent=192.0.2.7,cpu=cpu-total,host=esx-07 usage_active=30 {t + k * 20 * S}"
        )
    write_lines(seeded.url, seeded.db, lines)
    with make_client(seeded.url, seeded.db) as c:
        html = c.get(f"/ui/incidents/{iid}").text
    ch = charts(html)
    oper = ch["port-oper"]
    labels = [s.get("data-label") for s in oper.findall(".//s:g[@class='serie']", NS)]
    assert labels == ["node-103 eth1/33 (po7)", "node-103 eth1/34 (po7)"]
    states = [
        float(p.get("data-v", "nan"))
        for p in oper.findall(".//s:g[@class='serie'][1]/s:circle", NS)
    ]
    assert 0.0 in states and 1.0 in states
    nic = [s.get("data-label") for s in ch["host-nic"].findall(".//s:g[@class='serie']", NS)]
    assert nic == ["esx-07 ifindex 2"]
    assert not oper.findall(".//s:g[@class='marker fault']", NS)
    assert 'id="faults"' not in html
    elsewhere = html.split('id="faults-elsewhere"', 1)[1].split("</p>", 1)[0]
    assert "F2533 raised on node-104/eth1/12" in elsewhere


def test_flood_rate_between_polls_is_drawn_over_the_interval_it_happened_in() -> None:
    """A 12-s storm between two 60-s polls: the rate starts at the earlier poll (where the
    loop was) and holds to the later one; a counter reset gives no rate for its interval."""
    from influx.reads.incident_pages import counter_rates

    pts = [(0.0, 100.0), (60.0, 220.0), (120.0, 240_340.0), (180.0, 50.0), (240.0, 170.0)]
    assert counter_rates(pts) == [(0.0, 2.0), (60.0, 4002.0), (180.0, 2.0), (240.0, 2.0)]
    assert counter_rates(pts[:1]) == []
