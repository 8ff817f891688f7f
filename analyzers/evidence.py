"""Analyzer stage: the evidence of one run, read in bulk and indexed in memory.

`EvidenceIndex.load` reads every evidence measurement ONCE for the run's whole window (a fixed
number of statements, whatever the number of moves: see `QUERIES`), then builds indexes by leaf
port, by MAC, by host and by BD. The causes (analyzers/causes/) only look things up here, so a
run costs O(evidence rows + moves × evidence on the move's own path), never moves × evidence.

The topology join (`Topology`) ties a leaf port to what is cabled to it, from the APIC's LLDP/CDP
neighbour table (`apic_adjacency`):
  leaf port → neighbour → sFlow host (neighbour name == Host sFlow `host`, or its chassis MAC /
  management address found in the host's `sflow_host_adapters` / agent address)
so that host-side evidence counts only for hosts on the move's path. When the join is missing
the causes say so (`topology` unknown/partial) and lower their confidence — never guess.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from analyzers.config import MoveCauseConfig
from influx import reads
from influx.query import InfluxQuery

NS = 1_000_000_000
Port = tuple[str, str]  # (node, interface) — node may be a single leaf id "101"

# The bulk reads one run makes, in order (the benchmark counts them against InfluxDB's stats).
# sflow_host_adapters twice: each host's own adapters (the topology join), then only the lists
# carrying a moving MAC; sflow_if_counters, cpu and net only for the hosts on the moves' paths.
QUERIES = (
    "apic_endpoint_move", "apic_endpoint_anomaly", "apic_interface", "apic_adjacency",
    "apic_fault", "sflow_host_adapters", "sflow_host_adapters", "sflow_if_counters", "cpu", "net",
)  # fmt: skip


def split_nodes(node: str) -> tuple[str, ...]:
    """`103-104` (a vPC pair, as the poller writes it) → ("103", "104"); `101` → ("101",)."""
    return tuple(n for n in node.split("-") if n)


def port_place(node: str, interface: str) -> str:
    """The place name of a leaf port, as incidents and `move_analysis.places` spell it."""
    return f"node-{node}/{interface}" if interface else f"node-{node}"


def ports_of(node: str, interface: str) -> tuple[Port, ...]:
    """The physical (node, interface) keys of a move's location: one per vPC member node."""
    if not node:
        return ()
    return tuple((n, interface) for n in split_nodes(node))


@dataclass(frozen=True)
class HostLink:
    """What the topology knows about a leaf port: the sFlow host behind it, and how it knows."""

    host: str
    via: str  # "lldp sysName" | "lldp chassis MAC" | "mgmt address"
    neighbor: str  # the neighbour's own name (`neighbor_name`)
    neighbor_port: str  # its port (NIC name) — as the neighbour reports it


@dataclass
class Series:
    """Time-sorted points of one key, with bisect helpers on their timestamps."""

    times: list[int] = field(default_factory=list)

    def window(self, lo: int, hi: int) -> range:
        """Indexes of the points with lo ≤ time ≤ hi."""
        return range(bisect.bisect_left(self.times, lo), bisect.bisect_right(self.times, hi))


