"""Input stage for offline files: pcap / pcapng / raw .bin → (timestamp_ns, source_ip, UDP payload).

Pure stdlib ``struct`` on purpose: scapy binds UDP 6343 to its NetFlow layer and mis-dissects
sFlow captures. Supports classic pcap (both byte orders, µs and ns magic), pcapng (SHB/IDB with
if_tsresol, EPB, SPB), link types Ethernet (with VLAN tags), Linux SLL/SLL2, raw IP and BSD
loopback, IPv4/IPv6; only UDP is yielded (non-UDP and non-first IPv4 fragments are skipped).
Any other file is a raw datagram: the whole file is one payload, ts = file mtime, source 0.0.0.0.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from socket import AF_INET6, inet_ntoa, inet_ntop
from typing import BinaryIO

Packet = tuple[int, str, bytes]

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
_RAW_IP_LINKTYPES = frozenset((LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6))
_VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))
_IPV6_EXT = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
_MAX_BLOCK = 1 << 26  # refuse absurd pcapng block lengths (corrupt file)


def read_datagrams(
    path: str, on_open: Callable[[BinaryIO], None] | None = None
) -> Iterator[Packet]:
    """Yield (timestamp_ns, source_ip, udp_payload) for every UDP datagram in ``path``.

    ``on_open`` gets the open file first (progress reporting reads its position)."""
    with open(path, "rb") as f:
        if on_open is not None:
            on_open(f)
        head = f.read(4)
        if len(head) == 4:
            magic_be = struct.unpack(">I", head)[0]
            magic_le = struct.unpack("<I", head)[0]
            if magic_be in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
                yield from _pcap(f, ">", magic_be == _PCAP_MAGIC_NS)
                return
            if magic_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
                yield from _pcap(f, "<", magic_le == _PCAP_MAGIC_NS)
                return
            if magic_be == _PCAPNG_SHB:
                yield from _pcapng(f)
                return
        payload = head + f.read()
    yield os.stat(path).st_mtime_ns, "0.0.0.0", payload


def read_many(
    paths: Iterable[str], window: int = 4096, on_open: Callable[[BinaryIO], None] | None = None
) -> Iterator[Packet]:
    """``read_datagrams`` over several files, with no two datagrams sharing a timestamp.

    InfluxDB keeps one point per series and timestamp, so two datagrams from one agent stamped
    alike would silently overwrite each other's counters. Raw files from one checkout share an
    mtime and coarse captures repeat microseconds; an exact repeat among the last ``window``
    stamps is nudged forward by 1 ns until unique, and every other stamp is left as captured.
    """
    recent: deque[int] = deque(maxlen=window)
    seen: set[int] = set()
    for path in paths:
        for ts_ns, source, payload in read_datagrams(path, on_open):
            while ts_ns in seen:
                ts_ns += 1
            if len(recent) == window:
                seen.discard(recent[0])
            recent.append(ts_ns)
            seen.add(ts_ns)
            yield ts_ns, source, payload


def _pcap(f: BinaryIO, order: str, nanos: bool) -> Iterator[Packet]:
    header = f.read(20)
    if len(header) < 20:
        return
    linktype = struct.unpack(order + "HHiIII", header)[5] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    scale = 1 if nanos else 1000
    while True:
        rh = f.read(16)
        if len(rh) < 16:
            return
        sec, frac, caplen, _origlen = record.unpack(rh)
        frame = f.read(caplen)
        if len(frame) < caplen:
            return
        found = udp_payload(linktype, frame)
        if found is not None:
            yield sec * 1_000_000_000 + frac * scale, found[0], found[1]


def _pcapng(f: BinaryIO) -> Iterator[Packet]:
    order = ">"
    interfaces: list[tuple[int, int]] = []  # (linktype, ns per timestamp unit or -exponent)
    f.seek(0)
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        block_type = struct.unpack(">I", head[:4])[0]
        if block_type == _PCAPNG_SHB:
            bom = f.read(4)
            if len(bom) < 4:
                return
            order = ">" if struct.unpack(">I", bom)[0] == _PCAPNG_BOM else "<"
            interfaces = []
            length = struct.unpack(order + "I", head[4:])[0]
            body = bom + f.read(max(0, length - 12))
        else:
            block_type, length = struct.unpack(order + "II", head)
            if length < 12 or length > _MAX_BLOCK:
                return
            body = f.read(length - 8)
        if len(body) < length - 8:
            return
        body = body[:-4]  # trailing block length
        if block_type == 1:
            interfaces.append(_idb(body, order))
        elif block_type == 6 and len(body) >= 20:
            if_id, ts_hi, ts_lo, caplen, _orig = struct.unpack_from(order + "IIIII", body)
            if if_id < len(interfaces):
                linktype, resol = interfaces[if_id]
                found = udp_payload(linktype, body[20 : 20 + caplen])
                if found is not None:
                    yield _ts_ns(ts_hi << 32 | ts_lo, resol), found[0], found[1]
        elif block_type == 3 and len(body) >= 4 and interfaces:
            orig = struct.unpack_from(order + "I", body)[0]
            found = udp_payload(interfaces[0][0], body[4 : 4 + orig])
            if found is not None:
                yield 0, found[0], found[1]  # SPB has no timestamp


def _idb(body: bytes, order: str) -> tuple[int, int]:
    """Interface description block → (linktype, if_tsresol byte; default 6 = µs)."""
    if len(body) < 8:
        return -1, 6
    linktype = struct.unpack_from(order + "H", body)[0]
    resol = 6
    off = 8
    while off + 4 <= len(body):
        code, olen = struct.unpack_from(order + "HH", body, off)
        if code == 0:
            break
        if code == 9 and olen >= 1 and off + 5 <= len(body):
            resol = body[off + 4]
        off += 4 + ((olen + 3) & ~3)
    return linktype, resol


def _ts_ns(units: int, resol: int) -> int:
    if resol & 0x80:
        return int((units * 1_000_000_000) >> (resol & 0x7F))
    exponent = resol & 0x7F
    if exponent <= 9:
        return int(units * 10 ** (9 - exponent))
    return int(units // 10 ** (exponent - 9))


def udp_payload(linktype: int, frame: bytes) -> tuple[str, bytes] | None:
    """(source IP, UDP payload) of one captured frame, or None when it is not UDP over IP."""
    n = len(frame)
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return None
        ether_type = frame[12] << 8 | frame[13]
        off = 14
        for _ in range(4):
            if ether_type not in _VLAN_TPIDS or off + 4 > n:
                break
            ether_type = frame[off + 2] << 8 | frame[off + 3]
            off += 4
        return _ip(frame, off, ether_type)
    if linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return None
        return _ip(frame, 16, frame[14] << 8 | frame[15])
    if linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return None
        return _ip(frame, 20, frame[0] << 8 | frame[1])
    if linktype in _RAW_IP_LINKTYPES:
        return _ip(frame, 0, _version_ethertype(frame, 0))
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        # 4-byte address family in host (NULL) or network (LOOP) order; sniff the IP version.
        return _ip(frame, 4, _version_ethertype(frame, 4))
    return None


def _version_ethertype(frame: bytes, off: int) -> int:
    if off >= len(frame):
        return 0
    version = frame[off] >> 4
    return 0x0800 if version == 4 else 0x86DD if version == 6 else 0


def _ip(frame: bytes, off: int, ether_type: int) -> tuple[str, bytes] | None:
    n = len(frame)
    if ether_type == 0x0800:
        if off + 20 > n or frame[off] >> 4 != 4:
            return None
        ihl = (frame[off] & 0x0F) * 4
        frag = (frame[off + 6] << 8 | frame[off + 7]) & 0x3FFF
        if frame[off + 9] != 17 or ihl < 20 or frag:
            return None  # not UDP, or a fragment we cannot reassemble
        source = inet_ntoa(frame[off + 12 : off + 16])
        return _udp(frame, off + ihl, source)
    if ether_type == 0x86DD:
        if off + 40 > n:
            return None
        next_header = frame[off + 6]
        source = inet_ntop(AF_INET6, frame[off + 8 : off + 24])
        off += 40
        for _ in range(8):
            if next_header not in _IPV6_EXT or off + 8 > n:
                break
            next_header, off = frame[off], off + 8 * (frame[off + 1] + 1)
        if next_header != 17:
            return None
        return _udp(frame, off, source)
    return None


def _udp(frame: bytes, off: int, source: str) -> tuple[str, bytes] | None:
    if off + 8 > len(frame):
        return None
    length = frame[off + 4] << 8 | frame[off + 5]
    end = off + length if length >= 8 else len(frame)  # length 0: jumbogram / offload
    return source, frame[off + 8 : min(end, len(frame))]
