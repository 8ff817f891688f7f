"""sFlow agents: real UDP to a socket in the test, decoded with the collector's decoder."""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Iterator

import pytest

from collector.sflow import records as rec
from collector.sflow.decoder import decode_datagram
from simulators import sflow_agents as sa

INTERVAL = 5.0


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def drain(sock: socket.socket, expected: int) -> list[rec.Datagram]:
    out = []
    for _ in range(expected):
        data, _ = sock.recvfrom(65535)
        assert len(data) <= 1400
        dg = decode_datagram(data)
        assert not dg.errors, dg.errors
        out.append(dg)
    return out


def make_fleet(model: sa.SflowModel, port: int = 9, **kw: object) -> sa.SflowAgentFleet:
    return sa.SflowAgentFleet(model, ("127.0.0.1", port), INTERVAL, **kw)  # type: ignore[arg-type]


def counter_blocks(dgs: list[rec.Datagram], agent: str) -> dict[tuple[int, int], dict[int, dict]]:
    """(source type, index) → tag → fields, for the counter samples of one agent."""
    out: dict[tuple[int, int], dict[int, dict]] = {}
    for dg in dgs:
        if dg.agent != agent:
            continue
        for s in dg.samples:
            if isinstance(s, rec.CounterSample):
                blocks = out.setdefault((s.source_id_type, s.source_id_index), {})
                for r in s.records:
                    assert isinstance(r, rec.CounterRecord)
                    blocks[r.tag] = r.fields
    return out


def flow_samples(dgs: list[rec.Datagram], agent: str | None = None) -> list[rec.FlowSample]:
    return [
        s
        for dg in dgs
        if agent in (None, dg.agent)
        for s in dg.samples
        if isinstance(s, rec.FlowSample)
    ]


def adapter_macs(blocks: dict[int, dict]) -> set[str]:
    return {m for a in blocks[2001]["adapters"] for m in a["macs"]}


def mac_hex(mac: str) -> str:
    return mac.replace(":", "")


def poll(
    fleet: sa.SflowAgentFleet, t0: float, seconds: float, step: float = 1.0
) -> list[rec.Datagram]:
    """Tick once per simulated second from t0 to t0 + seconds (inclusive); decode everything."""
    dgs = []
    n = int(seconds / step)
    for i in range(n + 1):
        dgs += [decode_datagram(d) for d in fleet.collect(t0 + i * step)]
    return dgs


def test_fleet_sends_real_udp_datagrams(receiver: socket.socket) -> None:
    model = sa.build_model(hypervisors=4, vms=8, leafs=2)
    fleet = make_fleet(model, receiver.getsockname()[1])
    sent = fleet.tick(0.0) + fleet.tick(1.0)
    got = drain(receiver, len(sent))
    fleet.close()
    agents = {dg.agent for dg in got}
    assert agents == {"192.0.2.1", "192.0.2.2"} | {f"192.0.2.{101 + j}" for j in range(4)}
    # Datagram sequence numbers are per agent and consecutive from 1.
    seqs: dict[str, list[int]] = {}
    for dg in got:
        seqs.setdefault(dg.agent, []).append(dg.sequence)
    for agent, values in seqs.items():
        assert values == list(range(1, len(values) + 1)), agent
    hv = [dg for dg in got if dg.agent == "192.0.2.101"]
    assert hv[0].sub_agent_id == 100000
    assert fleet.datagrams_sent == len(sent)


