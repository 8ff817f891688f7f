"""Decoder unit tests, one structure at a time (datagrams built with builder.py)."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from collector.sflow.decoder import DecodeError
from collector.sflow.decoder import decode_datagram as _decode
from collector.sflow.headers import decode_header_layers
from collector.sflow.records import (
    CounterRecord,
    CounterSample,
    DiscardSample,
    FlowRecord,
    FlowSample,
    SampledHeader,
)
from collector.sflow.sflowtool_json import to_sflowtool
from collector.sflow.structures import COUNTERS

from . import builder as b


def decode_datagram(data: bytes) -> Any:
    """Untyped view of the decoder result: tests poke at union members freely."""
    return _decode(data)


# ---------------------------------------------------------------------------------------
# Annotated hex: the smallest useful datagram, written out by hand.
# ---------------------------------------------------------------------------------------

ANNOTATED = bytes.fromhex(
    "00000005"  # version 5
    "00000001"
    "c0000201"  # agent address type 1 (IPv4), 192.0.2.1
    "00000007"  # sub_agent_id 7
    "0000002a"  # datagram sequence 42
    "000003e8"  # uptime 1000 ms
    "00000001"  # 1 sample
    "00000001"
    "00000038"  # sample 0:1 (flow_sample), 56 bytes
    "00000009"  # sample sequence 9
    "00000003"  # source_id: class 0, index 3
    "00000190"  # sampling rate 400
    "00000fa0"  # sample pool 4000
    "00000000"  # drops
    "00000003"  # input ifIndex 3
    "80000007"  # output: format 2 (multiple), 7 interfaces
    "00000001"  # 1 record
    "000003e9"
    "00000010"  # record 0:1001 extended_switch, 16 bytes
    "0000000a"
    "00000001"
    "00000014"
    "00000002"  # in vlan 10 prio 1, out vlan 20 prio 2
)


def test_annotated_hex_datagram() -> None:
    dg = decode_datagram(ANNOTATED)
    assert (dg.version, dg.agent, dg.sub_agent_id, dg.sequence, dg.uptime_ms) == (
        5, "192.0.2.1", 7, 42, 1000,
    )  # fmt: skip
    (s,) = dg.samples
    assert isinstance(s, FlowSample)
    assert (s.sequence, s.source_id_type, s.source_id_index, s.sampling_rate) == (9, 0, 3, 400)
    assert (s.output_format, s.output_value) == (2, 7)
    assert s.records == [
        FlowRecord(1001, {"src_vlan": 10, "src_priority": 1, "dst_vlan": 20, "dst_priority": 2})
    ]
    assert dg.errors == [] and dg.unknown_records == 0
    assert to_sflowtool(dg)["samples"][0]["outputPort"] == "multiple 7"


# ---------------------------------------------------------------------------------------
# datagram header
# ---------------------------------------------------------------------------------------


def test_ipv6_agent() -> None:
    dg = decode_datagram(
        b.datagram([b.counter_sample([b.if_counters_record()])], agent="2001:db8::5")
    )
    assert dg.agent_address_type == 2
    assert dg.agent == "2001:db8::5"
    assert to_sflowtool(dg)["agent"] == "2001:0db8:0000:0000:0000:0000:0000:0005"
    s: Any = dg.samples[0]
    assert s.tag == 2 and s.records[0].fields == b.IF_COUNTERS


def test_version_and_agent_type_rejected() -> None:
    with pytest.raises(DecodeError, match="version 4"):
        decode_datagram(b.datagram([], version=4))
    raw = bytearray(b.datagram([]))
    raw[4:8] = b.u32(3)
    with pytest.raises(DecodeError, match="address type 3"):
        decode_datagram(bytes(raw))


# ---------------------------------------------------------------------------------------
# samples
# ---------------------------------------------------------------------------------------


def test_expanded_flow_and_counter_samples() -> None:
    dg = decode_datagram(b.datagram([
        b.flow_sample_expanded([b.switch_record()], inp=(0, 70001), out=(1, 258)),
        b.counter_sample_expanded([b.if_counters_record(if_index=70001)]),
    ]))  # fmt: skip
    flow, cnt = dg.samples
    assert isinstance(flow, FlowSample) and flow.tag == 3
    assert (flow.source_id_type, flow.source_id_index) == (0, 70000)  # > 24 bits would not fit
    assert (flow.input_format, flow.input_value, flow.output_format, flow.output_value) == (
        0, 70001, 1, 258,
    )  # fmt: skip
    assert isinstance(cnt, CounterSample) and cnt.tag == 4
    assert (cnt.source_id_type, cnt.source_id_index) == (2, 1)
    first: Any = cnt.records[0]
    assert first.fields["if_index"] == 70001
    rendered = to_sflowtool(dg)["samples"][0]
    assert rendered["sourceId"] == "0:70000" and rendered["outputPort"] == "dropCode 258"


def test_discard_sample_with_drop_extensions() -> None:
    frame = b.ethernet(b.ipv4(b.udp(), 17), 0x0800)
    dg = decode_datagram(b.datagram([b.discard_sample([
        b.header_record(frame),
        b.tlv(1036, b.u32(42)),  # egress queue
        b.tlv(1037, b.u32(7) + b.xdr_string("deny-all") + b.u32(1)),  # acl
        b.tlv(1038, b.xdr_string("ip_rcv_core")),  # function
        b.tlv(1039, b.u32(1500)),  # transit delay ns
        b.tlv(1040, b.u32(9000)),  # queue depth bytes
        b.tlv(1041, b.xdr_string("l3_drops") + b.xdr_string("blackhole_route")),
        b.tlv(1042, b.xdr_string("NOT_SPECIFIED")),
        b.tlv(1043, b.u64(1_700_000_000_123_456_789)),
    ], drops=5, inp=11, out=0, reason=269)]))  # fmt: skip
    (s,) = dg.samples
    assert isinstance(s, DiscardSample)
    assert (s.drops, s.input_ifindex, s.output_ifindex, s.reason) == (5, 11, 0, 269)
    hdr, *ext = s.records
    ext_any: list[Any] = ext
    assert isinstance(hdr, SampledHeader) and hdr.src_port == 53
    assert [r.fields for r in ext_any] == [
        {"queue": 42},
        {"number": 7, "name": "deny-all", "direction": 1},
        {"symbol": "ip_rcv_core"},
        {"delay": 1500},
        {"depth": 9000},
        {"group": "l3_drops", "trap": "blackhole_route"},
        {"reason": "NOT_SPECIFIED"},
        {"nanoseconds": 1_700_000_000_123_456_789},
    ]
    out = to_sflowtool(dg)["samples"][0]
    assert out["discardReason"] == "blackhole_route"
    els = out["elements"]
    assert els[2] == {"discarded_flowBlock_tag": "0:1037"}  # sflowtool skips 1037
    assert els[3]["discarded_symbol"] == "ip_rcv_core"
    assert els[6]["discarded_hw_trap_name"] == "blackhole_route"


def test_unknown_reason_name() -> None:
    dg = decode_datagram(b.datagram([b.discard_sample([], reason=9999)]))
    assert to_sflowtool(dg)["samples"][0]["discardReason"] == "NotFound"


# ---------------------------------------------------------------------------------------
# counter blocks
# ---------------------------------------------------------------------------------------


def _named(tag: int, values: Any) -> dict[str, Any]:
    return dict(zip(COUNTERS[tag].names, values, strict=True))


HOST_BLOCKS: dict[int, tuple[bytes, dict[str, Any]]] = {
    2000: (b.xdr_string("web-01") + bytes(range(16)) + b.u32(3, 2) + b.xdr_string("6.1.0"),
           {"hostname": "web-01", "uuid": "00010203-0405-0607-0809-0a0b0c0d0e0f",
            "machine_type": 3, "os_name": 2, "os_release": "6.1.0"}),
    2001: (b.u32(2) + b.u32(4, 1) + bytes.fromhex("02fc00000001") + b"\0\0"
           + b.u32(5, 2) + bytes.fromhex("aabbccddeeff0000112233445566") + b"\0\0",
           {"adapters": [{"if_index": 4, "macs": ["02fc00000001"]},
                         {"if_index": 5, "macs": ["aabbccddeeff", "112233445566"]}]}),
    2002: (b.u32(2, 1), {"container_type": 2, "container_index": 1}),
    2004: (b.u64(*range(1, 8)) + b.u32(8, 9, 10, 11), _named(2004, range(1, 12))),
    2005: (b.u64(100, 50) + b.u32(6890, 4) + b.u64(5) + b.u32(6, 7) + b.u64(8) + b.u32(9),
           _named(2005, (100, 50, 6890, 4, 5, 6, 7, 8, 9))),
    2006: (b.u64(1) + b.u32(2, 3, 4) + b.u64(5) + b.u32(6, 7, 8),
           _named(2006, range(1, 9))),
    2007: (b.u32(*range(19)), _named(2007, range(19))),
    2008: (b.u32(*range(25)), _named(2008, range(25))),
    2009: (b.u32(*range(15)), _named(2009, range(15))),
    2010: (b.u32(*range(7)), _named(2010, range(7))),
    2100: (b.u32(2400, 8) + b.u64(1 << 34, 1 << 33) + b.u32(3),
           {"mhz": 2400, "cpus": 8, "memory": 1 << 34, "memory_free": 1 << 33, "num_domains": 3}),
    2101: (b.u32(1, 5000, 2), {"state": 1, "cpu_time": 5000, "nr_virt_cpu": 2}),
    2102: (b.u64(1 << 30, 1 << 31), {"memory": 1 << 30, "max_memory": 1 << 31}),
    2103: (b.u64(1, 2, 3) + b.u32(4) + b.u64(5) + b.u32(6) + b.u64(7) + b.u32(8),
           _named(2103, range(1, 9))),
    2104: (b.u64(1) + b.u32(2, 3, 4) + b.u64(5) + b.u32(6, 7, 8),
           _named(2104, range(1, 9))),
    2105: (b.xdr_string("OpenJDK") + b.xdr_string("Eclipse") + b.xdr_string("21"),
           {"vm_name": "OpenJDK", "vm_vendor": "Eclipse", "vm_version": "21"}),
    2106: (b.u64(*range(8)) + b.u32(*range(8, 19)), _named(2106, range(19))),
    1001: (b.u32(1234, 5678, 0xFFFFFFFF) + b.u64(1 << 33, 1 << 32),
           {"five_sec_cpu": 1234, "one_min_cpu": 5678, "five_min_cpu": 0xFFFFFFFF,
            "total_memory": 1 << 33, "free_memory": 1 << 32}),
    1004: (b.u64(0xABCDEF) + b.u32(7), {"datapath_id": 0xABCDEF, "port_no": 7}),
    1005: (b.xdr_string("eth0"), {"port_name": "eth0"}),
    5: (b.u32(100) + b.u64(99) + b.u32(1, 2, 3, 4),
        {"vlan_id": 100, "octets": 99, "ucast_pkts": 1, "multicast_pkts": 2,
         "broadcast_pkts": 3, "discards": 4}),
}  # fmt: skip


@pytest.mark.parametrize("tag", sorted(HOST_BLOCKS))
def test_counter_block(tag: int) -> None:
    body, expected = HOST_BLOCKS[tag]
    dg = decode_datagram(b.datagram([b.counter_sample_expanded([b.tlv(tag, body)])]))
    (rec,) = dg.samples[0].records
    assert rec == CounterRecord(tag, expected)
    assert dg.errors == []


@pytest.mark.parametrize(("length", "extra"), [(68, False), (80, True)])
def test_host_cpu_68_and_80_bytes(length: int, extra: bool) -> None:
    floats = struct.pack(">fff", 0.59, 0.5, 0.25)
    body = floats + b.u32(*range(1, 15)) + (b.u32(15, 16, 17) if extra else b"")
    assert len(body) == length
    dg = decode_datagram(b.datagram([b.counter_sample_expanded([b.tlv(2003, body)])]))
    fields = dg.samples[0].records[0].fields
    assert ("cpu_steal" in fields) is extra
    assert fields["cpu_user"] == 6 and fields["contexts"] == 14
    out = to_sflowtool(dg)["samples"][0]["elements"][0]
    assert out["cpu_load_one"] == "0.590" and out["cpuinterrupts"] == "13"
    assert ("cpu_guest_nice" in out) is extra


def test_processor_percentages_render_like_sflowtool() -> None:
    body, _ = HOST_BLOCKS[1001]
    dg = decode_datagram(b.datagram([b.counter_sample([b.tlv(1001, body)])]))
    out = to_sflowtool(dg)["samples"][0]["elements"][0]
    assert (out["5s_cpu"], out["1m_cpu"], out["5m_cpu"]) == ("12.34", "56.78", "unknown")


def test_lacp_and_sfp_blocks() -> None:
    lacp = (bytes.fromhex("0011223344550000") + bytes.fromhex("66778899aabb0000")
            + b.u32(9) + bytes((1, 2, 3, 4)) + b.u32(*range(8)))  # fmt: skip
    sfp = b.u32(1, 4, 3300, 45, 1) + b.u32(*range(10))
    dg = decode_datagram(b.datagram([b.counter_sample([b.tlv(7, lacp), b.tlv(10, sfp)])]))
    lacp_rec, sfp_rec = dg.samples[0].records
    assert lacp_rec.fields["actor_system_id"] == "001122334455"
    assert lacp_rec.fields["partner_oper_port_state"] == 4
    assert sfp_rec.fields["lanes"] == [dict(zip(
        ("lane_index", "tx_bias_current", "tx_power", "tx_power_min", "tx_power_max",
         "tx_wavelength", "rx_power", "rx_power_min", "rx_power_max", "rx_wavelength"),
        range(10), strict=True))]  # fmt: skip


# ---------------------------------------------------------------------------------------
# flow records
# ---------------------------------------------------------------------------------------


def _flow_fields(*records: bytes) -> list[Any]:
    dg = decode_datagram(b.datagram([b.flow_sample(list(records))]))
    assert dg.errors == [], dg.errors
    return [r.fields if isinstance(r, FlowRecord) else r for r in dg.samples[0].records]


def test_extended_router_gateway_user() -> None:
    router = b.tlv(1002, b.address("2001:db8::1") + b.u32(48, 64))
    gateway = b.tlv(1003, b.address("192.0.2.254") + b.u32(65000, 65001, 65002)
                    + b.u32(2) + b.u32(2, 2, 65010, 65020) + b.u32(1, 1, 65030)
                    + b.u32(2, 100, 200) + b.u32(150))  # fmt: skip
    user = b.tlv(1004, b.u32(106) + b.xdr_string("alice") + b.u32(106) + b.xdr_string("bob"))
    r, g, u = _flow_fields(router, gateway, user)
    assert r == {"next_hop": "2001:db8::1", "src_mask_len": 48, "dst_mask_len": 64}
    assert g == {
        "next_hop": "192.0.2.254", "as": 65000, "src_as": 65001, "src_peer_as": 65002,
        "dst_as_path": [{"type": 2, "asns": [65010, 65020]}, {"type": 1, "asns": [65030]}],
        "communities": [100, 200], "local_pref": 150,
    }  # fmt: skip
    assert u == {"src_charset": 106, "src_user": "alice", "dst_charset": 106, "dst_user": "bob"}
    dg = decode_datagram(b.datagram([b.flow_sample([gateway])]))
    out = to_sflowtool(dg)["samples"][0]["elements"][0]
    assert out["dst_as_path"] == "65010-65020(65030)"
    assert (out["dst_peer_as"], out["dst_as"], out["BGP_communities"]) == (
        "65010",
        "65030",
        "100-200",
    )


def test_sampled_ethernet_ipv4_ipv6_records() -> None:
    eth = b.tlv(2, b.u32(1500) + b.MAC_A + b"\0\0" + b.MAC_B + b"\0\0" + b.u32(0x0800))
    ip4 = b.tlv(3, b.u32(1500, 6) + bytes((10, 0, 0, 1, 10, 0, 0, 2)) + b.u32(1234, 80, 0x12, 0))
    ip6 = b.tlv(4, b.u32(1500, 17) + bytes(15) + b"\1" + bytes(15) + b"\2" + b.u32(53, 53, 0, 3))
    e, v4, v6 = _flow_fields(eth, ip4, ip6)
    assert e == {"length": 1500, "src_mac": b.MAC_A, "dst_mac": b.MAC_B, "eth_type": 0x0800}
    assert v4 == {"length": 1500, "protocol": 6, "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
                  "src_port": 1234, "dst_port": 80, "tcp_flags": 0x12, "tos": 0}  # fmt: skip
    assert (v6["src_ip"], v6["dst_ip"], v6["priority"]) == ("::1", "::2", 3)


def test_socket_records() -> None:
    s4 = b.tlv(2100, b.u32(6) + bytes((10, 1, 1, 1, 10, 2, 2, 2)) + b.u32(443, 50000))
    s6 = b.tlv(2101, b.u32(17) + bytes(15) + b"\1" + bytes(15) + b"\2" + b.u32(53, 40000))
    f4, f6 = _flow_fields(s4, s6)
    assert f4 == {"protocol": 6, "local_ip": "10.1.1.1", "remote_ip": "10.2.2.2",
                  "local_port": 443, "remote_port": 50000}  # fmt: skip
    assert f6 == {"protocol": 17, "local_ip": "::1", "remote_ip": "::2",
                  "local_port": 53, "remote_port": 40000}  # fmt: skip
    out = to_sflowtool(decode_datagram(b.datagram([b.flow_sample([s4])])))
    assert out["samples"][0]["elements"][0]["socket4_remote_port"] == "50000"


# ---------------------------------------------------------------------------------------
# sampled header fast path
# ---------------------------------------------------------------------------------------


def _hdr(frame: bytes, protocol: int = 1) -> SampledHeader:
    rec = SampledHeader(protocol, len(frame) + 4, 4, frame)
    decode_header_layers(rec)
    return rec


def test_ethernet_ipv4_tcp() -> None:
    r = _hdr(b.ethernet(b.ipv4(b.tcp(40000, 443, 0x12), 6, tos=0x20, ttl=61), 0x0800))
    assert (r.src_mac, r.dst_mac, r.ether_type) == (b.MAC_A, b.MAC_B, 0x0800)
    assert (r.ip_version, r.src_ip, r.dst_ip, r.ip_protocol) == (4, "10.0.0.1", "10.0.0.2", 6)
    assert (r.ip_tos, r.ip_ttl, r.ip_id, r.ip_total_length) == (0x20, 61, 0x1234, 40)
    assert (r.src_port, r.dst_port, r.tcp_flags, r.decode_error) == (40000, 443, 0x12, None)
    assert (r.l3_offset, r.l4_offset) == (14, 34)


def test_dot1q_and_qinq() -> None:
    single = _hdr(b.ethernet(b.ipv4(b.udp(), 17), 0x0800, tags=[(0x8100, 0x2000 | 153)]))
    assert (single.vlan, single.vlans, single.src_port) == (153, (153,), 53)
    qinq = _hdr(b.ethernet(b.ipv4(b.udp(), 17), 0x0800,
                           tags=[(0x88A8, 100), (0x8100, 200), (0x9100, 300)]))  # fmt: skip
    assert (qinq.vlan, qinq.vlans, qinq.ether_type, qinq.l3_offset) == (
        100,
        (100, 200, 300),
        0x0800,
        26,
    )
    out = to_sflowtool(decode_datagram(b.datagram([b.flow_sample([b.header_record(qinq.header)])])))
    el = out["samples"][0]["elements"][0]
    assert (el["decodedVLAN"], el["decodedVLAN.1"], el["decodedVLAN.2"]) == ("100", "200", "300")


def test_mpls_label_stack() -> None:
    r = _hdr(b.ethernet(b.mpls([16, 17, 18], b.ipv4(b.udp(), 17)), 0x8847))
    assert r.mpls_labels == (16, 17, 18)
    assert (r.ip_version, r.src_port) == (4, 53)


def test_ipv6_extension_headers_and_icmpv6() -> None:
    payload = b.ipv6_ext(60) + b.ipv6_ext(58) + bytes((128, 0, 0, 0, 0, 1, 0, 1))
    r = _hdr(b.ethernet(b.ipv6(payload, 0, flow_label=0xB190E, tclass=0x28), 0x86DD))
    assert (r.ip_version, r.src_ip, r.dst_ip) == (6, "2001:db8::1", "2001:db8::2")
    assert (r.ip_tos, r.ipv6_flow_label, r.ipv6_payload_length) == (0x28, 0xB190E, len(payload))
    assert (r.ip_protocol, r.icmp_type, r.icmp_code, r.l4_offset) == (58, 128, 0, 14 + 40 + 16)


def test_ipv6_fragment_not_first_has_no_ports() -> None:
    frag = bytes((17, 0)) + struct.pack(">H", 100 << 3) + b.u32(1)
    r = _hdr(b.ethernet(b.ipv6(frag + b.udp(), 44), 0x86DD))
    assert (r.ip_protocol, r.ip_fragment_offset, r.src_port) == (17, 100, None)


def test_ipv4_fragment_not_first_has_no_ports() -> None:
    r = _hdr(b.ethernet(b.ipv4(b.udp(), 17, frag=0x2000 | 185), 0x0800))
    assert (r.ip_fragment_offset, r.src_port, r.decode_error) == (185, None, None)


def test_arp() -> None:
    r = _hdr(b.ethernet(b.arp(op=2), 0x0806))
    assert (r.ether_type, r.arp_op, r.src_ip, r.dst_ip) == (0x0806, 2, "10.0.0.1", "10.0.0.254")


def test_raw_ipv4_and_ipv6_header_protocols() -> None:
    v4 = _hdr(b.ipv4(b.icmp(8, 0), 1), protocol=11)
    assert (v4.ip_version, v4.icmp_type, v4.l3_offset, v4.src_mac) == (4, 8, 0, None)
    v6 = _hdr(b.ipv6(b.tcp(1, 2), 6), protocol=12)
    assert (v6.ip_version, v6.src_port, v6.dst_port) == (6, 1, 2)
    dg = decode_datagram(b.datagram([b.flow_sample([b.header_record(v4.header, protocol=11)])]))
    el = to_sflowtool(dg)["samples"][0]["elements"][0]
    assert (el["IPSize"], el["ICMPType"], el["srcIP"]) == (str(len(v4.header)), "8", "10.0.0.1")


def test_llc_snap_ethertype() -> None:
    snap = b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + b.ipv4(b.udp(), 17)
    r = _hdr(b.ethernet(snap, len(snap)))
    assert (r.ether_type, r.src_port) == (0x0800, 53)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"\x00" * 13, "truncated Ethernet header"),
        (b.ethernet(b"", 0x8100), "truncated VLAN tag"),
        (b.ethernet(b.ipv4(b"", 6)[:19], 0x0800), "truncated IPv4 header"),
        (b.ethernet(b.ipv4(b.tcp()[:10], 6), 0x0800), "truncated TCP header"),
        (b.ethernet(b.ipv6(b"", 17)[:39], 0x86DD), "truncated IPv6 header"),
    ],
)
def test_truncation_sets_decode_error(frame: bytes, error: str) -> None:
    assert _hdr(frame).decode_error == error


def test_truncated_tcp_keeps_ports() -> None:
    r = _hdr(b.ethernet(b.ipv4(b.tcp(1111, 2222)[:6], 6), 0x0800))
    assert (r.src_ip, r.src_port, r.dst_port, r.tcp_flags) == ("10.0.0.1", 1111, 2222, None)
