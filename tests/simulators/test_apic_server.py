"""The simulated APIC over real HTTP + websocket (httpx, websockets, http.client)."""

from __future__ import annotations

import asyncio
import http.client
import json
import time

import httpx
import pytest
import websockets

from simulators.apic_server import (
    TEXT_BAD_LOGIN,
    TEXT_NO_COOKIE,
    TEXT_NO_SOCKET,
    TEXT_TOKEN_TIMEOUT,
    ApicCluster,
    ApicSimulator,
)
from simulators.fabric import SimulatedFabric

LOGIN = {"aaaUser": {"attributes": {"name": "admin", "pwd": "password"}}}


@pytest.fixture(scope="module")
def apic():
    fab = SimulatedFabric.build(leafs=4, endpoints=300, seed=11)
    sim = ApicSimulator(fab, max_unpaged=800)
    handle = sim.start("127.0.0.1", 0)
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _clear_faults(apic):
    apic.simulator.faults.clear()
    yield
    apic.simulator.faults.clear()


def login(apic) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=apic.url, timeout=20)
    r = c.post("/api/aaaLogin.json", json=LOGIN)
    assert r.status_code == 200
    return c, r.json()["imdata"][0]["aaaLogin"]["attributes"]["token"]


def error_of(r: httpx.Response) -> tuple[int, str]:
    a = r.json()["imdata"][0]["error"]["attributes"]
    assert a["code"] == str(r.status_code)
    return r.status_code, a["text"]


# ------------------------------------------------------------------------------ auth


def test_login_refresh_logout_and_cookie(apic):
    c = httpx.Client(base_url=apic.url)
    bad = c.post(
        "/api/aaaLogin.json", json={"aaaUser": {"attributes": {"name": "admin", "pwd": "nope"}}}
    )
    assert error_of(bad) == (401, TEXT_BAD_LOGIN)
    assert error_of(c.get("/api/class/fabricNode.json")) == (403, TEXT_NO_COOKIE)
    r = c.post("/api/aaaLogin.json", json=LOGIN)
    attrs = r.json()["imdata"][0]["aaaLogin"]["attributes"]
    assert r.json()["totalCount"] == "1"
    assert r.cookies["APIC-cookie"] == attrs["token"]
    assert attrs["refreshTimeoutSeconds"] == "600" and attrs["maximumLifetimeSeconds"] == "86400"
    assert (
        r.json()["imdata"][0]["aaaLogin"]["children"][0]["aaaUserDomain"]["attributes"]["rolesR"]
        == "admin"
    )
    assert c.get("/api/class/fabricNode.json").status_code == 200
    ref = c.get("/api/aaaRefresh.json")
    assert ref.json()["imdata"][0]["aaaLogin"]["attributes"]["token"] == attrs["token"]
    # The cookie can also be sent as APIC-Cookie, without the client's cookie jar.
    raw = httpx.get(
        f"{apic.url}/api/class/fabricNode.json", headers={"Cookie": f"APIC-Cookie={attrs['token']}"}
    )
    assert raw.status_code == 200
    assert c.post("/api/aaaLogout.json", json=LOGIN).json() == {"totalCount": "0", "imdata": []}
    assert error_of(c.get("/api/class/fabricNode.json")) == (403, TEXT_TOKEN_TIMEOUT)


def test_token_expires_after_refresh_timeout():
    fab = SimulatedFabric.build(leafs=2, endpoints=10, seed=1)
    h = ApicSimulator(fab, refresh_timeout=1).start()
    try:
        c = httpx.Client(base_url=h.url)
        c.post("/api/aaaLogin.json", json=LOGIN)
        assert c.get("/api/class/fabricNode.json").status_code == 200
        time.sleep(1.3)
        assert error_of(c.get("/api/class/fabricNode.json")) == (403, TEXT_TOKEN_TIMEOUT)
    finally:
        h.stop()


# ---------------------------------------------------------------------------- queries


