"""Incidents in headless Chromium (same CDP driver as test_ui_browser.py): open the landing page,
see the last hour's incidents, open one, see its evidence charts drawn with data, and follow an
endpoint to its page. Screenshots go to test-artifacts/ (ui-landing.png, ui-incident-loop.png,
ui-incident-failover.png, ui-endpoint-incidents.png, ui-incidents.png) for a human look.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from tests.api.conftest import MAC, Seeded, write_lines
from tests.api.incident_data import FAILOVER_ID, LOOP_ID, OLD_ID, VM_ID, incident_lines
from tests.api.test_ui_browser import ARTIFACTS, CHROMIUM, Page, _serve, page  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no chromium")]


@pytest.fixture
def inc_server(seeded: Seeded) -> Iterator[str]:
    lines, _times = incident_lines(seeded.now_ns, seeded.move_ns)
    write_lines(seeded.url, seeded.db, lines)
    yield from _serve(seeded)


def shot(pg: Page, name: str) -> None:
    # Full page at the browser's width: the incident page is longer than one screen.
    data = pg.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(base64.b64decode(data))


def chart_stats(pg: Page, chart: str) -> dict:
    """What the browser actually laid out for one chart: series, points, markers, and the
    on-screen y of the highest and lowest value of the first series."""
    js = f"""
    (() => {{
      const svg = document.querySelector('#chart-{chart} svg');
      if (!svg) return null;
      const box = svg.getBoundingClientRect();
      const first = svg.querySelector('g.serie');
      const dots = first ? [...first.querySelectorAll('circle.pt')] : [];
      const byV = dots.map(d => [parseFloat(d.dataset.v), d.getBoundingClientRect().y]);
      byV.sort((a, b) => a[0] - b[0]);
      return {{
        width: box.width, height: box.height,
        series: [...svg.querySelectorAll('g.serie')].map(g => g.dataset.label),
        drawn: [...svg.querySelectorAll('g.serie path')].filter(p => p.getTotalLength() > 0).length,
        points: svg.querySelectorAll('circle.pt').length,
        faults: [...svg.querySelectorAll('g.marker.fault text')].map(t => t.textContent),
        events: svg.querySelectorAll('g.marker.event').length,
        lowest: byV.length ? byV[0] : null, highest: byV.length ? byV[byV.length - 1] : null,
        nodata: !!svg.querySelector('text.nodata'),
      }};
    }})()
    """
    out: dict = pg.eval(js)
    assert out is not None, f"no chart {chart}"
    return out


def test_landing_open_incident_and_see_its_evidence(inc_server: str, page: Page) -> None:  # noqa: F811
    page.call("Page.enable")
    page.call("Page.navigate", url=inc_server + "/")
    page.wait_for("!!document.querySelector('#last-hour table.incidents')")
    rows = page.eval("[...document.querySelectorAll('tr.incident')].map(r => r.dataset.id)")
    assert rows == [FAILOVER_ID, VM_ID, LOOP_ID]
    text = page.eval("document.getElementById('last-hour').innerText")
    assert "L2 loop in BD prod/bd-web" in text and "node-101/eth1/5" in text
    assert page.eval("!!document.getElementById('q')")  # endpoint search kept
    nav = page.eval("[...document.querySelectorAll('nav a')].map(a => a.textContent)")
    assert {"Incidents", "Moves", "Anomalies", "Hosts", "API"} <= set(nav)
    shot(page, "ui-landing.png")

    # Open the loop from the landing page.
    page.eval(
        f"document.querySelector('tr[data-id={json.dumps(LOOP_ID)}] a.incident-link').click(); 1"
    )
    page.wait_for(
        "location.pathname.startsWith('/ui/incidents/') "
        "&& !!document.querySelector('#evidence svg')"
    )
    assert page.eval("decodeURIComponent(location.pathname)") == f"/ui/incidents/{LOOP_ID}"
    title = page.eval("document.getElementById('incident-title').innerText")
    assert "L2 loop" in title
    flood = chart_stats(page, "port-flood")
    assert flood["series"] == ["node-101 eth1/5", "node-102 eth1/7"]
    assert flood["drawn"] == 2 and flood["points"] > 20 and not flood["nodata"]
    assert flood["faults"] == ["F2533"] and flood["events"] == 1
    # Drawn the right way up: the storm's 48000 pps sits above the 40 pps baseline.
    assert flood["highest"][0] == 48000 and flood["lowest"][0] == 40
    assert flood["highest"][1] < flood["lowest"][1]
    assert flood["width"] > 400 and flood["height"] > 150
    oper = chart_stats(page, "port-oper")
    assert oper["drawn"] == 2 and oper["points"] > 20
    assert page.eval("document.querySelectorAll('#timeline tr.move').length") == 6
    assert "F2533" in page.eval("document.getElementById('faults').innerText")
    href = page.eval("document.getElementById('grafana-link').href")
    assert "/d/fabricscope-endpoint-detail/" in href and "var-address=" in href
    shot(page, "ui-incident-loop.png")

    # The failover: a port going down and the hypervisor's NIC, CPU and network.
    page.call("Page.navigate", url=f"{inc_server}/ui/incidents/{FAILOVER_ID}")
    page.wait_for("!!document.querySelector('#chart-host-net svg')")
    ids = page.eval("[...document.querySelectorAll('figure.chart-box')].map(f => f.id)")
    assert ids == [
        "chart-port-oper",
        "chart-port-flood",
        "chart-host-nic",
        "chart-host-cpu",
        "chart-host-net",
    ]
    oper = chart_stats(page, "port-oper")
    assert oper["series"][0] == "node-101 eth1/1"
    assert oper["highest"][1] < oper["lowest"][1]  # "up" drawn above "down"
    for c in ("host-nic", "host-cpu", "host-net"):
        st = chart_stats(page, c)
        assert st["drawn"] >= 1 and st["points"] > 5 and not st["nodata"], (c, st)
    shot(page, "ui-incident-failover.png")

    # From the incident to one of its endpoints, whose page lists the incident.
    page.eval("document.querySelector('#endpoints a.addr').click(); 1")
    page.wait_for("location.pathname.startsWith('/ui/endpoints/')")
    page.wait_for("!!document.getElementById('endpoint-incidents')")
    assert page.eval("document.querySelector('h1.addr').innerText").startswith(MAC)
    listed = page.eval(
        "[...document.querySelectorAll('#endpoint-incidents tr.incident')].map(r => r.dataset.id)"
    )
    assert listed == [FAILOVER_ID]
    shot(page, "ui-endpoint-incidents.png")
    # …and its analysed move links back to the incident.
    page.eval("document.querySelector('li.move a.incident-ref').click(); 1")
    page.wait_for(
        "location.pathname.startsWith('/ui/incidents/') && !!document.querySelector('#facts')"
    )
    assert page.eval("decodeURIComponent(location.pathname)") == f"/ui/incidents/{FAILOVER_ID}"

    # The incident list over a week, by kind.
    page.call("Page.navigate", url=inc_server + "/ui/incidents?since=-7d")
    page.wait_for("!!document.querySelector('table.incidents')")
    listed = page.eval("[...document.querySelectorAll('tr.incident')].map(r => r.dataset.id)")
    assert listed == [FAILOVER_ID, VM_ID, LOOP_ID, OLD_ID]
    shot(page, "ui-incidents.png")
