"""Each cause against evidence indexes built in memory (no InfluxDB): the move's own path only."""

from __future__ import annotations

import pytest

from analyzers.causes import BY_NAME, CAUSE_NAMES, markdown_table
from analyzers.move_cause import MoveCauseAnalyzer

from .evidence_builders import NS, T0, adapters, index, lldp, move, nic, port

MAC = "00:50:56:AA:BB:01"
HEX = "005056aabb01"


def best(m, ev):  # noqa: ANN001, ANN201
    return MoveCauseAnalyzer.analyse(None, m, ev)  # type: ignore[arg-type]


def test_registry_drives_names_and_docs() -> None:
    assert CAUSE_NAMES == ("loop", "link_failover", "vm_migration", "nic_teaming_flap", "unknown")
    table = markdown_table()
    for name in CAUSE_NAMES:
        assert f"| `{name}` |" in table
        assert BY_NAME[name].name == name


def test_neighbouring_port_down_is_not_this_endpoints_failover() -> None:
    m = move(MAC, T0, ("101", "eth1/1"), ("102", "eth1/1"))
    ev = index(
        [m],
        interfaces=[
            port("101", "eth1/2", T0 - 60 * NS),
            port("101", "eth1/2", T0 - 3 * NS, up=False),
        ],
    )
    assert best(m, ev).cause == "unknown"
    ev = index(
        [m],
        interfaces=[
            port("101", "eth1/1", T0 - 60 * NS),
            port("101", "eth1/1", T0 - 3 * NS, up=False),
        ],
    )
    v = best(m, ev)
    assert v.cause == "link_failover" and v.confidence == pytest.approx(0.9)
    assert v.key == "node-101/eth1/1"


