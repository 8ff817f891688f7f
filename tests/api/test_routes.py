"""HTTP API against a real InfluxDB seeded in the collector/poller/analyzer shapes."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from fabricscope.influxdb_local import free_port
from tests.api.conftest import API_KEY, IP1, IP2, MAC, S, Seeded, make_client, write_lines


def test_health_reports_each_process(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["influxdb"] == "ok"
    procs = body["processes"]
    assert procs["collector"]["status"] == "ok"
    # The process-level row, not the newer per-agent row (which has no decode_errors).
    assert procs["collector"]["datagrams"] == 324 and procs["collector"]["decode_errors"] == 0
    assert procs["poller"]["status"] == "ok"
    assert procs["analyzers"]["status"] == "stale"
    assert body["status"] == "degraded"


def test_health_judges_analyzers_by_their_own_interval(client: TestClient, seeded: Seeded) -> None:
    """Analyzers report once per run (every 60 s by default), not every 10 s: three missed runs
    make them stale, not three missed 10 s reports."""
    row = (
        "fabricscope_stats,analyzer=move_cause,fabric=fabric1,process=analyzers "
        "runs={runs}i,failures=0i,last_success=true,last_duration_ms=12.5,interval_s=60.0 {t}"
    )
    now = time.time_ns()
    write_lines(seeded.url, seeded.db, [row.format(runs=4, t=now - 200 * S)])
    procs = client.get("/api/v1/health").json()["processes"]
    assert procs["analyzers"]["status"] == "stale" and procs["analyzers"]["runs"] == 4
    write_lines(seeded.url, seeded.db, [row.format(runs=5, t=now - 90 * S)])
    procs = client.get("/api/v1/health").json()["processes"]
    assert procs["analyzers"]["status"] == "ok", procs["analyzers"]
    assert procs["analyzers"]["runs"] == 5 and procs["analyzers"]["analyzer"] == "move_cause"


def test_health_degraded_when_the_poller_says_it_is_blind(
    client: TestClient, seeded: Seeded
) -> None:
    """The poller reports at every state change; a report with healthy=false (here: resyncing
    after a silent websocket) makes it degraded at once, long before it would turn stale."""
    row = (
        'fabricscope_stats,fabric=fabric1,process=poller state="{state}",healthy={ok},'
        'last_failure="event stream silent: epmMacEp changed",endpoints=10i {t}'
    )
    now = time.time_ns()
    write_lines(seeded.url, seeded.db, [row.format(state="resyncing", ok="false", t=now)])
    body = client.get("/api/v1/health").json()
    poller = body["processes"]["poller"]
    assert poller["status"] == "degraded" and body["status"] == "degraded"
    assert poller["state"] == "resyncing" and "silent" in poller["last_failure"]
    write_lines(seeded.url, seeded.db, [row.format(state="streaming", ok="true", t=now + S)])
    assert client.get("/api/v1/health").json()["processes"]["poller"]["status"] == "ok"


def test_endpoint_search_by_mac_any_spelling(client: TestClient) -> None:
    for q in (MAC, MAC.lower(), "0050.56aa.0001", "00-50-56-aa-00-01"):
        r = client.get("/api/v1/endpoints", params={"q": q})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["match"] == "mac"
        [ep] = body["items"]
        assert ep["addr"] == MAC
        # Deleted from 101 at the move: only 102 is current.
        assert [(loc["node"], loc["interface"]) for loc in ep["locations"]] == [("102", "eth1/2")]
        assert (ep["epg"], ep["bd"], ep["vrf"]) == ("prod/app/web", "prod/bd-web", "prod/vrf1")


def test_endpoint_search_ip_cidr_and_prefix(client: TestClient) -> None:
    r = client.get("/api/v1/endpoints", params={"q": IP1}).json()
    assert [e["addr"] for e in r["items"]] == [IP1] and r["match"] == "ip"
    assert r["items"][0]["locations"][0]["node"] == "102"
    r = client.get("/api/v1/endpoints", params={"q": "10.1.0.0/16"}).json()
    assert r["match"] == "cidr" and [e["addr"] for e in r["items"]] == [IP1, IP2]
    r = client.get("/api/v1/endpoints", params={"q": "10.1.2.0/24"}).json()
    assert [e["addr"] for e in r["items"]] == [IP2]
    r = client.get("/api/v1/endpoints", params={"q": "00:50:56"}).json()
    assert r["match"] == "prefix" and [e["addr"] for e in r["items"]] == [MAC]
    # "10.1.1" must not match 10.1.2.9 (prefix, literal dots).
    r = client.get("/api/v1/endpoints", params={"q": "10.1.1"}).json()
    assert [e["addr"] for e in r["items"]] == [IP1]
    r = client.get("/api/v1/endpoints", params={"q": "10.77.0.1"}).json()
    assert r["items"] == []


def test_history_newest_first(client: TestClient, seeded: Seeded) -> None:
    r = client.get(f"/api/v1/endpoints/{quote(MAC)}/history")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["type"] for i in items].count("move") == 1
    assert len(items) == 4
    times = [i["time"] for i in items]
    assert times == sorted(times, reverse=True)
    assert items[-1]["status"] == "created" and items[-1]["node"] == 101
    # Lower-case MAC in the path finds the same endpoint; paging works.
    r = client.get(f"/api/v1/endpoints/{MAC.lower()}/history", params={"limit": 2, "offset": 2})
    page = r.json()
    assert [i["time"] for i in page["items"]] == times[2:4] and page["next_offset"] == 4


def test_moves_filters_and_paging(client: TestClient) -> None:
    body = client.get("/api/v1/moves").json()
    assert [m["addr"] for m in body["items"]] == ["10.9.9.9", IP1, MAC]
    body = client.get("/api/v1/moves", params={"fabric": "fabric1"}).json()
    assert [m["addr"] for m in body["items"]] == [IP1, MAC]
    m = body["items"][1]
    assert (m["from_node"], m["to_node"], m["to_interface"]) == ("101", "102", "eth1/2")
    body = client.get("/api/v1/moves", params={"limit": 1, "fabric": "fabric1"}).json()
    assert [m["addr"] for m in body["items"]] == [IP1] and body["next_offset"] == 1
    body = client.get("/api/v1/moves", params={"limit": 1, "offset": 1, "fabric": "fabric1"}).json()
    assert [m["addr"] for m in body["items"]] == [MAC]
    assert (
        client.get("/api/v1/moves", params={"since": "-100s"}).json()["items"][0]["addr"]
        == "10.9.9.9"
    )
    assert (
        client.get("/api/v1/moves", params={"since": "-1h", "until": "-400s"}).json()["items"] == []
    )
    assert [
        m["addr"] for m in client.get("/api/v1/moves", params={"addr": IP1}).json()["items"]
    ] == [IP1]


def test_anomalies_by_kind(client: TestClient) -> None:
    items = client.get("/api/v1/anomalies").json()["items"]
    assert [a["kind"] for a in items] == ["offsubnet", "rapid"]
    items = client.get("/api/v1/anomalies", params={"kind": "rapid"}).json()["items"]
    assert [(a["addr"], a["detail"]) for a in items] == [(MAC, "12 moves in 60s")]
    assert client.get("/api/v1/anomalies", params={"kind": "loop"}).json()["items"] == []


def test_analysis_moves(client: TestClient, seeded: Seeded) -> None:
    [f] = client.get("/api/v1/analysis/moves").json()["items"]
    assert (f["addr"], f["cause"], f["confidence"]) == (MAC, "link_failover", 0.9)
    assert "went down" in f["evidence"]
    assert (
        client.get("/api/v1/analysis/moves", params={"cause": "vm_migration"}).json()["items"] == []
    )


def test_hosts_and_metrics(client: TestClient) -> None:
    [h] = client.get("/api/v1/hosts").json()["items"]
    assert h["host"] == "hv1" and h["usage_active"] == 17.5 and h["used_percent"] == 40.5
    assert h["n_cpus"] == 8 and h["vms"] == [{"vm": "web-1", "macs": ["005056aa0001"]}]
    r = client.get("/api/v1/hosts/hv1/metrics", params={"interval": "1h", "since": "-1d"})
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["interval"] == "1h"
    assert sum(len(m[k]) for k in ("cpu", "mem", "system")) >= 3
    cpu_mean = [row["usage_active"] for row in m["cpu"]]
    assert cpu_mean in ([15.0], [12.5, 17.5], [17.5, 12.5])  # both in one bucket unless split
    assert client.get("/api/v1/hosts/nohost/metrics").status_code == 404


def test_interfaces_both_sources(client: TestClient) -> None:
    items = client.get("/api/v1/interfaces").json()["items"]
    by_src = {i["source"]: i for i in items}
    assert by_src["sflow"]["ifindex"] == "5" and by_src["sflow"]["if_oper_up"] == 1
    assert by_src["apic"]["node"] == "101" and by_src["apic"]["oper_st"] == "down"
    only = client.get("/api/v1/interfaces", params={"source": "apic"}).json()["items"]
    assert [i["source"] for i in only] == ["apic"]


def test_top_flows_joined_to_endpoints(client: TestClient) -> None:
    rows = client.get("/api/v1/flows/top", params={"limit": 2}).json()
    assert [(r["src_ip"], r["dst_ip"], r["bytes"]) for r in rows] == [
        (IP1, IP2, 4_000_000),
        (IP2, IP1, 50_000),
    ]
    assert rows[0]["src_endpoint"]["epg"] == "prod/app/db"
    rows = client.get("/api/v1/flows/top", params={"by": "mac"}).json()
    assert rows[0]["src_mac"] == "005056aa0001"
    assert rows[0]["src_endpoint"] == {
        "addr": MAC,
        "epg": "prod/app/web",
        "bd": "prod/bd-web",
        "vrf": "prod/vrf1",
    }


# -- auth ----------------------------------------------------------------------------------------


@pytest.fixture
def keyed(seeded: Seeded):
    with make_client(seeded.url, seeded.db, api_key=API_KEY) as c:
        yield c


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "wrong"},
        {"X-API-Key": API_KEY + "x"},
        {"X-API-Key": "é".encode("latin-1")},
    ],
)
def test_api_key_required(keyed: TestClient, headers: dict[str, str | bytes]) -> None:
    for path in ("/api/v1/moves", "/api/v1/endpoints?q=10.1.1.5"):
        r = keyed.get(path, headers=headers)
        assert r.status_code == 401, (path, r.status_code)
    # A browser cannot send the header: UI pages send it to the login page (tests/api/test_auth.py).
    r = keyed.get("/ui/moves", headers=headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=")


def test_api_key_accepted_and_health_open(keyed: TestClient) -> None:
    assert keyed.get("/api/v1/moves", headers={"X-API-Key": API_KEY}).status_code == 200
    assert keyed.get("/api/v1/health").status_code == 200


# -- validation and injection -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "param", "needle"),
    [
        ("/api/v1/moves", {"since": "yesterday"}, "since", "invalid time"),
        ("/api/v1/moves", {"until": "2024-01-01T00:00:00"}, "until", "UTC offset"),
        ("/api/v1/moves", {"since": "-1h", "until": "-2h"}, "since", "must be before"),
        ("/api/v1/moves", {"limit": "0"}, "limit", "greater than or equal"),
        ("/api/v1/moves", {"limit": "100000"}, "limit", "less than or equal to 1000"),
        ("/api/v1/moves", {"limit": "ten"}, "limit", "integer"),
        ("/api/v1/anomalies", {"kind": "bogus"}, "kind", "rapid"),
        ("/api/v1/anomalies", {"kind": "rapid' OR '1'='1"}, "kind", "rapid"),
        ("/api/v1/analysis/moves", {"cause": "bogus"}, "cause", "link_failover"),
        ("/api/v1/analysis/moves", {"cause": "x' OR 1=1 --"}, "cause", "unknown"),
        ("/api/v1/endpoints", {"q": "x' OR 1=1 --"}, "q", "not a MAC"),
        ("/api/v1/endpoints", {"q": "/.*/"}, "q", "CIDR"),
        ("/api/v1/endpoints", {"q": "10.1.1.5\nDROP"}, "q", "control character (U+000A)"),
        ("/api/v1/endpoints", {}, "q", "Field required"),
        ("/api/v1/hosts/hv1/metrics", {"interval": "1h; DROP"}, "interval", "invalid duration"),
        ("/api/v1/moves", {"fabric": " "}, "fabric", "must not be empty"),
    ],
)
def test_bad_parameters_422(
    client: TestClient, path: str, params: dict[str, str], param: str, needle: str
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    [err] = [e for e in r.json()["detail"] if e["loc"][-1] == param]
    assert needle.lower() in str(err["msg"]).lower(), err


@pytest.mark.parametrize(
    "evil", ["x' OR 1=1 --", "/.*/", "a\\nb", "\\", "' OR addr =~ /.*/ --", '"; DROP DATABASE x']
)
def test_injection_is_quoted(client: TestClient, evil: str) -> None:
    """Hostile values reach InfluxDB only quoted: the query runs (200, not 502) and matches
    nothing, while the same routes do return data for honest values."""
    enc = quote(evil, safe="")
    r = client.get(f"/api/v1/endpoints/{enc}/history")
    assert r.status_code == 200 and r.json()["items"] == [], r.text
    for path, params in [
        ("/api/v1/moves", {"addr": evil}),
        ("/api/v1/moves", {"fabric": evil}),
        ("/api/v1/anomalies", {"addr": evil}),
        ("/api/v1/analysis/moves", {"addr": evil}),
        ("/api/v1/interfaces", {"fabric": evil, "source": "apic"}),
    ]:
        r = client.get(path, params=params)
        assert r.status_code == 200, (path, params, r.status_code, r.text)
        assert r.json()["items"] == [], (path, params)
    r = client.get("/api/v1/flows/top", params={"agent": evil})
    assert r.status_code == 200 and r.json() == []
    r = client.get(f"/api/v1/hosts/{enc}/metrics")
    assert r.status_code == 404
    assert "no metrics" in r.json()["detail"]
    # The honest counterparts do match, so the empty results above are not vacuous.
    assert client.get("/api/v1/moves", params={"fabric": "fabric1"}).json()["items"]
    assert client.get("/api/v1/flows/top", params={"agent": "10.0.0.1"}).json()


# -- InfluxDB down ---------------------------------------------------------------------------------


def test_influxdb_down_is_503() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with make_client(url, "nodb") as c:
        for path in ("/api/v1/moves", "/api/v1/endpoints?q=10.1.1.5", "/api/v1/hosts"):
            r = c.get(path)
            assert r.status_code == 503, (path, r.status_code)
            assert "InfluxDB unavailable" in r.json()["detail"]
        # UI pages: the error page (tests/api/test_hardening.py).
        assert c.get("/ui/moves").status_code == 503
        r = c.get("/api/v1/health")
        assert r.status_code == 503
        assert r.json()["influxdb"] == "unreachable" and r.json()["status"] == "unavailable"


def test_missing_database_is_503(seeded: Seeded) -> None:
    with make_client(seeded.url, "no_such_db") as c:
        r = c.get("/api/v1/moves")
        assert r.status_code == 503 and "database not found" in r.json()["detail"]
        assert c.get("/api/v1/health").json()["influxdb"] == "error"


def test_openapi_lists_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/api/v1/health",
        "/api/v1/endpoints",
        "/api/v1/endpoints/{addr}/history",
        "/api/v1/moves",
        "/api/v1/anomalies",
        "/api/v1/analysis/moves",
        "/api/v1/hosts",
        "/api/v1/hosts/{host}/metrics",
        "/api/v1/interfaces",
        "/api/v1/flows/top",
    ):
        assert p in paths
    assert client.get("/docs").status_code == 200