class Topology:
    """Leaf port ↔ neighbour ↔ sFlow host, from `apic_adjacency` and the sFlow host tables."""

    def __init__(
        self,
        adjacency: Iterable[reads.Adjacency],
        sflow_hosts: set[str],
        mac_host: dict[str, str],
        agent_host: dict[str, str],
        members: dict[Port, set[Port]] | None = None,
    ) -> None:
        self.members = members or {}
        latest: dict[tuple[str, str, str], reads.Adjacency] = {}
        for a in adjacency:  # oldest first: the last point per (port, protocol) is its state
            latest[(a.node, a.interface, a.protocol)] = a
        self.port_host: dict[Port, HostLink] = {}
        self.neighbour: dict[Port, str] = {}  # every present neighbour, host or not
        self.host_ports: dict[str, set[Port]] = defaultdict(set)
        for (node, iface, _proto), a in sorted(latest.items()):
            if not a.present:
                continue
            port = (node, iface)
            self.neighbour.setdefault(port, a.neighbor_name or a.neighbor_mgmt_addr)
            link = self._join(a, sflow_hosts, mac_host, agent_host)
            if link is not None and port not in self.port_host:
                self.port_host[port] = link
                self.host_ports[link.host].add(port)
        self.known_ports = bool(latest)

    @staticmethod
    def _join(
        a: reads.Adjacency,
        sflow_hosts: set[str],
        mac_host: dict[str, str],
        agent_host: dict[str, str],
    ) -> HostLink | None:
        if a.neighbor_name and a.neighbor_name in sflow_hosts:
            return HostLink(a.neighbor_name, "lldp sysName", a.neighbor_name, a.neighbor_port)
        if a.neighbor_chassis_mac and a.neighbor_chassis_mac in mac_host:
            host = mac_host[a.neighbor_chassis_mac]
            return HostLink(host, "chassis MAC", a.neighbor_name, a.neighbor_port)
        if a.neighbor_mgmt_addr and a.neighbor_mgmt_addr in agent_host:
            host = agent_host[a.neighbor_mgmt_addr]
            return HostLink(host, "mgmt address", a.neighbor_name, a.neighbor_port)
        return None

    def host_at(self, node: str, interface: str) -> HostLink | None:
        """The sFlow host cabled to a move location (any node of a vPC pair, any member port
        of a port-channel)."""
        for port in ports_of(node, interface):
            for p in (port, *sorted(self.members.get(port, ()))):
                if p in self.port_host:
                    return self.port_host[p]
        return None

    def status(self, locations: Sequence[tuple[str, str]]) -> str:
        """`known` when every leaf location of the move joins to a host, `partial` when some
        do, `unknown` when none does (or the fabric's adjacency is not in the database)."""
        locs = [loc for loc in locations if loc[0] and loc[1]]
        if not locs:
            return "unknown"
        found = sum(1 for n, i in locs if self.host_at(n, i) is not None)
        return "known" if found == len(locs) else "partial" if found else "unknown"


# The longest interval between two counter readings whose average rate still counts for a
# window it overlaps (the APIC poller reads every 60 s, Host sFlow every 10-30 s).
MAX_RATE_SPAN_NS = 180 * NS
# A loop's ports: touched (left or joined) by at least this share of its BD's burst of moves.
LOOP_PORT_SHARE = 0.25


@dataclass(frozen=True)
class RateSample:
    """A rate at `time_ns`; for a rate between two counter readings, `since_ns` is the earlier
    reading (the rate is that interval's average, so the flood may lie anywhere in it)."""

    time_ns: int
    rate: float
    since_ns: int | None = None

    def overlaps(self, lo: int, hi: int) -> bool:
        """In [lo, hi], or an interval of at most MAX_RATE_SPAN_NS that overlaps it: a storm
        that began and ended between two 60-s polls is stamped at the later poll, which may be
        after the move's evidence window while the flood itself was inside it."""
        if lo <= self.time_ns <= hi:
            return True
        s = self.since_ns
        return (
            s is not None and self.time_ns - s <= MAX_RATE_SPAN_NS and s < hi and self.time_ns > lo
        )


def _rates(samples: Sequence[tuple[int, int | None]]) -> list[RateSample]:
    """Per-second rates of a cumulative counter series (resets skipped)."""
    out: list[RateSample] = []
    for (t0, v0), (t1, v1) in zip(samples, samples[1:], strict=False):
        if v0 is None or v1 is None or t1 <= t0 or v1 < v0:
            continue
        out.append(RateSample(t1, (v1 - v0) / ((t1 - t0) / NS), t0))
    return out


@dataclass(frozen=True)
class Storm:
    """A flood/broadcast rate that is a storm on one place (leaf port or host NIC)."""

    place: str
    peak_pps: float
    at_ns: int
    baseline_pps: float
    source: str  # "APIC flood" | "sFlow broadcast"
    since_ns: int | None = None  # the rate is the average since this reading (between polls)


@dataclass(frozen=True)
class MovePath:
    """Where one move happened, joined to the topology: the old and new leaf ports (each vPC
    member), the sFlow hosts cabled there, and the hosts whose adapters carried the MAC."""

    old: tuple[Port, ...]
    new: tuple[Port, ...]
    old_host: HostLink | None
    new_host: HostLink | None
    mac_hosts: tuple[str, ...]
    topology: str  # known | partial | unknown

    def hosts(self) -> tuple[str, ...]:
        """Hosts on the path: behind the old/new port, then those that listed the MAC."""
        out: list[str] = []
        for h in (self.old_host, self.new_host):
            if h is not None and h.host not in out:
                out.append(h.host)
        out += [h for h in self.mac_hosts if h not in out]
        return tuple(out)