def test_class_node_and_mo_queries(apic):
    c, _ = login(apic)
    nodes = c.get("/api/class/fabricNode.json").json()
    assert nodes["totalCount"] == str(len(nodes["imdata"]))
    roles = {o["fabricNode"]["attributes"]["role"] for o in nodes["imdata"]}
    assert roles == {"leaf", "spine", "controller"}
    scoped = c.get("/api/node/class/topology/pod-1/node-101/epmMacEp.json").json()
    dns = [o["epmMacEp"]["attributes"]["dn"] for o in scoped["imdata"]]
    assert dns and all(dn.startswith("topology/pod-1/node-101/sys/") for dn in dns)
    one = c.get(f"/api/mo/{dns[0]}.json").json()
    assert one["totalCount"] == "1" and one["imdata"][0]["epmMacEp"]["attributes"]["dn"] == dns[0]
    assert c.get(f"/api/node/mo/{dns[0]}.json").json()["totalCount"] == "1"
    missing = c.get("/api/mo/uni/tn-nothere.json").json()
    assert missing == {"totalCount": "0", "imdata": []}
    overlay = c.get("/api/mo/uni/tn-infra/ctx-overlay-1.json").json()["imdata"][0]
    assert overlay["fvCtx"]["attributes"]["scope"] == "16777199"
    tunnels = c.get(
        "/api/mo/topology/pod-1/node-101/sys.json?query-target=subtree"
        "&target-subtree-class=tunnelIf"
    ).json()
    assert {o["tunnelIf"]["attributes"]["dest"] for o in tunnels["imdata"]} >= {"10.0.0.102"}
    bd = c.get(
        "/api/class/fvBD.json?rsp-subtree=children&rsp-subtree-class=fvSubnet&page-size=1"
    ).json()["imdata"][0]["fvBD"]
    assert list(bd["children"][0]) == ["fvSubnet"]
    err = c.get("/api/class/notAClass.json")
    assert error_of(err) == (400, "Request failed, unresolved class for notAClass")


def test_filters_over_http_raw_and_encoded(apic):
    c, token = login(apic)
    some = c.get(
        '/api/class/epmIpEp.json?query-target-filter=eq(epmIpEp.flags,"ip,local")&page-size=1'
    ).json()["imdata"][0]["epmIpEp"]["attributes"]
    ip = some["addr"]
    # Unencoded, as APIC clients send it (http.client does not re-encode the path).
    path = (
        f"/api/class/epmDb.json?query-target=subtree&target-subtree-class=epmIpEp,"
        f'epmRsMacEpToIpEpAtt&query-target-filter=or(eq(epmIpEp.addr,"{ip}"),'
        f'wcard(epmRsMacEpToIpEpAtt.dn,"ip-\\[{ip}\\]"))'
    )
    conn = http.client.HTTPConnection(apic.host, apic.port)
    conn.request("GET", path, headers={"Cookie": f"APIC-cookie={token}"})
    body = json.loads(conn.getresponse().read())
    classes = {next(iter(o)) for o in body["imdata"]}
    assert classes == {"epmIpEp", "epmRsMacEpToIpEpAtt"}
    enc = c.get(
        "/api/class/epmIpEp.json",
        params={"query-target-filter": f'and(eq(epmIpEp.addr,"{ip}"),ne(epmIpEp.flags,"ip"))'},
    ).json()
    assert all(o["epmIpEp"]["attributes"]["addr"] == ip for o in enc["imdata"])
    assert all(o["epmIpEp"]["attributes"]["flags"] != "ip" for o in enc["imdata"])
    assert int(enc["totalCount"]) >= 1
    bad = c.get("/api/class/epmIpEp.json?query-target-filter=eq(epmIpEp.addr")
    assert bad.status_code == 400 and "Incorrect filter format" in error_of(bad)[1]


def test_paging_order_by_and_count(apic):
    c, _ = login(apic)
    full = c.get("/api/class/epmMacEp.json?order-by=epmMacEp.addr&page-size=100000").json()
    total = int(full["totalCount"])
    addrs = [o["epmMacEp"]["attributes"]["addr"] for o in full["imdata"]]
    assert addrs == sorted(addrs) and len(addrs) == total
    pages, page = [], 0
    while True:
        r = c.get(f"/api/class/epmMacEp.json?order-by=epmMacEp.addr&page-size=250&page={page}")
        body = r.json()
        assert body["totalCount"] == str(total)
        pages += [o["epmMacEp"]["attributes"]["dn"] for o in body["imdata"]]
        page += 1
        if len(body["imdata"]) < 250:
            break
    assert pages == [o["epmMacEp"]["attributes"]["dn"] for o in full["imdata"]]
    desc = c.get("/api/class/fvBD.json?order-by=fvBD.seg|desc").json()["imdata"]
    segs = [int(o["fvBD"]["attributes"]["seg"]) for o in desc]
    assert segs == sorted(segs, reverse=True)
    cnt = c.get("/api/class/epmMacEp.json?rsp-subtree-include=count").json()
    assert cnt["imdata"][0]["moCount"]["attributes"]["count"] == str(total)
    # Unpaged above the cap (800 in this fixture) fails like a real APIC.
    big = c.get("/api/class/epmMacEp.json")
    assert error_of(big) == (400, "Unable to process the query, result dataset is too big")


