"""move_cause against a real InfluxDB: synthetic evidence in the collector's/poller's shapes."""

from __future__ import annotations

import httpx
import pytest

from analyzers.move_cause import MoveCauseAnalyzer, MoveCauseConfig
from influx import reads
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from influx.sink import ListSink

NS = 1_000_000_000
T0 = 1_790_000_000 * NS  # the move under test
NOW = T0 + 60 * NS
MAC = "00:50:56:AA:BB:01"
MAC_HEX = "005056aabb01"


def post(url: str, db: str, lines: list[str | None]) -> None:
    body = "\n".join(x for x in lines if x)
    r = httpx.post(f"{url}/write", params={"db": db}, content=body, timeout=30)
    assert r.status_code == 204, r.text


def move_line(addr: str, t: int, frm: tuple[str, str], to: tuple[str, str], bd: str = "t1/bd1"):
    return encode_line(
        "apic_endpoint_move",
        {"fabric": "fabric1", "addr": addr, "addr_type": "mac"},
        {"from_node": frm[0], "from_interface": frm[1], "from_encap": "vlan-10",
         "to_node": to[0], "to_interface": to[1], "to_encap": "vlan-10", "count": 1,
         "epg": "t1/app/web", "bd": bd, "vrf": "t1/vrf1"},
        t,
    )  # fmt: skip


def iface(node: str, port: str, up: bool, t: int, in_rate: float = 10.0):
    return encode_line(
        "apic_interface",
        {"fabric": "fabric1", "node": node, "interface": port},
        {"oper_st": "up" if up else "down", "oper_up": up, "in_pkts_rate": in_rate},
        t,
    )


def adapters(host: str, macs: list[str], t: int):
    return encode_line(
        "sflow_host_adapters",
        {"agent": f"10.0.0.{len(host)}", "host": host, "ifindex": "4", "source_id": "2:1"},
        {"macs": ",".join(macs), "mac_count": len(macs)},
        t,
    )


def ifc(host: str, ifindex: str, up: bool, t: int, bcast: int = 0):
    return encode_line(
        "sflow_if_counters",
        {"agent": "10.9.9.9", "host": host, "ifindex": ifindex, "source_id": f"0:{ifindex}"},
        {"if_index": int(ifindex), "if_status": 3 if up else 1, "if_admin_up": 1,
         "if_oper_up": 1 if up else 0, "if_in_broadcast_pkts": bcast},
        t,
    )  # fmt: skip


@pytest.fixture
def env(influxdb, influx_db):
    q = InfluxQuery(influxdb.url, "", influx_db)
    sink = ListSink()
    an = MoveCauseAnalyzer(q, sink, MoveCauseConfig(fabric="fabric1"))

    def run(restart: bool = False) -> list[list]:
        nonlocal an
        if restart:  # a new process: only what is stored in InfluxDB is known
            an = MoveCauseAnalyzer(q, sink, MoveCauseConfig(fabric="fabric1"))
        an.run_once(NOW)
        post(influxdb.url, influx_db, list(sink.lines))
        sink.lines.clear()
        return influxdb.rows(
            'SELECT "confidence", "evidence", "from_node" FROM "move_analysis" '
            'GROUP BY "addr", "cause"',
            influx_db,
        )

    yield influxdb.url, influx_db, run, q
    q.close()


def findings(q: InfluxQuery) -> list[reads.MoveFinding]:
    return reads.move_analysis(q, "fabric1", 0, NOW + NS)


def test_link_failover_from_apic_interface(env):
    url, db, run, q = env
    post(url, db, [
        move_line(MAC, T0, ("101", "eth1/1"), ("102", "eth1/1")),
        iface("101", "eth1/1", True, T0 - 90 * NS),
        iface("101", "eth1/1", False, T0 - 5 * NS),
    ])  # fmt: skip
    run()
    (f,) = findings(q)
    assert (f.addr, f.cause, f.time_ns) == (MAC, "link_failover", T0)
    assert f.confidence == pytest.approx(0.9)
    assert "node 101 eth1/1 went down" in f.evidence and "5s before" in f.evidence
    assert (f.from_node, f.to_node) == ("101", "102")


