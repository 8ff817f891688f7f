"""Decode stage, sampled-header fast path: fill a SampledHeader from the raw header bytes.

Covers header_protocol 1 (Ethernet, stacked 802.1Q/802.1ad/0x9100-0x9300 tags, 802.3 LLC/SNAP),
11 (raw IPv4) and 12 (raw IPv6); inside: MPLS, IPv4, IPv6 with extension headers, ARP, TCP,
UDP, ICMP and ICMPv6. Plain ``struct`` offsets with precompiled ``Struct`` objects: this runs
once per flow sample, so it must stay in the low microseconds (scapy costs ~200 µs here).

Rules:
- every read is bounds-checked against the header length; loops are capped;
- truncation of a protocol *header* sets ``decode_error`` and keeps what was decoded so far
  (truncated *payload* is normal for sampled headers and is not an error);
- IP fragments with a non-zero offset carry no L4 header, so ports stay None.
"""

from __future__ import annotations

from socket import AF_INET6, inet_ntoa, inet_ntop
from struct import Struct

from collector.sflow.records import SampledHeader

HEADER_ETHERNET = 1
HEADER_IPV4 = 11
HEADER_IPV6 = 12

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_MPLS_UC = 0x8847
ETH_MPLS_MC = 0x8848
# 802.1Q, 802.1ad and the pre-standard QinQ TPIDs sflowtool also unwraps.
VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100, 0x9200, 0x9300))

MAX_VLAN_TAGS = 8
MAX_MPLS_LABELS = 16
MAX_IPV6_EXT_HEADERS = 8

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_NONE = 59
IPPROTO_FRAGMENT = 44
IPPROTO_AH = 51
# Hop-by-hop, routing, fragment, AH, destination options, mobility, HIP, shim6.
IPV6_EXT_HEADERS = frozenset((0, 43, 44, 51, 60, 135, 139, 140))

_U16 = Struct("!H")
_U16x2 = Struct("!HH")
_U32 = Struct("!I")
# version/ihl, tos, total length, id, flags/fragment, ttl, protocol, checksum, src, dst
_IPV4 = Struct("!BBHHHBBH4s4s")
# version/traffic class/flow label, payload length, next header, hop limit, src, dst
_IPV6 = Struct("!IHBB16s16s")
# src port, dst port, seq, ack, data offset, flags
_TCP = Struct("!HHIIBB")
_UDP = Struct("!HHH")
# htype, ptype, hlen, plen, op
_ARP = Struct("!HHBBH")


def decode_header_layers(rec: SampledHeader) -> None:
    """Decode ``rec.header`` according to ``rec.header_protocol`` and fill the layer fields."""
    proto = rec.header_protocol
    if proto == HEADER_ETHERNET:
        _ethernet(rec, rec.header)
    elif proto == HEADER_IPV4:
        _ipv4(rec, rec.header, 0)
    elif proto == HEADER_IPV6:
        _ipv6(rec, rec.header, 0)
    else:
        # Not an error of the datagram: the sample still counts, L2+ stays unknown.
        rec.decode_error = f"header_protocol {proto} not decoded"


def _ethernet(rec: SampledHeader, h: bytes) -> None:
    n = len(h)
    if n < 14:
        rec.decode_error = "truncated Ethernet header"
        return
    rec.dst_mac = h[0:6]
    rec.src_mac = h[6:12]
    ether_type = h[12] << 8 | h[13]
    off = 14
    if ether_type in VLAN_TPIDS:
        off, ether_type = _vlan_tags(rec, h, off, ether_type)
        if off < 0:
            return
    if ether_type <= 1500:
        # 802.3 length field: only LLC/SNAP with OUI 0 carries an ethertype we can follow.
        if off + 8 > n or h[off : off + 6] != b"\xaa\xaa\x03\x00\x00\x00":
            return
        ether_type = h[off + 6] << 8 | h[off + 7]
        off += 8
    rec.ether_type = ether_type
    if ether_type == ETH_IPV4:
        _ipv4(rec, h, off)
    elif ether_type == ETH_IPV6:
        _ipv6(rec, h, off)
    elif ether_type == ETH_MPLS_UC or ether_type == ETH_MPLS_MC:
        _mpls(rec, h, off)
    elif ether_type == ETH_ARP:
        _arp(rec, h, off)


