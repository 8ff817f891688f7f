"""Fast path: one datagram's bytes → line protocol without building the typed records.

The collector's output only needs, per flow sample, the aggregation key (VLAN, MACs, IPs, IP
protocol), the frame length and the sampling rate, and, per counter block, its values in wire
order. This module reads exactly those straight from the bytes:

- flow samples whose records are a sampled Ethernet header (+ extended_switch) are keyed from
  the header bytes directly; any other flow sample is decoded by the full decoder's sample
  function (decoder.py) and keyed from its records, so nothing is lost;
- fixed-layout counter blocks become a tuple from one ``Struct.unpack_from`` and a line from one
  precompiled ``str.format`` template (blocks with unknown or huge values, strings, nested
  lists take the general formatter of counter_lines.py);
- discard samples and anything unusual go through the full decoder.

Two phases keep it exact: the datagram is first read completely without touching any state; if
that meets anything the full decoder would report as an error, the whole datagram is handed to
the full decoder instead (``None`` is returned), so counters such as ``record_errors`` stay
exactly what the full path gives. tests/collector/sflow/test_fastpath.py checks both paths write
the same lines and statistics for every fixture and for fuzzed datagrams.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from socket import AF_INET6, inet_ntoa, inet_ntop
from struct import Struct
from typing import Any

from collector.sflow import decoder as full
from collector.sflow.flows import FlowKey, flow_key
from collector.sflow.headers import IPV6_EXT_HEADERS, MAX_VLAN_TAGS, VLAN_TPIDS
from collector.sflow.lp import U32_UNKNOWN, U64_UNKNOWN, f32
from collector.sflow.records import (
    CounterRecord,
    Datagram,
    DiscardSample,
    FlowSample,
    RecordValue,
)
from collector.sflow.structures import COUNTERS, Counter

native: Any
try:  # the native flow path, built by the install (setup.py); optional
    from collector.sflow import _flowscan as native  # type: ignore[attr-defined,no-redef]
except ImportError:  # pragma: no cover - depends on the install
    native = None

_U32x2 = Struct(">II")
_DG_TAIL = Struct(">IIII")
_FLOW_HDR = Struct(">8I")
_FLOW_X_HDR = Struct(">11I")
_CNT_HDR = Struct(">III")
_CNT_X_HDR = Struct(">IIII")
_HEADER_REC = Struct(">IIII")
_INT64_MAX = (1 << 63) - 1
_MAX_AGENT_CACHE = 65536


class Bail(Exception):
    """Something the full decoder reports as an error: decode this datagram the full way."""


# --------------------------------------------------------------- counter block templates
class BlockTemplate:
    """A fixed-layout block formatted from its value tuple with one ``str.format`` call when every
    float is finite and every integer fits int64. Unknown (all-ones) integers are left out with
    a template made once per pattern of unknown positions (agents repeat the same pattern,
    e.g. hsflowd's tcpMaxConn)."""

    __slots__ = ("floats", "ints_only", "names", "struct", "template", "_masked")

    def __init__(self, spec: Counter) -> None:
        assert spec.struct is not None
        self.struct = spec.struct
        self.floats = tuple(i for i, f in enumerate(spec.fields) if f.code == "f")
        self.ints_only = not self.floats
        self.names = tuple(
            f"{f.name}={{}}" if f.code == "f" else f"{f.name}={{}}i" for f in spec.fields
        )
        self.template = ",".join(self.names)
        self._masked: dict[tuple[int, ...], str] = {}

    def _without(self, vals: list[int | float]) -> str:
        """Template and values with the unknown integers left out (floats already zeroed)."""
        unknown = tuple(i for i, v in enumerate(vals) if v == U32_UNKNOWN or v == U64_UNKNOWN)
        tpl = self._masked.get(unknown)
        if tpl is None:
            skip = set(unknown)
            tpl = ",".join(n for i, n in enumerate(self.names) if i not in skip)
            if len(self._masked) < 64:
                self._masked[unknown] = tpl
        for i in reversed(unknown):
            del vals[i]
        return tpl

    def format(self, values: tuple[int | float, ...]) -> str | None:
        """The field set ("" when nothing is known), or None when the general formatter must
        handle these values (an integer beyond int64, a non-finite float)."""
        if self.ints_only:
            if U32_UNKNOWN in values or U64_UNKNOWN in values:
                vals: list[int | float] = list(values)
                tpl = self._without(vals)
                if vals and max(vals) > _INT64_MAX:
                    return None
                return tpl.format(*vals) if tpl else ""
            if max(values) > _INT64_MAX:
                return None
            return self.template.format(*values)
        vals = list(values)
        for i in self.floats:
            if not math.isfinite(vals[i]):
                return None
            vals[i] = 0  # a float must not pass for an unknown integer below
        if U32_UNKNOWN in vals or U64_UNKNOWN in vals:
            return None  # rare with floats (host_cpu): the general formatter
        if max(vals) > _INT64_MAX:
            return None
        for i in self.floats:
            vals[i] = f32(values[i])
        return self.template.format(*vals)


# Blocks a tuple can carry: fixed layout, no strings, no MACs (LACP's bytes take the dict path).
TEMPLATES: dict[int, BlockTemplate] = {
    tag: BlockTemplate(spec) for tag, spec in COUNTERS.items() if spec.fixed and not spec.macs
}
_STRUCTS: dict[int, tuple[Struct, int]] = {
    t: (b.struct, b.struct.size) for t, b in TEMPLATES.items()
}

# One flow sample: (key, frame length, sampling rate); one counter sample: (type, index,
# [(tag, values tuple | fields dict)]); a discard sample as the full decoder gives it.
FlowOp = tuple[FlowKey, int, int]
CounterOp = tuple[int, int, list[tuple[int, tuple[int | float, ...] | dict[str, RecordValue]]]]


class Parsed:
    """Everything one datagram contributes, read without side effects."""

    __slots__ = (
        "agent", "counters", "data", "discards", "flows", "native_flows", "order", "samples",
        "sequence", "sub_agent", "unknown", "uptime",
    )  # fmt: skip

    def __init__(self) -> None:
        self.flows: list[FlowOp] = []
        self.counters: list[CounterOp] = []
        self.discards: list[DiscardSample] = []
        self.order: list[int] = []  # 0 flow, 1 counter, 2 discard: the datagram's sample order
        self.samples = 0
        self.unknown = 0
        self.agent = ""
        self.sub_agent = 0
        self.sequence = 0
        self.uptime = 0
        self.native_flows = 0  # flow samples native.apply() adds from ``data``
        self.data = b""


class FastReader:
    """Pure: bytes → Parsed, or raises Bail. Caches agent address text per raw address.

    With the native module (``use_native``), its scan() checks the framing and takes the plain
    Ethernet flow samples; this class reads the samples it lists, exactly as without it."""

    def __init__(self, use_native: bool = True) -> None:
        self.native: Any = native if use_native else None
        self._agents: dict[bytes, str] = {}
        self._shell = Datagram(0, 5, 1, "", 0, 0, 0, 0)

    def _agent(self, raw: bytes) -> str:
        text = self._agents.get(raw)
        if text is None:
            text = inet_ntoa(raw) if len(raw) == 4 else inet_ntop(AF_INET6, raw)
            if len(self._agents) >= _MAX_AGENT_CACHE:
                self._agents.clear()  # bounded under a spoofing flood
            self._agents[raw] = text
        return text

    def read(self, data: bytes) -> Parsed:
        if self.native is not None:
            return self._read_native(data)
        return self._read(data)

    def _read_native(self, data: bytes) -> Parsed:
        res = self.native.scan(data)
        if res is None:
            raise Bail
        agent_raw, sub_agent, sequence, uptime, declared, unknown, n_native, others = res
        p = Parsed()
        p.agent = agent = self._agent(agent_raw)
        p.sub_agent, p.sequence, p.uptime = sub_agent, sequence, uptime
        p.samples = declared
        p.unknown = unknown
        p.native_flows = n_native
        p.data = data
        for tag, start, end in others:
            self._sample(p, agent, data, start, end, tag)
        return p

    def _sample(self, p: Parsed, agent: str, data: bytes, start: int, end: int, tag: int) -> None:
        if tag == 1 or tag == 3:
            p.flows.append(self._flow(agent, data, start, end, tag))
            p.order.append(0)
        elif tag == 2 or tag == 4:
            p.counters.append(self._counters(p, data, start, end, tag))
            p.order.append(1)
        elif tag == 5:
            discard = self._full_sample(full._discard_sample, data, start, end)
            assert isinstance(discard, DiscardSample)
            p.discards.append(discard)
            p.order.append(2)
        else:  # rtmetric / rtflow: decoded to be checked (and counted), nothing written
            self._full_sample(full._SAMPLE_FNS[tag], data, start, end)

    def _read(self, data: bytes) -> Parsed:
        size = len(data)
        if size < 28:
            raise Bail
        version, address_type = _U32x2.unpack_from(data, 0)
        if version != 5:
            raise Bail
        if address_type == 1:
            off = 12
        elif address_type == 2:
            off = 24
        else:
            raise Bail
        if size < off + 16:
            raise Bail
        p = Parsed()
        p.agent = agent = self._agent(data[8:off])
        p.sub_agent, p.sequence, p.uptime, declared = _DG_TAIL.unpack_from(data, off)
        if declared > full.MAX_SAMPLES:
            raise Bail
        off += 16
        for _ in range(declared):
            if off + 8 > size:
                raise Bail
            tag, length = _U32x2.unpack_from(data, off)
            start = off + 8
            end = start + length
            if end > size:
                raise Bail
            if 1 <= tag <= 5 or tag == full.SAMPLE_RTMETRIC or tag == full.SAMPLE_RTFLOW:
                self._sample(p, agent, data, start, end, tag)
            else:
                p.unknown += 1
            p.samples += 1
            off = start + ((length + 3) & ~3)
        if off < size:
            raise Bail  # trailing bytes: the full decoder reports them
        return p

    # ----------------------------------------------------------------- flows
    def _flow(self, agent: str, data: bytes, off: int, end: int, tag: int) -> FlowOp:
        if tag == 1:
            if off + 32 > end:
                raise Bail
            hdr = _FLOW_HDR.unpack_from(data, off)
            rate, n = hdr[2], hdr[7]
            rec = off + 32
        else:
            if off + 44 > end:
                raise Bail
            hdr = _FLOW_X_HDR.unpack_from(data, off)
            rate, n = hdr[3], hdr[10]
            rec = off + 44
        if n > full.MAX_RECORDS:
            raise Bail
        key: FlowKey | None = None
        frame_length = 0
        switch_vlan = 0
        for _ in range(n):
            if rec + 8 > end:
                raise Bail
            rtag, rlen = _U32x2.unpack_from(data, rec)
            start = rec + 8
            stop = start + rlen
            if stop > end:
                raise Bail
            if rtag == 1 and key is None:
                parsed = _ethernet_key(agent, data, start, stop)
                if parsed is None:
                    return self._flow_full(agent, data, off, end, tag)
                key, frame_length = parsed
            elif rtag == 1001:
                if start + 16 > stop:
                    raise Bail
                switch_vlan = _U32x2.unpack_from(data, start)[0]
            else:
                return self._flow_full(agent, data, off, end, tag)
            rec = start + ((rlen + 3) & ~3)
        if key is None:
            return self._flow_full(agent, data, off, end, tag)
        if key[1] == "none" and switch_vlan:
            _, _, smac, dmac, sip, dip, proto = key
            key = (agent, str(switch_vlan), smac, dmac, sip, dip, proto)
        return key, frame_length, rate

    def _flow_full(self, agent: str, data: bytes, off: int, end: int, tag: int) -> FlowOp:
        fn = full._flow_sample if tag == 1 else full._flow_sample_expanded
        sample = self._full_sample(fn, data, off, end)
        assert isinstance(sample, FlowSample)
        key, frame_length = flow_key(agent, sample)
        return key, frame_length, sample.sampling_rate

    def _full_sample(self, fn: Callable[..., object], data: bytes, off: int, end: int) -> object:
        """One sample through the full decoder; any error it reports sends the datagram there."""
        shell = self._shell
        shell.errors.clear()
        shell.unknown_records = 0
        ctx = full._Ctx(shell)
        try:
            sample = fn(ctx, data, off, end)
        except full._Short as exc:
            raise Bail from exc
        if shell.errors or shell.unknown_records:
            raise Bail
        return sample

    # ----------------------------------------------------------------- counters
    def _counters(self, p: Parsed, data: bytes, off: int, end: int, tag: int) -> CounterOp:
        if tag == 2:
            if off + 12 > end:
                raise Bail
            _, source, n = _CNT_HDR.unpack_from(data, off)
            cls, idx = source >> 24, source & 0xFFFFFF
            rec = off + 12
        else:
            if off + 16 > end:
                raise Bail
            _, cls, idx, n = _CNT_X_HDR.unpack_from(data, off)
            rec = off + 16
        if n > full.MAX_RECORDS:
            raise Bail
        blocks: list[tuple[int, tuple[int | float, ...] | dict[str, RecordValue]]] = []
        structs = _STRUCTS
        fns = full.COUNTER_FNS
        for _ in range(n):
            if rec + 8 > end:
                raise Bail
            rtag, rlen = _U32x2.unpack_from(data, rec)
            start = rec + 8
            stop = start + rlen
            if stop > end:
                raise Bail
            st = structs.get(rtag)
            if st is not None and start + st[1] <= stop:
                blocks.append((rtag, st[0].unpack_from(data, start)))
            else:
                fn = fns.get(rtag)
                if fn is None:
                    p.unknown += 1
                else:
                    try:
                        blocks.append((rtag, fn(data, start, stop)))
                    except full._Short as exc:
                        raise Bail from exc
            rec = start + ((rlen + 3) & ~3)
        return cls, idx, blocks


def _ethernet_key(agent: str, data: bytes, off: int, end: int) -> tuple[FlowKey, int] | None:
    """(key, frame length) from a sampled Ethernet header carrying IPv4 or IPv6 (no extension
    header), exactly as headers.py + flows.flow_key would give it; None for anything else."""
    if off + 16 > end:
        return None
    protocol, frame_length, _stripped, header_length = _HEADER_REC.unpack_from(data, off)
    h0 = off + 16
    if protocol != 1 or header_length > end - h0 or header_length < 14:
        return None
    h = data[h0 : h0 + header_length]
    n = header_length
    ether_type = h[12] << 8 | h[13]
    pos = 14
    vlan = "none"
    if ether_type in VLAN_TPIDS:
        tags = 0
        while ether_type in VLAN_TPIDS:
            if tags == MAX_VLAN_TAGS or pos + 4 > n:
                return None
            if tags == 0:
                vlan = str((h[pos] << 8 | h[pos + 1]) & 0x0FFF)
            ether_type = h[pos + 2] << 8 | h[pos + 3]
            pos += 4
            tags += 1
    if ether_type == 0x0800:
        if pos + 20 > n or h[pos] >> 4 != 4 or (h[pos] & 0x0F) < 5:
            return None
        src = inet_ntoa(h[pos + 12 : pos + 16])
        dst = inet_ntoa(h[pos + 16 : pos + 20])
        proto = h[pos + 9]
    elif ether_type == 0x86DD:
        if pos + 40 > n or h[pos] >> 4 != 6:
            return None
        proto = h[pos + 6]
        if proto in IPV6_EXT_HEADERS:
            return None
        src = inet_ntop(AF_INET6, h[pos + 8 : pos + 24])
        dst = inet_ntop(AF_INET6, h[pos + 24 : pos + 40])
    else:
        return None
    key = (agent, vlan, h[6:12].hex(), h[0:6].hex(), src, dst, str(proto))
    return key, frame_length


def as_records(
    blocks: list[tuple[int, tuple[int | float, ...] | dict[str, RecordValue]]],
) -> list[CounterRecord]:
    """Counter blocks as the full decoder's records (for code that needs field names)."""
    out = []
    for tag, value in blocks:
        if isinstance(value, tuple):
            out.append(CounterRecord(tag, dict(zip(COUNTERS[tag].names, value, strict=True))))
        else:
            out.append(CounterRecord(tag, value))
    return out


__all__ = ["Bail", "BlockTemplate", "FastReader", "Parsed", "TEMPLATES", "as_records", "native"]