def test_link_failover_from_sflow_uplink(env):
    url, db, run, q = env
    post(url, db, [
        move_line(MAC, T0, ("101", "eth1/1"), ("102", "eth1/1")),
        adapters("hv1", ["aabbccddeeff", MAC_HEX], T0 - 20 * NS),
        adapters("hv1", ["aabbccddeeff", MAC_HEX], T0 + 10 * NS),
        ifc("hv1", "3", True, T0 - 40 * NS),
        ifc("hv1", "3", False, T0 - 2 * NS),
    ])  # fmt: skip
    run()
    (f,) = findings(q)
    assert f.cause == "link_failover"
    assert "ifIndex 3 of host hv1" in f.evidence


def test_vm_migration(env):
    url, db, run, q = env
    post(url, db, [
        move_line(MAC, T0, ("101", "eth1/5"), ("103", "eth1/7")),
        adapters("hv1", ["aabbccddeeff", MAC_HEX], T0 - 60 * NS),
        adapters("hv1", ["aabbccddeeff", MAC_HEX], T0 - 30 * NS),
        adapters("hv1", ["aabbccddeeff"], T0 + 1 * NS),
        adapters("hv2", ["112233445566"], T0 - 30 * NS),
        adapters("hv2", ["112233445566", MAC_HEX], T0 + 5 * NS),
        encode_line("cpu", {"host": "hv2", "agent": "10.0.0.3", "cpu": "cpu-total"},
                    {"usage_active": 87.5}, T0 - 10 * NS),
    ])  # fmt: skip
    run()
    (f,) = findings(q)
    assert f.cause == "vm_migration"
    assert "hypervisor hv1" in f.evidence and "hypervisor hv2" in f.evidence
    assert "CPU peak 88%" in f.evidence
    # No LLDP/CDP adjacency in the database: the evidence says so and confidence is lower.
    assert "topology unknown" in f.evidence and f.topology == "unknown"
    assert f.confidence == pytest.approx(0.85)


def test_nic_teaming_flap(env):
    url, db, run, q = env
    a, b = ("101", "eth1/1"), ("101", "eth1/2")
    post(url, db, [
        move_line(MAC, T0 - 40 * NS, a, b),
        move_line(MAC, T0 - 20 * NS, b, a),
        move_line(MAC, T0, a, b),
    ])  # fmt: skip
    run()
    fs = findings(q)
    assert len(fs) == 3
    last = fs[-1]
    assert last.cause == "nic_teaming_flap" and last.time_ns == T0
    assert "3 times back and forth" in last.evidence


def flood(node: str, port: str, t: int, pps: float):
    return encode_line(
        "apic_interface",
        {"fabric": "fabric1", "node": node, "interface": port},
        {"in_flood_pkts_rate": pps, "in_multicast_pkts_rate": 1.0, "in_unicast_pkts_rate": 100.0},
        t,
    )


def test_loop_from_apic_flood_on_the_bds_ports(env):
    url, db, run, q = env
    lines = []
    for i in range(6):
        addr = f"00:50:56:AA:CC:{i:02X}"
        lines.append(move_line(addr, T0 + i * NS, ("101", "eth1/1"), ("102", "eth1/9")))
    # Flood on node 101 eth1/1 (where the BD's endpoints move): quiet, then a storm.
    lines += [flood("101", "eth1/1", T0 - k * 60 * NS, 5.0) for k in range(2, 10)]
    lines += [flood("101", "eth1/1", T0 - 20 * NS, 5200.0)]
    post(url, db, lines)
    run()
    fs = findings(q)
    assert len(fs) == 6
    assert {f.cause for f in fs} == {"loop"}
    assert "APIC flood storm on node-101/eth1/1: 5200 pkts/s" in fs[0].evidence
    assert "6 addresses (MACs and IPs) of BD t1/bd1" in fs[0].evidence
    assert "bd:t1/bd1" in fs[0].places and "node-101/eth1/1" in fs[0].places
    assert len({f.incident_id for f in fs}) == 1


def test_storm_on_an_unrelated_port_is_not_a_loop(env):
    url, db, run, q = env
    lines = [
        move_line(f"00:50:56:AA:CC:{i:02X}", T0 + i * NS, ("101", "eth1/1"), ("102", "eth1/9"))
        for i in range(6)
    ]
    # The storm is on a port where no endpoint of this BD moves, and on a switch's sFlow agent.
    lines += [flood("105", "eth1/3", T0 - k * 60 * NS, 5.0) for k in range(2, 10)]
    lines += [flood("105", "eth1/3", T0 - 20 * NS, 9000.0)]
    lines += [
        ifc("sw1", "7", True, T0 - 110 * NS, bcast=1000),
        ifc("sw1", "7", True, T0 - 20 * NS, bcast=1000 + 150_000),
    ]
    post(url, db, lines)
    run()
    assert {f.cause for f in findings(q)} == {"unknown"}