# ------------------------------------------------------------------ subscriptions


async def _login_async(apic) -> tuple[httpx.AsyncClient, str]:
    c = httpx.AsyncClient(base_url=apic.url, timeout=20)
    r = await c.post("/api/aaaLogin.json", json=LOGIN)
    return c, r.json()["imdata"][0]["aaaLogin"]["attributes"]["token"]


async def _frames(ws, until: float = 1.0) -> list[dict]:
    out = []
    try:
        while True:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), until)))
    except TimeoutError:
        return out


async def test_subscription_frames_on_move(apic):
    c, token = await _login_async(apic)
    r = await c.get("/api/class/epmMacEp.json?subscription=yes&page-size=1")
    assert error_of(r) == (405, TEXT_NO_SOCKET)
    async with websockets.connect(f"{apic.ws_url}/socket{token}") as ws:
        r = await c.get("/api/class/epmMacEp.json?subscription=yes&page-size=1")
        body = r.json()
        sid = body["subscriptionId"]
        assert isinstance(sid, str) and len(body["imdata"]) == 1
        r2 = await c.get(
            "/api/class/epmMacEp.json?subscription=yes&page-size=1"
            '&query-target-filter=eq(epmMacEp.flags,"mac")'
        )
        sid_xr = r2.json()["subscriptionId"]
        fab = apic.simulator.fabric
        recs = await asyncio.to_thread(fab.run_scenario, "vm_migration")
        move = next(x for x in recs if x.kind == "move")
        frames = await _frames(ws)
        objs = [(f["subscriptionId"], f["imdata"][0]["epmMacEp"]["attributes"]) for f in frames]
        new_local = [
            a
            for ids, a in objs
            if a["status"] == "created"
            and "local" in a.get("flags", "")
            and f"node-{move.to_nodes[0]}/" in a["dn"]
        ]
        assert new_local and new_local[0]["ifId"] == move.to_interface
        assert set(new_local[0]) >= {"addr", "flags", "ifId", "pcTag", "createTs", "dn"}
        gone = [
            a
            for ids, a in objs
            if a["status"] == "deleted"
            and f"node-{move.from_nodes[0]}/" in a["dn"]
            and "/vlan-[" in a["dn"]
        ]
        assert gone and set(gone[0]) == {"childAction", "dn", "modTs", "rn", "status"}
        modified = [(ids, a) for ids, a in objs if a["status"] == "modified"]
        assert modified, "XR entries on partner leafs must be modified to the new tunnel"
        ids, a = modified[0]
        assert set(a) == {"childAction", "dn", "modTs", "rn", "status", "ifId"}
        assert a["ifId"].startswith("tunnel") and sid in ids and sid_xr in ids
        ok = await c.get(f"/api/subscriptionRefresh.json?id={sid}")
        assert ok.status_code == 200
        unknown = await c.get("/api/subscriptionRefresh.json?id=12345")
        assert unknown.status_code == 400
    await c.aclose()


async def test_mo_subscription_and_fault_frames(apic):
    c, token = await _login_async(apic)
    async with websockets.connect(f"{apic.ws_url}/socket{token}") as ws:
        r = await c.get("/api/class/faultInst.json?subscription=yes")
        sid = r.json()["subscriptionId"]
        fab = apic.simulator.fabric
        recs = await asyncio.to_thread(fab.run_scenario, "nic_teaming_flap", flaps=5)
        assert recs[-1].kind == "rogue"
        frames = await _frames(ws)
        faults = [f["imdata"][0]["faultInst"]["attributes"] for f in frames]
        assert any(
            a["status"] == "created"
            and a["cause"] == "rogue-ep-detected"
            and recs[-1].addr in a["dn"]
            for a in faults
        )
        assert all(f["subscriptionId"] == [sid] for f in frames)
    await c.aclose()


# ------------------------------------------------------------------------- faults


