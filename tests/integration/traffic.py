"""Synthetic packet captures for pmacct's sfprobe: Ethernet/802.1Q/IPv4/IPv6 TCP+UDP+ICMP frames."""

from __future__ import annotations

import struct
from pathlib import Path


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _ipv4(i: int, proto: int, l4: bytes) -> bytes:
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(l4),
        i & 0xFFFF,
        0,
        64,
        proto,
        0,
        bytes([10, 0, 0, 1 + i % 5]),
        bytes([10, 0, 1, 1 + i % 3]),
    )
    return hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:] + l4


def frame(i: int) -> bytes:
    """Frame i of a deterministic mix: UDP, TCP, ICMP over IPv4, UDP over IPv6, some VLAN-tagged."""
    src = bytes([2, 0, 0, 0, 0, 1 + i % 5])
    dst = bytes([2, 0, 0, 0, 1, 1 + i % 3])
    payload = b"x" * (20 + i % 200)
    kind = i % 4
    if kind == 0:
        l3 = _ipv4(i, 17, struct.pack("!HHHH", 10000 + i % 7, 53, 8 + len(payload), 0) + payload)
        ethertype = 0x0800
    elif kind == 1:
        tcp = struct.pack("!HHIIBBHHH", 40000 + i % 11, 443, i, 0, 0x50, 0x18, 65535, 0, 0)
        l3 = _ipv4(i, 6, tcp + payload)
        ethertype = 0x0800
    elif kind == 2:
        l3 = _ipv4(i, 1, struct.pack("!BBHHH", 8, 0, 0, 1, i & 0xFFFF) + payload)
        ethertype = 0x0800
    else:
        udp = struct.pack("!HHHH", 5000 + i % 3, 6000, 8 + len(payload), 0) + payload
        l3 = (
            struct.pack(
                "!IHBB16s16s",
                0x60000000,
                len(udp),
                17,
                64,
                bytes.fromhex("20010db8000000000000000000000001"),
                bytes.fromhex("20010db8000000000000000000000002"),
            )
            + udp
        )
        ethertype = 0x86DD
    if i % 3 == 0:  # 802.1Q, VLAN 100 + i%4
        return dst + src + struct.pack("!HHH", 0x8100, 100 + i % 4, ethertype) + l3
    return dst + src + struct.pack("!H", ethertype) + l3


def write_pcap(path: Path, count: int, start_s: int = 1_700_000_000) -> Path:
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            data = frame(i)
            fh.write(
                struct.pack("<IIII", start_s + i // 1000, (i % 1000) * 1000, len(data), len(data))
            )
            fh.write(data)
    return path
