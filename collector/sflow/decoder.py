"""Decode stage: one sFlow v5 datagram (UDP payload bytes) → typed records (records.py).

Pure function, no I/O. Robustness rules (faults-and-bad-inputs.md §2):
- every read is bounds-checked against the end of the enclosing structure, never the buffer;
- declared counts never preallocate and are capped (MAX_SAMPLES, MAX_RECORDS, MAX_LIST);
- sample and record lengths are always honoured: decode the known prefix, then continue at
  start + declared length padded to 4; nothing is read across a sample boundary;
- a known record shorter than its layout becomes BadRecord (counted in ``Datagram.errors``);
  unknown sample/record tags become UnknownSample/UnknownRecord (``Datagram.unknown_records``);
- only header-level failures (truncated header, version ≠ 5, bad agent address type) raise
  DecodeError.

Speed: fixed layouts are one precompiled ``Struct.unpack_from`` each; counter blocks are
table-driven from structures.COUNTERS (one decoder closure per structure, built at import).
"""

from __future__ import annotations

from collections.abc import Callable
from socket import AF_INET6, inet_ntoa, inet_ntop
from struct import Struct, unpack_from

from collector.sflow.flow_structures import FLOW_ROWS, Step
from collector.sflow.headers import decode_header_layers
from collector.sflow.records import (
    BadRecord,
    CounterRecord,
    CounterRecordT,
    CounterSample,
    Datagram,
    DiscardSample,
    FlowRecord,
    FlowRecordT,
    FlowSample,
    RecordValue,
    RtSample,
    SampledHeader,
    UnknownRecord,
    UnknownSample,
    tag_str,
)
from collector.sflow.structures import COUNTERS, Counter

MAX_SAMPLES = 1000
MAX_RECORDS = 1000
MAX_LIST = 1000  # AS-path segments/ASNs, communities, adapters, MACs, label stacks, lanes

SAMPLE_FLOW = 1
SAMPLE_COUNTERS = 2
SAMPLE_FLOW_EXPANDED = 3
SAMPLE_COUNTERS_EXPANDED = 4
SAMPLE_DISCARD = 5
SAMPLE_RTMETRIC = 4300 << 12 | 1002
SAMPLE_RTFLOW = 4300 << 12 | 1003


class DecodeError(ValueError):
    """The datagram header is unusable (truncated, version ≠ 5, bad agent address type)."""


class _Short(Exception):
    """A record's bytes do not fit its layout (internal; becomes BadRecord)."""


_U32 = Struct(">I")
_U32x2 = Struct(">II")
_U32x3 = Struct(">III")
_U32x4 = Struct(">IIII")
_U64 = Struct(">Q")
_DG_TAIL = Struct(">IIII")  # sub_agent_id, sequence, uptime, num_samples
_FLOW_HDR = Struct(">8I")  # seq, source_id, rate, pool, drops, input, output, n
_FLOW_X_HDR = Struct(">11I")  # seq, class, index, rate, pool, drops, in fmt/val, out fmt/val, n
_CNT_HDR = Struct(">III")  # seq, source_id, n
_CNT_X_HDR = Struct(">IIII")  # seq, class, index, n
_DISCARD_HDR = Struct(">8I")  # seq, class, index, drops, input, output, reason, n
_HEADER_REC = Struct(">IIII")  # protocol, frame_length, stripped, header_length
_ETHERNET_REC = Struct(">I6s2x6s2xI")  # length, src mac, dst mac, type
_IPV4_REC = Struct(">II4s4sIIII")  # length, protocol, src, dst, sport, dport, flags, tos
_IPV6_REC = Struct(">II16s16sIIII")  # ... priority instead of tos

_SFP_HEAD = Struct(">5I")  # module_id, total_lanes, supply_voltage, temperature, n lanes
_SFP_LANE = Struct(">10I")
SFP_LANE_FIELDS = (
    "lane_index", "tx_bias_current", "tx_power", "tx_power_min", "tx_power_max",
    "tx_wavelength", "rx_power", "rx_power_min", "rx_power_max", "rx_wavelength",
)  # fmt: skip

Layout = tuple[Struct, tuple[str, ...]]


def _layout(spec: tuple[tuple[str, str], ...]) -> Layout:
    return Struct(">" + "".join(code for _, code in spec)), tuple(name for name, _ in spec)