def test_hypervisor_speaks_host_sflow_like_hsflowd() -> None:
    model = sa.build_model(hypervisors=2, vms=4, leafs=1)
    dgs = [decode_datagram(d) for d in make_fleet(model).collect(100.0)]
    blocks = counter_blocks(dgs, "192.0.2.101")
    host = blocks[(2, 1)]
    assert set(host) == {2000, 2001, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010, 2100}
    assert host[2000]["hostname"] == "hv01"
    assert host[2100]["num_domains"] == 2
    host_sample = next(
        s
        for dg in dgs
        if dg.agent == "192.0.2.101"
        for s in dg.samples
        if isinstance(s, rec.CounterSample) and s.source_id_type == 2
    )
    assert host_sample.tag == 4  # expanded, as hsflowd sends
    hv_vms = sorted(model.vms_on("hv01"), key=lambda v: v.index)
    assert [v.name for v in hv_vms] == ["vm001", "vm003"]
    # host_adapters: the host NICs and the VMs' MACs.
    assert adapter_macs(host) == {mac_hex(m) for m in model.hypervisors["hv01"].nic_macs} | {
        mac_hex(v.mac) for v in hv_vms
    }
    for vm in hv_vms:
        vb = blocks[(3, vm.index)]
        assert set(vb) == {2000, 2001, 2002, 2101, 2102, 2103, 2104}
        assert vb[2000]["hostname"] == vm.name and vb[2000]["uuid"] == vm.uuid
        assert adapter_macs(vb) == {mac_hex(vm.mac)}
        assert (vb[2002]["container_type"], vb[2002]["container_index"]) == (2, 1)
        assert vb[2101]["nr_virt_cpu"] == vm.vcpus


def test_ipv6_agents() -> None:
    model = sa.build_model(hypervisors=1, vms=1, leafs=1, ipv6_agents=True)
    dgs = [decode_datagram(d) for d in make_fleet(model).collect(1.0)]
    v6 = [dg for dg in dgs if dg.agent_address_type == 2]
    assert v6 and all(dg.agent == "2001:db8::101" for dg in v6)


def cpu_usage(prev: dict, cur: dict) -> float:
    keys = (
        "cpu_user",
        "cpu_nice",
        "cpu_system",
        "cpu_idle",
        "cpu_wio",
        "cpu_intr",
        "cpu_sintr",
        "cpu_steal",
    )
    total = sum(cur[k] - prev[k] for k in keys)
    idle = cur["cpu_idle"] - prev["cpu_idle"]  # Telegraf: active = 100 − idle
    return 100.0 * (1 - idle / total)


def test_cpu_counters_follow_configured_load() -> None:
    model = sa.build_model(hypervisors=1, vms=1, leafs=1)
    model.set_vm_load("vm001", cpu_percent=0.0)
    fleet = make_fleet(model)
    blocks = []
    for t, load in ((0.0, 30.0), (INTERVAL, 75.0), (2 * INTERVAL, 75.0)):
        dgs = [decode_datagram(d) for d in fleet.collect(t)]
        blocks.append(counter_blocks(dgs, "192.0.2.101")[(2, 1)])
        model.set_cpu_load("hv01", load)
    assert cpu_usage(blocks[0][2003], blocks[1][2003]) == pytest.approx(30.0, abs=0.5)
    assert cpu_usage(blocks[1][2003], blocks[2][2003]) == pytest.approx(75.0, abs=0.5)
    cpu = blocks[2][2003]
    assert cpu["cpu_num"] == 16 and cpu["uptime"] == int(2 * INTERVAL)
    assert 0 < cpu["load_one"] < 16
    # VM CPU time: cpu_time ms advances by load × vCPUs × interval.
    model.set_vm_load("vm001", cpu_percent=50.0)
    a = counter_blocks([decode_datagram(d) for d in fleet.collect(3 * INTERVAL)], "192.0.2.101")
    b = counter_blocks([decode_datagram(d) for d in fleet.collect(4 * INTERVAL)], "192.0.2.101")
    vm_ms = b[(3, 1)][2101]["cpu_time"] - a[(3, 1)][2101]["cpu_time"]
    assert vm_ms == pytest.approx(0.5 * 2 * 1000 * INTERVAL, abs=2)