def test_loop_from_an_mcp_fault_on_a_moving_port(env):
    url, db, run, q = env
    lines = [
        move_line(f"00:50:56:AA:CC:{i:02X}", T0 + i * NS, ("101", "eth1/1"), ("102", "eth1/9"))
        for i in range(6)
    ]
    lines.append(
        encode_line(
            "apic_fault",
            {"fabric": "fabric1", "node": "102", "code": "F2533", "kind": "mcp_loop"},
            {
                "interface": "eth1/9",
                "severity": "major",
                "lc": "raised",
                "active": True,
                "descr": "MCP detected a loop",
                "dn": "topology/pod-1/node-102/sys/phys-[eth1/9]",
            },
            T0 - 3 * NS,
        )  # fmt: skip
    )
    post(url, db, lines)
    run()
    fs = findings(q)
    assert {f.cause for f in fs} == {"loop"}
    assert "mcp_loop fault F2533" in fs[0].evidence and fs[0].confidence == pytest.approx(0.85)


def test_many_moves_without_storm_is_not_loop(env):
    url, db, run, q = env
    post(url, db, [
        move_line(f"00:50:56:AA:CC:{i:02X}", T0 + i * NS, ("101", "eth1/1"), ("102", "eth1/9"))
        for i in range(6)
    ])  # fmt: skip
    run()
    assert {f.cause for f in findings(q)} == {"unknown"}


def test_no_evidence_is_unknown(env):
    url, db, run, q = env
    post(url, db, [
        move_line(MAC, T0, ("101", "eth1/1"), ("102", "eth1/1")),
        # Unrelated evidence must not be picked up: another port going down, another MAC moving
        # between hypervisors.
        iface("105", "eth1/1", True, T0 - 90 * NS),
        iface("105", "eth1/1", False, T0 - 5 * NS),
        adapters("hv1", ["aabbccddeeff"], T0 - 30 * NS),
        adapters("hv2", ["aabbccddeeff"], T0 + 5 * NS),
    ])  # fmt: skip
    run()
    (f,) = findings(q)
    assert f.cause == "unknown" and f.confidence == 0.0
    assert "no port down" in f.evidence


def test_idempotent(env):
    url, db, run, q = env
    post(url, db, [
        move_line(MAC, T0, ("101", "eth1/1"), ("102", "eth1/1")),
        iface("101", "eth1/1", True, T0 - 90 * NS),
        iface("101", "eth1/1", False, T0 - 5 * NS),
    ])  # fmt: skip
    first = run()
    second = run()
    assert len(first) == len(second) == 1
    assert len(findings(q)) == 1


def test_late_data_updates_cause(env):
    url, db, run, q = env
    post(url, db, [move_line(MAC, T0, ("101", "eth1/1"), ("102", "eth1/1"))])
    run()
    assert [f.cause for f in findings(q)] == ["unknown"]
    # The interface poll arrives late (APIC poller backlog): the next run must use it.
    post(url, db, [
        iface("101", "eth1/1", True, T0 - 90 * NS),
        iface("101", "eth1/1", False, T0 - 5 * NS),
    ])  # fmt: skip
    run()
    fs = findings(q)
    assert [(f.cause, f.time_ns) for f in fs] == [("link_failover", T0)]


def test_late_data_updates_cause_after_restart(env):
    url, db, run, q = env
    post(url, db, [move_line(MAC, T0, ("101", "eth1/1"), ("102", "eth1/1"))])
    run()
    post(url, db, [
        iface("101", "eth1/1", True, T0 - 90 * NS),
        iface("101", "eth1/1", False, T0 - 5 * NS),
    ])  # fmt: skip
    run(restart=True)
    assert [(f.cause, f.time_ns) for f in findings(q)] == [("link_failover", T0)]


def test_moves_outside_reanalyse_window_are_left_alone(env):
    url, db, run, q = env
    old = NOW - 3600 * NS
    post(url, db, [move_line(MAC, old, ("101", "eth1/1"), ("102", "eth1/1"))])
    run()
    assert findings(q) == []
