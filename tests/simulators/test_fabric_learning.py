"""Fabric model + learning rules + scenarios, checked on the per-leaf objects (no HTTP)."""

from __future__ import annotations

import pytest

from simulators.apic_query import QueryEngine, QueryError, eval_filter, parse_filter
from simulators.clock import SimClock
from simulators.fabric import (
    F_IP_BOUNCE,
    F_MAC_BOUNCE,
    F_MAC_LOCAL,
    F_MAC_REMOTE,
    ROGUE_FAULT_CODE,
    SimulatedFabric,
)


def build(**kw):
    return SimulatedFabric.build(
        leafs=kw.pop("leafs", 6), endpoints=kw.pop("endpoints", 400), seed=kw.pop("seed", 7), **kw
    )


def tunnel_dest(fab, node_id, tunnel_id):
    idx = int(tunnel_id.removeprefix("tunnel")) - 1
    return fab.tunnel_attrs(fab.nodes[node_id], idx)["dest"]


def test_build_is_deterministic_per_seed():
    a, b, c = build(seed=3), build(seed=3), build(seed=4)
    sig = [(e.mac, e.ips, e.att.describe()) for e in a.ep_list]
    assert sig == [(e.mac, e.ips, e.att.describe()) for e in b.ep_list]
    assert sig != [(e.mac, e.ips, e.att.describe()) for e in c.ep_list]


def test_steady_state_tables_local_and_remote():
    fab = build()
    for ep in fab.ep_list[:50]:
        bd = ep.bd
        for node in ep.att.nodes:
            e = fab.mac_tables[node.id][(bd.vnid, ep.mac)]
            assert "local" in e.flags.split(",")
            assert e.if_id == ep.att.if_id
            assert f"/vlan-[vlan-{ep.epg.vlan}]/db-ep/mac-{ep.mac}" in e.dn()
            assert ("vpc-attached" in e.flags) == (ep.att.kind == "vpc")
        for p in ep.partners:
            x = fab.mac_tables[p.id][(bd.vnid, ep.mac)]
            assert x.flags == F_MAC_REMOTE and x.if_id.startswith("tunnel")
            assert "/vlan-[" not in x.dn()
            want = ep.att.vpc.vip if ep.att.vpc else ep.att.nodes[0].tep
            assert tunnel_dest(fab, p.id, x.if_id) == want


def test_vm_migration_bounce_and_remote_follow():
    fab = build()
    recs = fab.run_scenario("vm_migration")
    (move,) = [r for r in recs if r.kind == "move"]
    ep = fab.endpoint(move.addr)
    old_node, new_node = move.from_nodes[0], move.to_nodes[0]
    assert ep.att.nodes[0].id == new_node and ep.att.if_id == move.to_interface
    bd = ep.bd
    new = fab.mac_tables[new_node][(bd.vnid, ep.mac)]
    assert new.flags == F_MAC_LOCAL and new.if_id == move.to_interface
    bounce = fab.mac_tables[old_node][(bd.vnid, ep.mac)]
    assert bounce.flags == F_MAC_BOUNCE
    assert tunnel_dest(fab, old_node, bounce.if_id) == fab.nodes[new_node].tep
    for ip in ep.ips:
        assert fab.ip_tables[old_node][(bd.vrf.vnid, ip)].flags == F_IP_BOUNCE
        assert fab.ip_tables[new_node][(bd.vrf.vnid, ip)].rw_mac == ep.mac
    for p in ep.partners:
        xr = fab.mac_tables[p.id][(bd.vnid, ep.mac)]
        assert tunnel_dest(fab, p.id, xr.if_id) == fab.nodes[new_node].tep
    # Bounce entries age out after bounceAgeIntvl (630 s), not before.
    fab.clock.advance(600)
    assert (bd.vnid, ep.mac) in fab.mac_tables[old_node]
    fab.clock.advance(40)
    assert (bd.vnid, ep.mac) not in fab.mac_tables[old_node]
    assert any(r.kind == "bounce_expired" and r.addr == ep.mac for r in fab.truth)


def test_link_failover_flushes_port_then_relearns_on_standby():
    fab = build()
    events = []
    fab.add_listener(events.extend)
    recs = fab.run_scenario("link_failover", restore_after=30)
    kinds = [r.kind for r in recs]
    assert kinds[0] == "interface_down" and kinds[-1] == "interface_up"
    down = recs[0]
    node, port = down.from_nodes[0], down.from_interface
    port_events = [e for e in events if e.cls == "ethpmPhysIf"]
    assert [e.attrs["operSt"] for e in port_events] == ["down", "up"]
    assert port_events[0].dn == f"topology/pod-1/node-{node}/sys/phys-[{port}]/phys"
    moves = [r for r in recs if r.kind == "move"]
    assert moves and all(r.cause == "link_failover" and r.from_nodes == (node,) for r in moves)
    for r in moves:
        ep = fab.endpoint(r.addr)
        # Flushed by the link-down, not moved by COOP: no bounce entry on the failed leaf.
        assert (ep.bd.vnid, ep.mac) not in fab.mac_tables[node]
        assert "local" in fab.mac_tables[r.to_nodes[0]][(ep.bd.vnid, ep.mac)].flags
    deleted_local = [
        e
        for e in events
        if e.cls == "epmMacEp" and e.status == "deleted" and f"node-{node}/" in e.dn
    ]
    assert len(deleted_local) >= len(moves)