def test_port_channel_failover_from_member_ports() -> None:
    movers = [move(f"00:50:56:AA:CC:{i:02X}", T0 + i * NS // 100, ("103", "po7"), ("104", "po7"))
              for i in range(8)]  # fmt: skip
    ev = index(movers, interfaces=[
        port("103", "eth1/33", T0 - 60 * NS, bundle="po7"),
        port("103", "eth1/34", T0 - 60 * NS, bundle="po7"),
        port("103", "eth1/33", T0 - NS, up=False, bundle="po7"),
        port("103", "eth1/34", T0 - NS, up=False, bundle="po7"),
    ])  # fmt: skip
    vs = [best(m, ev) for m in movers]
    assert {v.cause for v in vs} == {"link_failover"}
    assert {v.key for v in vs} == {"node-103/po7"}  # one incident for the port-channel
    assert "member of po7" in vs[0].evidence


def test_host_nic_down_counts_only_for_the_host_behind_the_old_port() -> None:
    m = move(MAC, T0, ("101", "eth1/5"), ("102", "eth1/5"))
    downs = [nic("esx-9", "2", T0 - 40 * NS, True), nic("esx-9", "2", T0 - 2 * NS, False)]
    # esx-9 is cabled to another port, and esx-1 (behind the old port) has no NIC down.
    ev = index([m], adjacency=[lldp("101", "eth1/5", "esx-1"), lldp("101", "eth1/9", "esx-9")],
               adapters=[adapters("esx-1", T0 - 50 * NS, ("aa0000000001",)),
                         adapters("esx-9", T0 - 50 * NS, ("aa0000000009", HEX))],
               if_counters=downs)  # fmt: skip
    assert best(m, ev).cause == "unknown"
    ev = index([m], adjacency=[lldp("101", "eth1/5", "esx-9")],
               adapters=[adapters("esx-9", T0 - 50 * NS, ("aa0000000009",))],
               if_counters=downs)  # fmt: skip
    v = best(m, ev)
    assert v.cause == "link_failover" and v.confidence == pytest.approx(0.85)
    # Keyed by the old leaf port (as the leaf side is), the host's NIC is one of its places.
    assert v.key == "node-101/eth1/5" and "lldp sysName" in v.evidence
    assert "host:esx-9/if2" in v.places


def test_one_failover_is_one_key_whether_leaf_or_host_evidence_explains_it() -> None:
    """Two endpoints behind one port: the leaf's oper-down sample explains the first, only the
    host's NIC down the second (its leaf sample is outside its window). Same key, one incident,
    and the summary names the leaf port first."""
    a = move(MAC, T0, ("101", "eth1/5"), ("102", "eth1/5"))
    b = move("00:50:56:AA:BB:02", T0 + 150 * NS, ("101", "eth1/5"), ("102", "eth1/5"))
    ev = index([a, b], adjacency=[lldp("101", "eth1/5", "esx-9")],
               adapters=[adapters("esx-9", T0 - 50 * NS, ("aa0000000009",))],
               interfaces=[port("101", "eth1/5", T0 - 60 * NS),
                           port("101", "eth1/5", T0 - 2 * NS, up=False)],
               if_counters=[nic("esx-9", "2", T0 - 40 * NS, True),
                            nic("esx-9", "2", T0 + 140 * NS, False)])  # fmt: skip
    va, vb = best(a, ev), best(b, ev)
    assert (va.cause, vb.cause) == ("link_failover", "link_failover")
    assert va.confidence > vb.confidence  # leaf side for a, host side for b
    assert va.key == vb.key == "node-101/eth1/5"
    text = BY_NAME["link_failover"].summary(vb.key, 1, 1, [vb.key, *vb.places])
    assert text.startswith("Failover of node-101/eth1/5 (NIC esx-9 ifIndex 2 down): 1 endpoint ")
    assert text.endswith("(1 move)")


def vm_evidence(adj: list) -> tuple:  # noqa: ANN001
    m = move(MAC, T0, ("101", "eth1/5"), ("103", "eth1/7"))
    ads = [
        adapters("esx-1", T0 - 60 * NS, (HEX,), vm="web-1", ifindex="100"),
        adapters("esx-1", T0 - 20 * NS, (HEX,), vm="web-1", ifindex="100"),
        adapters("esx-2", T0 + 5 * NS, (HEX,), vm="web-1", ifindex="101"),
        adapters("esx-1", T0 - 60 * NS, ("aa0000000001",)),
        adapters("esx-2", T0 - 60 * NS, ("aa0000000002",)),
    ]
    return m, index([m], adapters=ads, adjacency=adj)


def test_vm_migration_confidence_follows_the_topology() -> None:
    m, ev = vm_evidence([lldp("101", "eth1/5", "esx-1"), lldp("103", "eth1/7", "esx-2")])
    v = best(m, ev)
    assert (v.cause, v.confidence, v.key) == ("vm_migration", pytest.approx(0.9), "vm:web-1")
    assert ev.path(m).topology == "known"
    m, ev = vm_evidence([])
    v = best(m, ev)
    assert v.confidence == pytest.approx(0.8) and "topology unknown" in v.evidence
    assert ev.path(m).topology == "unknown"
    # The join by chassis MAC when the LLDP name is not the sFlow host name.
    m, ev = vm_evidence([lldp("101", "eth1/5", "x", chassis="aa0000000001"),
                         lldp("103", "eth1/7", "y", chassis="aa0000000002")])  # fmt: skip
    assert best(m, ev).confidence == pytest.approx(0.9)
    # Against the topology (other hosts behind those ports): much lower.
    m, ev = vm_evidence([lldp("101", "eth1/5", "esx-2"), lldp("103", "eth1/7", "esx-1")])
    assert best(m, ev).confidence == pytest.approx(0.6)


def loop_moves() -> list:  # noqa: ANN201
    return [move(f"00:50:56:AA:DD:{i:02X}", T0 + k * 2 * NS + i * NS // 100,
                 *((("105", "eth1/40"), ("110", "eth1/40")) if k % 2 == 0
                   else (("110", "eth1/40"), ("105", "eth1/40"))), bd="t1/loop")
            for i in range(10) for k in range(3)]  # fmt: skip


def quiet_then(node: str, iface: str, pps: float) -> list:  # noqa: ANN001
    return [port(node, iface, T0 - k * 60 * NS, flood=3.0) for k in range(1, 8)] + [
        port(node, iface, T0 + 1 * NS, flood=pps)
    ]


def test_loop_needs_flood_on_the_bds_own_ports() -> None:
    mv = loop_moves()
    ev = index(mv, interfaces=quiet_then("118", "eth1/45", 20000.0))  # elsewhere
    # Without loop evidence on their own ports they are only endpoints flapping back and forth.
    assert {best(m, ev).cause for m in mv} == {"nic_teaming_flap"}
    ev = index(mv, interfaces=quiet_then("110", "eth1/40", 8000.0))
    vs = [best(m, ev) for m in mv]
    assert {v.cause for v in vs} == {"loop"} and {v.key for v in vs} == {"bd:t1/loop"}
    assert vs[0].peak_flood_pps == pytest.approx(8000.0)


def test_port_that_always_floods_a_little_is_not_a_storm() -> None:
    mv = loop_moves()
    steady = [port("110", "eth1/40", T0 - k * 60 * NS, flood=900.0) for k in range(0, 8)]
    assert {best(m, index(mv, interfaces=steady)).cause for m in mv} == {"nic_teaming_flap"}


def test_mass_move_in_another_bd_during_a_storm_stays_unknown() -> None:
    mv = loop_moves()
    other = [move(f"00:50:56:EE:00:{i:02X}", T0 + i * NS // 10, ("107", "eth1/4"),
                  ("108", "eth1/4"), bd="t2/quiet") for i in range(12)]  # fmt: skip
    ev = index(mv + other, interfaces=quiet_then("105", "eth1/40", 9000.0))
    assert {best(m, ev).cause for m in other} == {"unknown"}
    assert {best(m, ev).cause for m in mv} == {"loop"}


def test_docs_table_is_the_registrys() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "measurements.md").read_text()
    assert markdown_table() in docs, "regenerate with: python3 -m analyzers.causes"