def test_vm_migration_moves_mac_and_loads_both_hosts() -> None:
    model = sa.build_model(hypervisors=2, vms=2, leafs=2)
    events: list[sa.ModelEvent] = []
    model.add_listener(events.append)
    fleet = make_fleet(model)
    vm = model.vms["vm001"]
    dst = "hv02"
    before = [decode_datagram(d) for d in fleet.collect(0.0)]
    assert mac_hex(vm.mac) in adapter_macs(counter_blocks(before, "192.0.2.101")[(2, 1)])
    assert mac_hex(vm.mac) not in adapter_macs(counter_blocks(before, "192.0.2.102")[(2, 1)])
    base = [decode_datagram(d) for d in fleet.collect(INTERVAL)]
    model.migrate_vm("vm001", dst, duration_s=12.0, cpu_load=40.0, copy_bps=4e9)
    during = [decode_datagram(d) for d in fleet.collect(2 * INTERVAL)]
    # Still on the source while memory is copied; both hosts busier, 4 Gb/s source → destination.
    for agent, nio_dir in (("192.0.2.101", "bytes_out"), ("192.0.2.102", "bytes_in")):
        b0, b1 = counter_blocks(base, agent)[(2, 1)], counter_blocks(during, agent)[(2, 1)]
        assert cpu_usage(b0[2003], b1[2003]) > 40.0
        rate = (b1[2006][nio_dir] - b0[2006][nio_dir]) * 8 / INTERVAL
        assert rate > 4e9
    assert mac_hex(vm.mac) in adapter_macs(counter_blocks(during, "192.0.2.101")[(2, 1)])
    after = [decode_datagram(d) for d in fleet.collect(4 * INTERVAL)]
    assert mac_hex(vm.mac) not in adapter_macs(counter_blocks(after, "192.0.2.101")[(2, 1)])
    assert mac_hex(vm.mac) in adapter_macs(counter_blocks(after, "192.0.2.102")[(2, 1)])
    assert (3, vm.index) in counter_blocks(after, "192.0.2.102")
    assert (3, vm.index) not in counter_blocks(after, "192.0.2.101")
    kinds = [e.kind for e in events]
    assert kinds[-3:] == ["vm_migration_started", "endpoint_moved", "vm_moved"]
    moved = events[-2]
    assert moved.at == pytest.approx(INTERVAL + 12.0)
    assert (moved.data["from_leaf"], moved.data["to_leaf"]) == ("leaf-101", "leaf-102")


def test_link_down_flips_oper_bit_freezes_counters_and_fails_over() -> None:
    model = sa.build_model(hypervisors=2, vms=4, leafs=2)
    fleet = make_fleet(model)
    hv = model.hypervisors["hv01"]
    (leaf_a, if_a), (leaf_b, if_b) = hv.uplinks
    agent = {n: lf.agent for n, lf in model.leafs.items()}
    first = [decode_datagram(d) for d in fleet.collect(0.0)]
    assert counter_blocks(first, agent[leaf_a])[(0, if_a)][1]["if_status"] == 3
    model.link_down(leaf_a, if_a)
    snaps = [[decode_datagram(d) for d in fleet.collect(t)] for t in (INTERVAL, 2 * INTERVAL)]
    c1, c2 = (counter_blocks(s, agent[leaf_a])[(0, if_a)][1] for s in snaps)
    assert c1["if_status"] == 1  # admin up, oper down
    for key in ("if_in_octets", "if_out_octets", "if_in_ucast_pkts", "if_in_broadcast_pkts"):
        assert c1[key] == c2[key], key
    b1, b2 = (counter_blocks(s, agent[leaf_b])[(0, if_b)][1] for s in snaps)
    assert b2["if_status"] == 3
    moved_bps = (b2["if_in_octets"] - b1["if_in_octets"]) * 8 / INTERVAL
    assert moved_bps == pytest.approx(model.host_tx_bps(hv), rel=0.01)
    # Flow samples of hv01's VMs now arrive on the other leaf's port, none on the dead one.
    dgs = poll(fleet, 2 * INTERVAL + 1, 20)
    macs = {mac_hex(vm.mac) for vm in model.vms_on("hv01")}

    def from_hv01(f: rec.FlowSample) -> bool:
        h = f.records[0]
        return (
            isinstance(h, rec.SampledHeader) and h.src_mac is not None and h.src_mac.hex() in macs
        )

    assert [
        f for f in flow_samples(dgs, agent[leaf_b]) if f.source_id_index == if_b and from_hv01(f)
    ]
    assert not [f for f in flow_samples(dgs, agent[leaf_a]) if f.source_id_index == if_a]
    endpoint = model.endpoint(model.vms_on("hv01")[0])
    assert endpoint is not None and (endpoint.leaf, endpoint.ifindex) == (leaf_b, if_b)
    model.link_up(leaf_a, if_a)
    up = counter_blocks([decode_datagram(d) for d in fleet.collect(200.0)], agent[leaf_a])
    assert up[(0, if_a)][1]["if_status"] == 3