def _vlan_tags(rec: SampledHeader, h: bytes, off: int, ether_type: int) -> tuple[int, int]:
    """Unwrap stacked VLAN tags; returns (offset, inner ethertype) or (-1, 0) on error."""
    n = len(h)
    vlans: list[int] = []
    while ether_type in VLAN_TPIDS:
        if len(vlans) == MAX_VLAN_TAGS:
            rec.decode_error = "too many VLAN tags"
            off = -1
            break
        if off + 4 > n:
            rec.decode_error = "truncated VLAN tag"
            off = -1
            break
        tci, ether_type = _U16x2.unpack_from(h, off)
        vlans.append(tci & 0x0FFF)
        off += 4
    if vlans:
        rec.vlans = tuple(vlans)
        rec.vlan = vlans[0]
    return off, ether_type


def _mpls(rec: SampledHeader, h: bytes, off: int) -> None:
    n = len(h)
    labels: list[int] = []
    while True:
        if len(labels) == MAX_MPLS_LABELS:
            rec.mpls_labels = tuple(labels)
            rec.decode_error = "MPLS label stack too deep"
            return
        if off + 4 > n:
            rec.mpls_labels = tuple(labels)
            rec.decode_error = "truncated MPLS label stack"
            return
        (entry,) = _U32.unpack_from(h, off)
        labels.append(entry >> 12)
        off += 4
        if entry & 0x100:  # bottom of stack
            break
    rec.mpls_labels = tuple(labels)
    # MPLS has no payload type; guess from the IP version nibble like every collector does.
    if off < n:
        version = h[off] >> 4
        if version == 4:
            _ipv4(rec, h, off)
        elif version == 6:
            _ipv6(rec, h, off)


def _arp(rec: SampledHeader, h: bytes, off: int) -> None:
    if off + 8 > len(h):
        rec.decode_error = "truncated ARP header"
        return
    htype, ptype, hlen, plen, op = _ARP.unpack_from(h, off)
    rec.arp_op = op
    # Ethernet/IPv4 ARP: expose sender/target protocol addresses as src/dst IP.
    if htype == 1 and ptype == ETH_IPV4 and hlen == 6 and plen == 4:
        if off + 28 > len(h):
            rec.decode_error = "truncated ARP body"
            return
        rec.src_ip = inet_ntoa(h[off + 14 : off + 18])
        rec.dst_ip = inet_ntoa(h[off + 24 : off + 28])


def _ipv4(rec: SampledHeader, h: bytes, off: int) -> None:
    n = len(h)
    if off + 20 > n:
        rec.decode_error = "truncated IPv4 header"
        return
    vihl, tos, total_length, ident, frag, ttl, proto, _csum, src, dst = _IPV4.unpack_from(h, off)
    if vihl >> 4 != 4:
        rec.decode_error = f"IP version {vihl >> 4} in IPv4 header"
        return
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        rec.decode_error = f"IPv4 IHL {ihl // 4} < 5"
        return
    rec.ip_version = 4
    rec.l3_offset = off
    rec.src_ip = inet_ntoa(src)
    rec.dst_ip = inet_ntoa(dst)
    rec.ip_protocol = proto
    rec.ip_tos = tos
    rec.ip_ttl = ttl
    rec.ip_id = ident
    rec.ip_total_length = total_length
    frag_offset = frag & 0x1FFF
    rec.ip_fragment_offset = frag_offset
    if frag_offset:
        return  # non-first fragment: no L4 header in it
    off += ihl
    if off > n:
        rec.decode_error = "truncated IPv4 options"
        return
    _l4(rec, h, off, proto)


