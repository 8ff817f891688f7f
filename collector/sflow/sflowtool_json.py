"""Render stage: Datagram → the dict ``sflowtool -j`` (v6.11) prints, for golden comparison and CLI.

All values are strings and keys come in sflowtool's order, with sflowtool's quirks kept on
purpose so that output is byte-comparable:
- IPID is printed from the raw network-order field read as a little-endian integer;
- ``IPSize`` is a uint32 difference printed with ``%d`` (can go negative);
- sampled headers are re-walked here the way sflowtool's decodeLinkLayer/decodeIPV4/decodeIPV6
  do it (e.g. IPv6 extension lengths in 8-byte units even for AH, no ICMPv6 fields, IPX/SNAP
  peeks), independently of the fast path in headers.py which follows the RFCs instead;
- percentages print ``%.2f`` of a float32 division, XDR floats ``%.3f``;
- strings are cut at the first NUL and at sflowtool's buffer sizes;
- records sflowtool does not decode (e.g. 0:1037, 0:1043) render as the tag alone.

Keys that depend on capture time or source (datagramSourceIP, unixSecondsUTC, localtime,
pcapTimestamp) are not emitted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from collector.sflow.decoder import SAMPLE_RTFLOW
from collector.sflow.drop_reasons import reason_name
from collector.sflow.flow_structures import APP_STATUS, FLOW_ROWS, Step, url_encode
from collector.sflow.records import (
    BadRecord,
    CounterRecord,
    CounterSample,
    Datagram,
    DiscardSample,
    FlowRecord,
    FlowSample,
    RecordValue,
    RtSample,
    SampledHeader,
    UnknownRecord,
    UnknownSample,
    tag_str,
)
from collector.sflow.structures import COUNTERS, Counter

Out = dict[str, Any]
_F32 = struct.Struct(">f")
_MAX_HEX_BYTES = 682  # sflowtool's 2048-byte SFStr holds 682 "XX-" groups

_SFP_KEYS = ("index", "tx_bias_current_uA", "tx_power_uW.%u", "tx_power_min_uW.%u",
             "tx_power_max_uW.%u", "tx_wavelength_nM.%u", "rx_power_uW.%u", "rx_power_min_uW.%u",
             "rx_power_max_uW.%u", "rx_wavelength_nM.%u")  # fmt: skip
_PORT_FORMATS = {0: "{}", 1: "dropCode {}", 2: "multiple {}", 3: "format==3 {}"}
_VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100, 0x9200, 0x9300))
_IPV6_EXT = frozenset((0, 43, 44, 51, 60))


def to_sflowtool(dg: Datagram) -> dict[str, Any]:
    """Datagram → dict with sflowtool -j keys, order and string formatting."""
    return {
        "datagramSize": str(dg.size),
        "datagramVersion": str(dg.version),
        "agentSubId": str(dg.sub_agent_id),
        "agent": _long_ip6(dg.agent) if dg.agent_address_type == 2 else dg.agent,
        "packetSequenceNo": str(dg.sequence),
        "sysUpTime": str(dg.uptime_ms),
        "samplesInPacket": str(dg.samples_declared),
        "samples": [_sample(s) for s in dg.samples],
    }


# ----------------------------------------------------------------------------------------
# formatting helpers
# ----------------------------------------------------------------------------------------


def _long_ip6(text: str) -> str:
    """sflowtool prints IPv6 uncompressed: eight 4-digit lowercase groups."""
    import ipaddress

    return ipaddress.IPv6Address(text).exploded


def _ip6_bytes(raw: bytes) -> str:
    h = raw.hex()
    return ":".join(h[i : i + 4] for i in range(0, 32, 4))


def _cstr(text: RecordValue, cap: int) -> str:
    """A C string: cut at NUL and at ``cap - 1`` characters (sflowtool getString)."""
    s = str(text)
    nul = s.find("\0")
    if nul >= 0:
        s = s[:nul]
    return s[: cap - 1]


def _percent(value: RecordValue) -> str:
    assert isinstance(value, int)
    if value == 0xFFFFFFFF:
        return "unknown"
    # (float)hundredths / (float)100.0 in single precision, printed with %.2f
    as_f32 = _F32.unpack(_F32.pack(float(value)))[0]
    quotient = _F32.unpack(_F32.pack(as_f32 / 100.0))[0]
    return f"{quotient:.2f}"


def _port(fmt: int, value: int) -> str:
    template = _PORT_FORMATS.get(fmt)
    return template.format(value) if template is not None else ""


def _source(cls: int, idx: int) -> str:
    return f"{cls}:{idx}"


# ----------------------------------------------------------------------------------------
# samples
# ----------------------------------------------------------------------------------------


_RT_METRIC_PREFIX = ("rtmetric_string_", "rtmetric_counter32_", "rtmetric_counter64_",
                     "rtmetric_gauge32_", "rtmetric_gauge64_", "rtmetric_gaugeFloat_",
                     "rtmetric_gaugeDouble_")  # fmt: skip
_RT_FLOW_PREFIX = ("rtflow_string_", "rtflow_mac_", "rtflow_ip_", "rtflow_ip6_", "rtflow_int32_",
                   "rtflow_int64_", "rtflow_float_", "rtflow_double_")  # fmt: skip


def _rt(out: Out, sample: RtSample) -> None:
    """readRTMetric / readRTFlow: keys are a type prefix + the value's own name."""
    flow = sample.tag == SAMPLE_RTFLOW
    out["sampleType"] = "RTFLOW" if flow else "RTMETRIC"
    if sample.datasource:
        out["rtflow_datasource_name" if flow else "rtmetric_datasource_name"] = _cstr(
            sample.datasource, 64
        )
    if flow:
        out["rtflow_sampling_rate"] = str(sample.sampling_rate)
        out["rtflow_sample_pool"] = str(sample.sample_pool)
    prefixes = _RT_FLOW_PREFIX if flow else _RT_METRIC_PREFIX
    for code, name, value in sample.values:
        key = prefixes[code] + _cstr(name, 64)
        if isinstance(value, float):
            out[key] = f"{value:.3f}"
        elif code == 0:
            out[key] = _cstr(value, 255)
        elif flow and code == 3:
            out[key] = _long_ip6(str(value))
        else:
            out[key] = str(value)


