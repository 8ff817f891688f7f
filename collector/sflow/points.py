"""Decoded sFlow datagrams → line protocol (the schema of docs/measurements.md).

This is the orchestration; each output family has its own module:

- counter_lines.py: raw counter blocks → ``sflow_<block>`` (one formatter per structure);
- telegraf.py: Host sFlow blocks → Telegraf's ``cpu``, ``system``, ``mem`` … measurements;
- flows.py: flow and drop samples → ``sflow_flows`` / ``sflow_drops``, aggregated per interval;
- loss.py: per-agent sequence accounting and the collector's counters (``fabricscope_stats``).

Every point of a datagram is stamped with its receive time (set at decode time, so a retried
write overwrites instead of duplicating). Stateful (CPU deltas, host names, the flow table) but
no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from collector.sflow.counter_lines import FORMATTERS, MEASUREMENTS
from collector.sflow.fastpath import TEMPLATES, Parsed, native
from collector.sflow.flows import FlowTable
from collector.sflow.loss import CollectorStats, SequenceTracker
from collector.sflow.lp import U32_UNKNOWN, Pairs, Prefixes, join
from collector.sflow.records import (
    CounterRecord,
    CounterSample,
    Datagram,
    DiscardSample,
    FlowSample,
    RecordValue,
    tag_str,
)
from collector.sflow.structures import COUNTERS
from collector.sflow.telegraf import TelegrafHost
from influx.line_protocol import escape_string_field

Block = Mapping[str, RecordValue] | tuple[int | float, ...]
SOURCE_ENTITY_LOGICAL = 3  # hsflowd reports VMs/containers as 3:N, the host itself as 2:1
TAG_HOST_DESCR = 2000
TAG_ADAPTERS = 2001
# blocks whose fields are read by name: identity (host_descr) and the Telegraf measurements
_NAMED_TAGS = frozenset((2000, 2003, 2004, 2005, 2006, 2009))


def _fields(tag: int, value: Block) -> Mapping[str, RecordValue]:
    if type(value) is tuple:
        return dict(zip(COUNTERS[tag].names, value, strict=True))
    return value  # type: ignore[return-value]


class SflowPoints:
    """Records → line protocol, with the per-agent state that Telegraf-style deltas need."""

    def __init__(self, flow_top_n: int = 100, ts_offset_ns: int = 0) -> None:
        # Several collector workers aggregate flows independently; offsetting each worker's
        # interval timestamp by its index keeps their rows distinct points instead of
        # overwriting each other (same measurement + tags + time merge in InfluxDB).
        self.ts_offset_ns = ts_offset_ns
        self.stats = CollectorStats()
        self.prefixes = Prefixes()
        self._prefix = self.prefixes.get
        self.flows = FlowTable(self.prefixes, flow_top_n)
        self.telegraf = TelegrafHost(self.prefixes)
        self.sequences = SequenceTracker(self.stats)
        self._host_names: dict[str, str] = {}  # agent → hypervisor/host name (from source 2:1)

    @property
    def flow_top_n(self) -> int:
        return self.flows.top_n

    # ----------------------------------------------------------------- datagrams
    def add_datagram(self, dg: Datagram, recv_ns: int, out: list[str]) -> None:
        st = self.stats
        before = len(out)
        st.datagrams += 1
        st.samples += len(dg.samples)
        st.record_errors += len(dg.errors)
        st.unknown_records += dg.unknown_records
        agent = dg.agent
        self.sequences.datagram(agent, dg.sub_agent_id, dg.sequence, dg.uptime_ms)
        flows = self.flows
        for sample in dg.samples:
            t = type(sample)
            if t is FlowSample:
                st.flow_samples += 1
                flows.add_flow(agent, sample)  # type: ignore[arg-type]
            elif t is CounterSample:
                st.counter_samples += 1
                self._add_counters(agent, sample, recv_ns, out)  # type: ignore[arg-type]
            elif t is DiscardSample:
                st.discard_samples += 1
                flows.add_discard(agent, sample)  # type: ignore[arg-type]
        st.lines += len(out) - before

    def add_parsed(self, p: Parsed, recv_ns: int, out: list[str]) -> None:
        """The fast path's reading of one datagram (fastpath.py): the same effect as
        add_datagram on the full decoder's records."""
        st = self.stats
        before = len(out)
        st.datagrams += 1
        st.samples += p.samples
        st.unknown_records += p.unknown
        agent = p.agent
        self.sequences.datagram(agent, p.sub_agent, p.sequence, p.uptime)
        flows = self.flows
        if p.native_flows:
            native.apply(p.data, agent, flows.raw)
            st.flow_samples += p.native_flows
        add = flows.add
        fi = ci = di = 0
        for kind in p.order:
            if kind == 0:
                key, frame_length, rate = p.flows[fi]
                fi += 1
                st.flow_samples += 1
                add(key, frame_length, rate)
            elif kind == 1:
                cls, idx, blocks = p.counters[ci]
                ci += 1
                st.counter_samples += 1
                self.counter_blocks(agent, cls, idx, blocks, recv_ns, out)  # type: ignore[arg-type]
            else:
                st.discard_samples += 1
                flows.add_discard(agent, p.discards[di])
                di += 1
        st.lines += len(out) - before

    # ----------------------------------------------------------------- counters
    def _add_counters(
        self, agent: str, sample: CounterSample, recv_ns: int, out: list[str]
    ) -> None:
        blocks: list[tuple[int, Block]] = [
            (rec.tag, rec.fields) for rec in sample.records if type(rec) is CounterRecord
        ]
        self.counter_blocks(
            agent, sample.source_id_type, sample.source_id_index, blocks, recv_ns, out
        )

    def counter_blocks(
        self, agent: str, cls: int, idx: int, blocks: list[tuple[int, Block]], recv_ns: int,
        out: list[str],
    ) -> None:  # fmt: skip
        """One counter sample's blocks, each a field dict or (fast path) its value tuple."""
        source = f"{cls}:{idx}"
        named: dict[int, Mapping[str, RecordValue]] = {}
        for tag, value in blocks:
            if tag in _NAMED_TAGS:
                named[tag] = _fields(tag, value)
        host, vm = self._identity(agent, cls, idx, named.get(TAG_HOST_DESCR))
        ident: tuple[str, ...] = ("agent", agent, "host", host, "source_id", source)
        if vm is not None:
            ident = (*ident, "vm", vm)
        ts = f" {recv_ns}"
        for tag, value in blocks:
            measurement = MEASUREMENTS.get(tag)
            if measurement is None:
                continue
            if tag == TAG_ADAPTERS:
                self._adapters(_fields(tag, value), ident, ts, out)
                continue
            fs = None
            if type(value) is tuple:
                tpl = TEMPLATES.get(tag)
                if tpl is not None and (tag != 1 or value[4] != U32_UNKNOWN):
                    fs = tpl.format(value)
                    if fs is not None and tag == 1:
                        status = int(value[4])  # if_status (known, checked above)
                        updown = f"if_admin_up={status & 1}i,if_oper_up={(status >> 1) & 1}i"
                        fs = f"{fs},{updown}" if fs else updown
            if fs is None:
                fs = FORMATTERS[tag](_fields(tag, value))
            if not fs:
                continue
            if tag == 1:
                if_index = value[0] if type(value) is tuple else value.get("if_index")  # type: ignore[union-attr]
                prefix = self._prefix(measurement, *ident, "ifindex", str(if_index))
            else:
                prefix = self._prefix(measurement, *ident)
            out.append(f"{prefix} {fs}{ts}")
        if vm is None:
            self.telegraf.sample(agent, host, source, named, recv_ns, out)

    def _identity(
        self, agent: str, cls: int, idx: int, descr: Mapping[str, RecordValue] | None
    ) -> tuple[str, str | None]:
        """(host, vm): a VM sample (3:N) is tagged with its hypervisor and its own name."""
        name = descr.get("hostname") if descr else None
        name = name if isinstance(name, str) and name else None
        if cls == SOURCE_ENTITY_LOGICAL:
            return self._host_names.get(agent, agent), name or f"vm{idx}"
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
            mac_text = ",".join(m.hex() if isinstance(m, bytes) else str(m) for m in macs)
            prefix = self._prefix(
                "sflow_host_adapters", *ident, "ifindex", str(adapter.get("if_index"))
            )
            out.append(f"{prefix} macs={escape_string_field(mac_text)},mac_count={len(macs)}i{ts}")

    # ----------------------------------------------------------------- flows
    def flow_table_size(self) -> int:
        return len(self.flows)

    def flush_flows(self, time_ns: int) -> list[str]:
        """Emit the interval's ``sflow_flows`` (top-N per agent + ``other``) and ``sflow_drops``."""
        out = self.flows.flush(time_ns + self.ts_offset_ns)
        self.stats.lines += len(out)
        return out

    # ----------------------------------------------------------------- stats
    def stats_lines(
        self, time_ns: int, extra: Mapping[str, int | float], instance: str
    ) -> list[str]:
        """``fabricscope_stats`` for the collector: totals plus per-agent loss."""
        st = self.stats
        pairs: Pairs = [
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
            f" {join(pairs)} {time_ns}"
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
