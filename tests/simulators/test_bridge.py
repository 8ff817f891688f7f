"""The sFlow agents follow the fabric simulator's scenarios (simulators/bridge.py).

Each test plays one fabric scenario on a manual clock and checks, through the datagrams the
agents emit (decoded by the collector's own decoder), that the sFlow view tells the same story
as the APIC view: where each VM's MAC is, which hypervisor lists it, which port is down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.sflow import records as rec
from collector.sflow.decoder import decode_datagram
from simulators import adjacency, loop_faults, port_stats
from simulators.apic_query import QueryEngine
from simulators.bridge import FabricSflowBridge, bridge_fabric, leaf_name, port_index
from simulators.clock import SimClock
from simulators.fabric import SimulatedFabric
from simulators.sflow_agents import Hypervisor, SflowAgentFleet, SflowModel

from .test_sflow_agents import adapter_macs, counter_blocks, flow_samples, mac_hex

INTERVAL = 10.0


class World:
    def __init__(self, seed: int = 3) -> None:
        self.fab = SimulatedFabric.build(leafs=4, endpoints=120, seed=seed, clock=SimClock())
        self.model, self.bridge = bridge_fabric(self.fab)
        self.fleet = SflowAgentFleet(self.model, ("127.0.0.1", 9), INTERVAL, sampling_rate=100)

    @property
    def now(self) -> float:
        return self.fab.clock.now()

    def run(self, seconds: float, decode: bool = True) -> list[rec.Datagram]:
        """Advance both worlds, ticking the agents every second; decoded datagrams."""
        out: list[rec.Datagram] = []
        end = self.now + seconds
        while self.now < end:
            self.fab.clock.advance(min(1.0, end - self.now))
            if not decode:
                self.model.advance_to(self.now)
                continue
            for d in self.fleet.collect(self.now):
                dg = decode_datagram(d)
                assert not dg.errors, dg.errors
                out.append(dg)
        return out

    def hv_agent(self, name: str) -> str:
        return self.model.hypervisors[name].agent


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.run(2 * INTERVAL)  # a baseline before anything changes
    yield w
    w.fleet.close()


def assert_consistent(
    fab: SimulatedFabric,
    model: SflowModel,
    bridge: FabricSflowBridge,
    looped: frozenset[str] = frozenset(),
) -> None:
    """Every VM is where the fabric has its endpoint (a port-channel/vPC: on one member) —
    except the ``looped`` MACs, which a loop shows elsewhere while the VM stays put."""
    checked = 0
    for ep in fab.ep_list:
        vm_name = bridge.vm_of.get(ep.mac.lower())
        if ep.att is None or vm_name is None:
            continue
        if ep.mac in looped:
            checked += 1
            continue
        where = model.endpoint(model.vms[vm_name])
        assert where is not None, ep
        ports = {
            (leaf_name(n.id), port_index(m))
            for n in ep.att.nodes
            for m in (ep.att.members if ep.att.kind != "eth" else (ep.att.if_id,))
        }
        assert (where.leaf, where.ifindex) in ports, (ep, where)
        checked += 1
    assert checked == len(fab.ep_list) - sum(1 for e in fab.ep_list if e.att is None)


def test_every_endpoint_is_a_vm_where_the_fabric_learned_it() -> None:
    w = World()
    assert len(w.model.vms) == len(w.fab.ep_list)
    assert_consistent(w.fab, w.model, w.bridge)
    dgs = w.run(INTERVAL)
    agents = {dg.agent for dg in dgs}
    assert {hv.agent for hv in w.model.hypervisors.values()} <= agents
    # ACI leafs export NetFlow, not sFlow: no agent of theirs; the external switches have one.
    aci = [lf for lf in w.model.leafs.values() if lf.node_id]
    external = [lf for lf in w.model.leafs.values() if not lf.node_id]
    assert len(aci) == 4 and len(external) == 2
    assert not {lf.agent for lf in aci} & agents
    assert {lf.agent for lf in external} <= agents
    assert not flow_samples([dg for dg in dgs if dg.agent in {lf.agent for lf in aci}])
    # Hosts sample what they send (Open vSwitch sFlow): each sampled frame on NIC n comes from a
    # VM pinned to that NIC (or the host itself), with the VM's VLAN.
    checked = 0
    for hv in w.model.hypervisors.values():
        for s in flow_samples(dgs, hv.agent):
            hdr = s.records[0]
            assert isinstance(hdr, rec.SampledHeader)
            nic = s.source_id_index - 2
            link = w.model.leafs[hv.uplinks[nic][0]].links[hv.uplinks[nic][1]]
            on_nic = {vm.mac for vm in w.model.vms_on(hv.name) if w.model.vm_link(vm) is link}
            src = hdr.src_mac.hex(":") if hdr.src_mac else ""
            assert src in on_nic or src in hv.nic_macs, (hv.name, nic, src)
            checked += 1
    assert checked > 50


def test_vm_migration_moves_the_vm_between_hypervisor_lists_with_load(world: World) -> None:
    w = world
    truth = w.fab.run_scenario("vm_migration")
    move = next(t for t in truth if t.kind == "move")
    vm = w.model.vms[w.bridge.vm_of[move.addr.lower()]]
    dst_host = vm.host
    src_host = w.bridge.host_of_att[f"{'/'.join(map(str, move.from_nodes))}:{move.from_interface}"]
    assert dst_host != src_host
    dgs = w.run(2 * INTERVAL)
    dst_blocks = counter_blocks(dgs, w.hv_agent(dst_host))
    src_blocks = counter_blocks(dgs, w.hv_agent(src_host))
    assert mac_hex(vm.mac) in adapter_macs(dst_blocks[(2, 1)])
    assert mac_hex(vm.mac) not in adapter_macs(src_blocks[(2, 1)])
    assert (3, vm.index) in dst_blocks and (3, vm.index) not in src_blocks
    # Both hypervisors work harder while the migration's copy runs.
    for host in (src_host, dst_host):
        hv = w.model.hypervisors[host]
        assert hv.timed_load == [] and hv.bytes_out + hv.bytes_in > 0
    assert_consistent(w.fab, w.model, w.bridge)


def test_vm_migration_load_is_visible_in_host_counters() -> None:
    w = World()
    w.run(2 * INTERVAL)
    truth = w.fab.run_scenario("vm_migration")
    move = next(t for t in truth if t.kind == "move")
    vm = w.model.vms[w.bridge.vm_of[move.addr.lower()]]
    hv = w.model.hypervisors[vm.host]
    assert len(hv.timed_load) == 1  # raised from the switchover …
    busy = w.model.host_cpu_load(hv)
    w.run(w.bridge.cfg.migration_s + 1)
    assert hv.timed_load == []  # … for migration_s, then gone
    assert w.model.host_cpu_load(hv) == pytest.approx(busy - w.bridge.cfg.migration_cpu)


def test_link_failover_downs_the_hypervisor_nic_and_follows_the_fabric(world: World) -> None:
    w = world
    truth = w.fab.run_scenario("link_failover", restore_after=40.0)
    down = next(t for t in truth if t.kind == "interface_down")
    moves = [t for t in truth if t.kind == "move"]
    assert moves
    link = w.model.leafs[leaf_name(down.from_nodes[0])].links[port_index(down.from_interface)]
    # run_scenario ran to the end: the port is back up; replay the down window from the truth.
    assert link.oper_up
    w2 = World()
    w2.run(2 * INTERVAL)
    run = w2.fab.scenarios.start("link_failover", restore_after=40.0)
    w2.fab.clock.advance(0.5)
    truth2 = w2.fab.scenarios.records(run)
    down2 = next(t for t in truth2 if t.kind == "interface_down")
    leaf, ifx = leaf_name(down2.from_nodes[0]), port_index(down2.from_interface)
    assert ifx is not None
    assert not w2.model.leafs[leaf].links[ifx].oper_up
    dgs = w2.run(2 * INTERVAL)
    # The hypervisor behind the port reports that NIC oper-down (ifStatus bit 1 clear) and
    # its VMs now show up on the standby port, where the fabric learned them.
    host = w2.bridge.host_of_att[f"{down2.from_nodes[0]}:{down2.from_interface}"]
    hv = w2.model.hypervisors[host]
    nic = hv.uplinks.index((leaf, ifx))
    blocks = counter_blocks(dgs, hv.agent)[(0, 2 + nic)]
    assert blocks[1]["if_status"] & 2 == 0
    other = counter_blocks(dgs, hv.agent)[(0, 2 + (1 - nic))]
    assert other[1]["if_status"] == 3
    assert_consistent(w2.fab, w2.model, w2.bridge)
    w2.run(30.0)
    assert w2.model.leafs[leaf].links[ifx].oper_up
    w2.fleet.close()


def test_nic_teaming_flap_repins_the_vm_each_time(world: World) -> None:
    w = world
    run = w.fab.scenarios.start("nic_teaming_flap", flaps=4, interval=5.0)
    places = []
    for _ in range(4):
        w.run(5.0)
        mac = run.targets[0]
        vm = w.model.vms[w.bridge.vm_of[mac.lower()]]
        where = w.model.endpoint(vm)
        assert where is not None
        places.append((where.leaf, where.ifindex))
        ep = w.fab.endpoint(mac)
        if ep.rogue_until <= w.now:  # while rogue-held the fabric freezes; the host still flaps
            assert ep.att is not None
            assert (where.leaf, where.ifindex) == (
                leaf_name(ep.att.nodes[0].id),
                port_index(ep.att.if_id),
            )
    assert len(set(places)) == 2 and places[0] != places[1] and places[0] == places[2]
    # Same hypervisor throughout: a teaming flap, not a migration.
    assert w.model.vms[w.bridge.vm_of[run.targets[0].lower()]].host == vm.host


def nic_bcast(dgs: list[rec.Datagram], hv: Hypervisor, nic: int) -> tuple[int, int]:
    """(in, out) broadcast packets of one host NIC in its last counter sample."""
    f = counter_blocks(dgs, hv.agent)[(0, 2 + nic)][1]
    return f["if_in_broadcast_pkts"], f["if_out_broadcast_pkts"]


def test_l2_loop_storms_the_nics_of_the_hosts_on_the_loop_and_the_fabric_counts_it(
    world: World,
) -> None:
    w = world
    run = w.fab.scenarios.start("l2_loop", count=8, flaps=12)  # 24 s
    w.fab.clock.advance(0.05)
    loop = next(t for t in w.fab.scenarios.records(run) if t.kind == "loop")
    looped = [
        (loop.from_nodes[0], loop.from_interface),
        (loop.to_nodes[0], loop.to_interface),
    ]
    on_loop = {
        (hv.name, hv.uplinks.index((leaf_name(n), port_index(p))))
        for n, p in looped
        for hv in w.model.hypervisors.values()
        if (leaf_name(n), port_index(p)) in hv.uplinks
    }
    assert on_loop, "the looped ports are cabled to hosts"
    dgs = w.run(INTERVAL)
    after = w.run(INTERVAL)
    for name, nic in on_loop:
        hv = w.model.hypervisors[name]
        (in0, out0), (in1, out1) = nic_bcast(dgs, hv, nic), nic_bcast(after, hv, nic)
        # 20 000 pps for ≥ 8 s: the loop runs through the host, both ways.
        assert in1 - in0 > 100_000 and out1 - out0 > 100_000, (name, nic, in0, in1)
    # Hosts elsewhere see no storm.
    quiet = next(
        hv
        for hv in w.model.hypervisors.values()
        if not any((leaf_name(n), port_index(p)) in hv.uplinks for n, p in looped)
    )
    assert nic_bcast(after, quiet, 0) == (0, 0)
    # The fabric side: flood counters on both looped leaf ports, and MCP's fault.
    eng = QueryEngine(w.fab)
    for node, port in looped:
        pod = w.fab.nodes[node].pod
        a = eng.run(
            eng.parse(
                "mo", f"topology/pod-{pod}/node-{node}/sys/phys-[{port}]/CDeqptIngrPkts5min", {}
            )
        ).imdata[0]["eqptIngrPkts5min"]["attributes"]
        assert float(a["floodRate"]) > 1000 and int(a["floodCum"]) > 20_000 * 8
    faults = [
        f for f in w.fab.static["faultInst"].values() if f["code"] == loop_faults.MCP_FAULT_CODE
    ]
    assert [f["lc"] for f in faults] == ["raised"]
    assert f"/sys/mcp/inst/if-[{loop.to_interface}]/" in faults[0]["dn"]
    w.run(run.ends_at - w.now + 2.0)
    for n, p in looped:
        lk = w.model.leafs[leaf_name(n)].links[port_index(p)]
        assert lk.storm_pps == 0.0
        assert port_stats.flood_pps(w.fab.floods, n, p, w.now) == 0.0
    assert faults[0]["lc"] in ("raised-clearing", "retaining")


def test_every_scenario_keeps_the_views_consistent() -> None:
    w = World(seed=11)
    w.run(INTERVAL)
    for name in ("vm_migration", "link_failover", "stale_remote", "duplicate_ip", "offsubnet"):
        w.fab.scenarios.start(name)
        w.run(45.0, decode=False)
        assert_consistent(w.fab, w.model, w.bridge)
    assert w.bridge.events > 0
    w.fleet.close()


def test_hypervisors_and_external_switches_are_the_leafs_lldp_neighbours() -> None:
    """The contract of the join: a leaf port's LLDP neighbour is the host whose Host sFlow
    hostname is its sysName, whose host_adapters list its chassis MAC, whose sFlow agent is its
    management address; portIdV names the NIC (hsflowd ifIndex 2 + n)."""
    w = World()
    dgs = w.run(INTERVAL)
    adj = adjacency.neighbors(w.fab)
    hosts = {hv.name: hv for hv in w.model.hypervisors.values()}
    by_agent = {dg.agent: dg for dg in dgs}
    seen_hosts = set()
    for (node, port), a in adj.items():
        assert a["dn"] == f"topology/pod-1/node-{node}/sys/lldp/inst/if-[{port}]/adj-1"
        hv = hosts.get(a["sysName"])
        if hv is None:
            continue
        seen_hosts.add(hv.name)
        assert a["mgmtIp"] == hv.agent and hv.agent in by_agent
        blocks = counter_blocks(dgs, hv.agent)
        assert blocks[(2, 1)][2000]["hostname"] == a["sysName"]
        assert mac_hex(a["chassisIdV"]) in adapter_macs(blocks[(2, 1)])
        nic = int(a["portIdV"].removeprefix("ens1f"))
        assert hv.uplinks[nic] == (leaf_name(node), port_index(port))
        assert (0, 2 + nic) in blocks  # that NIC's own counters
    assert seen_hosts == set(hosts)
    # Every cabled host port has its neighbour; the external switches hang off eth1/47.
    for hv in hosts.values():
        for leaf, ifx in hv.uplinks:
            assert adj[(w.model.leafs[leaf].node_id, f"eth1/{ifx}")]["sysName"] == hv.name
    ext = {a["sysName"]: k for k, a in adj.items() if a["sysName"].startswith("ext-sw")}
    assert set(ext) == {"ext-sw1", "ext-sw2"} and {p for _, p in ext.values()} == {"eth1/47"}
    for name, (node, port) in ext.items():
        sw = w.model.leafs[name]
        assert adj[(node, port)]["mgmtIp"] == sw.agent and sw.agent in by_agent
        assert adj[(node, port)]["chassisIdV"] == sw.chassis_mac
    cdp = w.fab.static.get("cdpAdjEp", {})
    assert [a["sysName"] for a in cdp.values()] == ["ext-sw2"]  # the NX-OS-like one
    assert [a["addr"] for a in w.fab.static["cdpMgmtAddr"].values()] == [
        w.model.leafs["ext-sw2"].agent
    ]
    w.fleet.close()


def test_a_port_going_down_withdraws_its_lldp_neighbour_and_events_say_so() -> None:
    w = World()
    events: list[tuple[str, str, str]] = []
    w.fab.add_listener(lambda evs: events.extend((e.cls, e.status, e.dn) for e in evs))
    run = w.fab.scenarios.start("link_failover", restore_after=20.0)
    w.fab.clock.advance(0.5)
    down = next(t for t in w.fab.scenarios.records(run) if t.kind == "interface_down")
    node, port = down.from_nodes[0], down.from_interface
    dn = f"topology/pod-1/node-{node}/sys/lldp/inst/if-[{port}]/adj-1"
    assert ("lldpAdjEp", "deleted", dn) in events
    assert (node, port) not in adjacency.neighbors(w.fab)
    w.fab.clock.advance(25.0)
    assert ("lldpAdjEp", "created", dn) in events
    assert (node, port) in adjacency.neighbors(w.fab)
    w.fleet.close()


def test_concurrent_loop_and_port_channel_failover_keep_their_own_truth() -> None:
    w = World(seed=5)
    w.run(2.0, decode=False)
    run = w.fab.scenarios.start("concurrent_loop_pc_failover", count=10)
    w.run(run.ends_at - w.now + 1.0, decode=False)
    truth = w.fab.scenarios.records(run)
    assert {t.scenario for t in truth} == {"concurrent_loop_pc_failover"}
    loop_bds = {t.bd for t in truth if t.kind == "loop"}
    pc_moves = [t for t in truth if t.kind == "move" and t.cause == "link_failover"]
    loop_moves = [t for t in truth if t.kind == "move" and t.cause == "l2_loop"]
    assert len(loop_bds) == 1 and loop_moves and pc_moves
    assert not loop_bds & {t.bd for t in pc_moves}
    downs = [t for t in truth if t.kind == "interface_down"]
    assert len(downs) == 2
    assert {t.from_interface for t in downs} in ({"eth1/33", "eth1/34"}, {"eth1/35", "eth1/36"})
    assert {t.from_interface for t in pc_moves} == {pc_moves[0].from_interface}
    assert pc_moves[0].from_interface.startswith("po")
    # The loop overlaps the failover: the pc went down while the flood ran.
    loop_start = min(t.time for t in truth if t.kind == "loop")
    loop_end = max(t.time for t in loop_moves)
    assert loop_start < min(t.time for t in downs) < loop_end
    assert_consistent(w.fab, w.model, w.bridge, frozenset(t.addr for t in loop_moves))
    w.fleet.close()


def test_concurrent_migration_during_a_storm_elsewhere() -> None:
    w = World(seed=7)
    w.run(2.0, decode=False)
    run = w.fab.scenarios.start("concurrent_migration_storm")
    w.fab.clock.advance(6.0)
    truth = w.fab.scenarios.records(run)
    storm = next(t for t in truth if t.kind == "storm")
    move = next(t for t in truth if t.kind == "move" and t.addr_type == "mac")
    assert move.cause == "vm_migration" and move.bd != storm.bd
    path = set(move.from_nodes) | set(move.to_nodes)
    assert storm.from_nodes[0] not in path
    assert port_stats.flood_pps(w.fab.floods, storm.from_nodes[0], storm.from_interface, w.now)
    # The storm's source host sends broadcasts on the NIC cabled to the flooded port.
    leaf, ifx = leaf_name(storm.from_nodes[0]), port_index(storm.from_interface)
    hv = next(h for h in w.model.hypervisors.values() if (leaf, ifx) in h.uplinks)
    w.model.advance_to(w.now)
    nic = hv.nic(hv.uplinks.index((leaf, ifx)))
    assert nic[5] > 10_000 and nic[4] == 0  # out, not back in: not a loop
    w.run(run.ends_at - w.now + 2.0, decode=False)
    assert port_stats.flood_pps(w.fab.floods, storm.from_nodes[0], storm.from_interface, w.now) == 0
    assert_consistent(w.fab, w.model, w.bridge)
    w.fleet.close()


def test_hosts_stop_storming_when_the_fabric_flood_stops_not_at_the_runs_end() -> None:
    """Qa demo: in `concurrent_loop_pc_failover` the run lasts ~34 s (the port-channel comes
    back after 30 s) but the loop only 12.5 s. The hosts on the looped ports sent broadcasts
    for the whole run, so sFlow showed a storm 20 s after the leaf ports' flood had stopped."""
    w = World(seed=5)
    w.run(2.0, decode=False)
    run = w.fab.scenarios.start("concurrent_loop_pc_failover", count=10)
    w.fab.clock.advance(0.05)
    loop = next(t for t in w.fab.scenarios.records(run) if t.kind == "loop")
    looped = [(loop.from_nodes[0], loop.from_interface), (loop.to_nodes[0], loop.to_interface)]
    w.run(5.0, decode=False)
    links = [w.model.leafs[leaf_name(n)].links[port_index(p)] for n, p in looped]
    assert all(lk.storm_pps > 0 for lk in links)
    w.run(run.started + 14.0 - w.now, decode=False)  # the loop (6 flaps × 2 s) is over
    flood_end = max(s[1] for n, p in looped for s in w.fab.floods[(n, p)])
    assert flood_end < run.ends_at - 10.0  # the run outlasts its loop
    w.run(flood_end - w.now + 2.5, decode=False)
    assert w.now < run.ends_at
    assert all(lk.storm_pps == 0.0 for lk in links)
    w.fleet.close()