def _sample(sample: FlowSample | CounterSample | DiscardSample | RtSample | UnknownSample) -> Out:
    out: Out = {"sampleType_tag": tag_str(sample.tag)}
    if isinstance(sample, RtSample):
        _rt(out, sample)
        return out
    if isinstance(sample, FlowSample):
        out["sampleType"] = "FLOWSAMPLE"
        out["sampleSequenceNo"] = str(sample.sequence)
        out["sourceId"] = _source(sample.source_id_type, sample.source_id_index)
        out["meanSkipCount"] = str(sample.sampling_rate)
        out["samplePool"] = str(sample.sample_pool)
        out["dropEvents"] = str(sample.drops)
        out["inputPort"] = _port(sample.input_format, sample.input_value)
        out["outputPort"] = _port(sample.output_format, sample.output_value)
        out["elements"] = [_flow_element(r, "") for r in sample.records]
    elif isinstance(sample, CounterSample):
        out["sampleType"] = "COUNTERSSAMPLE"
        out["sampleSequenceNo"] = str(sample.sequence)
        out["sourceId"] = _source(sample.source_id_type, sample.source_id_index)
        out["elements"] = [_counter_element(r) for r in sample.records]
    elif isinstance(sample, DiscardSample):
        out["sampleType"] = "DISCARD"
        out["sampleSequenceNo"] = str(sample.sequence)
        out["sourceId"] = _source(sample.source_id_type, sample.source_id_index)
        out["dropEvents"] = str(sample.drops)
        # sflowtool never sets a port format for discard samples: always plain "%u"
        out["inputPort"] = str(sample.input_ifindex)
        out["outputPort"] = str(sample.output_ifindex)
        out["discardCode"] = str(sample.reason)
        out["discardReason"] = reason_name(sample.reason) or "NotFound"
        out["elements"] = [_flow_element(r, "discarded_") for r in sample.records]
    return out