def _ipv6(rec: SampledHeader, h: bytes, off: int) -> None:
    n = len(h)
    if off + 40 > n:
        rec.decode_error = "truncated IPv6 header"
        return
    vtcfl, payload_length, next_header, hop_limit, src, dst = _IPV6.unpack_from(h, off)
    if vtcfl >> 28 != 6:
        rec.decode_error = f"IP version {vtcfl >> 28} in IPv6 header"
        return
    rec.ip_version = 6
    rec.l3_offset = off
    rec.ip_tos = (vtcfl >> 20) & 0xFF
    rec.ipv6_flow_label = vtcfl & 0xFFFFF
    rec.ipv6_payload_length = payload_length
    rec.ip_ttl = hop_limit
    rec.src_ip = inet_ntop(AF_INET6, src)
    rec.dst_ip = inet_ntop(AF_INET6, dst)
    off += 40
    hops = 0
    while next_header in IPV6_EXT_HEADERS:
        if hops == MAX_IPV6_EXT_HEADERS:
            rec.decode_error = "too many IPv6 extension headers"
            return
        hops += 1
        if off + 8 > n:  # every extension header is at least 8 bytes
            rec.decode_error = "truncated IPv6 extension header"
            return
        following, ext_len = h[off], h[off + 1]
        if next_header == IPPROTO_FRAGMENT:
            frag_offset = _U16.unpack_from(h, off + 2)[0] >> 3
            rec.ip_fragment_offset = frag_offset
            if frag_offset:
                rec.ip_protocol = following
                return
            size = 8
        elif next_header == IPPROTO_AH:
            size = (ext_len + 2) * 4  # AH counts 4-byte units (RFC 4302)
        else:
            size = (ext_len + 1) * 8
        off += size
        next_header = following
        if off > n:
            rec.decode_error = "IPv6 extension header overruns the sampled header"
            return
    rec.ip_protocol = next_header
    if next_header != IPPROTO_NONE:
        _l4(rec, h, off, next_header)


def _l4(rec: SampledHeader, h: bytes, off: int, proto: int) -> None:
    n = len(h)
    rec.l4_offset = off
    if proto == IPPROTO_TCP:
        if off + 14 > n:
            if off + 4 <= n:
                rec.src_port, rec.dst_port = _U16x2.unpack_from(h, off)
            rec.decode_error = "truncated TCP header"
            return
        sport, dport, _seq, _ack, data_offset, flags = _TCP.unpack_from(h, off)
        rec.src_port = sport
        rec.dst_port = dport
        rec.tcp_flags = flags
        if data_offset >> 4 < 5:
            rec.decode_error = f"TCP data offset {data_offset >> 4} < 5"
    elif proto == IPPROTO_UDP:
        if off + 8 > n:
            if off + 4 <= n:
                rec.src_port, rec.dst_port = _U16x2.unpack_from(h, off)
            rec.decode_error = "truncated UDP header"
            return
        rec.src_port, rec.dst_port, _length = _UDP.unpack_from(h, off)
    elif proto == IPPROTO_ICMP or proto == IPPROTO_ICMPV6:
        if off + 2 > n:
            rec.decode_error = "truncated ICMP header"
            return
        rec.icmp_type = h[off]
        rec.icmp_code = h[off + 1]


def deep_decode(header: bytes, header_protocol: int = HEADER_ETHERNET) -> str:
    """Debug aid: scapy's one-line summary of a sampled header (scapy imported lazily)."""
    from scapy.layers.inet import IP  # noqa: PLC0415 - optional, slow import
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    if header_protocol == HEADER_IPV4:
        return str(IP(header).summary())
    if header_protocol == HEADER_IPV6:
        return str(IPv6(header).summary())
    return str(Ether(header).summary())