def test_nic_teaming_flap_makes_endpoint_rogue_and_holds_it():
    fab = build()
    recs = fab.run_scenario("nic_teaming_flap", flaps=7, interval=5)
    kinds = [r.kind for r in recs]
    assert kinds == ["move", "move", "move", "move", "rogue", "suppressed"]
    rogue = recs[4]
    ep = fab.endpoint(rogue.addr)
    # Held where it was right before the declaration (seed 001, t5).
    assert ep.att.nodes[0].id == recs[3].to_nodes[0]
    faults = fab.static["faultInst"]
    (fdn,) = [dn for dn in faults if ep.mac in dn]
    assert fdn.endswith(f"/fault-{ROGUE_FAULT_CODE}") and faults[fdn]["lc"] == "raised"
    fab.clock.advance(fab.policy.rogue_hold + 5)
    assert not [dn for dn in fab.static["faultInst"] if ep.mac in dn]
    assert any(r.kind == "rogue_cleared" and r.addr == ep.mac for r in fab.truth)
    # Deleted at hold expiry, relearned 1 s later where it sits.
    assert "local" in fab.mac_tables[ep.att.nodes[0].id][(ep.bd.vnid, ep.mac)].flags


def test_l2_loop_with_rogue_control_quarantines_each_endpoint():
    fab = build()
    recs = fab.run_scenario("l2_loop", count=5, flaps=6, interval=2)
    loops = [r for r in recs if r.kind == "loop"]
    rogues = {r.addr for r in recs if r.kind == "rogue"}
    assert len(loops) == 5 and {r.addr for r in loops} == rogues
    assert len({r.bd for r in loops}) == 1


def test_l2_loop_without_rogue_control_disables_bd_learning():
    fab = build()
    fab.policy.rogue_enabled = False
    recs = fab.run_scenario("l2_loop", count=5, flaps=8, interval=2)
    protect = [r for r in recs if r.kind == "loop" and r.cause == "ep-loop-protection"]
    assert protect
    bd = fab.bd_by_vnid[next(b.vnid for b in fab.bds if b.name == protect[0].bd)]
    assert bd.vnid in fab.bd_learn_disabled
    assert any(r.kind == "suppressed" and r.cause == "bd-learn-disabled" for r in recs)
    assert any(a["cause"] == "ep-loop-detected" for a in fab.static["faultInst"].values())
    fab.clock.advance(fab.policy.hold_interval + 1)
    assert bd.vnid not in fab.bd_learn_disabled


def test_offsubnet_learn_creates_local_ip_outside_bd_subnet():
    fab = build()
    (rec,) = fab.run_scenario("offsubnet")
    assert rec.kind == "offsubnet"
    ep = fab.ip_owner[(rec.vnid, rec.addr)]
    import ipaddress

    assert ipaddress.ip_address(rec.addr) not in ep.bd.subnet
    for n in rec.to_nodes:
        e = fab.ip_tables[n][(rec.vnid, rec.addr)]
        assert "local" in e.flags and e.rw_mac == ep.mac


def test_stale_remote_entry_points_to_old_leaf_after_bounce_ages():
    fab = build()
    recs = fab.run_scenario("stale_remote")
    move = next(r for r in recs if r.kind == "move")
    stale = [r for r in recs if r.kind == "stale"]
    assert stale and stale[0].time >= move.time + fab.policy.bounce_age
    ep = fab.endpoint(move.addr)
    node = stale[0].from_nodes[0]
    xr = fab.mac_tables[node][(ep.bd.vnid, ep.mac)]
    assert tunnel_dest(fab, node, xr.if_id) == fab.nodes[move.from_nodes[0]].tep
    assert (ep.bd.vnid, ep.mac) not in fab.mac_tables[move.from_nodes[0]]


def test_duplicate_ip_moves_rewrite_mac():
    fab = build()
    recs = fab.run_scenario("duplicate_ip", flips=3, interval=10)
    assert [r.kind for r in recs] == ["duplicate_ip"] * 3
    ip = recs[0].addr
    owner = fab.ip_owner[(recs[0].vnid, ip)]
    assert recs[-1].detail.endswith(owner.mac)
    for n in owner.att.nodes:
        assert fab.ip_tables[n.id][(recs[0].vnid, ip)].rw_mac == owner.mac


