"""pcap / pcapng / raw .bin reader."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from collector.sflow.decoder import decode_datagram
from collector.sflow.pcap import read_datagrams, read_many
from collector.sflow.records import DiscardSample

from . import builder as b

FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "sflow" / "public" / "telegraf-drop-1036.bin"
)
PAYLOAD = FIXTURE.read_bytes()


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_pcap_both_byte_orders_and_resolutions(tmp_path: Path, order: str, nanos: bool) -> None:
    frac = 123_456_789 if nanos else 123_456
    tcp_frame = b.ethernet(b.ipv4(b.tcp(), 6), 0x0800)
    path = tmp_path / "x.pcap"
    frames = [(1_700_000_000, frac, b.udp_frame_v4(PAYLOAD)), (1_700_000_001, 0, tcp_frame)]
    path.write_bytes(b.pcap_file(frames, order=order, nanos=nanos))
    (got,) = list(read_datagrams(str(path)))  # the TCP frame is skipped
    assert got == (1_700_000_000_123_456_789 if nanos else 1_700_000_000_123_456_000,
                   "192.0.2.10", PAYLOAD)  # fmt: skip
    sample = decode_datagram(got[2]).samples[0]
    assert isinstance(sample, DiscardSample) and sample.reason == 1


@pytest.mark.parametrize(
    ("linktype", "frame", "source"),
    [
        (
            113,
            b"\0\0\0\1\0\6" + b"\0" * 8 + b"\x08\x00" + b.ipv4(b.udp(1, 6343, PAYLOAD), 17, frag=0),
            "10.0.0.1",
        ),
        (101, b.udp_packet_v6(PAYLOAD), "2001:db8::10"),
        (
            0,
            struct.pack("<I", 2) + b.ipv4(b.udp(1, 6343, PAYLOAD), 17, "198.51.100.1", frag=0),
            "198.51.100.1",
        ),
        (
            1,
            b.ethernet(b.ipv4(b.udp(1, 6343, PAYLOAD), 17, frag=0), 0x0800, tags=[(0x8100, 7)]),
            "10.0.0.1",
        ),
    ],
    ids=["linux-sll", "raw-ipv6", "loopback", "ethernet-vlan"],
)
def test_link_types(tmp_path: Path, linktype: int, frame: bytes, source: str) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b.pcap_file([(1, 0, frame)], linktype=linktype))
    assert [(s, p) for _, s, p in read_datagrams(str(path))] == [(source, PAYLOAD)]


def test_ipv4_fragment_skipped(tmp_path: Path) -> None:
    frame = b.ethernet(b.ipv4(b.udp(1, 6343, PAYLOAD), 17, frag=0x2000), 0x0800)  # MF set
    path = tmp_path / "x.pcap"
    path.write_bytes(b.pcap_file([(1, 0, frame)]))
    assert list(read_datagrams(str(path))) == []


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def test_pcapng_epb_spb_and_tsresol(tmp_path: Path) -> None:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    tsresol = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # ns resolution
    idb = _block(1, struct.pack("<HHI", 1, 0, 65535) + tsresol)
    frame = b.udp_frame_v4(PAYLOAD)
    ts = 1_700_000_000_987_654_321
    epb = _block(
        6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame
    )
    spb = _block(3, struct.pack("<I", len(frame)) + frame)
    path = tmp_path / "x.pcapng"
    path.write_bytes(shb + idb + epb + spb)
    assert list(read_datagrams(str(path))) == [
        (ts, "192.0.2.10", PAYLOAD),
        (0, "192.0.2.10", PAYLOAD),
    ]


def test_raw_bin_is_one_datagram(tmp_path: Path) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(PAYLOAD)
    os.utime(path, ns=(5_000_000_000, 5_000_000_000))
    assert list(read_datagrams(str(path))) == [(5_000_000_000, "0.0.0.0", PAYLOAD)]


def test_truncated_pcap_stops_cleanly(tmp_path: Path) -> None:
    data = b.pcap_file([(1, 0, b.udp_frame_v4(PAYLOAD))] * 2)
    path = tmp_path / "x.pcap"
    path.write_bytes(data[:-10])
    assert len(list(read_datagrams(str(path)))) == 1


def test_read_many_gives_raw_files_with_one_mtime_distinct_timestamps(tmp_path):
    # A fresh clone stamps every fixture with the same mtime; replaying them must not make
    # two datagrams share a timestamp (InfluxDB would keep only the last point of a series).
    paths = []
    for i in range(5):
        p = tmp_path / f"d{i}.bin"
        p.write_bytes(bytes([0, 0, 0, 5, i]))
        os.utime(p, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
        paths.append(str(p))
    stamps = [ts for ts, _, _ in read_many(paths)]
    assert len(set(stamps)) == 5
    assert stamps == sorted(stamps)
    assert stamps[0] == 1_700_000_000_000_000_000  # the first keeps its own time


def test_read_many_leaves_distinct_timestamps_alone(tmp_path):
    paths = []
    for i, t in enumerate((3_000, 1_000, 2_000)):
        p = tmp_path / f"d{i}.bin"
        p.write_bytes(b"x")
        os.utime(p, ns=(t, t))
        paths.append(str(p))
    assert [ts for ts, _, _ in read_many(paths)] == [3_000, 1_000, 2_000]
