"""Scenario engine + ground truth (stage: simulators — scripted endpoint behaviour).

A scenario is a list of timed steps scheduled on the fabric's :class:`~simulators.clock.SimClock`.
Every step goes through the learning rules in ``learning.py``, which change per-leaf objects,
emit websocket events and append :class:`~simulators.fabric.TruthRecord` s to ``fabric.truth``
tagged with the scenario name and run id.

=================== ===========================================================================
name                what happens (truth kinds recorded)
=================== ===========================================================================
vm_migration        one endpoint moves to a port on another leaf (``move``); the old leaf keeps
                    a bounce entry for 630 s (``bounce_expired`` when it ages)
link_failover       a port goes oper-down (``interface_down``), its endpoints are flushed and
                    relearned 1 s later on the standby leaf (``move``, cause link_failover);
                    the port comes back after 30 s (``interface_up``)
nic_teaming_flap    one endpoint alternates between two non-vPC leafs every 5 s; after
                    ``rogue_factor`` moves in 60 s rogue EP control holds it (``move`` x4,
                    ``rogue``, ``suppressed``; ``rogue_cleared`` after the 1800 s hold)
l2_loop             N endpoints of one BD flap together between two ports (``loop`` per
                    endpoint, ``move`` s, then ``rogue`` — or, with rogue control off, EP loop
                    protection disables BD learning)
pc_failover         a port-channel's members go down; its endpoints are relearned on the
                    same ``poN`` of the vPC peer (``interface_down`` ×2, ``move`` cause
                    link_failover); members come back after 30 s
offsubnet           an IP outside every BD subnet is learned behind a MAC (``offsubnet``)
stale_remote        an endpoint moves but one leaf's XR entry is not updated; once the old
                    leaf's bounce entry ages (630 s) that XR entry points at a leaf without the
                    endpoint (``move`` then ``stale`` at the bounce expiry)
duplicate_ip        one IP moves back and forth between two MACs on different leafs
                    (``duplicate_ip`` per flip)
silent_host         a host stops talking: local entries age after 900 s, XR after 300 s
                    (``aged``)
=================== ===========================================================================

``l2_loop`` also floods both looped ports (``eqptIngrPkts5min`` flood counters, 20 000 pps) and
MCP raises ``F2533`` on the port its PDU came back in, 2 s after the loop starts; both clear when
the loop ends (``loop_faults.py``). ``pc_failover`` is in the rotation (after ``l2_loop``, so
the first four of a demo still show one cause each) because a real fabric's commonest failover
is a vPC port-channel's, not a single port's. Selectable by name but not in the ``all`` rotation
(:data:`EXTRA_SCENARIOS`):

=========================== ===================================================================
broadcast_storm             a host floods broadcasts into its access port for 30 s (``storm``);
                            nothing moves
concurrent_loop_pc_failover ``l2_loop`` in one BD and, 3 s in, ``pc_failover`` of a port-channel
                            whose endpoints are all in other BDs
concurrent_migration_storm  ``broadcast_storm`` in one BD and, 5 s in, ``vm_migration`` of an
                            endpoint of another BD between two leafs other than the storm's
=========================== ===================================================================

Python API::

    records = fab.run_scenario("vm_migration")          # run to completion (manual clock:
                                                        # advances it; live clock: waits)
    run = fab.scenarios.start("l2_loop", count=10)      # schedule and return immediately
    fab.scenarios.schedule_repeating(["all"], every=60) # demo: round-robin forever

Keyword arguments select targets (``mac=``, ``ip=``, ``bd=``) or tune the scenario
(``flaps=``, ``interval=``, ``count=``...); see each ``_plan_*`` method.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulators import loop_faults, port_stats
from simulators.fabric import Attachment, Bd, Endpoint, Node, SimulatedFabric, TruthRecord
from simulators.learning import (
    learn_ip,
    move_endpoint,
    move_ip,
    port_down,
    port_up,
    silence,
)

log = logging.getLogger(__name__)

SCENARIOS = (
    "vm_migration",
    "link_failover",
    "nic_teaming_flap",
    "l2_loop",
    "pc_failover",  # a vPC port-channel failing over: what a real user's demo should show
    "offsubnet",
    "stale_remote",
    "duplicate_ip",
    "silent_host",
)

# Selectable by name (``--scenarios``) but not part of the "all" rotation, which stays the
# one-cause-at-a-time set the demo plays.
EXTRA_SCENARIOS = (
    "broadcast_storm",
    "concurrent_loop_pc_failover",
    "concurrent_migration_storm",
)
STORM_PPS = 20_000.0  # broadcasts/s entering each looped port
MCP_DETECT_S = 2.0  # MCP's PDU comes back within its 2 s transmit interval

Step = tuple[float, Callable[[], None]]


@dataclass
class ScenarioRun:
    id: int
    name: str
    started: float
    ends_at: float
    targets: list[str] = field(default_factory=list)
    done: bool = False
    error: str = ""


class ScenarioEngine:
    def __init__(self, fab: SimulatedFabric) -> None:
        self.fab = fab
        self.runs: list[ScenarioRun] = []
        self._seq = 0
        self._busy: set[str] = set()  # MACs in a running scenario: keep scenarios independent
        self._lock = threading.Lock()
        self._repeat_handle: Any = None

    def names(self) -> list[str]:
        return [*SCENARIOS, *EXTRA_SCENARIOS]

    def run_summaries(self) -> list[dict[str, Any]]:
        return [
            {
                "id": r.id,
                "name": r.name,
                "started": r.started,
                "ends_at": r.ends_at,
                "done": r.done,
                "targets": r.targets,
                "error": r.error,
            }
            for r in self.runs[-50:]
        ]

    def records(self, run: ScenarioRun) -> list[TruthRecord]:
        with self.fab.lock:
            return [r for r in self.fab.truth if r.run == run.id]

    # --------------------------------------------------------------- running

    def start(self, name: str, **kwargs: Any) -> ScenarioRun:
        if name not in self.names():
            raise KeyError(f"unknown scenario {name!r}; known: {', '.join(self.names())}")
        fab = self.fab
        with fab.lock:
            with self._lock:
                self._seq += 1
                run_id = self._seq
            rng = random.Random(fab.seed * 100_003 + run_id)
            now = fab.clock.now()
            planner = getattr(self, f"_plan_{name}")
            steps, duration, targets = planner(run_id, rng, **kwargs)
            run = ScenarioRun(run_id, name, now, now + duration, targets)
            self.runs.append(run)
            self._busy.update(targets)
            for offset, fn in steps:
                fab.clock.call_at(now + offset, self._guard(run, fn))

            def finish() -> None:
                run.done = True
                self._busy.difference_update(run.targets)

            fab.clock.call_at(now + duration, finish)
        return run

    def _guard(self, run: ScenarioRun, fn: Callable[[], None]) -> Callable[[], None]:
        def step() -> None:
            try:
                fn()
            except Exception as exc:  # a failing step must not kill the clock ticker
                log.exception("scenario %s run %d step failed", run.name, run.id)
                run.error = repr(exc)

        return step

    def run(self, name: str, timeout: float = 3600.0, **kwargs: Any) -> list[TruthRecord]:
        """Start ``name`` and return its truth once it ends (advances a manual clock)."""
        run = self.start(name, **kwargs)
        clock = self.fab.clock
        if not clock.live:
            clock.advance(max(0.0, run.ends_at - clock.now()))
        else:
            deadline = time.monotonic() + timeout
            while not run.done:
                clock.run_due()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"scenario {name} did not finish within {timeout}s")
                time.sleep(0.02)
        return self.records(run)

    def schedule_repeating(self, names: list[str], every: float) -> None:
        """Start the next scenario of ``names`` (round-robin; "all" = every scenario) each
        ``every`` simulated seconds, forever: keeps a demo fabric moving."""
        order = list(SCENARIOS) if "all" in names else names
        for n in order:
            if n not in self.names():
                raise KeyError(f"unknown scenario {n!r}")
        idx = 0

        def tick() -> None:
            nonlocal idx
            name = order[idx % len(order)]
            idx += 1
            try:
                self.start(name)
            except ValueError as exc:  # e.g. every candidate endpoint is busy or held rogue
                log.warning("repeating scenario %s skipped: %s", name, exc)
            except Exception:
                log.exception("repeating scenario %s could not start", name)
            self._repeat_handle = self.fab.clock.call_later(every, tick)

        self._repeat_handle = self.fab.clock.call_later(min(every, 1.0), tick)

    def stop_repeating(self) -> None:
        if self._repeat_handle is not None:
            self._repeat_handle.cancel()
            self._repeat_handle = None

    # ----------------------------------------------------------------- picking

    def _free(self, ep: Endpoint) -> bool:
        return (
            ep.att is not None
            and ep.mac not in self._busy
            and not ep.silent
            and ep.rogue_until <= self.fab.clock.now()
        )

    def _pick(
        self, rng: random.Random, pred: Callable[[Endpoint], bool], mac: str | None = None
    ) -> Endpoint:
        fab = self.fab
        if mac is not None:
            ep = fab.endpoint(mac)
            if ep.att is None:
                raise ValueError(f"endpoint {mac} is not learned anywhere right now")
            return ep
        eps = fab.ep_list
        for _ in range(2000):
            ep = eps[rng.randrange(len(eps))]
            if self._free(ep) and pred(ep):
                return ep
        for ep in eps:
            if self._free(ep) and pred(ep):
                return ep
        raise ValueError("no endpoint fits this scenario right now")

    def _eth_on(self, rng: random.Random, leaf: Node) -> Attachment:
        eth = [
            a
            for a in self.fab.attachments[leaf.id]
            if a.kind == "eth" and self.fab.port_state.get((leaf.id, a.if_id), (True, 0.0))[0]
        ]
        return eth[rng.randrange(len(eth))]

    def _other_leaf(self, rng: random.Random, exclude: set[int], avoid_peer: bool = True) -> Node:
        fab = self.fab
        bad = set(exclude)
        if avoid_peer:
            for nid in exclude:
                pair = fab.vpc_of.get(nid)
                if pair is not None:
                    bad.update((pair.a.id, pair.b.id))
        cands = [n for n in fab.leafs if n.id not in bad] or [
            n for n in fab.leafs if n.id not in exclude
        ]
        if not cands:
            raise ValueError("the fabric needs at least two leafs for this scenario")
        return cands[rng.randrange(len(cands))]

    # ------------------------------------------------------------------ plans

    def _plan_vm_migration(
        self,
        run: int,
        rng: random.Random,
        mac: str | None = None,
        to_leaf: int | None = None,
        name: str = "vm_migration",
        avoid_bd: Bd | None = None,
        avoid_nodes: frozenset[int] = frozenset(),
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        ep = self._pick(
            rng,
            lambda e: (
                bool(e.ips)
                and e.att is not None
                and e.att.kind != "vpc"
                and e.bd is not avoid_bd
                and not avoid_nodes & {n.id for n in e.att.nodes}
            ),
            mac,
        )
        assert ep.att is not None
        leaf = (
            fab.leaf(to_leaf)
            if to_leaf
            else self._other_leaf(rng, {n.id for n in ep.att.nodes} | avoid_nodes)
        )
        dst = self._eth_on(rng, leaf)

        def go() -> None:
            move_endpoint(fab, ep, dst, cause="vm_migration", scenario=name, run=run)

        return [(0.0, go)], 1.0, [ep.mac]

    def _plan_link_failover(
        self, run: int, rng: random.Random, mac: str | None = None, restore_after: float = 30.0
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        ep = self._pick(rng, lambda e: e.att is not None and e.att.kind == "eth", mac)
        assert ep.att is not None
        src = ep.att
        leaf = src.nodes[0]
        port = src.if_id
        # Active/standby teaming: the standby uplink usually lands on the vPC peer leaf.
        pair = fab.vpc_of.get(leaf.id)
        standby_leaf = (
            (pair.b if pair.a is leaf else pair.a)
            if pair
            else self._other_leaf(rng, {leaf.id}, avoid_peer=False)
        )
        same_port = [
            a for a in fab.attachments[standby_leaf.id] if a.kind == "eth" and a.if_id == port
        ]
        dst = same_port[0] if same_port else self._eth_on(rng, standby_leaf)
        on_port = [e for e in fab.ep_list if e.att is src and self._free(e)]
        targets = [e.mac for e in on_port]

        def down() -> None:
            port_down(fab, leaf.id, port, cause="link_failover", scenario="link_failover", run=run)

        def failover() -> None:
            for e in on_port:
                move_endpoint(
                    fab, e, dst, cause="link_failover", scenario="link_failover", run=run, prev=src
                )

        def up() -> None:
            port_up(fab, leaf.id, port, scenario="link_failover", run=run)

        return ([(0.0, down), (1.0, failover), (restore_after, up)], restore_after + 0.5, targets)

    def _plan_nic_teaming_flap(
        self,
        run: int,
        rng: random.Random,
        mac: str | None = None,
        flaps: int = 6,
        interval: float = 5.0,
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        ep = self._pick(rng, lambda e: e.att is not None and e.att.kind == "eth", mac)
        assert ep.att is not None
        home = ep.att
        other = self._eth_on(rng, self._other_leaf(rng, {home.nodes[0].id}))
        steps: list[Step] = []
        for i in range(flaps):
            dst = other if i % 2 == 0 else home

            def flap(dst: Attachment = dst) -> None:
                move_endpoint(
                    fab, ep, dst, cause="nic_teaming", scenario="nic_teaming_flap", run=run
                )

            steps.append((i * interval, flap))
        return steps, flaps * interval, [ep.mac]

    def _plan_l2_loop(
        self,
        run: int,
        rng: random.Random,
        bd: str | None = None,
        count: int = 20,
        flaps: int = 6,
        interval: float = 2.0,
        storm_pps: float = STORM_PPS,
        mcp_after: float = MCP_DETECT_S,
        name: str = "l2_loop",
        avoid_bd: Bd | None = None,
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        if bd is not None:
            target_bd = next((b for b in fab.bds if b.name == bd), None)
            if target_bd is None:
                raise ValueError(f"unknown BD {bd!r}")
        else:
            target_bd = self._pick(
                rng,
                lambda e: e.att is not None and e.att.kind == "eth" and e.bd is not avoid_bd,
            ).bd
        members = [
            e
            for e in fab.ep_list
            if e.bd is target_bd and self._free(e) and e.att is not None and e.att.kind != "vpc"
        ][:count]
        if not members:
            raise ValueError(f"no free endpoints in BD {target_bd.name}")
        # The loop bridges two access ports on two leafs; every MAC in the BD is seen on both.
        leaf_a = members[0].att.nodes[0] if members[0].att else fab.leafs[0]
        port_a = self._eth_on(rng, leaf_a)
        port_b = self._eth_on(rng, self._other_leaf(rng, {leaf_a.id}))

        looped = [(leaf_a.id, port_a.if_id), (port_b.nodes[0].id, port_b.if_id)]
        vlan = members[0].epg.vlan
        mcp: list[str] = []

        def start_loop() -> None:
            with fab.lock, fab.batch():
                # The looping broadcasts enter the fabric on both looped ports: flood counters.
                for node_id, port in looped:
                    port_stats.start_flood(fab, node_id, port, storm_pps)
                for e in members:
                    fab.record(
                        TruthRecord(
                            kind="loop",
                            addr=e.mac,
                            addr_type="mac",
                            vnid=target_bd.vnid,
                            bd=target_bd.name,
                            time=fab.clock.now(),
                            cause="l2_loop",
                            scenario=name,
                            run=run,
                            from_nodes=(leaf_a.id,),
                            from_interface=port_a.if_id,
                            to_nodes=tuple(n.id for n in port_b.nodes),
                            to_interface=port_b.if_id,
                            detail=f"L2 loop between {port_a.describe()} and "
                            f"{port_b.describe()} ({len(members)} endpoints of BD "
                            f"{target_bd.name}, {storm_pps:.0f} pps flood)",
                        )
                    )

        def mcp_detects() -> None:
            # MCP's PDU sent out of port_a comes back in on port_b.
            node_id, port = looped[1]
            mcp.append(loop_faults.raise_mcp_fault(fab, node_id, port, vlan))

        duration = flaps * interval + 0.5

        def end_loop() -> None:
            with fab.lock, fab.batch():
                for node_id, port in looped:
                    port_stats.stop_flood(fab, node_id, port)
                for dn in mcp:
                    loop_faults.clear_fault(fab, dn)

        steps: list[Step] = [(0.0, start_loop)]
        if 0 <= mcp_after < duration:
            steps.append((mcp_after, mcp_detects))
        for i in range(flaps):
            dst = port_a if i % 2 == 0 else port_b

            def flap(dst: Attachment = dst) -> None:
                with fab.lock, fab.batch():
                    for e in members:
                        move_endpoint(fab, e, dst, cause="l2_loop", scenario=name, run=run)

            steps.append((0.1 + i * interval, flap))
        steps.append((duration - 0.01, end_loop))
        return steps, duration, [e.mac for e in members]

    def _plan_offsubnet(
        self, run: int, rng: random.Random, mac: str | None = None, ip: str | None = None
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        ep = self._pick(rng, lambda e: e.att is not None, mac)
        if ip is None:
            # 192.168/16 is never used for BD subnets by the builder.
            for _ in range(1000):
                cand = f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                if (ep.bd.vrf.vnid, cand) not in fab.ip_owner:
                    ip = cand
                    break
        if ip is None:
            raise ValueError("could not find a free offsubnet IP")
        ipaddress.ip_address(ip)
        chosen = ip

        def go() -> None:
            learn_ip(fab, ep, chosen, cause="offsubnet_learn", scenario="offsubnet", run=run)

        return [(0.0, go)], 1.0, [ep.mac]

    def _plan_stale_remote(
        self, run: int, rng: random.Random, mac: str | None = None
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        ep = self._pick(
            rng,
            lambda e: (
                e.att is not None and e.att.kind != "vpc" and len(e.partners) >= 1 and bool(e.ips)
            ),
            mac,
        )
        assert ep.att is not None
        stale = ep.partners[0]
        exclude = {n.id for n in ep.att.nodes} | {stale.id}
        dst = self._eth_on(rng, self._other_leaf(rng, exclude))
        src = ep.att
        bounce_age = fab.policy.bounce_age

        def go() -> None:
            move_endpoint(
                fab,
                ep,
                dst,
                cause="stale_remote",
                scenario="stale_remote",
                run=run,
                stale_nodes=frozenset({stale.id}),
            )

        def became_stale() -> None:
            with fab.lock:
                bd = ep.bd
                for addr, vnid, is_ip in [(ep.mac, bd.vnid, False)] + [
                    (ip, bd.vrf.vnid, True) for ip in ep.ips
                ]:
                    e = (fab.ip_tables if is_ip else fab.mac_tables)[stale.id].get((vnid, addr))
                    if e is None or e.local:
                        continue
                    fab.record(
                        TruthRecord(
                            kind="stale",
                            addr=addr,
                            addr_type="ipv4" if is_ip else "mac",
                            vnid=vnid,
                            bd=bd.name,
                            time=fab.clock.now(),
                            cause="stale_remote",
                            scenario="stale_remote",
                            run=run,
                            from_nodes=(stale.id,),
                            from_interface=e.if_id,
                            from_encap="",
                            to_nodes=tuple(n.id for n in ep.att.nodes) if ep.att else (),
                            to_interface=ep.att.if_id if ep.att else "",
                            to_encap=ep.epg.encap,
                            detail=f"node {stale.id} still points to {src.describe()} via "
                            f"{e.if_id}; the old leaf's bounce entry has aged out",
                        )
                    )

        return [(0.0, go), (bounce_age + 0.5, became_stale)], bounce_age + 1.0, [ep.mac]

    def _plan_duplicate_ip(
        self,
        run: int,
        rng: random.Random,
        ip: str | None = None,
        flips: int = 4,
        interval: float = 10.0,
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        if ip is not None:
            a = next((e for (v, i), e in fab.ip_owner.items() if i == ip), None)
            if a is None:
                raise ValueError(f"IP {ip} is not known")
        else:
            a = self._pick(rng, lambda e: e.att is not None and len(e.ips) >= 1)
            ip = a.ips[0]
        assert a.att is not None
        a_nodes = {n.id for n in a.att.nodes}
        peers = [
            e
            for e in fab.ep_list
            if e.bd is a.bd
            and e is not a
            and self._free(e)
            and e.att is not None
            and not ({n.id for n in e.att.nodes} & a_nodes)
        ]
        if not peers:
            raise ValueError("no second MAC in the same BD on another leaf")
        b = peers[rng.randrange(len(peers))]
        chosen = ip
        steps: list[Step] = []
        for i in range(flips):
            owner = b if i % 2 == 0 else a

            def flip(owner: Endpoint = owner) -> None:
                move_ip(fab, chosen, owner, cause="duplicate_ip", scenario="duplicate_ip", run=run)

            steps.append((i * interval, flip))
        return steps, flips * interval, [a.mac, b.mac]

    def _plan_silent_host(
        self, run: int, rng: random.Random, mac: str | None = None
    ) -> tuple[list[Step], float, list[str]]:
        fab = self.fab
        ep = self._pick(rng, lambda e: e.att is not None, mac)

        def go() -> None:
            silence(fab, ep, scenario="silent_host", run=run)

        return [(0.0, go)], fab.policy.local_age + 1.0, [ep.mac]

    def _plan_pc_failover(
        self,
        run: int,
        rng: random.Random,
        node: int | None = None,
        pc: str | None = None,
        restore_after: float = 30.0,
        name: str = "pc_failover",
        avoid_bd: Bd | None = None,
    ) -> tuple[list[Step], float, list[str]]:
        """A host's active port-channel fails (every member oper-down): its endpoints are
        flushed and relearned on the host's standby port-channel — the same ``poN`` on the vPC
        peer (or another leaf) — cause ``link_failover``; the members come back after
        ``restore_after``."""
        fab = self.fab
        cands: list[tuple[Attachment, list[Endpoint]]] = []
        for leaf in fab.leafs:
            if node is not None and leaf.id != node:
                continue
            for att in fab.attachments[leaf.id]:
                if att.kind != "pc" or (pc is not None and att.if_id != pc):
                    continue
                if not all(fab.port_state.get((leaf.id, m), (True, 0.0))[0] for m in att.members):
                    continue
                eps = [e for e in fab.ep_list if e.att is att and self._free(e)]
                if eps and not (avoid_bd is not None and any(e.bd is avoid_bd for e in eps)):
                    cands.append((att, eps))
        if not cands:
            raise ValueError("no port-channel with free endpoints fits this scenario")
        most = max(len(eps) for _, eps in cands)
        top = [c for c in cands if len(c[1]) == most]
        src, on_pc = top[rng.randrange(len(top))]
        leaf = src.nodes[0]
        pair = fab.vpc_of.get(leaf.id)
        standby_leaf = (
            (pair.b if pair.a is leaf else pair.a)
            if pair
            else self._other_leaf(rng, {leaf.id}, avoid_peer=False)
        )
        dst = next(
            a for a in fab.attachments[standby_leaf.id] if a.kind == "pc" and a.if_id == src.if_id
        )

        def down() -> None:
            with fab.lock, fab.batch():
                for m in src.members:
                    port_down(fab, leaf.id, m, cause="link_failover", scenario=name, run=run)

        def failover() -> None:
            with fab.lock, fab.batch():
                for e in on_pc:
                    move_endpoint(
                        fab, e, dst, cause="link_failover", scenario=name, run=run, prev=src
                    )

        def up() -> None:
            with fab.lock, fab.batch():
                for m in src.members:
                    port_up(fab, leaf.id, m, scenario=name, run=run)

        steps: list[Step] = [(0.0, down), (1.0, failover), (restore_after, up)]
        return steps, restore_after + 0.5, [e.mac for e in on_pc]

    def _plan_broadcast_storm(
        self,
        run: int,
        rng: random.Random,
        mac: str | None = None,
        pps: float = STORM_PPS / 2,
        duration: float = 30.0,
        name: str = "broadcast_storm",
        avoid_bd: Bd | None = None,
    ) -> tuple[list[Step], float, list[str]]:
        """A host floods broadcasts (a runaway ARP daemon, a NIC bug) into one access port for
        ``duration`` s: flood counters on that leaf port and broadcasts out of the host's NIC
        (truth ``storm``). Nothing moves."""
        fab = self.fab
        ep = self._pick(
            rng,
            lambda e: e.att is not None and e.att.kind == "eth" and e.bd is not avoid_bd,
            mac,
        )
        assert ep.att is not None
        att = ep.att
        node, port, bd = att.nodes[0], att.if_id, ep.bd

        def start() -> None:
            with fab.lock, fab.batch():
                port_stats.start_flood(fab, node.id, port, pps)
                fab.record(
                    TruthRecord(
                        kind="storm",
                        addr=ep.mac,
                        addr_type="mac",
                        vnid=bd.vnid,
                        bd=bd.name,
                        time=fab.clock.now(),
                        cause="broadcast_storm",
                        scenario=name,
                        run=run,
                        from_nodes=(node.id,),
                        from_interface=port,
                        detail=f"{pps:.0f} pps of broadcasts from {ep.mac} into "
                        f"{att.describe()} for {duration:.0f}s (BD {bd.name})",
                    )
                )

        def stop() -> None:
            port_stats.stop_flood(fab, node.id, port)

        return [(0.0, start), (duration, stop)], duration + 0.5, [ep.mac]

    # ------------------------------------------------------------ concurrent scenarios

    def _plan_concurrent_loop_pc_failover(
        self,
        run: int,
        rng: random.Random,
        count: int = 20,
        pc_after: float = 3.0,
        restore_after: float = 30.0,
    ) -> tuple[list[Step], float, list[str]]:
        """A loop in one BD while a port-channel of another BD fails: the loop's flood and MCP
        fault must not explain the port-channel's moves, nor the reverse."""
        name = "concurrent_loop_pc_failover"
        # Planning only builds closures (nothing changes until the steps run), so try each BD
        # that could loop until one leaves a port-channel with none of its endpoints: with a
        # few BDs, the first random pick often has an endpoint behind every free port-channel.
        bds = sorted(
            {e.bd.name for e in self.fab.ep_list
             if self._free(e) and e.att is not None and e.att.kind == "eth"}
        )  # fmt: skip
        rng.shuffle(bds)
        for bd in bds:
            loop_steps, loop_dur, loop_targets = self._plan_l2_loop(
                run, rng, bd=bd, count=count, name=name
            )
            loop_bd = self.fab.endpoint(loop_targets[0]).bd
            try:
                pc_steps, pc_dur, pc_targets = self._plan_pc_failover(
                    run, rng, restore_after=restore_after, name=name, avoid_bd=loop_bd
                )
            except ValueError:
                continue
            break
        else:
            raise ValueError("no BD leaves a port-channel with free endpoints outside it")
        steps = loop_steps + [(pc_after + t, fn) for t, fn in pc_steps]
        return steps, max(loop_dur, pc_after + pc_dur), loop_targets + pc_targets

    def _plan_concurrent_migration_storm(
        self,
        run: int,
        rng: random.Random,
        migrate_after: float = 5.0,
        duration: float = 30.0,
    ) -> tuple[list[Step], float, list[str]]:
        """A VM migrates between two leafs while a broadcast storm floods a port of another BD
        on a third: the storm is not on the migration's path."""
        name = "concurrent_migration_storm"
        storm_steps, storm_dur, storm_targets = self._plan_broadcast_storm(
            run, rng, duration=duration, name=name
        )
        storm_ep = self.fab.endpoint(storm_targets[0])
        assert storm_ep.att is not None
        mig_steps, mig_dur, mig_targets = self._plan_vm_migration(
            run,
            rng,
            name=name,
            avoid_bd=storm_ep.bd,
            avoid_nodes=frozenset(n.id for n in storm_ep.att.nodes),
        )
        steps = storm_steps + [(migrate_after + t, fn) for t, fn in mig_steps]
        return steps, max(storm_dur, migrate_after + mig_dur), storm_targets + mig_targets