def test_fault_token_timeout_and_refresh_fail(apic):
    c, _ = login(apic)
    apic.simulator.faults.set("token_timeout", count=1)
    assert error_of(c.get("/api/class/fabricNode.json")) == (403, TEXT_TOKEN_TIMEOUT)
    # The session is gone: a re-login is needed, after which everything works again.
    assert c.get("/api/class/fabricNode.json").status_code == 403
    c.post("/api/aaaLogin.json", json=LOGIN)
    assert c.get("/api/class/fabricNode.json").status_code == 200
    httpx.post(f"{apic.url}/_sim/faults", json={"name": "refresh_fail", "count": 1})
    assert error_of(c.get("/api/aaaRefresh.json")) == (403, TEXT_TOKEN_TIMEOUT)


async def test_fault_subscribe_405_and_subscription_refresh_fail(apic):
    c, token = await _login_async(apic)
    async with websockets.connect(f"{apic.ws_url}/socket{token}"):
        apic.simulator.faults.set("subscribe_405", count=1)
        r = await c.get("/api/class/fvBD.json?subscription=yes")
        assert error_of(r) == (405, TEXT_NO_SOCKET)
        sid = (await c.get("/api/class/fvBD.json?subscription=yes")).json()["subscriptionId"]
        apic.simulator.faults.set("subscription_refresh_fail", count=1)
        assert (await c.get(f"/api/subscriptionRefresh.json?id={sid}")).status_code == 400
        assert (await c.get(f"/api/subscriptionRefresh.json?id={sid}")).status_code == 200
    await c.aclose()


async def test_fault_ws_close_and_ws_silent(apic):
    c, token = await _login_async(apic)
    fab = apic.simulator.fabric
    async with websockets.connect(f"{apic.ws_url}/socket{token}") as ws:
        await c.get("/api/class/epmMacEp.json?subscription=yes&page-size=1")
        await c.post("/_sim/faults/ws_silent")
        await asyncio.to_thread(fab.run_scenario, "vm_migration")
        assert await _frames(ws, 0.7) == []  # silently dead: open, but nothing arrives
        await c.delete("/_sim/faults/ws_silent")
        await asyncio.to_thread(fab.run_scenario, "vm_migration")
        assert await _frames(ws, 0.7)
        await c.post("/_sim/faults/ws_close")
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    # Subscriptions died with the socket.
    r = await c.get("/api/class/epmMacEp.json?subscription=yes&page-size=1")
    assert r.status_code == 405
    await c.aclose()


def test_fault_throttle_slow_and_empty_page(apic):
    c, _ = login(apic)
    apic.simulator.faults.set("throttle", count=1)
    r = c.get("/api/class/fabricNode.json")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert c.get("/api/class/fabricNode.json").status_code == 200
    apic.simulator.faults.set("slow", count=1, value=0.6)
    t0 = time.monotonic()
    assert c.get("/api/class/fabricNode.json").status_code == 200
    assert time.monotonic() - t0 >= 0.6
    apic.simulator.faults.set("empty_page", count=1)
    body = c.get("/api/class/fabricNode.json").json()
    assert int(body["totalCount"]) > 0 and body["imdata"] == []


def test_fault_page_churn_changes_pages_between_requests(apic):
    c, _ = login(apic)
    url = "/api/class/epmMacEp.json?order-by=epmMacEp.dn&page-size=200&page={}"
    first = c.get(url.format(0)).json()
    apic.simulator.faults.set("page_churn", count=1, value=40)
    second = c.get(url.format(1)).json()
    clean = httpx.Client(base_url=apic.url, cookies=c.cookies)
    again = [o["epmMacEp"]["attributes"]["dn"] for o in clean.get(url.format(0)).json()["imdata"]]
    before = [o["epmMacEp"]["attributes"]["dn"] for o in first["imdata"]]
    assert again != before  # objects were inserted/deleted between the two paged requests
    assert second["imdata"] and apic.simulator.faults.fired["page_churn"] == 1


def test_cluster_member_down_other_serves():
    fab = SimulatedFabric.build(leafs=2, endpoints=20, seed=2)
    cluster = ApicCluster(fab, size=2).start()
    try:
        url0, url1 = cluster.urls
        cluster.stop_member(0)
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{url0}/api/aaaLogin.json", json=LOGIN, timeout=2)
        c = httpx.Client(base_url=url1)
        c.post("/api/aaaLogin.json", json=LOGIN)
        assert c.get("/api/class/fabricNode.json").status_code == 200
        cluster.start_member(0)
        assert httpx.post(f"{url0}/api/aaaLogin.json", json=LOGIN).status_code == 200
    finally:
        cluster.stop()


