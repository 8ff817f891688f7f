"""Never blind, never unbounded: the real poller against the APIC simulator.

- a silent websocket on a *busy* fabric (endpoints moving all the time) is detected by the
  liveness probe, the poller resyncs, and every endpoint that moved ends where the fabric has it,
  reported as a move to that place;
- a slow audit does not hold up subscription refreshes (independent tasks);
- an event backlog past its bound is said (stats, log) and resynced once, not grown;
- a CI-sized scale build holds every per-node entry the simulator has.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("simulators.apic_server")

from collector.apic.tracker import Move  # noqa: E402
from simulators.apic_server import ApicSimulator  # noqa: E402
from simulators.fabric import SimulatedFabric  # noqa: E402
from simulators.faults import churn  # noqa: E402
from tests.collector.apic.test_poller_sim import Harness, node_tuple  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def fab():
    return SimulatedFabric.build(leafs=6, endpoints=300, seed=11)


@pytest.fixture
def sim(fab):
    h = ApicSimulator(fab, refresh_timeout=600).start()
    yield h
    h.stop()


class Mover:
    """Keeps the fabric busy: a few endpoints move every 0.2 s, the clock a second ahead each
    time (APIC timestamps must advance for anyone to tell old changes from new)."""

    def __init__(self, fab: SimulatedFabric) -> None:
        self.fab = fab
        self.stop = threading.Event()
        self.moves = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        seed = 1
        while not self.stop.wait(0.2):
            self.fab.clock.advance(1)
            self.moves += churn(self.fab, 3, seed)
            seed += 1

    def __enter__(self) -> Mover:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def stats_lines(h: Harness) -> list[str]:
    return [x for x in h.sink.lines if x.startswith("fabricscope_stats,")]


async def test_ws_silent_on_busy_fabric_detected_resynced_no_move_missing(fab, sim):
    async with Harness(fab, [sim.url], probe_s=1.0, audit_s=0) as h:
        with Mover(fab) as mover:
            await h.wait_for(lambda: h.poller.stats.moves >= 3, 20)
            assert h.poller.stats.moves >= 3  # the stream works while the fabric is busy
            fab.truth.clear()
            sim.simulator.faults.set("ws_silent")
            blind_at = mover.moves
            assert await h.wait_for(lambda: h.poller.probe.blind >= 1, 30)
            assert mover.moves > blind_at  # endpoints kept moving while the socket was silent
            sim.simulator.faults.clear("ws_silent")
            assert await h.wait_for(
                lambda: h.poller.stats.resyncs >= 1 and h.poller.state == "streaming", 30
            )
            await asyncio.sleep(1.0)  # a few more moves over the new, working socket
        await h.settle(2.0)
        assert "silent" in h.poller.stats.last_failure
        states = "".join(stats_lines(h))
        assert 'state="resyncing"' in states and "event stream silent" in states
        # Every endpoint that moved is where the fabric has it, and the last move reported
        # for it (live or by the resync) goes there: no true move is missing.
        assert h.state_matches_fabric() == []
        last: dict[str, tuple[int, ...]] = {}
        for r in fab.truth:
            if r.kind == "move":
                last[r.addr] = tuple(sorted(r.to_nodes))
        assert last
        reported: dict[str, tuple[int, ...]] = {}
        for o in h.outputs:
            if isinstance(o, Move) and not o.is_ip:
                reported[o.addr] = tuple(sorted(node_tuple(o.dst[0])))
        missing = {a: want for a, want in last.items() if reported.get(a) != want}
        # An endpoint that moved away and back while we were blind has nothing to report.
        back_home = {a for a in missing if h.poller.tracker.local_of(*key_of(fab, a)) is not None}
        assert {a: w for a, w in missing.items() if a not in back_home} == {}


def key_of(fab: SimulatedFabric, mac: str) -> tuple[int, str]:
    ep = next(e for e in fab.ep_list if e.mac == mac)
    return ep.bd.vnid, mac


async def test_slow_audit_never_starves_subscription_refresh(sim):
    fab = sim.simulator.fabric
    async with Harness(fab, [sim.url], audit_s=0.2, subscription_refresh_s=0.5) as h:
        audit = next(p for p in h.poller._periodic if p.name == "audit")
        real = audit.run
        started = asyncio.Event()

        async def slow_audit() -> None:  # an APIC taking ~40 s on a 4M-object count audit
            started.set()
            await asyncio.sleep(30)
            await real()

        audit.run = slow_audit
        await asyncio.wait_for(started.wait(), 5)
        before = h.poller.subs.refreshes
        await asyncio.sleep(3)
        assert h.poller.subs.refreshes >= before + 3  # refreshes went on during the audit
        assert h.poller.state == "streaming" and h.poller.stats.reconnects == 0


async def test_backlog_past_bound_is_reported_and_resynced_once(fab, sim):
    async with Harness(fab, [sim.url], max_queue_mib=0.002) as h:  # ~2 KB: a handful of frames
        h.poller.subs._wake.clear()
        # Hold the consumer back so a burst piles up, as a slow poller would.
        real_drain = h.poller._drain_queue
        gate = asyncio.Event()

        async def held(block: bool) -> None:
            await gate.wait()
            await real_drain(block)

        h.poller._drain_queue = held  # type: ignore[method-assign]
        await asyncio.sleep(0.6)  # the running drain returns; the next one waits at the gate
        await asyncio.to_thread(churn, fab, 40, 5)
        assert await h.wait_for(lambda: h.poller.subs.overflowed, 10)
        # Let the burst finish arriving (and be dropped) before the consumer runs again.
        seen = -1
        while h.poller.subs.frames != seen:
            seen = h.poller.subs.frames
            await asyncio.sleep(0.5)
        gate.set()
        assert await h.wait_for(lambda: h.poller.stats.backlog_resyncs == 1, 20)
        assert await h.wait_for(lambda: h.poller.state == "streaming", 20)
        await h.settle(1.0)
        assert h.poller.stats.backlog_resyncs == 1  # once, deliberately
        assert h.poller.subs.dropped > 0
        assert "backlog" in h.poller.stats.last_failure
        assert any("backlog_resyncs=1i" in x for x in stats_lines(h))
        assert h.state_matches_fabric() == []


async def test_scale_build_small_enough_for_ci():
    """20 leafs, 2,000 endpoints with 12 remote leafs each: ~55k per-node entries, node-scoped
    and prefetched; every entry the simulator has is tracked, none twice."""
    fab = SimulatedFabric.build(leafs=20, endpoints=2000, seed=3, partners=12)
    handle = ApicSimulator(fab).start()
    try:
        counts = fab.counts()
        async with Harness(fab, [handle.url], page_size=2000, build_concurrency=3) as h:
            tr = h.poller.tracker
            assert tr.entries == counts["epmMacEp"] + counts["epmIpEp"]
            assert tr.node_entry_count() == tr.entries
            assert tr.present_macs == counts["epmMacEp"]
            assert h.poller.stats.build_objects >= tr.entries
            assert h.state_matches_fabric() == []
            # Remote entries share state objects: far fewer objects than entries.
            distinct = {id(e) for ep in tr.eps.values() for e in ep.nodes.values()}
            assert len(distinct) < tr.entries / 3
    finally:
        handle.stop()
