"""APIC endpoint poller (stage: collector/apic orchestration: client → subscriptions → tracker →
points/notifications → sink).

One connection cycle, repeated forever with ≥ ``reconnect_min_s`` between attempts:

1. log in (walking the APIC list from the preferred URL), open the websocket;
2. subscribe to the configuration, epm and registered classes *first*; events queue up (raw,
   bounded by bytes) during the build; the liveness probe takes its baseline;
3. build (``build.py``): configuration classes, then the epm classes node by node with queries in
   flight while we parse. The first build is silent; every later one is a *resync* that reports
   what changed while we were away and synthesises deletes for what vanished;
4. apply the queued events, then stream.

Beside the stream, independent periodic tasks (:meth:`ApicPoller.add_periodic`): token refresh,
subscription refresh, heartbeat, liveness probe (``liveness.py``), count audit (``audit.py``),
interface polling (``interfaces.py``), failback to the preferred APIC. Each runs on its own, so a
slow audit never delays a subscription refresh. A task raising :class:`SubscriptionLost` ends the
cycle; the next one resyncs. Stats are written every ``stats_interval_s`` and on every state
change, so ``/api/v1/health`` sees a blind or stuck poller within seconds.

Other modules plug in with :meth:`ApicPoller.add_class` (subscribe to a class, read it at every
build, get each object and event) and :meth:`ApicPoller.add_periodic`, and write with
:meth:`ApicPoller.write_lines`; see docs/developing.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from collector.apic import faults, port_counters, topology
from collector.apic.audit import CountAudit
from collector.apic.build import Builder
from collector.apic.client import ApicClient, ApicError
from collector.apic.faults import DEFAULT_CODES
from collector.apic.interfaces import EVENT_CLASS as IF_EVENT_CLASS
from collector.apic.interfaces import InterfaceWatch
from collector.apic.liveness import StreamProbe
from collector.apic.models import EPM_CLASSES, FabricTables, event_time, parse_epm
from collector.apic.notify import Notifier
from collector.apic.points import encode_outputs, stats_line
from collector.apic.subscriptions import SubscriptionLost, Subscriptions
from collector.apic.tracker import Anomaly, Move, NodeChange, Output, Tracker, TrackerConfig
from influx.sink import LineSink

log = logging.getLogger(__name__)

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

# handler(attrs, ts, snapshot): snapshot=True for objects of a build, False for events.
ClassHandler = Callable[[dict[str, Any], float, bool], None]


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
    probe_s: float = 15.0  # liveness probe (REST newest change vs socket); 0 disables
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
    build_concurrency: int = 4  # node-scoped epm queries in flight during a build
    build_prefetch: int = 8  # raw pages fetched ahead of the parser
    max_queue_mib: float = 128.0  # event backlog bound (raw frames); past it: one deliberate resync
    # Leaf-port LLDP/CDP neighbours → apic_adjacency (topology.py), reconciled and re-stated
    # this often; loop-related faults (MCP, EP loop protection) → apic_fault (faults.py).
    adjacency: bool = True
    adjacency_interval_s: float = 300.0
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
    build_wait_s: float = 0.0
    build_parse_s: float = 0.0
    build_objects: int = 0
    lag_s: float = 0.0
    queue_wait_s: float = 0.0
    rereads: int = 0
    backlog_resyncs: int = 0
    last_failure: str = ""
    state_changes: int = 0


@dataclass
class _Periodic:
    name: str
    interval_s: float
    run: Callable[[], Awaitable[Any]]
    streaming_only: bool
    first_s: float | None = None  # first run this long after streaming starts (default: interval)
    errors: int = field(default=0)


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
        self.cfg = cfg = config or PollerConfig()
        self.tables = FabricTables()
        self.tracker = Tracker(self.tables, tracker_config)
        self.subs = Subscriptions(
            client,
            refresh_timeout_s=cfg.refresh_timeout_s,
            max_queue_bytes=int(cfg.max_queue_mib * 1024 * 1024),
        )
        self.notifier = notifier
        self.on_output = on_output
        self.stats = PollerStats()
        self._state = "starting"
        self.synced = asyncio.Event()  # set after each completed build + queue drain
        self._initial = True
        self._last_ev_ts = 0.0
        self._last_ev_mono = 0.0
        self._pending_lines: list[str] = []
        self._rate_t = time.monotonic()
        self._rate_events = 0
        self.events_per_s = 0.0
        self.interfaces = InterfaceWatch(
            client, self.tables, cfg.fabric, self.write_lines, cfg.interface_max_ports
        )
        self.audit = CountAudit(client, lambda: self.tracker.present_macs)
        self.probe = StreamProbe(client, lambda cls: self.subs.newest.get(cls, ""))
        self.builder = Builder(
            client,
            self.tables,
            self.tracker,
            cfg.config_classes,
            self.now,
            lambda: self._emit(self.tracker.drain()),
            cfg.build_concurrency,
            cfg.build_prefetch,
            cfg.max_reread,
        )
        self._classes: dict[str, tuple[ClassHandler, bool]] = {}
        self._class_filters: dict[str, str] = {}  # cls → "query-target-filter=…" (APIC-side)
        self._periodic: list[_Periodic] = []
        self._stats_sources: list[Callable[[], dict[str, Any]]] = []
        self._register_core()
        # Fabric topology and loop evidence plug in through the extension points below.
        port_counters.register(self)
        topology.register(self)
        faults.register(self)

    # ------------------------------------------------------------------ extension points
    def add_class(
        self, cls: str, handler: ClassHandler, build: bool = True, filter: str = ""
    ) -> None:
        """Subscribe to ``cls`` on every connection (a 400 "unknown class" is skipped), read it
        at every build when ``build`` and hand each object/event to ``handler``.

        ``filter`` (``query-target-filter=…``) goes on both the subscription and the build read,
        so the APIC sends only matching objects and events: a busy class such as ``faultInst``
        is never paged through or streamed whole. Handlers still check what they get."""
        self._classes[cls] = (handler, build)
        if filter:
            self._class_filters[cls] = filter

    def add_periodic(
        self,
        name: str,
        interval_s: float,
        run: Callable[[], Awaitable[Any]],
        streaming_only: bool = True,
        first_s: float | None = None,
    ) -> None:
        """Run ``run()`` every ``interval_s`` as its own task during a connection (only while
        streaming when ``streaming_only``), the first time after ``first_s`` if given.
        :class:`SubscriptionLost` from it resyncs; any other error is logged and counted
        (``task_errors``), and the task goes on."""
        if interval_s > 0:
            self._periodic.append(_Periodic(name, interval_s, run, streaming_only, first_s))

    def add_stats(self, source: Callable[[], dict[str, Any]]) -> None:
        """Extra ``fabricscope_stats`` fields (documented in docs/measurements.md)."""
        self._stats_sources.append(source)

    def write_lines(self, lines: list[str]) -> None:
        if lines:
            self.stats.lines += len(lines)
            self.sink.write_lines(lines)

    def _register_core(self) -> None:
        cfg = self.cfg
        sub_every = cfg.subscription_refresh_s or max(1.0, cfg.refresh_timeout_s / 3)
        self.add_periodic("token", 1.0, self._token, streaming_only=False)
        self.add_periodic("subscriptions", sub_every, self.subs.refresh_all, streaming_only=False)
        self.add_periodic("heartbeat", cfg.heartbeat_s, self._heartbeat, streaming_only=False)
        self.add_periodic("probe", cfg.probe_s, self._probe)
        self.add_periodic("audit", cfg.audit_s, self.audit.run)
        # First poll soon after the build, not a whole interval later: a loop in the first
        # minute after start must still leave flood counters as evidence.
        self.add_periodic(
            "interfaces",
            cfg.interface_interval_s,
            self._poll_interfaces,
            first_s=min(5.0, cfg.interface_interval_s),
        )
        self.add_periodic("failback", cfg.failback_s, self._failback)
        if cfg.interface_events:
            self.add_class(IF_EVENT_CLASS, self._interface_event, build=False)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        if value != self._state:
            self._state = value
            self.stats.state_changes += 1
            self._write_stats()  # every state change is visible at once (health route)

    # ------------------------------------------------------------------ clock
    def now(self) -> float:
        """Analysis clock: the APIC's event time when known (simulators may run fast)."""
        if self.cfg.use_event_time and self._last_ev_ts:
            return self._last_ev_ts + (time.monotonic() - self._last_ev_mono)
        return time.time()

    def _event_ts(self, attrs: dict[str, Any], wall: float) -> float:
        if self.cfg.use_event_time:
            ts = event_time(attrs)
            if ts:
                if ts >= self._last_ev_ts:
                    self._last_ev_ts, self._last_ev_mono = ts, time.monotonic()
                # The age of the event now that it is processed (not when its frame arrived).
                self.stats.lag_s = wall - ts if wall > ts else 0.0
                return ts
        return self.now()

    # ------------------------------------------------------------------ main loop
    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        delay = self.cfg.reconnect_min_s
        stats_task = asyncio.create_task(self._stats_loop(), name="apic-stats")
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self._cycle(stop)
                except asyncio.CancelledError:
                    raise
                except (_Relogin, _Failback) as exc:
                    why = type(exc).__name__.strip("_").lower()
                    log.info("APIC reconnect: %s", why)
                    self.stats.last_failure = why
                    delay = 0.0
                except (ApicError, SubscriptionLost, OSError) as exc:
                    self.stats.last_failure = str(exc)
                    self.probe.suspect = True
                    log.warning("APIC connection lost: %s", exc)
                except Exception as exc:  # noqa: BLE001 - never die; log and resync
                    self.stats.last_failure = f"{type(exc).__name__}: {exc}"
                    self.probe.suspect = True
                    log.exception("APIC poller cycle failed")
                finally:
                    await self.subs.close()
                    self._flush()
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
            stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stats_task
            self._flush()
            self.state = "stopped"
            await self.subs.close()

    async def _cycle(self, stop: asyncio.Event) -> None:
        self.state = "connecting"
        await self.client.login(prefer_first=True)
        self.subs.reset_queue()
        await self.subs.open()
        tasks = [asyncio.create_task(self._every(p), name=f"apic-{p.name}") for p in self._periodic]
        tasks.append(asyncio.create_task(self._watch_socket(), name="apic-ws-watch"))
        work = asyncio.create_task(self._build_and_stream(stop), name="apic-stream")
        stopper = asyncio.create_task(stop.wait())
        everything = [*tasks, work, stopper]
        try:
            done, _ = await asyncio.wait(everything, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in everything:
                t.cancel()
            for t in everything:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _every(self, p: _Periodic) -> None:
        delay = p.interval_s if p.first_s is None else p.first_s
        while True:
            await asyncio.sleep(delay)
            delay = p.interval_s
            if p.streaming_only and self._state != "streaming":
                continue
            try:
                await p.run()
            except (SubscriptionLost, _Relogin, _Failback):
                raise
            except ApicError as exc:
                p.errors += 1
                log.debug("periodic %s: %s", p.name, exc)
            except Exception:  # noqa: BLE001 - one task's bug must not end the stream
                p.errors += 1
                log.exception("periodic %s failed", p.name)

    async def _watch_socket(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self.subs.check_alive()

    async def _subscribe_all(self) -> None:
        for cls in self.cfg.config_classes:
            await self._subscribe(cls, optional=True)
        for cls in EPM_CLASSES:
            await self.subs.subscribe(cls)
        for cls in self._classes:
            await self._subscribe(cls, optional=True, extra=self._class_filters.get(cls, ""))

    async def _subscribe(self, cls: str, optional: bool, extra: str = "") -> None:
        try:
            await self.subs.subscribe(cls, extra)
        except ApicError as exc:
            if exc.status != 400 or not optional:  # 400: class unknown on this APIC version
                raise
            log.info("no %s subscription on this APIC: %s", cls, exc.text)

    async def _build_and_stream(self, stop: asyncio.Event) -> None:
        self.state = "subscribing"
        await self._subscribe_all()
        if self.cfg.probe_s:
            await self.probe.start()
        await self._build()
        while not stop.is_set():
            if self.subs.overflowed:
                await self._backlog_resync()
            await self._drain_queue(block=True)

    async def _build(self) -> None:
        self.state = "building" if self._initial else "resyncing"
        extra = {cls: h for cls, (h, build) in self._classes.items() if build}
        st = await self.builder.run(self._initial, extra, self._class_filters)
        s = self.stats
        s.build_s, s.build_wait_s, s.build_parse_s = st.seconds, st.wait_s, st.parse_s
        s.build_objects = st.objects
        s.rereads += st.rereads
        s.builds += 1
        if not self._initial:
            s.resyncs += 1
        self._initial = False
        self.state = "draining"
        await self._drain_queue(block=False)
        self.audit.reset()
        self.state = "streaming"
        self.synced.set()
        log.info(
            "APIC %s: %d endpoints (%d objects) in %.1fs (parsing %.1fs, waiting for the APIC "
            "%.1fs); streaming",
            self.client.base_url, self.tracker.endpoint_count, st.objects, st.seconds,
            st.parse_s, st.wait_s,
        )  # fmt: skip

    async def _backlog_resync(self) -> None:
        """The backlog passed its bound and frames were dropped: the stream cannot be trusted,
        so read everything again — once, deliberately — while new events queue afresh."""
        subs = self.subs
        self.stats.backlog_resyncs += 1
        self.stats.last_failure = (
            f"event backlog over {self.cfg.max_queue_mib:g} MiB: {subs.dropped} frames dropped "
            "in all; resyncing"
        )
        log.warning("APIC %s", self.stats.last_failure)
        subs.reset_queue()  # also clears the overflow: new events queue from here on
        self.probe.suspect = True
        self.synced.clear()
        if self.cfg.probe_s:
            await self.probe.start()
        await self._build()

    async def _drain_queue(self, block: bool) -> None:
        subs = self.subs
        if block and not await subs.wait(self.cfg.flush_interval_s):
            self.tracker.tick(self.now())
            self._emit(self.tracker.drain())
            self._flush()
            return
        n = 0
        while True:
            item = subs.pop()
            if item is None:
                break
            received, frame = item
            for cls, attrs in subs.decode(frame):
                self._handle(received, cls, attrs)
            n += 1
            if n % 500 == 0:
                self._emit(self.tracker.drain())
                self._flush()
                await asyncio.sleep(0)  # the reader and the periodic tasks run meanwhile
                if subs.overflowed:
                    return
        self.tracker.tick(self.now())
        self._emit(self.tracker.drain())
        self._flush()

    def _handle(self, received: float, cls: str, attrs: dict[str, Any]) -> None:
        self.stats.events += 1
        self._rate_events += 1
        wall = time.time()
        self.stats.queue_wait_s = wall - received
        if cls in EPM_CLASSES:
            rec = parse_epm(cls, attrs)
            if rec is None:
                return
            ts = self._event_ts(attrs, wall)
            if rec.node not in self.tables.node_pod:
                self.tables.node_pod[rec.node] = rec.pod
            self.tracker.process(rec, ts)
            return
        entry = self._classes.get(cls)
        if entry is not None:
            entry[0](attrs, self._event_ts(attrs, wall), False)
        elif cls == "fabricExplicitGEp":
            return  # pairs change rarely; picked up by the next resync
        elif attrs.get("status") != "modified":
            # (a partial `modified`: names/ids never change in place, a resync refreshes them)
            self.tables.add(cls, attrs)

    def _interface_event(self, attrs: dict[str, Any], ts: float, snapshot: bool) -> None:
        line = self.interfaces.on_event(attrs, ts)
        if line:
            self._pending_lines.append(line)

    # ------------------------------------------------------------------ outputs
    def _emit(self, outputs: list[Output]) -> None:
        if not outputs:
            return
        note = self.interfaces.note_port
        for o in outputs:
            if isinstance(o, Move):
                self.stats.moves += 1
            elif isinstance(o, Anomaly):
                self.stats.anomalies += 1
            elif isinstance(o, NodeChange) and o.flags & 1 and o.if_id.startswith("eth"):
                note(o.node, o.if_id, o.ts)
        self._pending_lines.extend(encode_outputs(self.cfg.fabric, outputs))
        if self.notifier is not None:
            self.notifier.notify_outputs(self.cfg.fabric, outputs)
        if self.on_output is not None:
            self.on_output(outputs)

    def _flush(self) -> None:
        if self._pending_lines:
            lines, self._pending_lines = self._pending_lines, []
            self.write_lines(lines)

    # ------------------------------------------------------------------ stats
    @property
    def healthy(self) -> bool:
        """Streaming, with a current event stream: what /api/v1/health calls ok. After a lost
        stream, only once the liveness probe has confirmed the new one (StreamProbe.suspect)."""
        return (
            self._state == "streaming"
            and not self.subs.overflowed
            and not (self.cfg.probe_s and self.probe.suspect)
        )

    def stats_fields(self) -> dict[str, Any]:
        c = self.client.stats
        s = self.stats
        subs = self.subs
        fields: dict[str, Any] = {
            "state": self._state,
            "healthy": self.healthy,
            "apic": self.client.base_url,
            "reconnects": s.reconnects,
            "resyncs": s.resyncs,
            "events": s.events,
            "events_per_s": round(self.events_per_s, 1),
            "lag_s": round(s.lag_s, 3),
            "queue_wait_s": round(s.queue_wait_s, 3),
            "endpoints": self.tracker.endpoint_count,
            "node_entries": self.tracker.entries,
            "moves": s.moves,
            "anomalies": s.anomalies,
            "queue_depth": subs.qsize(),
            "queue_bytes": subs.queue_bytes,
            "queue_peak_bytes": subs.queue_peak_bytes,
            "queue_dropped": subs.dropped,
            "backlog_resyncs": s.backlog_resyncs,
            "build_s": round(s.build_s, 2),
            "build_parse_s": round(s.build_parse_s, 2),
            "build_wait_s": round(s.build_wait_s, 2),
            "build_objects": s.build_objects,
            "logins": c.logins,
            "token_refreshes": c.refreshes,
            "relogins_403": c.relogins_403,
            "failovers": c.failovers,
            "retries_503": c.retries_503,
            "rereads": s.rereads,
            "subscription_refreshes": subs.refreshes,
            "ws_frames": subs.frames,
            "ws_bad_frames": subs.bad_frames,
            "rapid_suppressed": self.tracker.suppressed,
            "interface_events": self.interfaces.events,
            "probes": self.probe.probes,
            "probe_s": round(self.probe.last_probe_s, 3),
            "blind_detections": self.probe.blind,
            "audit_mismatches": self.audit.mismatches,
            "task_errors": sum(p.errors for p in self._periodic),
            "state_changes": s.state_changes,
            "last_failure": s.last_failure[:500] or None,
        }
        for source in self._stats_sources:
            fields.update(source())
        return fields

    def _write_stats(self) -> None:
        now = time.monotonic()
        dt = now - self._rate_t
        if dt >= 1.0:
            self.events_per_s = self._rate_events / dt
            self._rate_t, self._rate_events = now, 0
        line = stats_line(self.cfg.fabric, self.stats_fields(), time.time())
        if line:
            self.sink.write_lines([line])

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.stats_interval_s)
            self._write_stats()

    # ------------------------------------------------------------------ periodic tasks
    async def _probe(self) -> None:
        was = self.healthy
        await self.probe.run()
        if self.healthy != was:
            self._write_stats()  # the stream confirmed again: health says so at once

    async def _token(self) -> None:
        client = self.client
        if client.relogin_due_in() <= 0:
            raise _Relogin()
        if client.refresh_due_in() <= 0:
            try:
                await client.refresh()
            except ApicError as exc:
                # A refused refresh (token already gone) → new login; events may be missing.
                raise SubscriptionLost(f"token refresh failed: {exc.text}") from None

    async def _heartbeat(self) -> None:
        for attempt in range(3):
            try:
                await asyncio.wait_for(self.client.get_mo("uni", "query-target=self"), 10)
                return
            except (ApicError, TimeoutError) as exc:
                if attempt == 2:
                    raise SubscriptionLost(f"heartbeat failed: {exc}") from None

    async def _poll_interfaces(self) -> None:
        await self.interfaces.poll(self.now())

    async def _failback(self) -> None:
        if not self.client.on_preferred and len(self.client.urls) > 1:
            if await self.client.preferred_up():
                raise _Failback()


__all__ = ["ApicPoller", "ClassHandler", "PollerConfig", "PollerStats"]