# ----------------------------------------------------------------------------------------
# Primitive readers (bounded by ``end``, raise _Short)
# ----------------------------------------------------------------------------------------


def _u32(data: bytes, off: int, end: int) -> int:
    if off + 4 > end:
        raise _Short(f"need 4 bytes at {off}, structure ends at {end}")
    return int(_U32.unpack_from(data, off)[0])


def _string(data: bytes, off: int, end: int) -> tuple[str, int]:
    """XDR string<>: returns (text, offset after padding). Invalid UTF-8 is replaced."""
    n = _u32(data, off, end)
    off += 4
    if n > end - off:
        raise _Short(f"string length {n} exceeds the {end - off} bytes left")
    text = data[off : off + n].decode("utf-8", "replace")
    return text, off + ((n + 3) & ~3)


def _address(data: bytes, off: int, end: int) -> tuple[str, int]:
    """sFlow address (type 1 IPv4, 2 IPv6) → (text, next offset)."""
    kind = _u32(data, off, end)
    off += 4
    if kind == 1:
        if off + 4 > end:
            raise _Short("truncated IPv4 address")
        return inet_ntoa(data[off : off + 4]), off + 4
    if kind == 2:
        if off + 16 > end:
            raise _Short("truncated IPv6 address")
        return inet_ntop(AF_INET6, data[off : off + 16]), off + 16
    raise _Short(f"unknown address type {kind}")


def _u32_list(data: bytes, off: int, end: int, what: str) -> tuple[list[int], int]:
    """uint32 count then that many uint32 (capped, bounded)."""
    n = _u32(data, off, end)
    off += 4
    if n > MAX_LIST:
        raise _Short(f"{what} count {n} > {MAX_LIST}")
    if off + 4 * n > end:
        raise _Short(f"{what} count {n} exceeds the record")
    return list(unpack_from(f">{n}I", data, off)), off + 4 * n


def _mac_text(mac: bytes) -> str:
    return mac.hex()


# ----------------------------------------------------------------------------------------
# Counter records
# ----------------------------------------------------------------------------------------