def test_incident_summaries_read_as_sentences() -> None:
    """What the landing page shows: numbers agree with their nouns, MACs in the APIC's form,
    a loop names the ports it was between."""
    vm = BY_NAME["vm_migration"].summary(
        "vm:web-1", 1, 3, ["vm:web-1", "host:esx-1", "host:esx-2", "node-101/eth1/5"]
    )
    assert vm == "VM web-1 migrated from esx-1 to esx-2 (its MAC and IPs moved together: 3 moves)"
    mac = BY_NAME["vm_migration"].summary(f"mac:{HEX}", 1, 1, [])
    assert mac == f"MAC {MAC} migrated (its MAC and IPs moved together: 1 move)"
    flap = BY_NAME["nic_teaming_flap"].summary(
        f"mac:{HEX}", 1, 8, ["node-101/eth1/15", "node-103/eth1/16"]
    )
    assert flap == (
        f"NIC teaming flap of {MAC} between node-101/eth1/15 and node-103/eth1/16: 8 moves"
    )
    loop = BY_NAME["loop"].summary
    assert loop("bd:t/b", 20, 78, ["bd:t/b", "node-104/eth1/12", "node-101/eth1/1"]) == (
        "L2 loop in BD t/b: 20 endpoints moved 78 times between node-104/eth1/12 and "
        "node-101/eth1/1"
    )
    assert loop("bd:t/b", 5, 9, ["node-104/eth1/12"]).endswith("moved 9 times on node-104/eth1/12")
    assert BY_NAME["unknown"].summary("bd:t/b", 1, 2, []) == (
        "1 endpoint moved in BD t/b (2 moves) with no evidence of a cause on its path: unknown"
    )


def test_short_loop_between_two_polls_is_seen_from_the_cumulative_counter() -> None:
    """The APIC poller reads the flood counters every 60 s: a 12-s loop that starts and ends
    between two polls shows as the rate between them, stamped at the later poll — after the
    moves' 30-s window — and the 5-minute `in_flood_pkts_rate` may already be back to quiet
    (a new 5-minute interval began). The interval overlaps the window: that is the loop's
    flood. An interval that ends long before the window (or is hours long) does not count."""
    from dataclasses import replace

    mv = loop_moves()  # T0 … T0+4 s

    def polls(times_s: list[int], jump_at: int) -> list:  # noqa: ANN001
        out, cum = [], 5_000_000
        for t in times_s:
            cum += 2 * 60 + (240_000 if t == jump_at else 0)  # 240k flooded packets in 12 s
            out.append(replace(port("110", "eth1/40", T0 + t * NS, flood=2.0),
                               in_flood_pkts_cum=cum))  # fmt: skip
        return out

    ev = index(mv, interfaces=polls([-370, -310, -250, -190, -130, -70, -10, 50, 110], 50))
    vs = [best(m, ev) for m in mv]
    assert {v.cause for v in vs} == {"loop"}
    assert vs[0].peak_flood_pps == pytest.approx(240_120 / 60)
    assert "APIC flood storm on node-110/eth1/40" in vs[0].evidence
    # The same flood two polls later (T0+110, interval T0+50 … T0+110): not this loop's.
    ev = index(mv, interfaces=polls([-370, -310, -250, -190, -130, -70, -10, 50, 110], 110))
    assert {best(m, ev).cause for m in mv} == {"nic_teaming_flap"}


def test_storm_on_a_home_port_the_loop_only_left_is_not_its_loop() -> None:
    """Qa demo: a loop's endpoint left its home port (a hypervisor port shared with other BDs)
    once, while another BD's broadcast storm flooded that port. The loop flaps between its two
    looped ports; the home port is not one of them, so its flood is not this BD's evidence."""
    mv = loop_moves()
    home = move("00:50:56:AA:DD:00", T0 - NS, ("120", "eth1/9"), ("105", "eth1/40"), bd="t1/loop")
    ev = index([home, *mv], interfaces=quiet_then("120", "eth1/9", 9000.0))
    assert {best(m, ev).cause for m in mv} == {"nic_teaming_flap"}
    ev = index([home, *mv], interfaces=quiet_then("110", "eth1/40", 9000.0))
    assert {best(m, ev).cause for m in mv} == {"loop"}