# ----------------------------------------------------------------------------------------
# counter blocks
# ----------------------------------------------------------------------------------------


def _counter_element(rec: CounterRecord | UnknownRecord | BadRecord) -> Out:
    out: Out = {"counterBlock_tag": tag_str(rec.tag)}
    if not isinstance(rec, CounterRecord):
        return out
    special = _COUNTER_RENDERERS.get(rec.tag)
    if special is not None:
        special(out, rec.fields)
        return out
    spec = COUNTERS.get(rec.tag)
    if spec is None:
        return out
    _render_table_block(out, spec, rec.fields)
    return out


def _render_table_block(out: Out, spec: Counter, values: dict[str, RecordValue]) -> None:
    """A block straight from the structures table: each field as sflowtool formats its code."""
    for fld in spec.fields:
        if fld.name not in values:
            continue  # the older short form of the block
        value = values[fld.name]
        code = fld.code
        if code == "pct":
            out[fld.key] = _percent(value)
        elif code == "f":
            assert isinstance(value, float)
            out[fld.key] = f"{value:.3f}"
        elif code == "hex64":
            assert isinstance(value, int)
            out[fld.key] = f"{value:016x}"
        elif fld.string_cap:
            if value:  # sflowtool prints a string only when it is not empty
                out[fld.key] = _cstr(value, fld.string_cap)
        else:
            out[fld.key] = str(value)


def _counter_host_descr(out: Out, f: dict[str, RecordValue]) -> None:
    hostname = _cstr(f["hostname"], 64)
    if f["hostname"]:
        out["hostname"] = hostname
    out["UUID"] = str(f["uuid"])
    out["machine_type"] = str(f["machine_type"])
    out["os_name"] = str(f["os_name"])
    if f["os_release"]:
        out["os_release"] = _cstr(f["os_release"], 32)


def _counter_adapters(out: Out, f: dict[str, RecordValue]) -> None:
    adapters = f["adapters"]
    assert isinstance(adapters, list)
    out["adaptor_list"] = [
        {"ifIndex": str(a["if_index"]), "MACs": str(len(a["macs"])), "mac_list": list(a["macs"])}
        for a in adapters
    ]


def _counter_sfp(out: Out, f: dict[str, RecordValue]) -> None:
    for name, key in (("module_id", "sfp_module_id"), ("module_total_lanes",
                      "sfp_module_total_lanes"), ("module_supply_voltage",
                      "sfp_module_supply_voltage"), ("module_temperature",
                      "sfp_module_temperature")):  # fmt: skip
        out[key] = str(f[name])
    lanes = f["lanes"]
    assert isinstance(lanes, list)
    out["sfp_module_active_lanes"] = str(len(lanes))
    rendered = []
    for n, lane in enumerate(lanes):
        obj: Out = {}
        for key, value in zip(_SFP_KEYS, lane.values(), strict=True):
            obj[key] = str(value)  # sflowtool prints each lane value twice in JSON mode
            obj[f"sfp_lane_{key}.{n}"] = str(value)
        rendered.append(obj)
    out["sfp_lanes"] = rendered


_COUNTER_RENDERERS: dict[int, Callable[[Out, dict[str, RecordValue]], None]] = {
    10: _counter_sfp,
    2000: _counter_host_descr,
    2001: _counter_adapters,
}


# ----------------------------------------------------------------------------------------
# flow records
# ----------------------------------------------------------------------------------------


def _flow_element(rec: SampledHeader | FlowRecord | UnknownRecord | BadRecord, p: str) -> Out:
    """One flow/discard element; ``p`` is sflowtool's field prefix ("discarded_" or "")."""
    if isinstance(rec, SampledHeader):
        out: Out = {p + "flowBlock_tag": "0:1"}  # SampledHeader is always 0:1
        _header(out, p, rec)
        return out
    out = {p + "flowBlock_tag": tag_str(rec.tag)}
    if isinstance(rec, FlowRecord):
        render = _FLOW_RENDERERS.get(rec.tag)
        if render is not None:
            render(out, p, rec.tag, rec.fields)
    return out


