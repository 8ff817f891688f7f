"""APIC endpoint poller (stage: collector/apic orchestration: client → subscriptions → tracker →
points/notifications → sink).

One connection cycle, repeated forever with ≥ ``reconnect_min_s`` between attempts:

1. log in (walking the APIC list from the preferred URL), open the websocket;
2. subscribe to the configuration and epm classes *first*; events queue up during the build;
3. build: configuration classes into :class:`FabricTables`, then the epm classes (paged, ordered by
   dn) into the tracker. The first build is silent; every later one is a *resync* that reports what
   changed while we were away and synthesises deletes for what vanished. A class whose
   ``totalCount`` changed while paging is read again (objects shift between pages);
4. apply the queued events, then stream. A maintenance task refreshes the token (half the refresh
   timeout), the subscriptions (a third of their timeout), re-logs in before the maximum lifetime,
   runs a heartbeat query and an occasional count audit (catches a silently dead websocket), and
   tries to fail back to the preferred APIC.

Any failure ends the cycle; the next one resyncs. The state is always visible in
:attr:`ApicPoller.state` and ``fabricscope_stats`` so a stuck build is never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.apic import port_counters
from collector.apic import topology as adj
from collector.apic.client import ApicClient, ApicError
from collector.apic.faults import CLASS as FAULT_CLASS
from collector.apic.faults import DEFAULT_CODES, LoopFaults
from collector.apic.models import EPM_CLASSES, FabricTables, node_of_dn, parse_epm
from collector.apic.notify import Notifier
from collector.apic.points import encode_outputs, interface_line, stats_line
from collector.apic.subscriptions import SubscriptionLost, Subscriptions
from collector.apic.tracker import Anomaly, Move, NodeChange, Output, Tracker, TrackerConfig
from influx.sink import LineSink

log = logging.getLogger(__name__)

IF_EVENT_CLASS = "ethpmPhysIf"
CONFIG_CLASSES = (
    "fabricNode",
    "tunnelIf",
    "fvCtx",
    "fvBD",
    "fvAEPg",
    "fvESg",
    "fvRsBd",
    "fvSubnet",
)


class _Relogin(Exception):
    """Session lifetime nearly over: a graceful new login + resubscribe (EPT)."""


class _Failback(Exception):
    """The preferred APIC answers again: reconnect to it."""


@dataclass
class PollerConfig:
    fabric: str = "fabric1"
    refresh_timeout_s: int = 60  # subscription lifetime asked for (APIC default 60 s)
    subscription_refresh_s: float | None = None  # default: a third of refresh_timeout_s
    heartbeat_s: float = 60.0
    audit_s: float = 300.0  # count audit; 0 disables
    reconnect_min_s: float = 5.0  # aci-containers: never reconnect faster than this
    reconnect_max_s: float = 60.0
    failback_s: float = 300.0
    stats_interval_s: float = 10.0
    interface_interval_s: float = 60.0
    interface_max_ports: int = 200
    # Oper-state changes of leaf ports as they happen (an ethpmPhysIf subscription), so a port
    # that goes down and comes back between two interface polls still leaves its trace.
    interface_events: bool = True
    flush_interval_s: float = 0.5
    use_event_time: bool = True  # modTs of events as the analysis clock (falls back to now)
    config_classes: tuple[str, ...] = CONFIG_CLASSES
    max_reread: int = 2
    # Leaf-port LLDP/CDP neighbours → apic_adjacency (topology.py), re-stated this often.
    adjacency: bool = True
    adjacency_interval_s: float = 300.0
    # Loop-related faults (MCP, EP loop protection) → apic_fault (faults.py).
    loop_faults: bool = True
    loop_fault_codes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CODES))


@dataclass
class PollerStats:
    reconnects: int = 0
    resyncs: int = 0
    builds: int = 0
    events: int = 0
    moves: int = 0
    anomalies: int = 0
    lines: int = 0
    build_s: float = 0.0
    lag_s: float = 0.0
    rereads: int = 0
    audit_mismatches: int = 0
    interface_errors: int = 0
    interface_events: int = 0
    last_failure: str = ""


class ApicPoller:
    """Runs the connection cycle; ``run()`` until ``stop`` is set."""

    def __init__(
        self,
        client: ApicClient,
        sink: LineSink,
        config: PollerConfig | None = None,
        tracker_config: TrackerConfig | None = None,
        notifier: Notifier | None = None,
        on_output: Callable[[list[Output]], None] | None = None,
    ) -> None:
        self.client = client
        self.sink = sink
        self.cfg = config or PollerConfig()
        self.tables = FabricTables()
        self.tracker = Tracker(self.tables, tracker_config)
        self.subs = Subscriptions(client, refresh_timeout_s=self.cfg.refresh_timeout_s)
        self.notifier = notifier
        self.on_output = on_output
        self.stats = PollerStats()
        self.state = "starting"
        self.synced = asyncio.Event()  # set after each completed build + queue drain
        self._initial = True
        self._last_ev_ts = 0.0
        self._last_ev_mono = 0.0
        self._ports: dict[tuple[int, str], float] = {}
        self._pending_lines: list[str] = []
        self._rate_t = time.monotonic()
        self._rate_events = 0
        self.events_per_s = 0.0
        self._audit_prev: dict[str, int] = {}
        self._newest_seen = ""
        self._count_base: int | None = None
        self.adjacency = adj.AdjacencyBook(self.cfg.fabric)
        self.loop_faults = LoopFaults(self.cfg.fabric, self.tables, dict(self.cfg.loop_fault_codes))

    # ------------------------------------------------------------------ clock
    def now(self) -> float:
        """Analysis clock: the APIC's event time when known (simulators may run fast)."""
        if self.cfg.use_event_time and self._last_ev_ts:
            return self._last_ev_ts + (time.monotonic() - self._last_ev_mono)
        return time.time()

    def _event_ts(self, attrs: dict[str, Any], received: float) -> float:
        if self.cfg.use_event_time:
            mod = attrs.get("modTs")
            if not (isinstance(mod, str) and mod[:1].isdigit()):
                mod = attrs.get("createTs")  # "never" modified: the creation time
            if isinstance(mod, str) and mod[:1].isdigit():
                try:
                    ts = datetime.fromisoformat(mod).timestamp()
                except ValueError:
                    ts = 0.0
                if ts:
                    if ts >= self._last_ev_ts:
                        self._last_ev_ts, self._last_ev_mono = ts, time.monotonic()
                    self.stats.lag_s = max(0.0, received - ts) if received > ts else 0.0
                    return ts
        return self.now()

    # ------------------------------------------------------------------ main loop
    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        delay = self.cfg.reconnect_min_s
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self._cycle(stop)
                except asyncio.CancelledError:
                    raise
                except (_Relogin, _Failback) as exc:
                    log.info("APIC reconnect: %s", type(exc).__name__.strip("_").lower())
                    self.stats.last_failure = type(exc).__name__.strip("_").lower()
                    delay = 0.0
                except (ApicError, SubscriptionLost, OSError) as exc:
                    self.stats.last_failure = str(exc)
                    log.warning("APIC connection lost: %s", exc)
                except Exception as exc:  # noqa: BLE001 - never die; log and resync
                    self.stats.last_failure = f"{type(exc).__name__}: {exc}"
                    log.exception("APIC poller cycle failed")
                finally:
                    await self.subs.close()
                    self._flush(force=True)
                if stop.is_set():
                    break
                self.stats.reconnects += 1
                self.synced.clear()
                self.state = "backoff"
                # Healthy for a while → start again from the floor; else back off (no login storm).
                if time.monotonic() - started > 60:
                    delay = self.cfg.reconnect_min_s if delay else 0.0
                wait = max(delay, self.cfg.reconnect_min_s if delay else 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                delay = min(self.cfg.reconnect_max_s, max(self.cfg.reconnect_min_s, delay * 2))
        finally:
            self.state = "stopped"
            self._flush(force=True)
            self._write_stats()
            await self.subs.close()

    async def _cycle(self, stop: asyncio.Event) -> None:
        self.state = "connecting"
        await self.client.login(prefer_first=True)
        self.subs.reset_queue()
        await self.subs.open()
        maint: asyncio.Task[Any] = asyncio.create_task(self._maintenance(), name="apic-maint")
        work: asyncio.Task[Any] = asyncio.create_task(self._build_and_stream(stop))
        stopper: asyncio.Task[Any] = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                {maint, work, stopper}, return_when=asyncio.FIRST_COMPLETED
            )
            for t in (maint, work):
                if t in done:
                    exc = t.exception()
                    if exc is not None:
                        raise exc
        finally:
            for t in (maint, work, stopper):
                t.cancel()
            for t in (maint, work, stopper):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _build_and_stream(self, stop: asyncio.Event) -> None:
        self.state = "subscribing"
        for cls in self.cfg.config_classes:
            try:
                await self.subs.subscribe(cls)
            except ApicError as exc:
                if exc.status == 400:  # class unknown on this APIC version (e.g. fvESg < 5.0)
                    continue
                raise
        for cls in EPM_CLASSES:
            await self.subs.subscribe(cls)
        if self.cfg.interface_events:
            try:
                await self.subs.subscribe(IF_EVENT_CLASS)
            except ApicError as exc:
                if exc.status != 400:
                    raise
                log.info("no %s subscription on this APIC: %s", IF_EVENT_CLASS, exc.text)
        topo: list[tuple[str, str]] = [(c, "") for c in adj.CLASSES if self.cfg.adjacency]
        if self.cfg.loop_faults:
            topo.append((FAULT_CLASS, self.loop_faults.filter))
        for cls, extra in topo:
            try:
                await self.subs.subscribe(cls, extra)
            except ApicError as exc:
                if exc.status != 400:
                    raise
                log.info("no %s subscription on this APIC: %s", cls, exc.text)
        self.state = "building" if self._initial else "resyncing"
        t0 = time.monotonic()
        await self._build()
        self.stats.build_s = time.monotonic() - t0
        self.stats.builds += 1
        if not self._initial:
            self.stats.resyncs += 1
        self._initial = False
        self.state = "draining"
        await self._drain_queue(block=False)
        self.state = "streaming"
        self._count_base = None
        self.synced.set()
        log.info(
            "APIC %s: %d endpoints in %.1fs; streaming",
            self.client.base_url,
            self.tracker.endpoint_count,
            self.stats.build_s,
        )
        while not stop.is_set():
            await self._drain_queue(block=True)

    async def _build(self) -> None:
        for cls in self.cfg.config_classes:
            extra = ""
            try:
                async for page in self.client.class_pages(cls, extra):
                    for c, attrs in page.objects:
                        self.tables.add(c, attrs)
            except ApicError as exc:
                if exc.status == 400:
                    log.debug("class %s not available: %s", cls, exc.text)
                    continue
                raise
        try:
            async for page in self.client.class_pages(
                "fabricExplicitGEp", "rsp-subtree=full&rsp-subtree-class=fabricNodePEp"
            ):
                for _, attrs in page.objects:
                    children = attrs.pop("__children__", [])
                    self.tables.add_vpc(
                        {"fabricExplicitGEp": {"attributes": attrs, "children": children}}
                    )
        except ApicError as exc:
            if exc.status != 400:
                raise
        if self.cfg.adjacency:
            self._pending_lines += await self.adjacency.build(self.client, self.now())
        if self.cfg.loop_faults:
            self._pending_lines += await self.loop_faults.build(self.client, self.now())
        tr = self.tracker
        tr.begin_snapshot(initial=self._initial)
        for cls in EPM_CLASSES:
            for attempt in range(self.cfg.max_reread + 1):
                totals: set[int] = set()
                async for page in self.client.class_pages(cls):
                    totals.add(page.total)
                    now = self.now()
                    for c, attrs in page.objects:
                        self._note_ts(attrs)
                        rec = parse_epm(c, attrs)
                        if rec is not None:
                            tr.apply_snapshot(rec, now)
                    self._emit(tr.drain())
                    # Keep the event queue bounded during a long build: it is applied later.
                    await asyncio.sleep(0)
                if len(totals) <= 1:
                    break
                # The set changed while paging: objects may have shifted past a page edge.
                # Re-reading is idempotent (snapshot records only set state).
                self.stats.rereads += 1
                log.info("%s changed during paging (totals %s); reading again", cls, totals)
                _ = attempt
        tr.end_snapshot(self.now())
        self._emit(tr.drain())

    async def _drain_queue(self, block: bool) -> None:
        q = self.subs.queue
        if block:
            try:
                item = await asyncio.wait_for(q.get(), self.cfg.flush_interval_s)
            except TimeoutError:
                self.subs.check_alive()
                self.tracker.tick(self.now())
                self._emit(self.tracker.drain())
                self._flush()
                return
            self._handle(*item)
        n = 0
        while not q.empty():
            self._handle(*q.get_nowait())
            n += 1
            if n % 2000 == 0:
                self._emit(self.tracker.drain())
                self._flush()
                await asyncio.sleep(0)
        self.tracker.tick(self.now())
        self._emit(self.tracker.drain())
        self._flush()

    def _handle(self, received: float, cls: str, attrs: dict[str, Any]) -> None:
        self.stats.events += 1
        self._rate_events += 1
        if cls in EPM_CLASSES:
            self._note_ts(attrs)
            rec = parse_epm(cls, attrs)
            if rec is None:
                return
            ts = self._event_ts(attrs, received)
            if rec.node not in self.tables.node_pod:
                self.tables.node_pod[rec.node] = rec.pod
            self.tracker.process(rec, ts)
        elif cls == IF_EVENT_CLASS:
            self._interface_event(received, attrs)
        elif cls in adj.CLASSES:
            ts = self._event_ts(attrs, received)
            self._pending_lines += self.adjacency.handle(cls, attrs, ts)
        elif cls == FAULT_CLASS:
            self._pending_lines += self.loop_faults.handle(attrs, self.now())
        elif cls == "fabricExplicitGEp":
            return  # pairs change rarely; picked up by the next resync
        else:
            if attrs.get("status") == "modified":
                return  # partial; names/ids never change in place, a resync refreshes them
            self.tables.add(cls, attrs)

    def _interface_event(self, received: float, attrs: dict[str, Any]) -> None:
        st = attrs.get("operSt")
        dn = attrs.get("dn", "")
        node, port = node_of_dn(dn), _port_of(dn)
        if not isinstance(st, str) or not st or node is None or not port:
            return  # a change of some other attribute (usage, bundle …): not a state change
        fields: dict[str, Any] = {"oper_st": st, "oper_up": st == "up"}
        if attrs.get("operSpeed"):
            fields["speed"] = attrs["operSpeed"]
        line = interface_line(self.cfg.fabric, node, port, fields, self._event_ts(attrs, received))
        if line:
            self.stats.interface_events += 1
            self._pending_lines.append(line)

    # ------------------------------------------------------------------ outputs
    def _emit(self, outputs: list[Output]) -> None:
        if not outputs:
            return
        for o in outputs:
            if isinstance(o, Move):
                self.stats.moves += 1
            elif isinstance(o, Anomaly):
                self.stats.anomalies += 1
            elif isinstance(o, NodeChange) and o.if_id.startswith("eth") and o.flags & 1:
                if len(self._ports) < 10 * self.cfg.interface_max_ports:
                    self._ports[(o.node, o.if_id)] = o.ts
        self._pending_lines.extend(encode_outputs(self.cfg.fabric, outputs))
        if self.notifier is not None:
            self.notifier.notify_outputs(self.cfg.fabric, outputs)
        if self.on_output is not None:
            self.on_output(outputs)

    def _flush(self, force: bool = False) -> None:
        if self._pending_lines and (force or len(self._pending_lines) >= 1):
            lines, self._pending_lines = self._pending_lines, []
            self.stats.lines += len(lines)
            self.sink.write_lines(lines)

    def stats_fields(self) -> dict[str, Any]:
        c = self.client.stats
        s = self.stats
        return {
            "state": self.state,
            "apic": self.client.base_url,
            "reconnects": s.reconnects,
            "resyncs": s.resyncs,
            "events": s.events,
            "events_per_s": round(self.events_per_s, 1),
            "lag_s": round(s.lag_s, 3),
            "endpoints": self.tracker.endpoint_count,
            "moves": s.moves,
            "anomalies": s.anomalies,
            "queue_depth": self.subs.queue.qsize(),
            "build_s": round(s.build_s, 2),
            "logins": c.logins,
            "token_refreshes": c.refreshes,
            "relogins_403": c.relogins_403,
            "failovers": c.failovers,
            "retries_503": c.retries_503,
            "rereads": s.rereads,
            "ws_frames": self.subs.frames,
            "ws_bad_frames": self.subs.bad_frames,
            "rapid_suppressed": self.tracker.suppressed,
            "interface_events": s.interface_events,
            "adjacencies": len(self.adjacency.current),
            "adjacency_points": self.adjacency.points,
            "loop_faults_active": self.loop_faults.active_count(),
            "fault_points": self.loop_faults.points,
            "last_failure": s.last_failure[:500] or None,
        }

    def _write_stats(self) -> None:
        now = time.monotonic()
        dt = now - self._rate_t
        if dt > 0:
            self.events_per_s = self._rate_events / dt
        self._rate_t, self._rate_events = now, 0
        line = stats_line(self.cfg.fabric, self.stats_fields(), time.time())
        if line:
            self.sink.write_lines([line])

    # ------------------------------------------------------------------ maintenance
    async def _maintenance(self) -> None:
        cfg, client, subs = self.cfg, self.client, self.subs
        sub_every = cfg.subscription_refresh_s or max(1.0, cfg.refresh_timeout_s / 3)
        mono = time.monotonic
        next_sub = mono() + sub_every
        next_hb = mono() + cfg.heartbeat_s
        next_audit = mono() + cfg.audit_s if cfg.audit_s else float("inf")
        next_stats = mono() + cfg.stats_interval_s
        next_if = mono() + cfg.interface_interval_s
        next_failback = mono() + cfg.failback_s
        next_adj = mono() + cfg.adjacency_interval_s
        while True:
            await asyncio.sleep(0.2)
            subs.check_alive()
            now = mono()
            if client.relogin_due_in() <= 0:
                raise _Relogin()
            if client.refresh_due_in() <= 0:
                try:
                    await client.refresh()
                except ApicError as exc:
                    # A refused refresh (token already gone) → new login; events may be missing.
                    raise SubscriptionLost(f"token refresh failed: {exc.text}") from None
            if now >= next_sub:
                await subs.refresh_all()
                next_sub = now + sub_every
            if now >= next_hb:
                await self._heartbeat()
                next_hb = mono() + cfg.heartbeat_s
            if now >= next_stats:
                self._write_stats()
                next_stats = now + cfg.stats_interval_s
            if self.state == "streaming":
                if now >= next_audit:
                    await self._audit()
                    next_audit = mono() + cfg.audit_s
                if now >= next_if:
                    await self._poll_interfaces()
                    next_if = mono() + cfg.interface_interval_s
                if now >= next_adj and cfg.adjacency:
                    self._pending_lines += self.adjacency.restate(self.now())
                    next_adj = now + cfg.adjacency_interval_s
                if now >= next_failback and client._index != 0 and len(client.urls) > 1:
                    next_failback = now + cfg.failback_s
                    if await self._preferred_up():
                        raise _Failback()

    async def _heartbeat(self) -> None:
        for attempt in range(3):
            try:
                await asyncio.wait_for(self.client.get_mo("uni", "query-target=self"), 10)
                return
            except (ApicError, TimeoutError) as exc:
                if attempt == 2:
                    raise SubscriptionLost(f"heartbeat failed: {exc}") from None

    async def _audit(self) -> None:
        """Catch a silently dead event stream (socket open, pings answered, no frames): the
        newest epm object the APIC holds must not be newer than anything we have seen. The same
        unseen timestamp on two audits in a row (in-flight events settle in between) → resync.
        APIC timestamps share one format and offset, so they compare as strings."""
        newest, count = "", -1
        try:
            for cls in ("epmMacEp", "epmIpEp"):
                data = await self.client.request(
                    "GET", f"/api/class/{cls}.json", f"order-by={cls}.createTs|desc&page-size=1"
                )
                for _, a in _objs(data):
                    ts = a.get("createTs", "")
                    if isinstance(ts, str) and ts[:1].isdigit() and ts > newest:
                        newest = ts
            data = await self.client.request(
                "GET", "/api/class/epmMacEp.json", "rsp-subtree-include=count"
            )
            count = int(data["imdata"][0]["moCount"]["attributes"]["count"])
        except (ApicError, KeyError, IndexError, ValueError, TypeError):
            return  # best effort
        ours = sum(
            1
            for (_, addr), ep in self.tracker.eps.items()
            if len(addr) == 17
            for e in ep.nodes.values()
            if e.present
        )
        # Second signal: the object count (timestamps can tie on a fast simulated clock).
        sig = {}
        if newest and newest > self._newest_seen:
            sig[f"ts:{newest}"] = 1
        # Objects we do not track (e.g. overlay MACs without a BD) make a constant offset: the
        # first audit after a sync is the baseline, only a drift from it is a signal.
        if count >= 0:
            if self._count_base is None:
                self._count_base = count - ours
            elif count - ours != self._count_base:
                sig[f"count:{count}:{ours}"] = 1
        repeated = [k for k in sig if k in self._audit_prev]
        self._audit_prev = sig
        if repeated:
            self.stats.audit_mismatches += 1
            self._audit_prev = {}
            raise SubscriptionLost(f"event stream silent? audit {', '.join(repeated)}")

    def _note_ts(self, attrs: dict[str, Any]) -> None:
        for k in ("createTs", "modTs"):
            v = attrs.get(k)
            if isinstance(v, str) and v > self._newest_seen and v[:1].isdigit():
                self._newest_seen = v

    async def _preferred_up(self) -> bool:
        try:
            resp = await self.client.http.get(
                f"{self.client.urls[0]}/api/aaaListDomains.json", timeout=5
            )
            return resp.status_code < 500
        except Exception:  # noqa: BLE001 - any failure: still down
            return False

    async def _poll_interfaces(self) -> None:
        """Oper state and counters of leaf ports that had endpoint events (bounded), plus every
        port with an LLDP/CDP neighbour."""
        recent = sorted(self._ports.items(), key=lambda kv: -kv[1])[: self.cfg.interface_max_ports]
        self._ports.clear()
        by_node: dict[int, set[str]] = {}
        for node, ifid in {k for k, _ in recent} | self.adjacency.ports():
            by_node.setdefault(node, set()).add(ifid)
        ts = self.now()
        lines: list[str] = []
        for node, ports in by_node.items():
            pod = self.tables.node_pod.get(node, 1)
            base = f"/api/node/class/topology/pod-{pod}/node-{node}"
            per_port: dict[str, dict[str, Any]] = {p: {} for p in ports}
            try:
                data = await self.client.request("GET", f"{base}/ethpmPhysIf.json")
                for _, a in _objs(data):
                    p = _port_of(a.get("dn", ""))
                    if p in per_port:
                        st = a.get("operSt", "")
                        per_port[p].update(
                            oper_st=st,
                            oper_up=st == "up",
                            speed=a.get("operSpeed") or None,
                        )
                for cls, prefix in (
                    ("eqptIngrTotal5min", "in"),
                    ("eqptEgrTotal5min", "out"),
                    *((c, "") for c in port_counters.CLASSES),
                ):
                    try:
                        data = await self.client.request("GET", f"{base}/{cls}.json")
                    except ApicError:
                        continue
                    for _, a in _objs(data):
                        p = _port_of(a.get("dn", ""))
                        if p in per_port and not prefix:  # flood / multicast / unicast
                            per_port[p].update(port_counters.ingress_fields(cls, a))
                        elif p in per_port:
                            for k in ("bytesCum", "pktsCum", "bytesRate", "pktsRate"):
                                if k in a:
                                    v = _num(a[k])
                                    if v is not None:
                                        per_port[p][f"{prefix}_{_snake(k)}"] = v
            except ApicError as exc:
                self.stats.interface_errors += 1
                log.debug("interface poll node %s: %s", node, exc)
                continue
            for p, fields in per_port.items():
                if fields:
                    line = interface_line(self.cfg.fabric, node, p, fields, ts)
                    if line:
                        lines.append(line)
        if lines:
            self.sink.write_lines(lines)
            self.stats.lines += len(lines)


def _objs(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    from collector.apic.client import _objects

    return _objects(data)


def _port_of(dn: str) -> str:
    i = dn.find("/phys-[")
    if i < 0:
        return ""
    j = dn.find("]", i)
    return dn[i + 7 : j] if j > 0 else ""


def _num(v: Any) -> int | float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and "." not in str(v) else f


def _snake(k: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in k)


__all__ = ["ApicPoller", "PollerConfig", "PollerStats"]
