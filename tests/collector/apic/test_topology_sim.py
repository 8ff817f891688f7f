"""The poller reads the fabric's adjacency, leaf-port flood counters and loop faults — over the
simulator's real REST/websocket API, into a real InfluxDB — and what lands there matches the
simulator's ground truth (docs/measurements.md: apic_adjacency, apic_fault, apic_interface).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from collector.apic.client import ApicClient
from collector.apic.faults import DEFAULT_CODES, LoopFaults, kind_of, query_filter
from collector.apic.poller import ApicPoller, PollerConfig
from collector.apic.topology import AdjacencyBook, mac_upper, parse_adjacency
from influx.writer import BatchingWriter
from simulators import adjacency, port_stats
from simulators.apic_server import ApicSimulator
from simulators.bridge import bridge_fabric
from simulators.fabric import EndpointPolicy, SimulatedFabric
from simulators.loop_faults import fault_attrs, raise_mcp_fault
from simulators.sflow_agents import Hypervisor

pytestmark = pytest.mark.timeout(180)


class Stack:
    """Simulator (+ its hypervisors/external switches) → poller → BatchingWriter → InfluxDB."""

    def __init__(self, influxdb: Any, db: str, **pcfg: Any) -> None:
        # Rogue EP control off: the loop also trips EP loop protection (BD learn disable).
        self.fab = SimulatedFabric.build(
            leafs=4, endpoints=120, seed=5, policy=EndpointPolicy(rogue_enabled=False)
        )
        self.model, self.bridge = bridge_fabric(self.fab)
        self.influx, self.db = influxdb, db
        self.sim = ApicSimulator(self.fab, refresh_timeout=600).start()
        self.writer = BatchingWriter(
            influxdb.url, "", "-", db, batch_size=500, flush_interval_s=0.1, create_bucket=False
        )
        self.client = ApicClient(
            [self.sim.url], "admin", "password", retry_min_s=0.05, retry_max_s=0.5, timeout_s=10
        )
        cfg = {
            "reconnect_min_s": 0.2,
            "heartbeat_s": 5.0,
            "audit_s": 0,
            "stats_interval_s": 0.5,
            "interface_interval_s": 0.5,
            "adjacency_interval_s": 2.0,
            "flush_interval_s": 0.1,
        }
        cfg.update(pcfg)
        self.poller = ApicPoller(self.client, self.writer, PollerConfig(**cfg))
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Stack:
        self.task = asyncio.create_task(self.poller.run(self.stop))
        await asyncio.wait_for(self.poller.synced.wait(), 60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)
        await self.client.aclose()
        self.writer.close()
        self.sim.stop()

    def rows(self, q: str) -> list[dict[str, Any]]:
        self.writer.flush(10)
        res = self.influx.query(q, self.db)["results"][0]
        assert "error" not in res, res
        out = []
        for s in res.get("series", []):
            for v in s["values"]:
                row = dict(zip(s["columns"], v, strict=True))
                row.update(s.get("tags", {}))
                out.append(row)
        return out

    async def until(self, q: str, pred: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout
        rows = self.rows(q)
        while not pred(rows) and time.monotonic() < end:
            await asyncio.sleep(0.3)
            rows = self.rows(q)
        return rows

    async def advance(self, seconds: float) -> None:
        await asyncio.to_thread(self.fab.clock.advance, seconds)


def latest(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["time"]):
        out[tuple(r[k] for k in keys)] = r
    return out


ADJ_Q = 'SELECT * FROM apic_adjacency GROUP BY "node","interface","protocol"'  # tags as columns


async def test_adjacency_is_the_hypervisors_and_switches_behind_each_leaf_port(
    influxdb: Any, influx_db: str
) -> None:
    async with Stack(influxdb, influx_db) as st:
        truth = adjacency.neighbors(st.fab)
        cdp_truth = st.fab.static.get("cdpAdjEp", {})
        want = len(truth) + len(cdp_truth)
        rows = await st.until(
            ADJ_Q, lambda rs: len(latest(rs, "node", "interface", "protocol")) >= want
        )
        got = latest(rows, "node", "interface", "protocol")
        assert len(got) == want
        hosts = {hv.name: hv for hv in st.model.hypervisors.values()}
        for (node, port), a in truth.items():
            r = got[(str(node), port, "lldp")]
            assert r["present"] is True
            assert r["neighbor_name"] == a["sysName"]
            assert r["neighbor_port"] == a["portIdV"]
            assert r["neighbor_mgmt_addr"] == a["mgmtIp"]
            assert r["neighbor_chassis_mac"] == a["chassisIdV"].upper()
            hv = hosts.get(a["sysName"])
            if hv is not None:  # the join the analyzers make: LLDP ↔ Host sFlow
                assert r["neighbor_mgmt_addr"] == hv.agent
                assert r["neighbor_chassis_mac"] == hv.nic_macs[0].upper()
                nic = hv.uplinks.index((f"leaf-{node}", int(port[5:])))
                assert r["neighbor_port"] == Hypervisor.nic_name(nic)
        (cdp,) = cdp_truth.values()
        node = cdp["dn"].split("/node-")[1].split("/")[0]
        r = got[(node, st.bridge.cfg.external_port, "cdp")]
        assert r["neighbor_name"] == "ext-sw2"
        assert r["neighbor_mgmt_addr"] == st.model.leafs["ext-sw2"].agent
        assert r["neighbor_chassis_mac"] is None  # CDP has no chassis MAC
        # Re-stated every adjacency_interval_s: a short window still sees the topology.
        n0 = len(rows)
        rows = await st.until(ADJ_Q, lambda rs: len(rs) >= n0 + want, timeout=10)
        assert len(rows) >= n0 + want
        # A port going down withdraws its neighbour: present=false, then back.
        run = await asyncio.to_thread(st.fab.scenarios.start, "link_failover", restore_after=5.0)
        await st.advance(0.5)
        down = next(t for t in st.fab.scenarios.records(run) if t.kind == "interface_down")
        key = (str(down.from_nodes[0]), down.from_interface, "lldp")
        q = (
            f"SELECT * FROM apic_adjacency WHERE \"node\"='{key[0]}' AND "
            f"\"interface\"='{key[1]}' AND \"protocol\"='lldp' GROUP BY *"
        )
        rows = await st.until(q, lambda rs: any(r["present"] is False for r in rs))
        gone = [r for r in rows if r["present"] is False]
        assert gone and gone[0]["time"] == int(down.time * 1e9)
        await st.advance(6.0)
        rows = await st.until(q, lambda rs: max(rs, key=lambda r: r["time"])["present"] is True)
        assert max(rows, key=lambda r: r["time"])["present"] is True
        stats = await st.until(
            "SELECT last(adjacency_points), last(adjacencies) FROM fabricscope_stats",
            lambda rs: rs and rs[0]["last"] >= want and rs[0]["last_1"] == want,
        )
        assert stats[0]["last"] >= want and stats[0]["last_1"] == want


async def test_loop_shows_as_flood_counters_and_loop_faults(influxdb: Any, influx_db: str) -> None:
    async with Stack(influxdb, influx_db) as st:
        run = await asyncio.to_thread(st.fab.scenarios.start, "l2_loop", count=10, flaps=8)
        await st.advance(4.0)  # loop on, MCP has detected it
        truth = st.fab.scenarios.records(run)
        loop = next(t for t in truth if t.kind == "loop")
        looped = [
            (loop.from_nodes[0], loop.from_interface),
            (loop.to_nodes[0], loop.to_interface),
        ]
        # Leaf-side evidence: flood counters on both looped ports (polled: they had endpoint
        # events), rate ≫ the background, cum grown by the storm.
        for node, port in looped:
            q = (
                "SELECT in_flood_pkts_cum, in_flood_pkts_rate, in_unicast_pkts_cum, "
                "in_multicast_bytes_cum FROM apic_interface WHERE "
                f"\"node\"='{node}' AND \"interface\"='{port}' AND in_flood_pkts_rate > 1000"
            )
            rows = await st.until(q, bool)
            assert rows, (node, port)
            r = rows[-1]
            leaf = st.fab.nodes[node]
            cum = port_stats.cumulative(st.fab, leaf, port, st.fab.clock.now())
            assert r["in_flood_pkts_cum"] == int(cum["flood_pkts"])
            assert r["in_unicast_pkts_cum"] == int(cum["unicast_pkts"])
            assert isinstance(r["in_multicast_bytes_cum"], int)
        # A port with only an LLDP neighbour (the external switch) is polled too, quietly.
        ext_node, ext_port = st.bridge.external["ext-sw1"]
        q = (
            "SELECT in_flood_pkts_rate FROM apic_interface WHERE "
            f"\"node\"='{ext_node}' AND \"interface\"='{ext_port}'"
        )
        rows = await st.until(q, bool)
        assert rows and rows[-1]["in_flood_pkts_rate"] < 10
        # The loop faults: MCP on the port where its PDU came back, EP loop protection on the BD.
        await st.advance(run.ends_at - st.fab.clock.now() + 12.0)  # ended, cleared, retaining
        fq = 'SELECT * FROM apic_fault GROUP BY "kind","code","node"'
        rows = await st.until(
            fq,
            lambda rs: (
                any(r["kind"] == "mcp_loop" and r["lc"] == "retaining" for r in rs)
                and any(r["kind"] == "ep_loop" for r in rs)
            ),
        )
        mcp = sorted((r for r in rows if r["kind"] == "mcp_loop"), key=lambda r: r["time"])
        assert [(r["lc"], r["active"]) for r in mcp] == [
            ("raised", True),
            ("raised-clearing", False),
            ("retaining", False),
        ]
        assert mcp[0]["code"] == "F2533" and mcp[0]["node"] == str(loop.to_nodes[0])
        assert mcp[0]["interface"] == loop.to_interface
        assert mcp[0]["severity"] == "major" and mcp[-1]["severity"] == "cleared"
        # On the port's MCP interface object (mcp:If, the class the MIM gives MCP faults to).
        assert mcp[0]["dn"].endswith(f"/sys/mcp/inst/if-[{loop.to_interface}]/fault-F2533")
        # Raised ~2 s into the loop; clearing as it ends; retaining 10 s later.
        end_ns = int(run.ends_at * 1e9)
        assert mcp[0]["time"] == int((run.started + 2.0) * 1e9)
        assert end_ns - 10**8 <= mcp[1]["time"] <= end_ns
        assert mcp[2]["time"] - mcp[1]["time"] == 10 * 10**9
        ep = [r for r in rows if r["kind"] == "ep_loop"]
        assert ep[0]["active"] is True and ep[0]["code"] == "F3012"
        bd = next(b for b in st.fab.bds if b.name == loop.bd)
        assert ep[0]["bd"] == f"{bd.tenant.name}/{bd.name}"
        stats = await st.until(
            "SELECT last(fault_points) FROM fabricscope_stats", lambda rs: rs and rs[0]["last"] >= 4
        )
        assert stats[0]["last"] >= 4


def _port_down_fault(fab: SimulatedFabric, node: int, port: str, code: str) -> str:
    """A non-loop fault shaped like a real one (ACI-Pre-Upgrade-Validation-Script issue #186:
    F1394 on ``…/phys-[eth1/31]/phys/fault-F1394``, cause ``interface-physical-down``)."""
    dn = f"{fab.leaf(node).prefix}/sys/phys-[{port}]/phys/fault-{code}"
    attrs = fault_attrs(
        dn, code, "interface-physical-down", f"Port is down, reason:linkNotConnected ({port})",
        fab.clock.now(), "ethpm-if-port-down-infra-epg", severity="minor",
    )  # fmt: skip
    with fab.lock:
        fab.emit_static("faultInst", attrs, "created")
    return dn


async def test_the_apic_filters_faults_for_the_poller(influxdb: Any, influx_db: str) -> None:
    """faultInst is read and subscribed with the loop filter, so the fabric's other faults never
    reach the poller — neither in the build read nor as events — while loop faults do."""
    st = Stack(influxdb, influx_db, adjacency_interval_s=0)
    leafs = sorted(n.id for n in st.fab.nodes.values() if n.role == "leaf")
    noise = [_port_down_fault(st.fab, leafs[0], "eth1/40", "F0532")]
    mcp_build = raise_mcp_fault(st.fab, leafs[1], "eth1/41", 101)
    # Over plain REST the simulator answers the filtered class query as an APIC does.
    flt = query_filter(DEFAULT_CODES)
    every = {a["dn"] for _, a in await st.client.class_objects("faultInst")}
    only = {a["dn"] for _, a in await st.client.class_objects("faultInst", flt)}
    assert set(noise) | {mcp_build} <= every and only == {mcp_build}
    seen: list[tuple[str, bool]] = []
    handler, build = st.poller._classes["faultInst"]

    def spy(attrs: dict[str, Any], ts: float, snapshot: bool) -> None:
        seen.append((attrs["dn"], snapshot))
        handler(attrs, ts, snapshot)

    st.poller._classes["faultInst"] = (spy, build)
    async with st:
        assert (mcp_build, True) in seen  # the build read
        noise.append(_port_down_fault(st.fab, leafs[2], "eth1/42", "F0532"))
        with st.fab.lock:  # a change of a non-loop fault: no event either
            st.fab.emit_static("faultInst", {"dn": noise[0], "lc": "raised"}, "modified")
        mcp_event = await asyncio.to_thread(raise_mcp_fault, st.fab, leafs[3], "eth1/43", 102)
        rows = await st.until(
            'SELECT * FROM apic_fault GROUP BY "node"',
            lambda rs: any(r["dn"] == mcp_event for r in rs),
        )
        assert {r["dn"] for r in rows} == {mcp_build, mcp_event}
        assert (mcp_event, False) in seen  # the subscription event
        assert not [dn for dn, _ in seen if dn in noise], seen


# ------------------------------------------------------------------ pure parsing (no I/O)


def test_lldp_and_cdp_objects_parse_as_the_contract_says() -> None:
    lldp = {
        "chassisIdT": "mac",
        "chassisIdV": "ec:ce:13:c0:46:34",
        "dn": "topology/pod-1/node-205/sys/lldp/inst/if-[eth1/24]/adj-1",
        "mgmtIp": "10.58.234.128",
        "portDesc": "***** BGP Peering *****",
        "portIdV": "Ethernet3/25",
        "sysName": "ipn-eu-spdc",
    }
    key, n = parse_adjacency("lldpAdjEp", lldp) or (None, None)
    assert key == (205, "eth1/24", "lldp") and n is not None
    assert (n.name, n.port, n.mgmt_addr, n.chassis_mac) == (
        "ipn-eu-spdc",
        "Ethernet3/25",
        "10.58.234.128",
        "EC:CE:13:C0:46:34",
    )
    local = dict(lldp, chassisIdT="local", chassisIdV="FDO1234", portIdV="", mgmtIp="0.0.0.0")
    _, n2 = parse_adjacency("lldpAdjEp", local) or (None, None)
    assert n2 is not None and n2.chassis_mac is None and n2.port == "***** BGP Peering *****"
    assert n2.mgmt_addr == ""
    cdp = {
        "devId": "r22-eu-spdc.emea-sp.cisco.com(FDO24200H8B)",
        "dn": "topology/pod-1/node-201/sys/cdp/inst/if-[eth1/2]/adj-2",
        "portId": "Ethernet1/25",
        "sysName": "r22-eu-spdc",
    }
    key, n = parse_adjacency("cdpAdjEp", cdp) or (None, None)
    assert key == (201, "eth1/2", "cdp") and n is not None and n.name == "r22-eu-spdc"
    assert parse_adjacency("lldpAdjEp", {"dn": "uni/tn-x"}) is None
    assert mac_upper("ecce.13c0.4634") == "EC:CE:13:C0:46:34" and mac_upper("eth0") is None


def test_adjacency_book_events_partial_modify_and_delete() -> None:
    book = AdjacencyBook("f1")
    dn = "topology/pod-1/node-101/sys/lldp/inst/if-[eth1/5]/adj-1"
    a = {"dn": dn, "status": "created", "sysName": "esx-1", "portIdV": "vmnic0",
         "chassisIdV": "00:50:56:aa:bb:cc", "mgmtIp": "192.0.2.9"}  # fmt: skip
    (line,) = book.handle("lldpAdjEp", a, 1.0)
    assert line.startswith("apic_adjacency,fabric=f1,interface=eth1/5,node=101,protocol=lldp ")
    assert 'neighbor_chassis_mac="00:50:56:AA:BB:CC"' in line and "present=true" in line
    assert book.handle("lldpAdjEp", a, 2.0) == []  # nothing changed: no point
    (line,) = book.handle("lldpAdjEp", {"dn": dn, "status": "modified", "portIdV": "vmnic1"}, 3.0)
    assert 'neighbor_port="vmnic1"' in line and 'neighbor_name="esx-1"' in line
    (line,) = book.handle("lldpAdjEp", {"dn": dn, "status": "deleted"}, 4.0)
    assert "present=false" in line and line.endswith(" 4000000000")
    assert book.current == {} and book.restate(5.0) == []


def test_fault_kind_merge_and_lifecycle() -> None:
    from collector.apic.models import FabricTables

    codes = {"F2533": "mcp_loop", "F3012": "ep_loop"}
    assert kind_of("F2533", "", codes) == "mcp_loop"
    assert kind_of("F9999", "mcp-loop-detected", codes) == "mcp_loop"
    assert kind_of("F9998", "ep-loop-detected", codes) == "ep_loop"
    assert kind_of("F0532", "interface-down", codes) is None
    tables = FabricTables()
    tables.bd_name[15007744] = "tn1/bd1"
    lf = LoopFaults("f1", tables, codes)
    dn = "topology/pod-1/node-102/sys/ctx-[vxlan-2097152]/bd-[vxlan-15007744]/fault-F3012"
    raised = {"dn": dn, "status": "created", "code": "F3012", "cause": "ep-loop-detected",
              "lc": "raised", "severity": "major", "descr": "BD bd1: learning disabled",
              "lastTransition": "2024-01-01T00:00:10.000+00:00"}  # fmt: skip
    (line,) = lf.handle(raised, 99.0)
    assert line.startswith("apic_fault,code=F3012,fabric=f1,kind=ep_loop,node=102 ")
    assert 'bd="tn1/bd1"' in line and "active=true" in line and "interface=" not in line
    assert line.endswith(f" {int(1704067210 * 1e9)}")
    assert lf.active_count() == 1
    mod = {"dn": dn, "status": "modified", "lc": "retaining", "severity": "cleared",
           "lastTransition": "2024-01-01T00:01:00.000+00:00"}  # fmt: skip
    (line,) = lf.handle(mod, 99.0)
    assert 'lc="retaining"' in line and "active=false" in line and 'bd="tn1/bd1"' in line
    (line,) = lf.handle({"dn": dn, "status": "deleted"}, 200.0)
    assert "active=false" in line and line.endswith(" 200000000000")
    assert lf.handle({"dn": "topology/pod-1/node-1/sys/fault-F0532", "code": "F0532"}, 1) == []
    assert json.dumps(lf.known) == "{}"