def _l4_from_struct(out: Out, p: str, f: dict[str, RecordValue]) -> None:
    proto = f["protocol"]
    if proto == 1:
        out[p + "ICMPType"] = str(f["dst_port"])
    elif proto == 6:
        out[p + "TCPSrcPort"] = str(f["src_port"])
        out[p + "TCPDstPort"] = str(f["dst_port"])
        out[p + "TCPFlags"] = str(f["tcp_flags"])
    elif proto == 17:
        out[p + "UDPSrcPort"] = str(f["src_port"])
        out[p + "UDPDstPort"] = str(f["dst_port"])


_TUNNEL_PREFIX = {
    1021: "tunnel_l2_out_", 1022: "tunnel_l2_in_", 1023: "tunnel_ipv4_out_",
    1024: "tunnel_ipv4_in_", 1025: "tunnel_ipv6_out_", 1026: "tunnel_ipv6_in_",
    1027: "out_", 1028: "in_", 1029: "out_", 1030: "in_",
}  # fmt: skip


def _r_ethernet(out: Out, p: str, tag: int, f: dict[str, RecordValue]) -> None:
    t = _TUNNEL_PREFIX.get(tag, "")
    out[p + "flowSampleType"] = t + "ETHERNET"
    q = p + t
    out[q + "ethernet_type"] = str(f["eth_type"])
    out[q + "ethernet_len"] = str(f["length"])
    src, dst = f["src_mac"], f["dst_mac"]
    assert isinstance(src, bytes) and isinstance(dst, bytes)
    out[q + "ethernet_src"] = src.hex()
    out[q + "ethernet_dst"] = dst.hex()


def _r_ipv4(out: Out, p: str, tag: int, f: dict[str, RecordValue]) -> None:
    t = _TUNNEL_PREFIX.get(tag, "")
    out[p + "flowSampleType"] = t + "IPV4"
    q = p + t
    out[q + "sampledPacketSize"] = str(f["length"])
    out[q + "IPSize"] = str(f["length"])
    out[q + "srcIP"] = str(f["src_ip"])
    out[q + "dstIP"] = str(f["dst_ip"])
    out[q + "IPProtocol"] = str(f["protocol"])
    out[q + "IPTOS"] = str(f["tos"])
    _l4_from_struct(out, q, f)


def _r_ipv6(out: Out, p: str, tag: int, f: dict[str, RecordValue]) -> None:
    t = _TUNNEL_PREFIX.get(tag, "")
    out[p + "flowSampleType"] = t + "IPV6"
    q = p + t
    out[q + "sampledPacketSize"] = str(f["length"])
    out[q + "IPSize"] = str(f["length"])
    out[q + "srcIP6"] = _long_ip6(str(f["src_ip"]))
    out[q + "dstIP6"] = _long_ip6(str(f["dst_ip"]))
    out[q + "IPProtocol"] = str(f["protocol"])
    out[q + "priority"] = str(f["priority"])
    _l4_from_struct(out, q, f)


def _addr(value: RecordValue) -> str:
    text = str(value)
    return _long_ip6(text) if ":" in text else text


