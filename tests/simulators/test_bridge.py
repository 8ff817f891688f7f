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
from simulators.bridge import FabricSflowBridge, bridge_fabric, leaf_name, port_index
from simulators.clock import SimClock
from simulators.fabric import SimulatedFabric
from simulators.sflow_agents import SflowAgentFleet, SflowModel

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


def assert_consistent(fab: SimulatedFabric, model: SflowModel, bridge: FabricSflowBridge) -> None:
    """Every VM is where the fabric has its endpoint (a port-channel/vPC: on one member)."""
    checked = 0
    for ep in fab.ep_list:
        vm_name = bridge.vm_of.get(ep.mac.lower())
        if ep.att is None or vm_name is None:
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
    assert {leaf.agent for leaf in w.model.leafs.values()} <= agents
    # Flow samples on a leaf port carry the MACs of the VMs behind that port, with their VLAN.
    leaf = w.model.leafs["leaf-101"]
    talkers = w.model.talkers_by_link()
    for s in flow_samples(dgs, leaf.agent)[:50]:
        hdr = s.records[0]
        assert isinstance(hdr, rec.SampledHeader)
        if hdr.arp_op is not None:
            continue
        behind = {vm.mac for vm in talkers.get((leaf.name, s.source_id_index), [])}
        src = hdr.src_mac.hex(":") if hdr.src_mac else ""
        hv_nics = {m for hv in w.model.hypervisors.values() for m in hv.nic_macs}
        assert src in behind or src in hv_nics


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


def test_l2_loop_is_a_broadcast_storm_on_both_looped_ports(world: World) -> None:
    w = world
    run = w.fab.scenarios.start("l2_loop", count=8)
    w.fab.clock.advance(0.05)
    loop = next(t for t in w.fab.scenarios.records(run) if t.kind == "loop")
    ports = [
        (leaf_name(loop.from_nodes[0]), port_index(loop.from_interface)),
        (leaf_name(loop.to_nodes[0]), port_index(loop.to_interface)),
    ]
    before = {p: w.model.leafs[p[0]].links[p[1]].in_bcast for p in ports}
    dgs = w.run(INTERVAL)
    for leaf, ifx in ports:
        lk = w.model.leafs[leaf].links[ifx]
        assert lk.storm_pps > 0
        assert lk.in_bcast - before[(leaf, ifx)] > 1000 * 0.5 * INTERVAL
    storm_samples = [
        s
        for s in flow_samples(dgs)
        if isinstance(s.records[0], rec.SampledHeader) and s.records[0].arp_op is not None
    ]
    assert storm_samples
    # The leafs report the looped broadcasts they discard (0:5, reason port_loopback_filter).
    looped = {(w.model.leafs[leaf].agent, ifx) for leaf, ifx in ports}
    discards = [
        (dg.agent, s.source_id_index)
        for dg in dgs
        for s in dg.samples
        if isinstance(s, rec.DiscardSample) and s.reason == 268
    ]
    assert discards and set(discards) <= looped
    w.run(run.ends_at - w.now + 2.0)
    for leaf, ifx in ports:
        assert w.model.leafs[leaf].links[ifx].storm_pps == 0.0


def test_every_scenario_keeps_the_views_consistent() -> None:
    w = World(seed=11)
    w.run(INTERVAL)
    for name in ("vm_migration", "link_failover", "stale_remote", "duplicate_ip", "offsubnet"):
        w.fab.scenarios.start(name)
        w.run(45.0, decode=False)
        assert_consistent(w.fab, w.model, w.bridge)
    assert w.bridge.events > 0
    w.fleet.close()