def test_silent_host_ages_remote_then_local():
    fab = build()
    recs = fab.run_scenario("silent_host")
    aged = [r for r in recs if r.kind == "aged"]
    remote = [r for r in aged if r.from_interface.startswith("tunnel")]
    local = [r for r in aged if not r.from_interface.startswith("tunnel")]
    assert remote and local
    assert max(r.time for r in remote) < min(r.time for r in local)


def test_rogue_counting_per_ip_and_mac_is_separate():
    fab = build()
    recs = fab.run_scenario("duplicate_ip", flips=6, interval=5)
    kinds = [r.kind for r in recs]
    assert kinds[:4] == ["duplicate_ip"] * 4 and "rogue" in kinds
    rogue = next(r for r in recs if r.kind == "rogue")
    assert rogue.addr_type == "ipv4"


def test_clock_fires_timers_in_order_with_their_own_time():
    clk = SimClock(start=1000.0)
    seen = []
    clk.call_at(1010, lambda: seen.append(("b", clk.now())))
    clk.call_at(1005, lambda: seen.append(("a", clk.now())))
    clk.advance(4)
    assert seen == []
    clk.advance(20)
    assert seen == [("a", 1005.0), ("b", 1010.0)] and clk.now() == 1024.0


@pytest.mark.parametrize(
    ("expr", "attrs", "expected"),
    [
        ('eq(epmMacEp.addr,"AA")', {"addr": "AA"}, True),
        ('ne(epmMacEp.addr,"AA")', {"addr": "AA"}, False),
        ('wcard(epmMacEp.dn,"ip-\\[10.0.0.1\\]")', {"dn": "x/ip-[10.0.0.1]"}, True),
        (
            'and(eq(epmMacEp.flags,"mac"),gt(epmMacEp.pcTag,"100"))',
            {"flags": "mac", "pcTag": "32770"},
            True,
        ),
        ('or(eq(epmIpEp.addr,"1.1.1.1"),eq(epmMacEp.ifId,"eth1/1"))', {"ifId": "eth1/1"}, True),
        ('not(eq(epmMacEp.ifId,"eth1/1"))', {"ifId": "eth1/1"}, False),
        ('bw(epmMacEp.pcTag,"10","20")', {"pcTag": "15"}, True),
        ("eq(epmMacEp.ifId,eth1/1)", {"ifId": "eth1/1"}, True),
    ],
)
def test_filter_semantics(expr, attrs, expected):
    assert eval_filter(parse_filter(expr), "epmMacEp", attrs.get) is expected


@pytest.mark.parametrize(
    "bad", ["eq(epmMacEp.addr)", 'foo(a.b,"x")', 'eq(epmMacEp.addr,"x"', "and()", 'eq(addr,"x")']
)
def test_filter_errors(bad):
    with pytest.raises(QueryError) as exc:
        parse_filter(bad)
    assert exc.value.status == 400 and "Incorrect filter format" in exc.value.text


def test_query_engine_rsmac_mo_lookup_roundtrip():
    fab = build()
    eng = QueryEngine(fab)
    res = eng.run(eng.parse("class", "epmRsMacEpToIpEpAtt", {"page-size": "3"}))
    for obj in res.imdata:
        a = obj["epmRsMacEpToIpEpAtt"]["attributes"]
        again = eng.run(eng.parse("mo", a["dn"], {}))
        assert again.imdata[0]["epmRsMacEpToIpEpAtt"]["attributes"]["tDn"] == a["tDn"]
        ip = eng.run(eng.parse("mo", a["tDn"], {}))
        assert ip.imdata[0]["epmIpEp"]["attributes"]["flags"].startswith("ip,local")


def test_demo_rotation_plays_the_concurrent_loop_every_time() -> None:
    """The demo's rotation (qa run: `--scenarios concurrent_loop_pc_failover,… --repeat 30`):
    the concurrent loop + port-channel failover starts on every turn, not only the first (with
    four BDs a random loop BD often has an endpoint behind every port-channel)."""
    fab = SimulatedFabric.build(leafs=4, endpoints=200, seed=1, clock=SimClock(start=1.8e9))
    order = ["concurrent_loop_pc_failover", "concurrent_migration_storm", "vm_migration",
             "pc_failover", "nic_teaming_flap", "link_failover"]  # fmt: skip
    for i in range(18):
        run = fab.scenarios.start(order[i % len(order)])
        assert run.targets
        fab.clock.advance(30.0)
    loops = [r for r in fab.scenarios.runs if r.name == "concurrent_loop_pc_failover"]
    assert len(loops) == 3 and all(not r.error for r in loops)