def test_storm_raises_broadcast_counters_and_samples_broadcasts() -> None:
    model = sa.build_model(hypervisors=2, vms=4, leafs=1)
    fleet = make_fleet(model)
    leaf = model.leafs["leaf-101"]
    base = counter_blocks([decode_datagram(d) for d in fleet.collect(0.0)], leaf.agent)
    model.start_storm("leaf-101", 1, pps=20000.0)
    dgs = poll(fleet, 1.0, INTERVAL - 1.0)
    storm = counter_blocks(dgs, leaf.agent)
    d_in = storm[(0, 1)][1]["if_in_broadcast_pkts"] - base[(0, 1)][1]["if_in_broadcast_pkts"]
    assert d_in == pytest.approx(20000 * INTERVAL, rel=0.01)
    d_out = storm[(0, 2)][1]["if_out_broadcast_pkts"] - base[(0, 2)][1]["if_out_broadcast_pkts"]
    assert d_out == pytest.approx(20000 * INTERVAL, rel=0.01)  # flooded out of the other ports
    assert storm[(2, 1)][1001]["five_sec_cpu"] > base[(2, 1)][1001]["five_sec_cpu"]
    flows = [f for f in flow_samples(dgs, leaf.agent) if f.source_id_index == 1]
    bcast = [f for f in flows if f.records[0].dst_mac == b"\xff" * 6]  # type: ignore[union-attr]
    # ~20 k pps at 1:1000 → ~100 broadcast ARP samples in 5 s; their share of the port's
    # samples matches the broadcast share of its packet counters.
    c0, c1 = base[(0, 1)][1], storm[(0, 1)][1]
    pkts = sum(
        c1[k] - c0[k] for k in ("if_in_ucast_pkts", "if_in_multicast_pkts", "if_in_broadcast_pkts")
    )
    assert len(bcast) > 80
    assert len(bcast) / len(flows) == pytest.approx(d_in / pkts, abs=0.1)
    assert all(f.records[0].arp_op == 1 and f.output_format == 2 for f in bcast)  # type: ignore[union-attr]
    model.stop_storm("leaf-101", 1)
    quiet_a = counter_blocks([decode_datagram(d) for d in fleet.collect(20.0)], leaf.agent)
    quiet_b = counter_blocks([decode_datagram(d) for d in fleet.collect(25.0)], leaf.agent)
    d = quiet_b[(0, 1)][1]["if_in_broadcast_pkts"] - quiet_a[(0, 1)][1]["if_in_broadcast_pkts"]
    assert d < 10