class EvidenceIndex:
    """Everything one run knows, indexed: `load` reads it from InfluxDB; the constructor takes
    records directly (tests build indexes in memory)."""

    def __init__(
        self,
        cfg: MoveCauseConfig,
        moves: Sequence[reads.Move],
        anomalies: Sequence[reads.Anomaly] = (),
        interfaces: Sequence[reads.InterfaceSample] = (),
        adjacency: Sequence[reads.Adjacency] = (),
        faults: Sequence[reads.Fault] = (),
        adapters: Sequence[reads.HostAdapters] = (),
        if_counters: Sequence[reads.IfCounters] = (),
        cpu: Sequence[reads.CpuSample] = (),
        net: Sequence[reads.NetSample] = (),
    ) -> None:
        self.cfg = cfg
        self.rows = sum(
            len(x) for x in (moves, anomalies, interfaces, adjacency, faults, adapters,
                             if_counters, cpu, net)
        )  # fmt: skip
        # Moves: by endpoint and by BD, time-sorted.
        self.moves = sorted(moves, key=lambda m: (m.time_ns, m.addr))
        self.by_addr: dict[str, list[reads.Move]] = defaultdict(list)
        self.by_bd: dict[str, list[reads.Move]] = defaultdict(list)
        for m in self.moves:
            self.by_addr[m.addr].append(m)
            if m.bd:
                self.by_bd[m.bd].append(m)
        self._addr_times = {a: [m.time_ns for m in ms] for a, ms in self.by_addr.items()}
        # Anomalies: by (addr, kind); loop anomalies carry the BD in `addr`.
        self.anomalies: dict[tuple[str, str], list[reads.Anomaly]] = defaultdict(list)
        for a in sorted(anomalies, key=lambda a: a.time_ns):
            self.anomalies[(a.addr, a.kind)].append(a)
        # APIC leaf ports: every sample per (node, interface).
        self.interfaces: dict[Port, list[reads.InterfaceSample]] = defaultdict(list)
        for s in sorted(interfaces, key=lambda s: s.time_ns):
            self.interfaces[(s.node, s.interface)].append(s)
        self._flood_cache: dict[Port, list[RateSample]] = {}
        # Port-channels: (node, "po7") → its member ports (ethpmPhysIf bundleIndex).
        self.members: dict[Port, set[Port]] = defaultdict(set)
        for s in interfaces:
            if s.bundle:
                self.members[(s.node, s.bundle)].add((s.node, s.interface))
        # Faults: by port and by BD.
        self.faults_by_port: dict[Port, list[reads.Fault]] = defaultdict(list)
        self.faults_by_bd: dict[str, list[reads.Fault]] = defaultdict(list)
        for f in sorted(faults, key=lambda f: f.time_ns):
            if f.interface:
                self.faults_by_port[(f.node, f.interface)].append(f)
            if f.bd:
                self.faults_by_bd[f.bd].append(f)
        # sFlow host adapters: where each MAC was listed, and the host's own MACs.
        self.mac_sightings: dict[str, list[reads.HostAdapters]] = defaultdict(list)
        mac_host: dict[str, str] = {}
        agent_host: dict[str, str] = {}
        sflow_hosts: set[str] = set()
        # VM vNICs: adapters with a VM (hsflowd lists the host's NICs and VM vNICs alike).
        self.vm_ifindexes: dict[str, set[str]] = defaultdict(set)
        vm_macs = {mac for ad in adapters if ad.vm for mac in ad.macs}
        for ad in sorted(adapters, key=lambda a: a.time_ns):
            sflow_hosts.add(ad.host)
            agent_host.setdefault(ad.agent, ad.host)
            if ad.vm or vm_macs.intersection(ad.macs):
                self.vm_ifindexes[ad.host].add(ad.ifindex)
            for mac in ad.macs:
                self.mac_sightings[mac].append(ad)
                if not ad.vm and mac not in vm_macs:  # the host's own NIC / chassis MAC
                    mac_host[mac] = ad.host
        # sFlow interface counters per host and ifIndex.
        self.if_counters: dict[str, dict[str, list[reads.IfCounters]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for c in sorted(if_counters, key=lambda c: c.time_ns):
            self.if_counters[c.host or c.agent][c.ifindex].append(c)
            sflow_hosts.add(c.host or c.agent)
            agent_host.setdefault(c.agent, c.host or c.agent)
        self._bcast_cache: dict[tuple[str, str], list[RateSample]] = {}
        # Host load.
        self.cpu: dict[str, list[reads.CpuSample]] = defaultdict(list)
        for cs in sorted(cpu, key=lambda c: c.time_ns):
            self.cpu[cs.host].append(cs)
        net_by: dict[tuple[str, str], list[tuple[int, int | None]]] = defaultdict(list)
        for n in sorted(net, key=lambda n: n.time_ns):
            net_by[(n.host, n.interface)].append((n.time_ns, n.bytes_total))
        self.net_rates: dict[str, list[RateSample]] = defaultdict(list)
        for (host, iface), series in net_by.items():
            # `total` is the host's sum; without it, the per-NIC rates are the evidence.
            if iface == "total" or (host, "total") not in net_by:
                self.net_rates[host].extend(_rates(series))
        self.topology = Topology(adjacency, sflow_hosts, mac_host, agent_host, self.members)
        self._paths: dict[tuple[str, int], MovePath] = {}
        self._bursts: dict[tuple[str, int], tuple[int, int, frozenset[Port]]] = {}

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        q: InfluxQuery,
        cfg: MoveCauseConfig,
        since_ns: int,
        until_ns: int,
        *,
        evidence_since_ns: int | None = None,
        check: Callable[[], None] = lambda: None,
    ) -> EvidenceIndex:
        """One statement per measurement in `QUERIES`: moves and anomalies over
        [since, until], the other evidence over [evidence_since, until] (default: since).
        `check()` runs between statements (it raises to stop a run: SIGTERM)."""
        f = cfg.fabric
        lo, hi = since_ns, until_ns
        elo = since_ns if evidence_since_ns is None else evidence_since_ns
        # The APIC re-states adjacency every adjacency_interval_s (300 s): read at least that.
        alo = min(elo, hi - 600 * NS)
        check()
        moves = reads.moves(q, f, lo, hi, limit=reads.MAX_BULK_ROWS)
        check()
        anomalies = reads.anomalies(q, f, lo, hi, limit=reads.MAX_BULK_ROWS)
        check()
        interfaces = reads.interfaces_in(q, f, elo, hi)
        check()
        adjacency = reads.adjacency_in(q, f, alo, hi)
        check()
        faults = reads.faults_in(q, f, elo, hi)
        check()
        own = reads.host_own_adapters(q, alo, hi)
        check()
        # Only where the moving endpoints were listed: a fabric's other VMs are not evidence.
        moved_macs = {m.mac for m in moves if m.mac}
        sightings = reads.host_adapters_in(q, elo, hi, with_macs=moved_macs)
        # The hosts on the moves' paths: behind a moving port, or listing a moving MAC.
        members: dict[Port, set[Port]] = defaultdict(set)
        for s in interfaces:
            if s.bundle:
                members[(s.node, s.bundle)].add((s.node, s.interface))
        topo = Topology(
            adjacency,
            {a.host for a in own},
            {mac: a.host for a in own for mac in a.macs},
            {a.agent: a.host for a in own},
            members,
        )
        hosts = {a.host for a in sightings}
        for m in moves:
            for loc in (m.from_loc, m.to_loc):
                link = topo.host_at(*loc)
                if link is not None:
                    hosts.add(link.host)
        check()
        if_counters = reads.sflow_if_counters(q, elo, hi, hosts=hosts)
        check()
        cpu = reads.cpu_in(q, elo, hi, hosts=hosts)
        check()
        net = reads.net_in(q, elo, hi, hosts=hosts)
        return cls(
            cfg, moves, anomalies, interfaces, adjacency, faults, [*own, *sightings],
            if_counters, cpu, net,
        )  # fmt: skip

    # -- lookups ---------------------------------------------------------------------------------
    def phys_ports(self, node: str, interface: str) -> tuple[Port, ...]:
        """A move location's ports: each vPC node's, and for a port-channel its member ports
        too (LLDP, oper state and flood counters are per physical port)."""
        out: list[Port] = []
        for port in ports_of(node, interface):
            out.append(port)
            out += sorted(self.members.get(port, ()))
        return tuple(out)

    def path(self, m: reads.Move) -> MovePath:
        """The move's own path (cached: every cause of one move asks)."""
        key = (m.addr, m.time_ns)
        cached = self._paths.get(key)
        if cached is not None:
            return cached
        cfg = self.cfg
        lo, hi = m.time_ns - int(cfg.before_s * NS), m.time_ns + int(cfg.after_s * NS)
        mac = m.mac
        mac_hosts = sorted({a.host for a in self.sightings(mac, lo, hi)}) if mac else []
        topo = self.topology
        p = MovePath(
            self.phys_ports(*m.from_loc),
            self.phys_ports(*m.to_loc),
            topo.host_at(*m.from_loc),
            topo.host_at(*m.to_loc),
            tuple(mac_hosts),
            topo.status([m.from_loc, m.to_loc]),
        )
        self._paths[key] = p
        return p

    def bd_burst(self, m: reads.Move) -> tuple[int, int, frozenset[Port]]:
        """(distinct endpoints, moves, leaf ports they moved between — those touched by at
        least LOOP_PORT_SHARE of the moves) of the move's BD within
        ±`loop_window_s` of it. Computed for the whole BD at once with a sliding window, so a
        loop of N moves costs O(N), not O(N²)."""
        key = (m.addr, m.time_ns)
        if key not in self._bursts:
            self._burst_bd(m.bd)
        return self._bursts.get(key, (0, 0, frozenset()))

    def _burst_bd(self, bd: str) -> None:
        ms = self.by_bd.get(bd, [])
        w = int(self.cfg.loop_window_s * NS)
        addrs: Counter[str] = Counter()
        ports: Counter[Port] = Counter()
        locs = [(*self.phys_ports(*x.from_loc), *self.phys_ports(*x.to_loc)) for x in ms]
        lo = hi = 0  # the window is ms[lo:hi]
        for x in ms:
            while hi < len(ms) and ms[hi].time_ns <= x.time_ns + w:
                addrs[ms[hi].addr] += 1
                ports.update(locs[hi])
                hi += 1
            while ms[lo].time_ns < x.time_ns - w:
                addrs[ms[lo].addr] -= 1
                if not addrs[ms[lo].addr]:
                    del addrs[ms[lo].addr]
                ports.subtract(locs[lo])
                lo += 1
            # The ports the burst moves between, not every port it touched: a loop flaps its
            # endpoints across the looped ports again and again, while each endpoint leaves
            # its home port once — and a home port (a hypervisor's, shared with other BDs)
            # flooding for another BD's reason is not this BD's loop.
            need = max(1.0, LOOP_PORT_SHARE * (hi - lo))
            live = frozenset(p for p, n in ports.items() if n >= need)
            self._bursts[(x.addr, x.time_ns)] = (len(addrs), hi - lo, live)

    def addr_moves(self, addr: str, lo: int, hi: int) -> list[reads.Move]:
        times = self._addr_times.get(addr)
        if not times:
            return []
        ms = self.by_addr[addr]
        return ms[bisect.bisect_left(times, lo) : bisect.bisect_right(times, hi)]

    def anomalies_of(
        self, addr: str, kinds: Iterable[str], lo: int, hi: int
    ) -> list[reads.Anomaly]:
        out = [a for k in kinds for a in self.anomalies.get((addr, k), ()) if lo <= a.time_ns <= hi]
        return sorted(out, key=lambda a: a.time_ns)

    def port_samples(self, port: Port, lo: int, hi: int) -> list[reads.InterfaceSample]:
        return [s for s in self.interfaces.get(port, ()) if lo <= s.time_ns <= hi]

    def loop_faults(self, bd: str, ports: Iterable[Port], lo: int, hi: int) -> list[reads.Fault]:
        """Raised MCP-loop / EP-loop faults naming this BD or one of these leaf ports."""
        found = {id(f): f for f in self.faults_by_bd.get(bd, ())}
        for p in ports:
            for f in self.faults_by_port.get(p, ()):
                found[id(f)] = f
        return sorted(
            (f for f in found.values() if f.active and lo <= f.time_ns <= hi),
            key=lambda f: f.time_ns,
        )

    def _flood_rates(self, port: Port) -> list[RateSample]:
        """Flood pkts/s of a leaf port: the exact rate between two polls (difference of
        `in_flood_pkts_cum`) and the APIC's own `in_flood_pkts_rate` (an average over the
        5-minute interval so far, which dilutes a storm that starts late in an interval)."""
        if port not in self._flood_cache:
            samples = self.interfaces.get(port, ())
            rates = [
                RateSample(s.time_ns, s.in_flood_pkts_rate)
                for s in samples
                if s.in_flood_pkts_rate is not None
            ]
            rates += _rates([(s.time_ns, s.in_flood_pkts_cum) for s in samples
                             if s.in_flood_pkts_cum is not None])  # fmt: skip
            self._flood_cache[port] = sorted(rates, key=lambda r: r.time_ns)
        return self._flood_cache[port]

    def _bcast_rates(self, host: str, ifindex: str) -> list[RateSample]:
        key = (host, ifindex)
        if key not in self._bcast_cache:
            series = [(c.time_ns, c.in_broadcast_pkts) for c in self.if_counters[host][ifindex]]
            self._bcast_cache[key] = _rates(series)
        return self._bcast_cache[key]

    def _storm_in(
        self, rates: list[RateSample], lo: int, hi: int
    ) -> tuple[float, int, float, int | None] | None:
        """(peak, when, quiet level, since) when `rates` hold a storm in [lo, hi]: a peak ≥
        storm_min_pps and ≥ storm_factor × the series' quiet level (its 10th percentile over
        the loaded window), so a port that always floods a little is not a storm."""
        cfg = self.cfg
        peak: RateSample | None = None
        for r in rates:
            if r.overlaps(lo, hi) and (peak is None or r.rate > peak.rate):
                peak = r
        if peak is None or peak.rate < cfg.storm_min_pps:
            return None
        ordered = sorted(r.rate for r in rates)
        baseline = ordered[len(ordered) // 10]
        if baseline < peak.rate:
            if peak.rate < cfg.storm_factor * max(baseline, 1.0):
                return None
            return peak.rate, peak.time_ns, baseline, peak.since_ns
        # No quiet sample in the window: only a flood far above any normal level is a storm
        # (a loop that began before the window); a port that always floods a little is not.
        if peak.rate < cfg.storm_factor * cfg.storm_min_pps:
            return None
        return peak.rate, peak.time_ns, baseline, peak.since_ns

    def port_storm(self, port: Port, lo: int, hi: int) -> Storm | None:
        """An APIC flood storm (ingress flood pkts/s, broadcast included) on one leaf port."""
        hit = self._storm_in(self._flood_rates(port), lo, hi)
        if hit is None:
            return None
        return Storm(port_place(*port), hit[0], hit[1], hit[2], "APIC flood", hit[3])

    def host_storm(self, host: str, lo: int, hi: int) -> Storm | None:
        """The worst sFlow broadcast storm on one host's interfaces."""
        worst: Storm | None = None
        for ifindex in sorted(self.if_counters.get(host, {})):
            hit = self._storm_in(self._bcast_rates(host, ifindex), lo, hi)
            if hit is not None and (worst is None or hit[0] > worst.peak_pps):
                worst = Storm(
                    f"host:{host}/if{ifindex}", hit[0], hit[1], hit[2], "sFlow broadcast", hit[3]
                )
        return worst

    def host_nic_downs(self, host: str, lo: int, hi: int) -> list[reads.IfCounters]:
        """sFlow samples where one of the host's NICs went if_oper_up 1 → 0 in [lo, hi] (a VM's
        virtual interface going away is a migration, not a failover: interfaces the adapter
        table names as a VM's do not count)."""
        out = []
        vnics = self.vm_ifindexes.get(host, set())
        for ifindex, samples in self.if_counters.get(host, {}).items():
            if ifindex in vnics:
                continue
            last: bool | None = None
            for c in samples:
                if c.oper_up is None:
                    continue
                if last is True and c.oper_up is False and lo <= c.time_ns <= hi:
                    out.append(c)
                last = c.oper_up
        return sorted(out, key=lambda c: c.time_ns)

    def sightings(self, mac: str, lo: int, hi: int) -> list[reads.HostAdapters]:
        """Adapter lists that carried `mac` (sFlow form) in [lo, hi], oldest first."""
        return [a for a in self.mac_sightings.get(mac, ()) if lo <= a.time_ns <= hi]

    def host_load(self, host: str, lo: int, hi: int) -> tuple[float | None, float | None]:
        """(peak CPU %, peak network bytes/s) of a host in [lo, hi]."""
        cpu = [c.usage_active for c in self.cpu.get(host, ()) if lo <= c.time_ns <= hi]
        net = [r.rate for r in self.net_rates.get(host, ()) if lo <= r.time_ns <= hi]
        return (max(cpu) if cpu else None, max(net) if net else None)
