"""Turn decoded sFlow records into line protocol (the schema of docs/measurements.md).

Three families of output, all stamped with the datagram's receive time (set at decode time, so a
retried write overwrites instead of duplicating):

- raw counter blocks → ``sflow_<block>`` with the spec's snake_case field names;
- Host sFlow blocks → Telegraf-compatible ``cpu``, ``system``, ``mem``, ``swap``, ``net``,
  ``diskio``, ``disk`` so Telegraf's stock system dashboards work on them unchanged;
- flow and drop samples → ``sflow_flows`` / ``sflow_drops``, aggregated per interval with bounded
  cardinality (top-N per agent, the rest folded into one ``other`` row).

This module is stateful (CPU counter deltas, hypervisor names, the flow table) but does no I/O.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from collector.sflow.drop_reasons import reason_name
from collector.sflow.records import (
    CounterRecord,
    CounterSample,
    Datagram,
    DiscardSample,
    FlowRecord,
    FlowSample,
    RecordValue,
    SampledHeader,
    tag_str,
)
from collector.sflow.structures import COUNTERS
from influx.line_protocol import escape_string_field, escape_tag_value, format_int

U32_UNKNOWN = 0xFFFFFFFF
U64_UNKNOWN = 0xFFFFFFFFFFFFFFFF

MAX_SEQUENCE_GAP = 100_000
REORDER_WINDOW = 1_000
RESTART_UPTIME_SLACK_MS = 10_000  # a late datagram is seconds old at most (spec: ≤ 1 s delay)
MAX_AGENTS = 10_000  # per-agent loss accounting beyond this is folded into one counter
SOURCE_ENTITY_LOGICAL = 3  # hsflowd reports VMs/containers as 3:N, the host itself as 2:1
TELEGRAF_CPU_FIELDS = (
    # (Telegraf usage_* name, host_cpu field) — Telegraf's cpu plugin semantics
    ("usage_user", "cpu_user"),
    ("usage_nice", "cpu_nice"),
    ("usage_system", "cpu_system"),
    ("usage_idle", "cpu_idle"),
    ("usage_iowait", "cpu_wio"),
    ("usage_irq", "cpu_intr"),
    ("usage_softirq", "cpu_sintr"),
    ("usage_steal", "cpu_steal"),
    ("usage_guest", "cpu_guest"),
    ("usage_guest_nice", "cpu_guest_nice"),
)


def is_unknown(value: int) -> bool:
    """sFlow marks an unknown counter as all ones (sflow_version_5.txt §5)."""
    return value == U32_UNKNOWN or value == U64_UNKNOWN


def format_mac(mac: bytes | str | None) -> str:
    if mac is None:
        return "none"
    if isinstance(mac, str):
        return mac.lower().replace(":", "").replace("-", "")
    return mac.hex()


def _fields_lp(fields: Mapping[str, RecordValue]) -> str:
    """Field set of a raw block: ints (sentinels omitted), floats, strings; lists skipped."""
    parts: list[str] = []
    for key, value in fields.items():
        if value is None or isinstance(value, list | bytes):
            continue
        if isinstance(value, bool):
            parts.append(f"{key}={'true' if value else 'false'}")
        elif isinstance(value, int):
            if not is_unknown(value):
                parts.append(f"{key}={format_int(value)}")
        elif isinstance(value, float):
            if math.isfinite(value):
                parts.append(f"{key}={_f32(value)!r}")
        else:
            parts.append(f"{key}={escape_string_field(value)}")
    return ",".join(parts)


def _num(fields: Mapping[str, RecordValue], key: str) -> int | None:
    v = fields.get(key)
    if isinstance(v, int) and not isinstance(v, bool) and not is_unknown(v):
        return v
    return None


def _f32(value: float) -> float:
    """XDR floats are float32: 0.59 arrives as 0.5899999737739563. Keep the 7 significant
    digits float32 carries so stored values read as the agent meant them."""
    return float(f"{value:.7g}")


def _flt(fields: Mapping[str, RecordValue], key: str) -> float | None:
    v = fields.get(key)
    if isinstance(v, float):
        # NaN and ±inf are not line protocol (InfluxDB answers 400): an agent sending one
        # has no value for that field.
        return _f32(v) if math.isfinite(v) else None
    if isinstance(v, int) and not is_unknown(v):
        return float(v)
    return None


def _join(pairs: list[tuple[str, int | float | None]]) -> str:
    out = []
    for k, v in pairs:
        if v is None:
            continue
        if isinstance(v, int):
            out.append(f"{k}={format_int(v)}")
        elif math.isfinite(v):
            out.append(f"{k}={v!r}")
    return ",".join(out)


@dataclass(slots=True)
class FlowStat:
    samples: int = 0
    packets: int = 0
    bytes: int = 0


@dataclass(slots=True)
class CollectorStats:
    """Cumulative counters since start; written as ``fabricscope_stats`` (process=collector)."""

    datagrams: int = 0
    samples: int = 0
    flow_samples: int = 0
    counter_samples: int = 0
    discard_samples: int = 0
    decode_errors: int = 0
    record_errors: int = 0
    unknown_records: int = 0
    rejected_sources: int = 0
    sequence_gaps: int = 0
    lost_datagrams: int = 0
    sequence_resets: int = 0
    duplicate_datagrams: int = 0
    reordered_datagrams: int = 0
    lines: int = 0
    untracked_agent_datagrams: int = 0
    per_agent_lost: dict[str, int] = field(default_factory=dict)
    per_agent_datagrams: dict[str, int] = field(default_factory=dict)


FlowKey = tuple[str, str, str, str, str, str, str]  # agent, vlan, src/dst mac, src/dst ip, proto
DropKey = tuple[str, str, str]  # agent, reason, ifindex


class SflowPoints:
    """Records → line protocol, with the per-agent state that Telegraf-style deltas need."""

    def __init__(self, flow_top_n: int = 100, ts_offset_ns: int = 0) -> None:
        self.flow_top_n = flow_top_n
        # Several SO_REUSEPORT workers aggregate flows independently; offsetting each worker's
        # interval timestamp by its index keeps their rows distinct points instead of
        # overwriting each other (same measurement + tags + time merge in InfluxDB).
        self.ts_offset_ns = ts_offset_ns
        self.stats = CollectorStats()
        self._flows: dict[FlowKey, FlowStat] = {}
        self._drops: dict[DropKey, FlowStat] = {}
        self._host_names: dict[str, str] = {}  # agent → hypervisor/host name (from source 2:1)
        self._cpu_prev: dict[tuple[str, int, int], tuple[int, ...]] = {}
        self._last_seq: dict[tuple[str, int], tuple[int, int]] = {}  # → (seq, uptime)
        self._prefix_cache: dict[tuple[str, ...], str] = {}
        self._counter_handlers: dict[int, Callable[..., None]] = {
            2003: self._telegraf_cpu,
            2004: self._telegraf_mem,
            2005: self._telegraf_disk,
            2006: self._telegraf_net,
        }

    # ----------------------------------------------------------------- datagrams
    def add_datagram(self, dg: Datagram, recv_ns: int, out: list[str]) -> None:
        st = self.stats
        st.datagrams += 1
        st.samples += len(dg.samples)
        st.record_errors += len(dg.errors)
        st.unknown_records += dg.unknown_records
        agent = dg.agent
        if agent not in st.per_agent_datagrams and len(st.per_agent_datagrams) >= MAX_AGENTS:
            # A flood of spoofed agent addresses must not become unbounded state or series.
            st.untracked_agent_datagrams += 1
        else:
            st.per_agent_datagrams[agent] = st.per_agent_datagrams.get(agent, 0) + 1
            self._check_sequence(agent, dg.sub_agent_id, dg.sequence, dg.uptime_ms)
        for sample in dg.samples:
            if type(sample) is FlowSample:
                st.flow_samples += 1
                self._add_flow(agent, sample)
            elif type(sample) is CounterSample:
                st.counter_samples += 1
                self._add_counters(agent, sample, recv_ns, out)
            elif type(sample) is DiscardSample:
                st.discard_samples += 1
                self._add_discard(agent, sample)
        st.lines += len(out)

    def _check_sequence(self, agent: str, sub_agent: int, seq: int, uptime_ms: int) -> None:
        """Count lost datagrams per agent from sequence-number gaps (sFlow v5 §5).

        A datagram that arrives after a higher number was seen is late (reordered) or a
        duplicate, not loss: a late one recovers one datagram previously counted as lost. A
        number far below the highest seen, or a lower number with the agent's uptime gone
        backwards, is an agent restart (the spec resets sequences when the agent restarts).
        """
        key = (agent, sub_agent)
        st = self.stats
        top, top_uptime = self._last_seq.get(key, (None, 0))
        restarted = uptime_ms + RESTART_UPTIME_SLACK_MS < top_uptime
        if top is None or (seq > top and not restarted):
            self._last_seq[key] = (seq, uptime_ms)
            if top is None:
                return
            gap = seq - top - 1
            if 0 < gap <= MAX_SEQUENCE_GAP:
                st.sequence_gaps += 1
                st.lost_datagrams += gap
                st.per_agent_lost[agent] = st.per_agent_lost.get(agent, 0) + gap
            elif gap > MAX_SEQUENCE_GAP:
                st.sequence_resets += 1  # a jump this large is a restart, not a loss burst
        elif restarted or top - seq > REORDER_WINDOW:
            self._last_seq[key] = (seq, uptime_ms)
            st.sequence_resets += 1
        elif seq == top:
            st.duplicate_datagrams += 1
        else:
            st.reordered_datagrams += 1
            if st.per_agent_lost.get(agent, 0) > 0:
                st.per_agent_lost[agent] -= 1
                st.lost_datagrams -= 1

    # ----------------------------------------------------------------- counters
    def _prefix(self, measurement: str, *tags: str) -> str:
        """Cached `measurement,k=v,...` for (measurement, k1, v1, k2, v2...) sorted by key."""
        key = (measurement, *tags)
        prefix = self._prefix_cache.get(key)
        if prefix is None:
            pairs = sorted(zip(tags[::2], tags[1::2], strict=True))
            prefix = measurement + "".join(
                f",{k}={escape_tag_value(v)}" for k, v in pairs if v is not None
            )
            if len(self._prefix_cache) > 200_000:
                self._prefix_cache.clear()  # bounded under an agent-spoofing flood
            self._prefix_cache[key] = prefix
        return prefix

    def _add_counters(
        self, agent: str, sample: CounterSample, recv_ns: int, out: list[str]
    ) -> None:
        source_id = f"{sample.source_id_type}:{sample.source_id_index}"
        descr: Mapping[str, RecordValue] | None = None
        for rec in sample.records:
            if type(rec) is CounterRecord and rec.tag == 2000:
                descr = rec.fields
                break
        host, vm = self._identity(agent, sample, descr)
        ident: tuple[str, ...] = ("agent", agent, "host", host, "source_id", source_id)
        if vm is not None:
            ident = (*ident, "vm", vm)
        ts = f" {recv_ns}"
        for rec in sample.records:
            if type(rec) is not CounterRecord:
                continue
            tag = rec.tag
            spec = COUNTERS.get(tag)
            if spec is None:
                continue
            name = spec.name
            if tag == 1:
                ifindex = rec.fields.get("if_index")
                prefix = self._prefix(f"sflow_{name}", *ident, "ifindex", str(ifindex))
            elif tag == 2001:
                self._adapters(rec.fields, ident, ts, out)
                continue
            else:
                prefix = self._prefix(f"sflow_{name}", *ident)
            fs = _fields_lp(rec.fields)
            if tag == 1:
                status = rec.fields.get("if_status")
                if isinstance(status, int) and not is_unknown(status):
                    # ifStatus bit 0 = admin up, bit 1 = oper up (RFC 2863 via sFlow §if_counters);
                    # an unknown status (all ones) stays unknown: no up/down fields at all.
                    updown = f"if_admin_up={status & 1}i,if_oper_up={(status >> 1) & 1}i"
                    fs = f"{fs},{updown}" if fs else updown
            if fs:
                out.append(f"{prefix} {fs}{ts}")
            if vm is None:
                handler = self._counter_handlers.get(tag)
                if handler is not None:
                    handler(agent, host, sample, rec.fields, ts, out)
        if descr is not None and vm is None:
            self._telegraf_system(agent, host, sample, ts, out)

    def _identity(
        self, agent: str, sample: CounterSample, descr: Mapping[str, RecordValue] | None
    ) -> tuple[str, str | None]:
        """(host, vm): a VM sample (3:N) is tagged with its hypervisor and its own name."""
        name = descr.get("hostname") if descr else None
        name = name if isinstance(name, str) and name else None
        if sample.source_id_type == SOURCE_ENTITY_LOGICAL:
            return self._host_names.get(agent, agent), name or f"vm{sample.source_id_index}"
        if name is not None:
            self._host_names[agent] = name
            return name, None
        return self._host_names.get(agent, agent), None

    def _adapters(
        self, fields: Mapping[str, RecordValue], ident: tuple[str, ...], ts: str, out: list[str]
    ) -> None:
        """0:2001: one point per adapter, MACs comma-joined (VM placement for the analyzers)."""
        adapters = fields.get("adapters")
        if not isinstance(adapters, list):
            return
        for adapter in adapters:
            if not isinstance(adapter, Mapping):
                continue
            macs = adapter.get("macs") or []
            mac_text = ",".join(format_mac(m) for m in macs)
            prefix = self._prefix(
                "sflow_host_adapters", *ident, "ifindex", str(adapter.get("if_index"))
            )
            out.append(f"{prefix} macs={escape_string_field(mac_text)},mac_count={len(macs)}i{ts}")

    # ----------------------------------------------------------- Telegraf schema
    def _telegraf_cpu(
        self,
        agent: str,
        host: str,
        sample: CounterSample,
        f: Mapping[str, RecordValue],
        ts: str,
        out: list[str],
    ) -> None:
        """`cpu,cpu=cpu-total` usage_* percentages from deltas of the ms counters, like
        Telegraf's cpu plugin; the first sample of a host only primes the deltas."""
        now = tuple(_num(f, name) or 0 for _, name in TELEGRAF_CPU_FIELDS)
        key = (agent, sample.source_id_type, sample.source_id_index)
        prev = self._cpu_prev.get(key)
        self._cpu_prev[key] = now
        if prev is None:
            return
        # 32-bit ms counters wrap after ~49 days: modular deltas.
        deltas = [(n - p) % (1 << 32) for n, p in zip(now, prev, strict=True)]
        total = sum(deltas)
        if total <= 0 or total > (1 << 31):
            return  # no time passed, or a reset (agent restart) rather than a wrap
        pct = [100.0 * d / total for d in deltas]
        pairs: list[tuple[str, int | float | None]] = [
            (name, pct[i]) for i, (name, _) in enumerate(TELEGRAF_CPU_FIELDS)
        ]
        idle = pct[3] + pct[4]  # Telegraf: active = 100 - idle - iowait
        pairs.append(("usage_active", 100.0 - idle))
        prefix = self._prefix("cpu", "agent", agent, "host", host, "cpu", "cpu-total")
        out.append(f"{prefix} {_join(pairs)}{ts}")

    def _telegraf_system(
        self, agent: str, host: str, sample: CounterSample, ts: str, out: list[str]
    ) -> None:
        cpu: Mapping[str, RecordValue] | None = None
        for rec in sample.records:
            if type(rec) is CounterRecord and rec.tag == 2003:
                cpu = rec.fields
        if cpu is None:
            return
        pairs: list[tuple[str, int | float | None]] = [
            ("load1", _flt(cpu, "load_one")),
            ("load5", _flt(cpu, "load_five")),
            ("load15", _flt(cpu, "load_fifteen")),
            ("n_cpus", _num(cpu, "cpu_num")),
            ("uptime", _num(cpu, "uptime")),
        ]
        fs = _join(pairs)
        if fs:
            out.append(f"{self._prefix('system', 'agent', agent, 'host', host)} {fs}{ts}")

    def _telegraf_mem(
        self,
        agent: str,
        host: str,
        sample: CounterSample,
        f: Mapping[str, RecordValue],
        ts: str,
        out: list[str],
    ) -> None:
        del sample
        total = _num(f, "mem_total")
        free = _num(f, "mem_free")
        buffers = _num(f, "mem_buffers") or 0
        cached = _num(f, "mem_cached") or 0
        pairs: list[tuple[str, int | float | None]] = [
            ("total", total),
            ("free", free),
            ("shared", _num(f, "mem_shared")),
            ("buffered", buffers),
            ("cached", cached),
            ("swap_total", _num(f, "swap_total")),
            ("swap_free", _num(f, "swap_free")),
        ]
        if total and free is not None:
            # gopsutil (Telegraf): used = total - free - buffers - cached.
            used = max(total - free - buffers - cached, 0)
            available = min(free + buffers + cached, total)
            pairs += [
                ("used", used),
                ("available", available),
                ("used_percent", 100.0 * used / total),
                ("available_percent", 100.0 * available / total),
            ]
        out.append(f"{self._prefix('mem', 'agent', agent, 'host', host)} {_join(pairs)}{ts}")
        swap_total = _num(f, "swap_total")
        swap_free = _num(f, "swap_free")
        if swap_total is not None and swap_free is not None:
            swap_used = max(swap_total - swap_free, 0)
            swap: list[tuple[str, int | float | None]] = [
                ("total", swap_total),
                ("free", swap_free),
                ("used", swap_used),
                ("used_percent", 100.0 * swap_used / swap_total if swap_total else 0.0),
                ("in", _num(f, "swap_in")),
                ("out", _num(f, "swap_out")),
            ]
            out.append(f"{self._prefix('swap', 'agent', agent, 'host', host)} {_join(swap)}{ts}")

    def _telegraf_disk(
        self,
        agent: str,
        host: str,
        sample: CounterSample,
        f: Mapping[str, RecordValue],
        ts: str,
        out: list[str],
    ) -> None:
        del sample
        total = _num(f, "disk_total")
        free = _num(f, "disk_free")
        if total is not None and free is not None:
            used = max(total - free, 0)
            disk: list[tuple[str, int | float | None]] = [
                ("total", total),
                ("free", free),
                ("used", used),
                ("used_percent", 100.0 * used / total if total else 0.0),
            ]
            prefix = self._prefix(
                "disk",
                "agent",
                agent,
                "host",
                host,
                "path",
                "all",
                "device",
                "all",
                "fstype",
                "all",
            )
            out.append(f"{prefix} {_join(disk)}{ts}")
        diskio: list[tuple[str, int | float | None]] = [
            ("reads", _num(f, "reads")),
            ("writes", _num(f, "writes")),
            ("read_bytes", _num(f, "bytes_read")),
            ("write_bytes", _num(f, "bytes_written")),
            ("read_time", _num(f, "read_time")),
            ("write_time", _num(f, "write_time")),
        ]
        fs = _join(diskio)
        if fs:
            prefix = self._prefix("diskio", "agent", agent, "host", host, "name", "all")
            out.append(f"{prefix} {fs}{ts}")

    def _telegraf_net(
        self,
        agent: str,
        host: str,
        sample: CounterSample,
        f: Mapping[str, RecordValue],
        ts: str,
        out: list[str],
    ) -> None:
        del sample
        pairs: list[tuple[str, int | float | None]] = [
            ("bytes_recv", _num(f, "bytes_in")),
            ("packets_recv", _num(f, "pkts_in")),
            ("err_in", _num(f, "errs_in")),
            ("drop_in", _num(f, "drops_in")),
            ("bytes_sent", _num(f, "bytes_out")),
            ("packets_sent", _num(f, "pkts_out")),
            ("err_out", _num(f, "errs_out")),
            ("drop_out", _num(f, "drops_out")),
        ]
        fs = _join(pairs)
        if fs:
            prefix = self._prefix("net", "agent", agent, "host", host, "interface", "total")
            out.append(f"{prefix} {fs}{ts}")

    # ----------------------------------------------------------------- flows
    def _add_flow(self, agent: str, sample: FlowSample) -> None:
        rate = sample.sampling_rate or 1  # rate 0 is malformed: count the sample as itself
        frame_length = 0
        vlan = "none"
        src_mac = dst_mac = src_ip = dst_ip = proto = "none"
        for rec in sample.records:
            t = type(rec)
            if t is SampledHeader:
                h: SampledHeader = rec  # type: ignore[assignment]
                frame_length = h.frame_length
                if h.src_mac is not None:
                    src_mac = h.src_mac.hex()
                if h.dst_mac is not None:
                    dst_mac = h.dst_mac.hex()
                if h.vlan is not None:
                    vlan = str(h.vlan)
                if h.src_ip is not None:
                    src_ip = h.src_ip
                    dst_ip = h.dst_ip or "none"
                if h.ip_protocol is not None:
                    proto = str(h.ip_protocol)
            elif t is FlowRecord:
                fr: FlowRecord = rec  # type: ignore[assignment]
                tag = fr.tag
                ff = fr.fields
                if tag == 1001 and vlan == "none":
                    v = ff.get("src_vlan")
                    if isinstance(v, int) and v:
                        vlan = str(v)
                elif tag == 2:  # sampled_ethernet
                    frame_length = frame_length or _num(ff, "length") or 0
                    src_mac = format_mac(ff.get("src_mac"))  # type: ignore[arg-type]
                    dst_mac = format_mac(ff.get("dst_mac"))  # type: ignore[arg-type]
                elif tag in (3, 4) and src_ip == "none":  # sampled_ipv4 / sampled_ipv6
                    frame_length = frame_length or _num(ff, "length") or 0
                    src_ip = str(ff.get("src_ip"))
                    dst_ip = str(ff.get("dst_ip"))
                    proto = str(ff.get("protocol"))
        key = (agent, vlan, src_mac, dst_mac, src_ip, dst_ip, proto)
        stat = self._flows.get(key)
        if stat is None:
            stat = self._flows[key] = FlowStat()
        stat.samples += 1
        stat.packets += rate
        stat.bytes += frame_length * rate  # Python ints: no uint32 overflow (Telegraf bug)

    def _add_discard(self, agent: str, sample: DiscardSample) -> None:
        key = (
            agent,
            reason_name(sample.reason) or f"code_{sample.reason}",
            str(sample.input_ifindex),
        )
        stat = self._drops.get(key)
        if stat is None:
            stat = self._drops[key] = FlowStat()
        stat.samples += 1
        stat.packets += 1
        for rec in sample.records:
            if type(rec) is SampledHeader:
                stat.bytes += rec.frame_length

    def flow_table_size(self) -> int:
        return len(self._flows) + len(self._drops)

    def flush_flows(self, time_ns: int) -> list[str]:
        """Emit the interval's ``sflow_flows`` (top-N per agent + ``other``) and ``sflow_drops``."""
        out: list[str] = []
        ts = time_ns + self.ts_offset_ns
        by_agent: dict[str, list[tuple[FlowKey, FlowStat]]] = {}
        for key, stat in self._flows.items():
            by_agent.setdefault(key[0], []).append((key, stat))
        for agent, rows in by_agent.items():
            top = heapq.nlargest(self.flow_top_n, rows, key=lambda r: (r[1].bytes, r[1].samples))
            rest = len(rows) - len(top)
            for key, stat in top:
                _, vlan, smac, dmac, sip, dip, proto = key
                prefix = self._prefix(
                    "sflow_flows",
                    "agent",
                    agent,
                    "vlan",
                    vlan,
                    "src_mac",
                    smac,
                    "dst_mac",
                    dmac,
                    "src_ip",
                    sip,
                    "dst_ip",
                    dip,
                    "ip_protocol",
                    proto,
                )
                out.append(
                    f"{prefix} samples={stat.samples}i,packets={format_int(stat.packets)},"
                    f"bytes={format_int(stat.bytes)} {ts}"
                )
            if rest:
                top_keys = {k for k, _ in top}
                other = FlowStat()
                for key, stat in rows:
                    if key not in top_keys:
                        other.samples += stat.samples
                        other.packets += stat.packets
                        other.bytes += stat.bytes
                prefix = self._prefix(
                    "sflow_flows",
                    "agent",
                    agent,
                    "vlan",
                    "other",
                    "src_mac",
                    "other",
                    "dst_mac",
                    "other",
                    "src_ip",
                    "other",
                    "dst_ip",
                    "other",
                    "ip_protocol",
                    "other",
                )
                out.append(
                    f"{prefix} samples={other.samples}i,packets={format_int(other.packets)},"
                    f"bytes={format_int(other.bytes)},flows={rest}i {ts}"
                )
        for (agent, reason, ifindex), stat in self._drops.items():
            prefix = self._prefix(
                "sflow_drops", "agent", agent, "reason", reason, "ifindex", ifindex
            )
            out.append(f"{prefix} samples={stat.samples}i,bytes={format_int(stat.bytes)} {ts}")
        self._flows.clear()
        self._drops.clear()
        self.stats.lines += len(out)
        return out

    # ----------------------------------------------------------------- stats
    def stats_lines(
        self, time_ns: int, extra: Mapping[str, int | float], instance: str
    ) -> list[str]:
        """``fabricscope_stats`` for the collector: totals plus per-agent loss."""
        st = self.stats
        pairs: list[tuple[str, int | float | None]] = [
            ("datagrams", st.datagrams),
            ("samples", st.samples),
            ("flow_samples", st.flow_samples),
            ("counter_samples", st.counter_samples),
            ("discard_samples", st.discard_samples),
            ("decode_errors", st.decode_errors),
            ("record_errors", st.record_errors),
            ("unknown_records", st.unknown_records),
            ("rejected_sources", st.rejected_sources),
            ("sequence_gaps", st.sequence_gaps),
            ("lost_datagrams", st.lost_datagrams),
            ("sequence_resets", st.sequence_resets),
            ("duplicate_datagrams", st.duplicate_datagrams),
            ("reordered_datagrams", st.reordered_datagrams),
            ("flow_table", self.flow_table_size()),
            ("untracked_agent_datagrams", st.untracked_agent_datagrams),
            *extra.items(),
        ]
        out = [
            f"{self._prefix('fabricscope_stats', 'process', 'collector', 'instance', instance)}"
            f" {_join(pairs)} {time_ns}"
        ]
        for agent, count in st.per_agent_datagrams.items():
            prefix = self._prefix(
                "fabricscope_stats", "process", "collector", "instance", instance, "agent", agent
            )
            lost = st.per_agent_lost.get(agent, 0)
            out.append(f"{prefix} datagrams={count}i,lost_datagrams={lost}i {time_ns}")
        return out


def valid_agent(agent: str) -> bool:
    try:
        ipaddress.ip_address(agent)
    except ValueError:
        return False
    return True


__all__ = ["SflowPoints", "CollectorStats", "tag_str", "valid_agent"]
