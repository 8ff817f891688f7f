"""The real poller against the APIC simulator over real HTTP and websocket.

For every scenario: detected == ground truth (MAC moves exactly; no false moves from bounce
entries; each anomaly kind the scenario records). For every fault: the poller recovers and the
truth of a migration made across the fault is still detected (resync reconciles).
"""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("simulators.apic_server")

from collector.apic.client import ApicClient  # noqa: E402
from collector.apic.poller import ApicPoller, PollerConfig  # noqa: E402
from collector.apic.tracker import Anomaly, Move, TrackerConfig  # noqa: E402
from influx.sink import ListSink  # noqa: E402
from simulators.apic_server import ApicCluster, ApicSimulator  # noqa: E402
from simulators.fabric import SimulatedFabric  # noqa: E402

pytestmark = pytest.mark.timeout(120)

FAST_TRACKER = {
    "stale_delay_s": 1.0,
    "stale_no_local_delay_s": 1.0,
    "offsubnet_delay_s": 1.0,
    "dup_delay_s": 1.0,
    "rs_wait_s": 0.5,
}


def node_tuple(n: int) -> tuple[int, ...]:
    return (n >> 16, n & 0xFFFF) if n > 65535 else (n,)


class Harness:
    def __init__(self, fab, urls, page_size=10000, **pcfg):
        self.fab = fab
        self.sink = ListSink()
        self.outputs: list = []
        self.client = ApicClient(
            urls,
            "admin",
            "password",
            page_size=page_size,
            retry_min_s=0.05,
            retry_max_s=0.5,
            timeout_s=10,
        )
        cfg = {
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 1.0,
            "heartbeat_s": 2.0,
            "audit_s": 1.0,
            "probe_s": 0.5,
            "stats_interval_s": 1.0,
            "interface_interval_s": 1.0,
            "flush_interval_s": 0.1,
        }
        cfg.update(pcfg)
        self.poller = ApicPoller(
            self.client,
            self.sink,
            PollerConfig(**cfg),
            TrackerConfig(**FAST_TRACKER),
            on_output=self.outputs.extend,
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self):
        self.task = asyncio.create_task(self.poller.run(self.stop))
        await asyncio.wait_for(self.poller.synced.wait(), 60)
        return self

    async def __aexit__(self, *exc):
        self.stop.set()
        await asyncio.wait_for(self.task, 10)
        await self.client.aclose()

    async def scenario(self, name, **kw):
        return await asyncio.to_thread(self.fab.run_scenario, name, **kw)

    async def wait_for(self, pred, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            await asyncio.sleep(0.1)
        return pred()

    async def settle(self, quiet=1.5):
        """Wait until the queue is empty and deferred rechecks had time to run."""
        await self.wait_for(lambda: self.poller.subs.qsize() == 0, 10)
        await asyncio.sleep(quiet)

    def mac_moves(self):
        return [o for o in self.outputs if isinstance(o, Move) and not o.is_ip]

    def anomalies(self, kind):
        return [o for o in self.outputs if isinstance(o, Anomaly) and o.kind == kind]

    def state_matches_fabric(self) -> list[str]:
        bad = []
        for ep in self.fab.ep_list:
            loc = self.poller.tracker.local_of(ep.bd.vnid, ep.mac)
            if ep.att is None:
                continue
            want = tuple(sorted(n.id for n in ep.att.nodes))
            got = tuple(sorted(node_tuple(loc[0]))) if loc else None
            if got != want or (loc and loc[1] != ep.att.if_id):
                bad.append(f"{ep.mac}: fabric {want}/{ep.att.if_id} tracker {loc}")
        return bad


@pytest.fixture
def fab():
    return SimulatedFabric.build(leafs=6, endpoints=300, seed=7)


@pytest.fixture
def sim(fab):
    h = ApicSimulator(fab, refresh_timeout=600).start()
    yield h
    h.stop()


def truth_moves(records):
    return sorted(
        (r.addr, tuple(sorted(r.from_nodes)), tuple(sorted(r.to_nodes)))
        for r in records
        if r.kind == "move"
    )


def detected_moves(moves):
    return sorted(
        (m.addr, tuple(sorted(node_tuple(m.src[0]))), tuple(sorted(node_tuple(m.dst[0]))))
        for m in moves
    )


async def check_moves_equal_truth(h, records):
    want = truth_moves(records)
    await h.wait_for(lambda: len(h.mac_moves()) >= len(want))
    await h.settle()
    assert detected_moves(h.mac_moves()) == want
    moved = {r.addr for r in records if r.kind == "move"}
    for m in h.outputs:
        if isinstance(m, Move) and m.is_ip:
            assert m.dst[4] in moved, f"IP move without its MAC moving: {m}"


# ----------------------------------------------------------------------------- scenarios


async def test_initial_build_matches_fabric(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        assert h.state_matches_fabric() == []
        assert h.outputs == [] or all(not isinstance(o, Move) for o in h.outputs)
        assert h.poller.state == "streaming"


async def test_vm_migration_one_move_no_bounce_false_move(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        records = await h.scenario("vm_migration")
        await check_moves_equal_truth(h, records)
        (m,) = h.mac_moves()
        (t,) = [r for r in records if r.kind == "move"]
        assert m.dst[1] == t.to_interface and m.src[1] == t.from_interface
        assert m.epg and m.bd and m.vrf  # names resolved
        assert not h.anomalies("stale")  # the bounce entry made XR entries fine meanwhile
        lines = [x for x in h.sink.lines if x.startswith("apic_endpoint_move,")]
        assert lines and f"addr={m.addr}" in lines[0]


async def test_link_failover(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        records = await h.scenario("link_failover")
        await check_moves_equal_truth(h, records)
        assert any(r.kind == "interface_down" for r in records)
        down = next(r for r in records if r.kind == "interface_down")
        up = next(r for r in records if r.kind == "interface_up")
        series = f"apic_interface,fabric=fabric1,interface={down.from_interface},"
        series += f"node={down.from_nodes[0]} "

        def states() -> list[tuple[str, int]]:
            return [
                (x.split(" ")[1], int(x.split(" ")[2]))
                for x in h.sink.lines
                if x.startswith(series)
            ]

        # The ethpmPhysIf subscription: the port's down and up, each at its own time.
        await h.wait_for(lambda: len(states()) >= 2, 5)
        got = states()
        assert ('oper_st="down",oper_up=false' in got[0][0]) and got[0][1] == int(down.time * 1e9)
        assert ('oper_st="up",oper_up=true' in got[1][0]) and got[1][1] == int(up.time * 1e9)
        assert h.poller.interfaces.events >= 2


async def test_nic_teaming_flap_is_rogue(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        records = await h.scenario("nic_teaming_flap")
        await check_moves_equal_truth(h, records)
        want = {r.addr for r in records if r.kind == "rogue"}
        assert want
        await h.wait_for(lambda: {a.addr for a in h.anomalies("rogue")} >= want)
        assert {a.addr for a in h.anomalies("rogue")} == want


async def test_l2_loop(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        records = await h.scenario("l2_loop", count=10)
        await check_moves_equal_truth(h, records)
        loop_truth = {r.addr for r in records if r.kind == "loop"}
        await h.wait_for(lambda: bool(h.anomalies("loop")))
        (loop,) = h.anomalies("loop")
        assert set(loop.fields["sample"].split(",")) <= loop_truth
        assert loop.addr == records[0].bd or loop.addr.endswith(records[0].bd)
        rogue_truth = {r.addr for r in records if r.kind == "rogue"}
        assert {a.addr for a in h.anomalies("rogue")} == rogue_truth


async def test_offsubnet(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        records = await h.scenario("offsubnet")
        want = {r.addr for r in records if r.kind == "offsubnet"}
        assert want
        await h.wait_for(lambda: {a.addr for a in h.anomalies("offsubnet")} >= want)
        assert {a.addr for a in h.anomalies("offsubnet")} == want
        assert not h.mac_moves()


async def test_stale_remote(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        records = await h.scenario("stale_remote")
        await check_moves_equal_truth(h, records)
        want = {r.addr for r in records if r.kind == "stale"}
        assert want
        await h.wait_for(lambda: {a.addr for a in h.anomalies("stale")} >= want)
        assert {a.addr for a in h.anomalies("stale")} == want


async def test_duplicate_ip(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        records = await h.scenario("duplicate_ip")
        want = [r.addr for r in records if r.kind == "duplicate_ip"]
        assert want
        await h.wait_for(lambda: len(h.anomalies("duplicate_ip")) >= len(want))
        await h.settle()
        assert sorted(a.addr for a in h.anomalies("duplicate_ip")) == sorted(want)
        assert not h.mac_moves()


async def test_silent_host_ages_without_findings(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        await h.scenario("silent_host")
        await h.settle()
        assert not h.mac_moves()
        assert not [o for o in h.outputs if isinstance(o, Anomaly)]


# ----------------------------------------------------------------------------- faults


async def migrate_across(h, arm):
    """Arm a fault, make a migration, and check the poller recovers and detects it."""
    before = h.poller.stats.reconnects
    arm()
    records = await h.scenario("vm_migration")
    await check_moves_equal_truth(h, records)
    await h.wait_for(lambda: h.poller.state == "streaming", 20)
    assert h.state_matches_fabric() == []
    return h.poller.stats.reconnects - before


async def test_fault_token_timeout(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        n = await migrate_across(h, lambda: sim.simulator.faults.set("token_timeout", count=1))
        assert n >= 1 or h.client.stats.relogins_403 >= 1


async def test_fault_refresh_fail(fab):
    h0 = ApicSimulator(fab, refresh_timeout=2).start()  # token refresh every second
    try:
        async with Harness(fab, [h0.url]) as h:
            await asyncio.sleep(1.5)
            n = await migrate_across(h, lambda: h0.simulator.faults.set("refresh_fail", count=1))
            await h.wait_for(lambda: h.poller.stats.reconnects >= 1)
            assert n >= 1 or h.poller.stats.reconnects >= 1
            assert h.client.stats.refreshes >= 1
    finally:
        h0.stop()


async def test_fault_subscription_refresh_fail(fab, sim):
    async with Harness(fab, [sim.url], subscription_refresh_s=0.5) as h:
        sim.simulator.faults.set("subscription_refresh_fail", count=1)
        await h.wait_for(lambda: h.poller.stats.resyncs >= 1, 10)
        assert h.poller.stats.resyncs >= 1
        await migrate_across(h, lambda: None)


async def test_fault_ws_close(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        sim.simulator.close_sockets()
        await h.wait_for(lambda: h.poller.stats.reconnects >= 1, 10)
        n = await migrate_across(h, lambda: None)
        assert h.poller.stats.reconnects >= 1 and n >= 0


async def test_fault_ws_silent_detected_by_probe(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        sim.simulator.faults.set("ws_silent")
        # Real time passes: the silent stream's objects are newer than anything we heard of.
        await asyncio.to_thread(fab.clock.advance, 5)
        records = await h.scenario("vm_migration")
        await h.wait_for(lambda: h.poller.probe.blind >= 1, 10)
        sim.simulator.faults.clear("ws_silent")
        await check_moves_equal_truth(h, records)
        assert h.poller.stats.resyncs >= 1


async def test_fault_subscribe_405(fab, sim):
    sim.simulator.faults.set("subscribe_405", count=1)
    async with Harness(fab, [sim.url]) as h:
        assert h.poller.stats.reconnects >= 1
        assert "405" in h.poller.stats.last_failure or "web socket" in h.poller.stats.last_failure
        await migrate_across(h, lambda: None)


async def test_fault_throttle_503(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        await migrate_across(h, lambda: sim.simulator.faults.set("throttle", count=3))
        await h.wait_for(lambda: h.client.stats.retries_503 >= 3, 10)
        assert h.client.stats.retries_503 >= 3


async def test_fault_slow_answers(fab, sim):
    sim.simulator.faults.set("slow", value=0.3)
    try:
        async with Harness(fab, [sim.url], page_size=100) as h:
            assert h.state_matches_fabric() == []
    finally:
        sim.simulator.faults.clear("slow")


async def test_fault_page_churn_and_empty_page(fab, sim):
    sim.simulator.faults.set("page_churn", count=2, value=10)
    sim.simulator.faults.set("empty_page", count=1)
    async with Harness(fab, [sim.url], page_size=50) as h:
        await h.settle(0.5)
        assert h.state_matches_fabric() == []


async def test_one_apic_down_then_failback(fab):
    cluster = ApicCluster(fab, size=2).start()
    try:
        cluster.stop_member(0)
        async with Harness(fab, cluster.urls, failback_s=1.0) as h:
            assert h.client.base_url == cluster.urls[1]
            assert h.client.stats.failovers >= 1
            cluster.start_member(0)
            await h.wait_for(
                lambda: h.client.base_url == cluster.urls[0] and h.poller.state == "streaming", 20
            )
            assert h.client.base_url == cluster.urls[0]
            # and the second dies: fail over again, resync, keep detecting
            cluster.stop_member(0)
            await migrate_across(h, lambda: None)
            assert h.client.base_url == cluster.urls[1]
    finally:
        cluster.stop()


async def test_stats_lines(fab, sim):
    async with Harness(fab, [sim.url]) as h:
        await h.wait_for(lambda: any(x.startswith("fabricscope_stats,") for x in h.sink.lines), 5)
        line = next(x for x in h.sink.lines if x.startswith("fabricscope_stats,"))
        assert "process=poller" in line and "endpoints=" in line and "reconnects=" in line