def _r_switch(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "SWITCH"
    out[p + "in_vlan"] = str(f["src_vlan"])
    out[p + "in_priority"] = str(f["src_priority"])
    out[p + "out_vlan"] = str(f["dst_vlan"])
    out[p + "out_priority"] = str(f["dst_priority"])


def _r_router(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "ROUTER"
    out[p + "nextHop"] = _addr(f["next_hop"])
    out[p + "srcSubnetMask"] = str(f["src_mask_len"])
    out[p + "dstSubnetMask"] = str(f["dst_mask_len"])


def _r_gateway(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "GATEWAY"
    out[p + "bgp_nexthop"] = _addr(f["next_hop"])
    out[p + "my_as"] = str(f["as"])
    out[p + "src_as"] = str(f["src_as"])
    out[p + "src_peer_as"] = str(f["src_peer_as"])
    segments = f["dst_as_path"]
    assert isinstance(segments, list)
    dst_as = dst_peer_as = 0
    if segments:
        path = ""
        for i, seg in enumerate(segments):
            asns = seg["asns"]
            if i == 0 and asns:
                dst_peer_as = asns[0]
            joined = "-".join(str(a) for a in asns)
            path += f"({joined})" if seg["type"] == 1 else joined
            if i == len(segments) - 1 and asns:
                dst_as = asns[-1]
        out[p + "dst_as_path"] = path
    out[p + "dst_as"] = str(dst_as)
    out[p + "dst_peer_as"] = str(dst_peer_as)
    communities = f["communities"]
    assert isinstance(communities, list)
    if communities:
        out[p + "BGP_communities"] = "-".join(str(c) for c in communities)
    out[p + "BGP_localpref"] = str(f["local_pref"])


def _r_user(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "USER"
    out[p + "src_user_charset"] = str(f["src_charset"])
    out[p + "dst_user_charset"] = str(f["dst_charset"])
    out[p + "src_user"] = _cstr(f["src_user"], 200)
    out[p + "dst_user"] = _cstr(f["dst_user"], 200)


def _r_url(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "URL"
    out[p + "url_direction"] = str(f["direction"])
    out[p + "url"] = _cstr(f["url"], 200)
    out[p + "host"] = _cstr(f["host"], 200)


def _label_stack(stack: RecordValue) -> str:
    assert isinstance(stack, list)
    return "-".join(f"{e >> 12}.{(e >> 9) & 7}.{(e >> 8) & 1}.{e & 255}" for e in stack)


def _r_mpls(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "MPLS"
    out[p + "mpls_nexthop"] = _addr(f["next_hop"])
    if f["in_stack"]:
        out[p + "mpls_input_stack"] = _label_stack(f["in_stack"])
    if f["out_stack"]:
        out[p + "mpls_output_stack"] = _label_stack(f["out_stack"])


def _r_nat(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "NAT"
    out[p + "nat_src"] = _addr(f["src_address"])
    out[p + "nat_dst"] = _addr(f["dst_address"])


def _r_nat_port(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "extendedType"] = "NAT PORT"
    out[p + "nat_src_port"] = str(f["src_port"])
    out[p + "nat_dst_port"] = str(f["dst_port"])


def _r_decap(out: Out, p: str, tag: int, f: dict[str, RecordValue]) -> None:
    t = _TUNNEL_PREFIX[tag]
    out[p + "extendedType"] = t + "decap"
    out[p + t + "decap_inner_header_offset"] = str(f["inner_header_offset"])


def _r_vni(out: Out, p: str, tag: int, f: dict[str, RecordValue]) -> None:
    t = _TUNNEL_PREFIX[tag]
    out[p + "extendedType"] = t + "VNI"
    out[p + t + "VNI"] = str(f["vni"])


def _r_simple(
    ext: str, pairs: tuple[tuple[str, str], ...], strings: int = 0
) -> Callable[[Out, str, int, dict[str, RecordValue]], None]:
    """Renderer for 'extendedType' + plain fields; string fields (cap ``strings``) print if set."""

    def render(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
        out[p + "extendedType"] = ext
        for name, key in pairs:
            value = f[name]
            if isinstance(value, str):
                if value:
                    out[p + key] = _cstr(value, strings)
            else:
                out[p + key] = str(value)

    return render


def _r_socket(kind: str) -> Callable[[Out, str, int, dict[str, RecordValue]], None]:
    def render(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
        out[p + "extendedType"] = kind
        out[p + kind + "_ip_protocol"] = str(f["protocol"])
        out[p + kind + "_local_ip"] = _addr(f["local_ip"])
        out[p + kind + "_remote_ip"] = _addr(f["remote_ip"])
        out[p + kind + "_local_port"] = str(f["local_port"])
        out[p + kind + "_remote_port"] = str(f["remote_port"])

    return render


def _r_tcp_info(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    dirn = {0: "unknown", 1: "received", 2: "sent"}.get(int(str(f["dirn"])), "<bad value>")
    out[p + "tcpinfo_direction"] = dirn
    for name, key in (("snd_mss", "send_mss"), ("rcv_mss", "receive_mss"),
                      ("unacked", "unacked_pkts"), ("lost", "lost_pkts"),
                      ("retrans", "retrans_pkts"), ("pmtu", "path_mtu"), ("rtt", "rtt_uS"),
                      ("rttvar", "rtt_uS_var"), ("snd_cwnd", "send_congestion_win"),
                      ("reordering", "reordering"), ("min_rtt", "rtt_uS_min")):  # fmt: skip
        out[p + "tcpinfo_" + key] = str(f[name])


FlowRenderer = Callable[[Out, str, int, dict[str, RecordValue]], None]


def _r_row(steps: tuple[Step, ...]) -> FlowRenderer:
    """A record of flow_structures.FLOW_ROWS, the way sflowtool's reader prints it."""

    def render(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
        for step in steps:
            kind = step.kind
            if kind == "=":
                out[p + step.key] = step.value
                continue
            value = f[step.name]
            if kind == "urlkey":
                if value:
                    out[p + step.key] = url_encode(_cstr(value, 255))
            elif step.cap:
                if value:
                    out[p + step.key] = _cstr(value, step.cap)
            elif kind == "appstatus":
                assert isinstance(value, int)
                name = APP_STATUS[value] if value < len(APP_STATUS) else None
                out[p + step.key] = name or f"<out-of-range={value}>"
            else:
                out[p + step.key] = str(value)

    return render


def _r_vlan_tunnel(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    # readExtendedVlanTunnel: per tag "0x" + TPID in lowercase hex, then priority.CFI.VLAN
    # with no separator in between (sflowtool's quirk), tags joined by "-"
    stack = f["stack"]
    assert isinstance(stack, list)
    if stack:
        out[p + "vlan_tunnel"] = "-".join(
            f"0x{(lab >> 16) & 0xFFFF:04x}{(lab >> 13) & 7}.{(lab >> 12) & 1}.{lab & 4095}"
            for lab in stack
        )


def _r_wifi_payload(out: Out, p: str, _tag: int, f: dict[str, RecordValue]) -> None:
    out[p + "cipher_suite"] = str(f["cipher_suite"])
    header = f["header"]
    assert isinstance(header, SampledHeader)
    _header(out, p, header)


_FLOW_RENDERERS: dict[int, FlowRenderer] = {
    2: _r_ethernet,
    3: _r_ipv4,
    4: _r_ipv6,
    1001: _r_switch,
    1002: _r_router,
    1003: _r_gateway,
    1004: _r_user,
    1005: _r_url,
    1006: _r_mpls,
    1007: _r_nat,
    1012: _r_vlan_tunnel,
    1013: _r_wifi_payload,
    1020: _r_nat_port,
    1021: _r_ethernet,
    1022: _r_ethernet,
    1023: _r_ipv4,
    1024: _r_ipv4,
    1025: _r_ipv6,
    1026: _r_ipv6,
    1027: _r_decap,
    1028: _r_decap,
    1029: _r_vni,
    1030: _r_vni,
    1036: _r_simple("egress_queue", (("queue", "egress_queue_id"),)),
    1038: _r_simple("function", (("symbol", "symbol"),), 65),
    1039: _r_simple("transit_delay", (("delay", "transit_delay_nS"),)),
    1040: _r_simple("queue_depth", (("depth", "queue_depth_bytes"),)),
    1041: _r_simple("hw_trap", (("group", "hw_trap_group"), ("trap", "hw_trap_name")), 65),
    1042: _r_simple("linux_reason", (("reason", "linux_drop_reason"),), 65),
    2100: _r_socket("socket4"),
    2101: _r_socket("socket6"),
    2102: _r_socket("proxy_socket4"),
    2103: _r_socket("proxy_socket6"),
    2209: _r_tcp_info,
    2210: _r_simple(
        "entities",
        (
            ("src_class", "entities_src_class"),
            ("src_index", "entities_src_index"),
            ("dst_class", "entities_dst_class"),
            ("dst_index", "entities_dst_index"),
        ),
    ),  # fmt: skip
    **{tag: _r_row(steps) for tag, steps in FLOW_ROWS.items()},
}


# ----------------------------------------------------------------------------------------
# sampled header, sflowtool style
# ----------------------------------------------------------------------------------------


def _header(out: Out, p: str, rec: SampledHeader) -> None:
    h = rec.header
    out[p + "flowSampleType"] = "HEADER"
    out[p + "headerProtocol"] = str(rec.header_protocol)
    out[p + "sampledPacketSize"] = str(rec.frame_length)
    out[p + "strippedBytes"] = str(rec.stripped)
    out[p + "headerLen"] = str(len(h))
    out[p + "headerBytes"] = h[:_MAX_HEX_BYTES].hex("-").upper()
    ipv4_at = ipv6_at = -1
    if rec.header_protocol == 1:
        ipv4_at, ipv6_at = _link_layer(out, p, h)
    elif rec.header_protocol == 11:
        ipv4_at = 0
    elif rec.header_protocol == 12:
        ipv6_at = 0
    elif rec.header_protocol == 15:
        _wifi_mac(out, p, h)
    offset = ipv4_at if ipv4_at >= 0 else ipv6_at
    if offset < 0:
        return
    ip_size = (rec.frame_length - rec.stripped - offset) & 0xFFFFFFFF
    out[p + "IPSize"] = str(ip_size - (1 << 32) if ip_size & 0x80000000 else ip_size)
    if ipv4_at >= 0:
        _sflowtool_ipv4(out, p, h, ipv4_at)
    else:
        _sflowtool_ipv6(out, p, h, ipv6_at)


def _link_layer(out: Out, p: str, h: bytes) -> tuple[int, int]:
    """sflowtool decodeLinkLayer: returns (IPv4 offset, IPv6 offset), -1 when absent."""
    end = len(h)
    if end < 14:
        return -1, -1
    out[p + "dstMAC"] = h[0:6].hex()
    out[p + "srcMAC"] = h[6:12].hex()
    type_len = h[12] << 8 | h[13]
    ptr = 14
    depth = 0
    while type_len in _VLAN_TPIDS:
        if end - ptr < 4:
            return -1, -1
        tci = h[ptr] << 8 | h[ptr + 1]
        suffix = f".{depth}" if depth else ""
        out[p + "decodedVLAN" + suffix] = str(tci & 0x0FFF)
        out[p + "decodedPriority" + suffix] = str(tci >> 13)
        type_len = h[ptr + 2] << 8 | h[ptr + 3]
        ptr += 4
        depth += 1
    if end < 20:
        return -1, -1
    if type_len in (0x0200, 0x0201, 0x0600) and ptr + 4 <= end:
        ipx_len = h[ptr + 2] << 8 | h[ptr + 3]
        if h[ptr] == 0xFF and h[ptr + 1] == 0xFF and 30 <= ipx_len <= 576:
            return -1, -1
    if type_len <= 1500:
        if h[ptr : ptr + 3] == b"\xaa\xaa\x03":
            ptr += 3
            if h[ptr : ptr + 3] != b"\x00\x00\x00":
                out[p + "VSNAP_OUI"] = h[ptr : ptr + 3].hex("-").upper()
                return -1, -1
            ptr += 3
            if ptr + 2 > end:
                return -1, -1
            type_len = h[ptr] << 8 | h[ptr + 1]
            ptr += 2
        elif ptr + 3 <= end and h[ptr] == 0x06 and h[ptr + 1] == 0x06 and h[ptr + 2] & 1:
            ptr += 3
            type_len = 0x0800
        else:
            return -1, -1
    out[p + "ethernet_type"] = str(type_len)
    if type_len == 0x0800:
        if end - ptr < 20 or h[ptr] >> 4 != 4 or h[ptr] & 15 < 5:
            return -1, -1
        return ptr, -1
    if type_len == 0x86DD and ptr < end and h[ptr] >> 4 == 6:
        return -1, ptr
    return -1, -1


def _wifi_mac(out: Out, p: str, h: bytes) -> None:
    """sflowtool decode80211MAC for data frames (header_protocol 15)."""
    if len(h) < 24:
        return
    fc = h[1] << 8 | h[0]
    if (fc >> 2) & 3 != 2:
        return
    to_ds, from_ds = (fc >> 8) & 1, (fc >> 9) & 1
    addr1, addr2, addr3 = h[4:10], h[10:16], h[16:22]
    if to_ds:
        dst = addr3
        src = h[24:30] if from_ds else addr2
    else:
        dst = addr1
        src = addr3 if from_ds else addr2
    out[p + "srcMAC"] = src.hex()
    out[p + "dstMAC"] = dst.hex()
    out[p + "txMAC"] = addr2.hex()
    out[p + "rxMAC"] = addr1.hex()


def _sflowtool_ipv4(out: Out, p: str, h: bytes, ptr: int) -> None:
    end = len(h)
    if end - ptr < 20:
        return
    out[p + "ip.tot_len"] = str(h[ptr + 2] << 8 | h[ptr + 3])
    out[p + "srcIP"] = ".".join(str(b) for b in h[ptr + 12 : ptr + 16])
    out[p + "dstIP"] = ".".join(str(b) for b in h[ptr + 16 : ptr + 20])
    proto = h[ptr + 9]
    out[p + "IPProtocol"] = str(proto)
    out[p + "IPTOS"] = str(h[ptr + 1])
    out[p + "IPTTL"] = str(h[ptr + 8])
    # sflowtool prints the network-order id without ntohs (little-endian hosts)
    out[p + "IPID"] = str(h[ptr + 4] | h[ptr + 5] << 8)
    frag = (h[ptr + 6] << 8 | h[ptr + 7]) & 0x1FFF
    if frag:
        out[p + "IPFragmentOffset"] = str(frag)
        return
    header_bytes = (h[ptr] & 0x0F) * 4
    if end - ptr < header_bytes:
        return
    _sflowtool_l4(out, p, h, ptr + header_bytes, proto)


def _sflowtool_ipv6(out: Out, p: str, h: bytes, ptr: int) -> None:
    end = len(h)
    if end - ptr < 40 or h[ptr] >> 4 != 6:
        return
    out[p + "IPTOS"] = str(((h[ptr] & 15) << 4) + (h[ptr + 1] >> 4))
    label = ((h[ptr + 1] & 15) << 16) + (h[ptr + 2] << 8) + h[ptr + 3]
    out[p + "IP6_label"] = f"0x{label:x}"
    payload_len = h[ptr + 4] << 8 | h[ptr + 5]
    out[p + "IPV6_payloadLen"] = str(payload_len) if payload_len else "<jumbo>"
    next_header = h[ptr + 6]
    out[p + "IPTTL"] = str(h[ptr + 7])
    out[p + "srcIP6"] = _ip6_bytes(h[ptr + 8 : ptr + 24])
    out[p + "dstIP6"] = _ip6_bytes(h[ptr + 24 : ptr + 40])
    ptr += 40
    while next_header in _IPV6_EXT:
        out[p + "IP6HeaderExtension"] = str(next_header)
        if ptr + 2 > end:
            return
        next_header, ptr = h[ptr], ptr + 8 * (h[ptr + 1] + 1)
        if ptr > end:
            return
    out[p + "IPProtocol"] = str(next_header)
    _sflowtool_l4(out, p, h, ptr, next_header)


def _sflowtool_l4(out: Out, p: str, h: bytes, ptr: int, proto: int) -> None:
    """sflowtool decodeIPLayer4: needs 8 bytes; only ICMP, TCP and UDP are printed."""
    if ptr > len(h) - 8:
        return
    if proto == 1:
        out[p + "ICMPType"] = str(h[ptr])
        out[p + "ICMPCode"] = str(h[ptr + 1])
    elif proto == 6:
        out[p + "TCPSrcPort"] = str(h[ptr] << 8 | h[ptr + 1])
        out[p + "TCPDstPort"] = str(h[ptr + 2] << 8 | h[ptr + 3])
        out[p + "TCPFlags"] = str(h[ptr + 13] if ptr + 13 < len(h) else 0)
    elif proto == 17:
        out[p + "UDPSrcPort"] = str(h[ptr] << 8 | h[ptr + 1])
        out[p + "UDPDstPort"] = str(h[ptr + 2] << 8 | h[ptr + 3])
        out[p + "UDPBytes"] = str(h[ptr + 4] << 8 | h[ptr + 5])