# ---------------------------------------------------------------------- side API


def test_side_api_scenario_truth_and_faults(apic):
    base = apic.url
    r = httpx.post(f"{base}/_sim/scenario/offsubnet?wait=1", timeout=20)
    recs = r.json()["records"]
    assert [x["kind"] for x in recs] == ["offsubnet"]
    truth = httpx.get(f"{base}/_sim/truth", params={"kind": "offsubnet"}).json()["records"]
    assert recs[0]["addr"] in {x["addr"] for x in truth}
    started = httpx.post(f"{base}/_sim/scenario/vm_migration")
    assert started.status_code == 202 and started.json()["run"] > 0
    assert httpx.post(f"{base}/_sim/scenario/nope").status_code == 404
    bad = httpx.post(f"{base}/_sim/faults", json={"name": "nope"})
    assert bad.status_code == 422
    st = httpx.post(f"{base}/_sim/faults", json={"name": "slow", "value": 0.1}).json()
    assert st["armed"]["slow"]["value"] == 0.1
    assert httpx.delete(f"{base}/_sim/faults").json()["armed"] == {}


def test_adjacency_and_ingress_class_counters_over_http() -> None:
    """lldpAdjEp/cdpAdjEp under sys/lldp|cdp/inst/if-[port]/adj-1 and the eqptIngrPkts5min /
    eqptIngrBytes5min CD objects under each port, as class, node-scoped, MO and stats queries."""
    from simulators import port_stats
    from simulators.bridge import bridge_fabric

    fab = SimulatedFabric.build(leafs=4, endpoints=60, seed=2)
    _, bridge = bridge_fabric(fab)
    handle = ApicSimulator(fab).start("127.0.0.1", 0)
    try:
        c, _ = login(handle)
        lldp = c.get("/api/class/lldpAdjEp.json").json()
        assert int(lldp["totalCount"]) == len(fab.static["lldpAdjEp"]) > 10
        node, port = bridge.external["ext-sw2"]
        base = f"/api/mo/topology/pod-1/node-{node}/sys"
        r = c.get(f"{base}/lldp/inst.json?query-target=subtree&target-subtree-class=lldpAdjEp")
        names = {o["lldpAdjEp"]["attributes"]["sysName"] for o in r.json()["imdata"]}
        assert "ext-sw2" in names
        r = c.get(f"{base}/cdp/inst/if-[{port}]/adj-1.json?rsp-subtree=children")
        (cdp,) = r.json()["imdata"]
        assert cdp["cdpAdjEp"]["attributes"]["sysName"] == "ext-sw2"
        kids = cdp["cdpAdjEp"]["children"]
        assert kids[0]["cdpMgmtAddr"]["attributes"]["addr"] == "192.0.2.102"
        # Stats: per port, class-wide, node-scoped, and as l1PhysIf children.
        port_stats.start_flood(fab, node, "eth1/3", 5000.0)
        fab.clock.advance(20.0)
        r = c.get(f"/api/node/class/topology/pod-1/node-{node}/eqptIngrPkts5min.json")
        objs = {o["eqptIngrPkts5min"]["attributes"]["dn"]: o for o in r.json()["imdata"]}
        assert len(objs) == 48
        a = objs[f"topology/pod-1/node-{node}/sys/phys-[eth1/3]/CDeqptIngrPkts5min"]
        a = a["eqptIngrPkts5min"]["attributes"]
        quiet = objs[f"topology/pod-1/node-{node}/sys/phys-[eth1/4]/CDeqptIngrPkts5min"]
        assert float(a["floodRate"]) > 100 * float(
            quiet["eqptIngrPkts5min"]["attributes"]["floodRate"]
        )
        assert int(a["floodPer"]) >= 5000 * 20
        r = c.get(f"{base}/phys-[eth1/3].json?query-target=self&rsp-subtree-include=stats")
        kids = {next(iter(k)) for k in r.json()["imdata"][0]["l1PhysIf"]["children"]}
        assert {"eqptIngrPkts5min", "eqptIngrBytes5min", "eqptIngrTotal5min"} <= kids
        r = c.get("/api/class/eqptIngrBytes5min.json?page-size=5")
        assert int(r.json()["totalCount"]) == 4 * 48
        b = r.json()["imdata"][0]["eqptIngrBytes5min"]["attributes"]
        assert {"floodCum", "multicastCum", "unicastCum", "unicastRate"} <= set(b)
    finally:
        handle.stop()
