"""Tiny sFlow v5 / packet builder for tests: explicit struct packing, no cleverness.

Every helper returns bytes laid out exactly as the spec says, so tests can read like the spec.
"""

from __future__ import annotations

import socket
import struct


def u32(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


def u64(*values: int) -> bytes:
    return struct.pack(f">{len(values)}Q", *values)


def pad4(body: bytes) -> bytes:
    return body + b"\0" * (-len(body) % 4)


def xdr_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return u32(len(raw)) + pad4(raw)


def address(ip: str) -> bytes:
    """sFlow address: type 1 + 4 bytes, or type 2 + 16 bytes."""
    if ":" in ip:
        return u32(2) + socket.inet_pton(socket.AF_INET6, ip)
    return u32(1) + socket.inet_aton(ip)


def tlv(tag: int, body: bytes, length: int | None = None) -> bytes:
    """A sample or record: data_format, length, body (padded). ``length`` overrides."""
    body = pad4(body)
    return u32(tag, len(body) if length is None else length) + body


def datagram(
    samples: list[bytes],
    agent: str = "192.0.2.1",
    sub_agent: int = 0,
    sequence: int = 1,
    uptime: int = 1000,
    num_samples: int | None = None,
    version: int = 5,
) -> bytes:
    n = len(samples) if num_samples is None else num_samples
    return u32(version) + address(agent) + u32(sub_agent, sequence, uptime, n) + b"".join(samples)


def flow_sample(
    records: list[bytes],
    seq: int = 1,
    source: tuple[int, int] = (0, 3),
    rate: int = 400,
    pool: int = 4000,
    drops: int = 0,
    inp: int = 3,
    out: int = 5,
    num_records: int | None = None,
    length: int | None = None,
) -> bytes:
    n = len(records) if num_records is None else num_records
    body = u32(seq, source[0] << 24 | source[1], rate, pool, drops, inp, out, n)
    return tlv(1, body + b"".join(records), length)


def flow_sample_expanded(
    records: list[bytes],
    seq: int = 1,
    source: tuple[int, int] = (0, 70000),
    rate: int = 400,
    pool: int = 4000,
    drops: int = 0,
    inp: tuple[int, int] = (0, 70001),
    out: tuple[int, int] = (0, 70002),
    num_records: int | None = None,
) -> bytes:
    n = len(records) if num_records is None else num_records
    body = u32(seq, *source, rate, pool, drops, *inp, *out, n)
    return tlv(3, body + b"".join(records))


def counter_sample(
    records: list[bytes],
    seq: int = 1,
    source: tuple[int, int] = (0, 3),
    num_records: int | None = None,
    length: int | None = None,
) -> bytes:
    n = len(records) if num_records is None else num_records
    return tlv(2, u32(seq, source[0] << 24 | source[1], n) + b"".join(records), length)


def counter_sample_expanded(
    records: list[bytes], seq: int = 1, source: tuple[int, int] = (2, 1)
) -> bytes:
    return tlv(4, u32(seq, *source, len(records)) + b"".join(records))


def discard_sample(
    records: list[bytes],
    seq: int = 1,
    source: tuple[int, int] = (0, 1),
    drops: int = 0,
    inp: int = 1,
    out: int = 2,
    reason: int = 258,
) -> bytes:
    body = u32(seq, *source, drops, inp, out, reason, len(records))
    return tlv(5, body + b"".join(records))


# -- records ----------------------------------------------------------------------------


def header_record(
    frame: bytes,
    protocol: int = 1,
    frame_length: int | None = None,
    stripped: int = 4,
    header_length: int | None = None,
) -> bytes:
    hl = len(frame) if header_length is None else header_length
    fl = len(frame) + stripped if frame_length is None else frame_length
    return tlv(1, u32(protocol, fl, stripped, hl) + pad4(frame))


def switch_record(
    src_vlan: int = 10, src_prio: int = 0, dst_vlan: int = 20, dst_prio: int = 0
) -> bytes:
    return tlv(1001, u32(src_vlan, src_prio, dst_vlan, dst_prio))


IF_COUNTERS = dict(  # noqa: C408 - keyword form reads like the spec
    if_index=3, if_type=6, if_speed=10_000_000_000, if_direction=1, if_status=3,
    if_in_octets=123456789012, if_in_ucast_pkts=1000, if_in_multicast_pkts=20,
    if_in_broadcast_pkts=3, if_in_discards=4, if_in_errors=5, if_in_unknown_protos=6,
    if_out_octets=987654321098, if_out_ucast_pkts=2000, if_out_multicast_pkts=30,
    if_out_broadcast_pkts=7, if_out_discards=8, if_out_errors=9, if_promiscuous_mode=0,
)  # fmt: skip


def if_counters_record(**overrides: int) -> bytes:
    v = {**IF_COUNTERS, **overrides}
    body = struct.pack(
        ">IIQIIQIIIIIIQIIIIII",
        v["if_index"], v["if_type"], v["if_speed"], v["if_direction"], v["if_status"],
        v["if_in_octets"], v["if_in_ucast_pkts"], v["if_in_multicast_pkts"],
        v["if_in_broadcast_pkts"], v["if_in_discards"], v["if_in_errors"],
        v["if_in_unknown_protos"], v["if_out_octets"], v["if_out_ucast_pkts"],
        v["if_out_multicast_pkts"], v["if_out_broadcast_pkts"], v["if_out_discards"],
        v["if_out_errors"], v["if_promiscuous_mode"],
    )  # fmt: skip
    assert len(body) == 88
    return tlv(1, body)


# -- packets ----------------------------------------------------------------------------

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def ethernet(payload: bytes, ether_type: int, tags: list[tuple[int, int]] | None = None,
             dst: bytes = MAC_B, src: bytes = MAC_A) -> bytes:  # fmt: skip
    """Ethernet II; ``tags`` = [(tpid, tci), ...] outermost first."""
    out = dst + src
    for tpid, tci in tags or []:
        out += struct.pack(">HH", tpid, tci)
    return out + struct.pack(">H", ether_type) + payload


def ipv4(
    payload: bytes,
    proto: int,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    ttl: int = 64,
    tos: int = 0,
    ident: int = 0x1234,
    frag: int = 0x4000,
    options: bytes = b"",
    total_length: int | None = None,
    ihl: int | None = None,
) -> bytes:
    hl = 5 + len(options) // 4 if ihl is None else ihl
    tl = 20 + len(options) + len(payload) if total_length is None else total_length
    hdr = struct.pack(">BBHHHBBH4s4s", 0x40 | hl, tos, tl, ident, frag, ttl, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    return hdr + options + payload


def ipv6(payload: bytes, next_header: int, src: str = "2001:db8::1", dst: str = "2001:db8::2",
         hop_limit: int = 64, tclass: int = 0, flow_label: int = 0,
         payload_length: int | None = None) -> bytes:  # fmt: skip
    pl = len(payload) if payload_length is None else payload_length
    first = 6 << 28 | tclass << 20 | flow_label
    return struct.pack(">IHBB16s16s", first, pl, next_header, hop_limit,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload  # fmt: skip


def ipv6_ext(next_header: int, body: bytes = b"\0" * 6) -> bytes:
    """Generic extension header (hop-by-hop/routing/dest opts): len in 8-byte units minus 1."""
    total = 2 + len(body)
    assert total % 8 == 0
    return bytes((next_header, total // 8 - 1)) + body


def tcp(sport: int = 40000, dport: int = 443, flags: int = 0x18, data_offset: int = 5) -> bytes:
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, data_offset << 4, flags, 65535, 0, 0)


def udp(sport: int = 53, dport: int = 5353, payload: bytes = b"x" * 8) -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(icmp_type: int = 8, code: int = 0) -> bytes:
    return struct.pack(">BBHHH", icmp_type, code, 0, 1, 1) + b"abcdefgh"


def arp(op: int = 1, sender: str = "10.0.0.1", target: str = "10.0.0.254") -> bytes:
    return (struct.pack(">HHBBH", 1, 0x0800, 6, 4, op) + MAC_A + socket.inet_aton(sender)
            + b"\0" * 6 + socket.inet_aton(target))  # fmt: skip


def mpls(labels: list[int], payload: bytes, ttl: int = 64) -> bytes:
    out = b""
    for i, label in enumerate(labels):
        bos = 1 if i == len(labels) - 1 else 0
        out += struct.pack(">I", label << 12 | bos << 8 | ttl)
    return out + payload


def pcap_file(frames: list[tuple[int, int, bytes]], linktype: int = 1, order: str = "<",
              nanos: bool = False) -> bytes:  # fmt: skip
    """Classic pcap; frames = [(sec, frac, frame)]."""
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, frame in frames:
        out += struct.pack(order + "IIII", sec, frac, len(frame), len(frame)) + frame
    return out


def udp_frame_v4(payload: bytes, src: str = "192.0.2.10", dst: str = "192.0.2.20",
                 sport: int = 50000, dport: int = 6343) -> bytes:  # fmt: skip
    return ethernet(ipv4(udp(sport, dport, payload), 17, src, dst, frag=0), 0x0800)


def udp_packet_v6(payload: bytes, src: str = "2001:db8::10", dst: str = "2001:db8::20") -> bytes:
    return ipv6(udp(50000, 6343, payload), 17, src, dst)