def _fixed(layout: Layout, data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    st, names = layout
    if off + st.size > end:
        raise _Short(f"{end - off} bytes < {st.size}-byte layout")
    return dict(zip(names, st.unpack_from(data, off), strict=True))


def _counter_host_descr(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    hostname, off = _string(data, off, end)
    if off + 16 > end:
        raise _Short("truncated uuid")
    uuid = data[off : off + 16].hex()
    off += 16
    machine_type = _u32(data, off, end)
    os_name = _u32(data, off + 4, end)
    os_release, _ = _string(data, off + 8, end)
    return {
        "hostname": hostname,
        # 8-4-4-4-12 lowercase, exactly as sflowtool prints UUIDs
        "uuid": f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}",
        "machine_type": machine_type,
        "os_name": os_name,
        "os_release": os_release,
    }


def _counter_adapters(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    count = _u32(data, off, end)
    off += 4
    if count > MAX_LIST:
        raise _Short(f"adapter count {count} > {MAX_LIST}")
    adapters: list[dict[str, RecordValue]] = []
    for _ in range(count):
        if off + 8 > end:
            raise _Short("truncated adapter")
        if_index, num_macs = _U32x2.unpack_from(data, off)
        off += 8
        if num_macs > MAX_LIST or off + 8 * num_macs > end:
            raise _Short(f"adapter MAC count {num_macs} exceeds the record")
        # each MAC is 6 bytes padded to 8
        macs = [data[o : o + 6].hex() for o in range(off, off + 8 * num_macs, 8)]
        off += 8 * num_macs
        adapters.append({"if_index": if_index, "macs": macs})
    return {"adapters": adapters}


def _counter_sfp(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + _SFP_HEAD.size > end:
        raise _Short("truncated SFP module")
    module_id, total_lanes, voltage, temperature, n = _SFP_HEAD.unpack_from(data, off)
    off += _SFP_HEAD.size
    if n > MAX_LIST or off + n * _SFP_LANE.size > end:
        raise _Short(f"SFP lane count {n} exceeds the record")
    lanes: list[dict[str, RecordValue]] = []
    for _ in range(n):
        lanes.append(dict(zip(SFP_LANE_FIELDS, _SFP_LANE.unpack_from(data, off), strict=True)))
        off += _SFP_LANE.size
    return {
        "module_id": module_id,
        "module_total_lanes": total_lanes,
        "module_supply_voltage": voltage,
        "module_temperature": temperature,
        "lanes": lanes,
    }


CounterFn = Callable[[bytes, int, int], dict[str, RecordValue]]
_CUSTOM_COUNTER_FNS: dict[int, CounterFn] = {
    10: _counter_sfp,
    2000: _counter_host_descr,
    2001: _counter_adapters,
}


def _fixed_counter(spec: Counter) -> CounterFn:
    """One Struct for the whole block (or its older short form), names zipped on."""
    st = spec.struct
    assert st is not None
    names = spec.names
    size = st.size
    short = spec.short_struct
    short_names = names[: spec.short] if spec.short else ()
    macs = spec.macs

    def decode(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
        if off + size <= end:
            fields: dict[str, RecordValue] = dict(
                zip(names, st.unpack_from(data, off), strict=True)
            )
        elif short is not None and off + short.size <= end:
            fields = dict(zip(short_names, short.unpack_from(data, off), strict=True))
        else:
            raise _Short(f"{end - off} bytes < {size}-byte layout")
        for name in macs:
            value = fields[name]
            assert isinstance(value, bytes)
            fields[name] = _mac_text(value)
        return fields

    return decode


def _mixed_counter(spec: Counter) -> CounterFn:
    """Strings and fixed fields interleaved (port_name, jvm_runtime, app_operations)."""
    steps: list[tuple[str, Struct | None]] = [
        (f.name, None if f.string_cap else Struct(">" + f.code)) for f in spec.fields
    ]

    def decode(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
        fields: dict[str, RecordValue] = {}
        for name, st in steps:
            if st is None:
                fields[name], off = _string(data, off, end)
            else:
                if off + st.size > end:
                    raise _Short(f"truncated {name}")
                fields[name] = st.unpack_from(data, off)[0]
                off += st.size
        return fields

    return decode


def _counter_fn(spec: Counter) -> CounterFn:
    if spec.custom:
        return _CUSTOM_COUNTER_FNS[spec.tag]
    return _fixed_counter(spec) if spec.fixed else _mixed_counter(spec)


# Every counter structure of structures.COUNTERS, tag → decoder.
COUNTER_FNS: dict[int, CounterFn] = {tag: _counter_fn(spec) for tag, spec in COUNTERS.items()}


# ----------------------------------------------------------------------------------------
# Flow records
# ----------------------------------------------------------------------------------------


def _flow_header(data: bytes, off: int, end: int) -> SampledHeader:
    if off + 16 > end:
        raise _Short(f"{end - off} bytes < 16-byte sampled_header prefix")
    protocol, frame_length, stripped, header_length = _HEADER_REC.unpack_from(data, off)
    off += 16
    available = end - off
    if header_length > available:
        # Keep the sample (frame_length still counts) but flag the inconsistency.
        rec = SampledHeader(protocol, frame_length, stripped, data[off:end])
        decode_header_layers(rec)
        rec.decode_error = f"header_length {header_length} > {available} bytes in record"
        return rec
    rec = SampledHeader(protocol, frame_length, stripped, data[off : off + header_length])
    decode_header_layers(rec)
    return rec


def _flow_ethernet(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + _ETHERNET_REC.size > end:
        raise _Short(f"{end - off} bytes < 24-byte sampled_ethernet")
    length, src, dst, eth_type = _ETHERNET_REC.unpack_from(data, off)
    return {"length": length, "src_mac": src, "dst_mac": dst, "eth_type": eth_type}


def _flow_ipv4(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + _IPV4_REC.size > end:
        raise _Short(f"{end - off} bytes < 32-byte sampled_ipv4")
    length, proto, src, dst, sport, dport, flags, tos = _IPV4_REC.unpack_from(data, off)
    return {
        "length": length, "protocol": proto, "src_ip": inet_ntoa(src), "dst_ip": inet_ntoa(dst),
        "src_port": sport, "dst_port": dport, "tcp_flags": flags, "tos": tos,
    }  # fmt: skip


def _flow_ipv6(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + _IPV6_REC.size > end:
        raise _Short(f"{end - off} bytes < 56-byte sampled_ipv6")
    length, proto, src, dst, sport, dport, flags, prio = _IPV6_REC.unpack_from(data, off)
    return {
        "length": length, "protocol": proto, "src_ip": inet_ntop(AF_INET6, src),
        "dst_ip": inet_ntop(AF_INET6, dst), "src_port": sport, "dst_port": dport,
        "tcp_flags": flags, "priority": prio,
    }  # fmt: skip


def _flow_switch(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + 16 > end:
        raise _Short(f"{end - off} bytes < 16-byte extended_switch")
    src_vlan, src_prio, dst_vlan, dst_prio = _U32x4.unpack_from(data, off)
    return {
        "src_vlan": src_vlan, "src_priority": src_prio,
        "dst_vlan": dst_vlan, "dst_priority": dst_prio,
    }  # fmt: skip


def _flow_router(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    next_hop, off = _address(data, off, end)
    if off + 8 > end:
        raise _Short("truncated extended_router masks")
    src_mask, dst_mask = _U32x2.unpack_from(data, off)
    return {"next_hop": next_hop, "src_mask_len": src_mask, "dst_mask_len": dst_mask}


def _flow_gateway(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    next_hop, off = _address(data, off, end)
    if off + 16 > end:
        raise _Short("truncated extended_gateway")
    my_as, src_as, src_peer_as, n_segments = _U32x4.unpack_from(data, off)
    off += 16
    if n_segments > MAX_LIST:
        raise _Short(f"AS-path segment count {n_segments} > {MAX_LIST}")
    segments: list[dict[str, RecordValue]] = []
    for _ in range(n_segments):
        seg_type = _u32(data, off, end)
        asns, off = _u32_list(data, off + 4, end, "AS-path segment")
        segments.append({"type": seg_type, "asns": asns})
    communities, off = _u32_list(data, off, end, "community")
    local_pref = _u32(data, off, end)
    return {
        "next_hop": next_hop, "as": my_as, "src_as": src_as, "src_peer_as": src_peer_as,
        "dst_as_path": segments, "communities": communities, "local_pref": local_pref,
    }  # fmt: skip


def _flow_user(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    src_charset = _u32(data, off, end)
    src_user, off = _string(data, off + 4, end)
    dst_charset = _u32(data, off, end)
    dst_user, _ = _string(data, off + 4, end)
    return {
        "src_charset": src_charset, "src_user": src_user,
        "dst_charset": dst_charset, "dst_user": dst_user,
    }  # fmt: skip


def _flow_url(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    direction = _u32(data, off, end)
    url, off = _string(data, off + 4, end)
    host, _ = _string(data, off, end)
    return {"direction": direction, "url": url, "host": host}


def _flow_mpls(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    next_hop, off = _address(data, off, end)
    in_stack, off = _u32_list(data, off, end, "MPLS in-stack")
    out_stack, _ = _u32_list(data, off, end, "MPLS out-stack")
    return {"next_hop": next_hop, "in_stack": in_stack, "out_stack": out_stack}


def _flow_nat(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    src, off = _address(data, off, end)
    dst, _ = _address(data, off, end)
    return {"src_address": src, "dst_address": dst}


def _flow_nat_port(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + 8 > end:
        raise _Short("truncated extended_nat_port")
    src_port, dst_port = _U32x2.unpack_from(data, off)
    return {"src_port": src_port, "dst_port": dst_port}


def _one_u32(name: str) -> Callable[[bytes, int, int], dict[str, RecordValue]]:
    def decode(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
        return {name: _u32(data, off, end)}

    return decode


def _one_string(name: str) -> Callable[[bytes, int, int], dict[str, RecordValue]]:
    def decode(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
        return {name: _string(data, off, end)[0]}

    return decode


def _flow_acl(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    number = _u32(data, off, end)
    name, off = _string(data, off + 4, end)
    direction = _u32(data, off, end)
    return {"number": number, "name": name, "direction": direction}


def _flow_hw_trap(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    group, off = _string(data, off, end)
    trap, _ = _string(data, off, end)
    return {"group": group, "trap": trap}


def _flow_timestamp(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + 8 > end:
        raise _Short("truncated extended_timestamp")
    return {"nanoseconds": int(_U64.unpack_from(data, off)[0])}


_SOCKET4 = Struct(">I4s4sII")


def _flow_socket4(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + 20 > end:
        raise _Short(f"{end - off} bytes < 20-byte extended_socket_ipv4")
    proto, local, remote, lport, rport = _SOCKET4.unpack_from(data, off)
    return {
        "protocol": proto, "local_ip": inet_ntoa(local), "remote_ip": inet_ntoa(remote),
        "local_port": lport, "remote_port": rport,
    }  # fmt: skip


_SOCKET6 = Struct(">I16s16sII")


def _flow_socket6(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    if off + _SOCKET6.size > end:
        raise _Short(f"{end - off} bytes < 44-byte extended_socket_ipv6")
    proto, local, remote, lport, rport = _SOCKET6.unpack_from(data, off)
    return {
        "protocol": proto, "local_ip": inet_ntop(AF_INET6, local),
        "remote_ip": inet_ntop(AF_INET6, remote), "local_port": lport, "remote_port": rport,
    }  # fmt: skip


_TCP_INFO = _layout(tuple((n, "I") for n in (
    "dirn", "snd_mss", "rcv_mss", "unacked", "lost", "retrans", "pmtu", "rtt", "rttvar",
    "snd_cwnd", "reordering", "min_rtt",
)))  # fmt: skip
_ENTITIES = _layout(tuple((n, "I") for n in ("src_class", "src_index", "dst_class", "dst_index")))


def _fixed_flow(layout: Layout) -> Callable[[bytes, int, int], dict[str, RecordValue]]:
    def decode(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
        return _fixed(layout, data, off, end)

    return decode


def _flow_row(steps: tuple[Step, ...]) -> Callable[[bytes, int, int], dict[str, RecordValue]]:
    """A flow record of flow_structures.FLOW_ROWS: fields in order, bounded by ``end``."""
    plan = [(s.kind, s.name) for s in steps if s.kind != "="]

    def decode(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
        fields: dict[str, RecordValue] = {}
        for kind, name in plan:
            if kind == "Q":
                if off + 8 > end:
                    raise _Short(f"truncated {name}")
                fields[name] = int(_U64.unpack_from(data, off)[0])
                off += 8
            elif kind == "mac":
                if off + 8 > end:
                    raise _Short(f"truncated {name}")
                fields[name] = data[off : off + 6].hex()
                off += 8
            elif kind[0] == "s" or kind == "urlkey":
                fields[name], off = _string(data, off, end)
            else:  # I, appstatus
                fields[name] = _u32(data, off, end)
                off += 4
        return fields

    return decode


def _flow_vlan_tunnel(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    """0:1012 extended_vlantunnel: the stack of 802.1Q tags (TPID << 16 | TCI) stripped."""
    stack, _ = _u32_list(data, off, end, "VLAN tunnel stack")
    return {"stack": stack}


def _flow_wifi_payload(data: bytes, off: int, end: int) -> dict[str, RecordValue]:
    """0:1013 extended_80211_payload: cipher suite, then a sampled header of the payload."""
    cipher_suite = _u32(data, off, end)
    return {"cipher_suite": cipher_suite, "header": _flow_header(data, off + 4, end)}  # type: ignore[dict-item]


FlowFn = Callable[[bytes, int, int], dict[str, RecordValue]]
_FLOW_FNS: dict[int, FlowFn] = {
    2: _flow_ethernet,
    3: _flow_ipv4,
    4: _flow_ipv6,
    1001: _flow_switch,
    1002: _flow_router,
    1003: _flow_gateway,
    1004: _flow_user,
    1005: _flow_url,
    1006: _flow_mpls,
    1007: _flow_nat,
    1012: _flow_vlan_tunnel,
    1013: _flow_wifi_payload,
    1020: _flow_nat_port,
    # tunnels (sflow_tunnels.txt) reuse the sampled_ethernet/ipv4/ipv6 layouts
    1021: _flow_ethernet,
    1022: _flow_ethernet,
    1023: _flow_ipv4,
    1024: _flow_ipv4,
    1025: _flow_ipv6,
    1026: _flow_ipv6,
    1027: _one_u32("inner_header_offset"),
    1028: _one_u32("inner_header_offset"),
    1029: _one_u32("vni"),
    1030: _one_u32("vni"),
    # drops spec extensions (sflow_drops.txt)
    1036: _one_u32("queue"),
    1037: _flow_acl,
    1038: _one_string("symbol"),
    1039: _one_u32("delay"),
    1040: _one_u32("depth"),
    1041: _flow_hw_trap,
    1042: _one_string("reason"),
    1043: _flow_timestamp,
    2100: _flow_socket4,
    2101: _flow_socket6,
    2102: _flow_socket4,
    2103: _flow_socket6,
    2209: _fixed_flow(_TCP_INFO),
    2210: _fixed_flow(_ENTITIES),
    **{tag: _flow_row(steps) for tag, steps in FLOW_ROWS.items()},
}


# ----------------------------------------------------------------------------------------
# Record lists
# ----------------------------------------------------------------------------------------


class _Ctx:
    """Per-datagram accounting shared by the sample decoders."""

    __slots__ = ("dg", "index", "tag")

    def __init__(self, dg: Datagram) -> None:
        self.dg = dg
        self.index = 0
        self.tag = 0

    def error(self, message: str) -> None:
        # formatted only when something is wrong: keeps tag_str() off the hot path
        self.dg.errors.append(f"sample {self.index} ({tag_str(self.tag)}): {message}")


def _flow_records(ctx: _Ctx, data: bytes, off: int, end: int, declared: int) -> list[FlowRecordT]:
    """Decode up to ``declared`` flow records in [off, end)."""
    records: list[FlowRecordT] = []
    wanted = declared if declared <= MAX_RECORDS else MAX_RECORDS
    for i in range(wanted):
        if off + 8 > end:
            ctx.error(f"{declared} records declared, {i} present")
            return records
        tag, length = _U32x2.unpack_from(data, off)
        start = off + 8
        stop = start + length
        if stop > end:
            ctx.error(f"record {i} ({tag_str(tag)}) length {length} runs past the sample end")
            return records
        try:
            if tag == 1:
                records.append(_flow_header(data, start, stop))
            else:
                fn = _FLOW_FNS.get(tag)
                if fn is None:
                    records.append(UnknownRecord(tag, length))
                    ctx.dg.unknown_records += 1
                else:
                    records.append(FlowRecord(tag, fn(data, start, stop)))
        except _Short as exc:
            records.append(BadRecord(tag, length, str(exc)))
            ctx.error(f"record {i} ({tag_str(tag)}): {exc}")
        off = start + ((length + 3) & ~3)
    if declared > MAX_RECORDS:
        ctx.error(f"record count {declared} capped at {MAX_RECORDS}")
    return records


def _counter_records(
    ctx: _Ctx, data: bytes, off: int, end: int, declared: int
) -> list[CounterRecordT]:
    """Decode up to ``declared`` counter records in [off, end)."""
    records: list[CounterRecordT] = []
    wanted = declared if declared <= MAX_RECORDS else MAX_RECORDS
    for i in range(wanted):
        if off + 8 > end:
            ctx.error(f"{declared} records declared, {i} present")
            return records
        tag, length = _U32x2.unpack_from(data, off)
        start = off + 8
        stop = start + length
        if stop > end:
            ctx.error(f"record {i} ({tag_str(tag)}) length {length} runs past the sample end")
            return records
        try:
            fn = COUNTER_FNS.get(tag)
            if fn is None:
                records.append(UnknownRecord(tag, length))
                ctx.dg.unknown_records += 1
            else:
                records.append(CounterRecord(tag, fn(data, start, stop)))
        except _Short as exc:
            records.append(BadRecord(tag, length, str(exc)))
            ctx.error(f"record {i} ({tag_str(tag)}): {exc}")
        off = start + ((length + 3) & ~3)
    if declared > MAX_RECORDS:
        ctx.error(f"record count {declared} capped at {MAX_RECORDS}")
    return records


# ----------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------


def _flow_sample(ctx: _Ctx, data: bytes, off: int, end: int) -> FlowSample:
    if off + 32 > end:
        raise _Short(f"{end - off} bytes < 32-byte flow_sample header")
    seq, source, rate, pool, drops, inp, outp, n = _FLOW_HDR.unpack_from(data, off)
    sample = FlowSample(
        SAMPLE_FLOW, seq, source >> 24, source & 0xFFFFFF, rate, pool, drops,
        inp >> 30, inp & 0x3FFFFFFF, outp >> 30, outp & 0x3FFFFFFF,
    )  # fmt: skip
    sample.records = _flow_records(ctx, data, off + 32, end, n)
    return sample


def _flow_sample_expanded(ctx: _Ctx, data: bytes, off: int, end: int) -> FlowSample:
    if off + 44 > end:
        raise _Short(f"{end - off} bytes < 44-byte flow_sample_expanded header")
    seq, cls, idx, rate, pool, drops, in_f, in_v, out_f, out_v, n = _FLOW_X_HDR.unpack_from(
        data, off
    )
    sample = FlowSample(SAMPLE_FLOW_EXPANDED, seq, cls, idx, rate, pool, drops,
                        in_f, in_v, out_f, out_v)  # fmt: skip
    sample.records = _flow_records(ctx, data, off + 44, end, n)
    return sample


def _counter_sample(ctx: _Ctx, data: bytes, off: int, end: int) -> CounterSample:
    if off + 12 > end:
        raise _Short(f"{end - off} bytes < 12-byte counters_sample header")
    seq, source, n = _CNT_HDR.unpack_from(data, off)
    sample = CounterSample(SAMPLE_COUNTERS, seq, source >> 24, source & 0xFFFFFF)
    sample.records = _counter_records(ctx, data, off + 12, end, n)
    return sample


def _counter_sample_expanded(ctx: _Ctx, data: bytes, off: int, end: int) -> CounterSample:
    if off + 16 > end:
        raise _Short(f"{end - off} bytes < 16-byte counters_sample_expanded header")
    seq, cls, idx, n = _CNT_X_HDR.unpack_from(data, off)
    sample = CounterSample(SAMPLE_COUNTERS_EXPANDED, seq, cls, idx)
    sample.records = _counter_records(ctx, data, off + 16, end, n)
    return sample


def _discard_sample(ctx: _Ctx, data: bytes, off: int, end: int) -> DiscardSample:
    if off + 32 > end:
        raise _Short(f"{end - off} bytes < 32-byte discarded_packet header")
    seq, cls, idx, drops, inp, outp, reason, n = _DISCARD_HDR.unpack_from(data, off)
    sample = DiscardSample(SAMPLE_DISCARD, seq, cls, idx, drops, inp, outp, reason)
    sample.records = _flow_records(ctx, data, off + 32, end, n)
    return sample


_F32 = Struct(">f")
_F64 = Struct(">d")


# rtmetric / rtflow value types → how they are read (sflowtool readRTMetric / readRTFlow)
RT_METRIC_KINDS = {0: "s", 1: "I", 2: "Q", 3: "I", 4: "Q", 5: "f", 6: "d"}
RT_FLOW_KINDS = {0: "s", 1: "mac", 2: "ip", 3: "ip6", 4: "I", 5: "Q", 6: "f", 7: "d"}
_RT_SIZES = {"I": 4, "Q": 8, "f": 4, "d": 8, "mac": 8, "ip": 4, "ip6": 16}


def _rt_value(kind: str, data: bytes, off: int) -> RecordValue:
    if kind == "I":
        return int(_U32.unpack_from(data, off)[0])
    if kind == "Q":
        return int(_U64.unpack_from(data, off)[0])
    if kind == "f":
        return float(_F32.unpack_from(data, off)[0])
    if kind == "d":
        return float(_F64.unpack_from(data, off)[0])
    if kind == "mac":
        return data[off : off + 6].hex()
    if kind == "ip":
        return inet_ntoa(data[off : off + 4])
    return inet_ntop(AF_INET6, data[off : off + 16])


def _rt_sampler(flow: bool) -> Callable[[_Ctx, bytes, int, int], RtSample]:
    """rtmetric (flow=False) or rtflow: a data-source name, for rtflow the sampling rate and
    pool, then (name, type, value) triples; an unknown type ends the sample as an error."""
    kinds = RT_FLOW_KINDS if flow else RT_METRIC_KINDS

    def decode(ctx: _Ctx, data: bytes, off: int, end: int) -> RtSample:
        del ctx
        name, off = _string(data, off, end)
        sample = RtSample(SAMPLE_RTFLOW if flow else SAMPLE_RTMETRIC, name)
        if flow:
            sample.sampling_rate = _u32(data, off, end)
            sample.sample_pool = _u32(data, off + 4, end)
            off += 8
        n = _u32(data, off, end)
        off += 4
        if n > MAX_LIST:
            raise _Short(f"{n} values > {MAX_LIST}")
        for _ in range(n):
            key, off = _string(data, off, end)
            code = _u32(data, off, end)
            off += 4
            kind = kinds.get(code)
            if kind is None:
                raise _Short(f"unknown value type {code} for {key!r}")
            value: RecordValue
            if kind == "s":
                value, off = _string(data, off, end)
            else:
                size = _RT_SIZES[kind]
                if off + size > end:
                    raise _Short(f"truncated value of {key!r}")
                value = _rt_value(kind, data, off)
                off += size
            sample.values.append((code, key, value))
        return sample

    return decode


SampleFn = Callable[[_Ctx, bytes, int, int], FlowSample | CounterSample | DiscardSample | RtSample]
_SAMPLE_FNS: dict[int, SampleFn] = {
    SAMPLE_FLOW: _flow_sample,
    SAMPLE_COUNTERS: _counter_sample,
    SAMPLE_FLOW_EXPANDED: _flow_sample_expanded,
    SAMPLE_COUNTERS_EXPANDED: _counter_sample_expanded,
    SAMPLE_DISCARD: _discard_sample,
    SAMPLE_RTMETRIC: _rt_sampler(flow=False),
    SAMPLE_RTFLOW: _rt_sampler(flow=True),
}


# ----------------------------------------------------------------------------------------
# Datagram
# ----------------------------------------------------------------------------------------


def _datagram_header(data: bytes) -> tuple[Datagram, int]:
    """Parse the fixed datagram header; returns the Datagram shell and the first sample offset."""
    size = len(data)
    if size < 8:
        raise DecodeError(f"datagram of {size} bytes is shorter than version + address type")
    version, address_type = _U32x2.unpack_from(data, 0)
    if version != 5:
        raise DecodeError(f"unsupported sFlow version {version}")
    if address_type == 1:
        if size < 12:
            raise DecodeError("truncated IPv4 agent address")
        agent = inet_ntoa(data[8:12])
        off = 12
    elif address_type == 2:
        if size < 24:
            raise DecodeError("truncated IPv6 agent address")
        agent = inet_ntop(AF_INET6, data[8:24])
        off = 24
    else:
        # sflowtool also rejects these; type 0 (unknown) cannot be attributed to an agent.
        raise DecodeError(f"unsupported agent address type {address_type}")
    if size < off + 16:
        raise DecodeError("truncated datagram header")
    sub_agent, sequence, uptime, declared = _DG_TAIL.unpack_from(data, off)
    dg = Datagram(size, version, address_type, agent, sub_agent, sequence, uptime, declared)
    return dg, off + 16


def decode_datagram(data: bytes) -> Datagram:
    """Decode one sFlow v5 datagram; raises DecodeError only for header-level failures."""
    dg, off = _datagram_header(data)
    size = len(data)
    ctx = _Ctx(dg)
    declared = dg.samples_declared
    wanted = declared if declared <= MAX_SAMPLES else MAX_SAMPLES
    samples = dg.samples
    for i in range(wanted):
        if off + 8 > size:
            dg.errors.append(f"{declared} samples declared, {i} present")
            break
        tag, length = _U32x2.unpack_from(data, off)
        start = off + 8
        end = start + length
        if end > size:
            dg.errors.append(
                f"sample {i} ({tag_str(tag)}) length {length} exceeds the {size - start} bytes left"
            )
            break
        fn = _SAMPLE_FNS.get(tag)
        if fn is None:
            samples.append(UnknownSample(tag, length))
            dg.unknown_records += 1
        else:
            ctx.index = i
            ctx.tag = tag
            try:
                samples.append(fn(ctx, data, start, end))
            except _Short as exc:
                ctx.error(str(exc))
        off = start + ((length + 3) & ~3)
    else:
        if declared > MAX_SAMPLES:
            dg.errors.append(f"sample count {declared} capped at {MAX_SAMPLES}")
        elif off < size:
            dg.errors.append(f"{size - off} trailing bytes after {declared} samples")
    return dg