def test_flow_samples_are_consistent_with_counters() -> None:
    model = sa.build_model(hypervisors=2, vms=4, leafs=2)
    fleet = make_fleet(model, sampling_rate=100)
    dgs = poll(fleet, 0.0, 60.0)
    flows = flow_samples(dgs, "192.0.2.1")
    by_port: dict[int, list[rec.FlowSample]] = {}
    for f in flows:
        by_port.setdefault(f.source_id_index, []).append(f)
    assert by_port
    for port, samples in by_port.items():
        pools = [s.sample_pool for s in samples]
        assert pools == sorted(pools), port  # sample_pool only grows
        assert [s.sequence for s in samples] == list(range(1, len(samples) + 1))
        # samples × rate ≈ packets seen by the sampler
        assert len(samples) * 100 == pytest.approx(pools[-1] - pools[0], rel=0.05)
        for s in samples:
            h, sw = s.records
            assert isinstance(h, rec.SampledHeader) and isinstance(sw, rec.FlowRecord)
            assert h.vlan in sa.VLANS and sw.fields["src_vlan"] == h.vlan
            assert len(h.header) <= 128 and h.frame_length >= len(h.header) + 4
            assert s.input_value == port and s.sampling_rate == 100


def test_nic_flap_alternates_uplinks() -> None:
    model = sa.build_model(hypervisors=1, vms=2, leafs=2)
    hv = model.hypervisors["hv01"]
    events: list[sa.ModelEvent] = []
    model.add_listener(events.append)
    model.start_nic_flap("hv01", period_s=3.0)
    model.advance_to(10.0)
    moves = [e for e in events if e.kind == "endpoint_moved" and e.data["vm"] == "vm001"]
    assert [e.at for e in moves] == [3.0, 6.0, 9.0]
    assert [e.data["to_leaf"] for e in moves] == ["leaf-102", "leaf-101", "leaf-102"]
    model.stop_nic_flap("hv01")
    model.advance_to(30.0)
    assert len([e for e in events if e.kind == "endpoint_moved"]) == 2 * 3
    # Both team members carried traffic.
    assert all(model.leafs[lf].links[ifx].in_octets > 0 for lf, ifx in hv.uplinks)


def test_scenarios_schedule_and_repeat() -> None:
    for name in sa.SCENARIOS:
        model = sa.build_model()
        events: list[sa.ModelEvent] = []
        model.add_listener(events.append)
        sa.schedule_scenario(model, name, at=10.0, repeat_s=60.0)
        model.advance_to(200.0)
        starts = {
            "vm_migration": "vm_migration_started",
            "link_failover": "link_down",
            "nic_flap": "nic_flap_started",
            "loop": "storm_started",
        }[name]
        assert [e.at for e in events if e.kind == starts] == [10.0, 70.0, 130.0, 190.0], name


def test_live_fleet_thread(receiver: socket.socket) -> None:
    model = sa.build_model(hypervisors=1, vms=1, leafs=1, start=1000.0)
    collector = ("127.0.0.1", receiver.getsockname()[1])
    fleet = sa.SflowAgentFleet(model, collector, interval_s=1.0, speed=20.0, flow_tick_s=1.0)
    fleet.start()
    try:
        got = drain(receiver, 5)
    finally:
        fleet.close()
    assert {dg.agent for dg in got} <= {"192.0.2.1", "192.0.2.101"}
    assert model.now > 1000.0


def test_cli_register_and_run(receiver: socket.socket) -> None:
    from simulators.sflow_cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    port = receiver.getsockname()[1]
    args = parser.parse_args(
        [
            "sflow",
            "--collector",
            f"127.0.0.1:{port}",
            "--hypervisors",
            "1",
            "--vms",
            "2",
            "--leafs",
            "1",
            "--interval",
            "1",
            "--speed",
            "10",
            "--scenario",
            "loop",
            "--repeat",
            "60",
            "--duration",
            "0.5",
        ]
    )
    th = threading.Thread(target=args.handler, args=(args,))
    th.start()
    got = drain(receiver, 3)
    th.join(timeout=10)
    assert not th.is_alive()
    assert got


def test_parse_hostport() -> None:
    assert sa.parse_hostport("127.0.0.1:6344") == ("127.0.0.1", 6344)
    assert sa.parse_hostport("[::1]:6343") == ("::1", 6343)
    assert sa.parse_hostport("collector") == ("collector", 6343)
