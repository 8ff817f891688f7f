"""faults-and-bad-inputs.md §2.2: malformed datagrams, numbered like the document.

For every case: only DecodeError may escape, decoding takes < 10 ms, the right error/unknown
accounting happens, and a valid datagram still decodes afterwards. Cases 32, 33, 35-37 are about
rate/sequence logic and the listener, not the pure decoder; they are tested with points/listener.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest

from collector.sflow.decoder import MAX_RECORDS, MAX_SAMPLES, DecodeError, decode_datagram
from collector.sflow.records import (
    BadRecord,
    CounterRecord,
    CounterSample,
    DiscardSample,
    FlowRecord,
    FlowSample,
    SampledHeader,
    UnknownRecord,
    UnknownSample,
)
from collector.sflow.sflowtool_json import to_sflowtool

from . import builder as b

BUDGET_S = 0.1  # catches pathological (quadratic, amplified) work, not speed: 2 shared cores
FRAME = b.ethernet(b.ipv4(b.tcp(), 6), 0x0800)
FLOW = b.flow_sample([b.header_record(FRAME), b.switch_record()])
COUNTERS = b.counter_sample([b.if_counters_record()])
VALID = b.datagram([FLOW, COUNTERS])


def decode(data: bytes, budget_s: float = BUDGET_S) -> Any:
    """Decode under the time budget; then prove the decoder still works on a valid datagram."""
    start = time.perf_counter()
    try:
        dg = decode_datagram(data)
    finally:
        elapsed = time.perf_counter() - start
        assert elapsed < budget_s, f"took {elapsed * 1000:.1f} ms"
        good = decode_datagram(VALID)
        assert len(good.samples) == 2 and good.errors == []
    to_sflowtool(dg)  # the renderer must cope with whatever the decoder produced
    return dg


def rejected(data: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(data)


def test_base_datagram_is_valid() -> None:
    dg = decode(VALID)
    flow, counters = dg.samples
    assert isinstance(flow, FlowSample) and isinstance(flow.records[0], SampledHeader)
    assert isinstance(counters, CounterSample) and isinstance(counters.records[0], CounterRecord)


# -- Framing / datagram header ----------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7])
def test_01_short_payload(size: int) -> None:
    rejected(VALID[:size], "shorter than")


@pytest.mark.parametrize("version", [0, 2, 4, 6, 0xFFFFFFFF])
def test_02_version(version: int) -> None:
    rejected(b.u32(version) + VALID[4:], f"version {version}")


@pytest.mark.parametrize("kind", [0, 3, 0xFFFFFFFF])
def test_03_agent_address_type(kind: int) -> None:
    rejected(VALID[:4] + b.u32(kind) + VALID[8:], f"address type {kind}")


@pytest.mark.parametrize("present", [0, 1, 8, 15])
def test_04_ipv6_agent_truncated(present: int) -> None:
    rejected(b.u32(5, 2) + b"\x20" * present, "truncated IPv6 agent")


def test_04_ipv6_agent_valid_and_mapped() -> None:
    assert decode(b.datagram([FLOW], agent="2001:db8::7")).agent == "2001:db8::7"
    assert decode(b.datagram([FLOW], agent="::ffff:192.0.2.9")).agent == "::ffff:192.0.2.9"


@pytest.mark.parametrize("cut", [16, 20, 24])  # after sub_agent_id, sequence, uptime
def test_05_header_truncated(cut: int) -> None:
    rejected(VALID[:cut], "truncated datagram header")


def test_06_zero_samples_trailing_garbage() -> None:
    dg = decode(b.datagram([], num_samples=0) + b"garbage!")
    assert dg.samples == [] and dg.errors == ["8 trailing bytes after 0 samples"]


@pytest.mark.parametrize("declared", [1001, 65536, 0xFFFFFFFF])
def test_06_huge_sample_count(declared: int) -> None:
    dg = decode(b.datagram([FLOW], num_samples=declared))
    assert len(dg.samples) == 1
    assert dg.errors == [f"{declared} samples declared, 1 present"]


def test_06_sample_cap() -> None:
    tiny = b.tlv(99, b"")  # 8-byte unknown sample
    dg = decode(b.datagram([tiny] * (MAX_SAMPLES + 5)))
    assert len(dg.samples) == MAX_SAMPLES and dg.unknown_records == MAX_SAMPLES
    assert dg.errors == [f"sample count {MAX_SAMPLES + 5} capped at {MAX_SAMPLES}"]


def test_07_fewer_and_more_samples_than_declared() -> None:
    fewer = decode(b.datagram([FLOW, COUNTERS], num_samples=3))
    assert len(fewer.samples) == 2 and fewer.errors == ["3 samples declared, 2 present"]
    more = decode(b.datagram([FLOW, COUNTERS, FLOW], num_samples=2))
    assert len(more.samples) == 2 and more.errors[0].endswith("trailing bytes after 2 samples")


@pytest.mark.parametrize("size", [65507, 9000])
def test_08_large_datagrams(size: int) -> None:
    minimal = b.counter_sample([])  # 20 bytes each
    n = (size - 28) // len(minimal)
    # Up to MAX_SAMPLES real samples: a larger budget than a malformed one, still bounded.
    dg = decode(b.datagram([minimal] * n), budget_s=1.0)
    assert len(dg.samples) == min(n, MAX_SAMPLES)


# -- Sample / record framing -------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 2, 3])
def test_09_sample_length_tiny(length: int) -> None:
    sample = b.u32(1, length) + b"\0" * ((length + 3) & ~3)  # body padded to 4
    dg = decode(b.datagram([sample, COUNTERS]))
    assert any("flow_sample header" in e for e in dg.errors)
    assert isinstance(dg.samples[-1], CounterSample)  # the next sample still decodes


@pytest.mark.parametrize("length", [10_000, 0xFFFFFFFF, 0xFFFFFFFD])
def test_09_sample_length_beyond_data(length: int) -> None:
    dg = decode(b.datagram([b.u32(1, length) + b"\0" * 40]))
    assert dg.samples == [] and "exceeds" in dg.errors[0]


def test_10_sample_shorter_than_flow_header() -> None:
    dg = decode(b.datagram([b.tlv(1, b"\0" * 8), COUNTERS]))
    assert dg.errors == ["sample 0 (0:1): 8 bytes < 32-byte flow_sample header"]
    assert len(dg.samples) == 1


@pytest.mark.parametrize(
    "sample",
    [
        b.flow_sample([b.switch_record()], num_records=0xFFFFFFFF),
        b.flow_sample_expanded([b.switch_record()], num_records=0xFFFFFFFF),
        b.counter_sample([b.if_counters_record()], num_records=0xFFFFFFFF),
    ],
    ids=["compact-flow", "expanded-flow", "counters"],
)
def test_11_huge_record_count(sample: bytes) -> None:
    dg = decode(b.datagram([sample]))
    assert len(dg.samples[0].records) == 1
    assert dg.errors == [f"sample 0 ({dg.samples[0].tag >> 12}:{dg.samples[0].tag & 0xFFF}): "
                         "4294967295 records declared, 1 present"]  # fmt: skip


def test_12_zero_length_records_million_count() -> None:
    records = [b.tlv(4242, b"")] * (MAX_RECORDS + 10)
    dg = decode(b.datagram([b.flow_sample(records, num_records=1_000_000)]))
    assert len(dg.samples[0].records) == MAX_RECORDS
    assert dg.unknown_records == MAX_RECORDS
    assert dg.errors[-1].endswith(f"record count 1000000 capped at {MAX_RECORDS}")


def test_13_record_runs_past_sample_end() -> None:
    bad = b.u32(1001, 64) + b.u32(1, 2, 3, 4)  # claims 64 bytes, sample has 16
    dg = decode(b.datagram([b.flow_sample([bad]), COUNTERS]))
    flow, counters = dg.samples
    assert flow.records == []
    assert "runs past the sample end" in dg.errors[0]
    assert counters.records[0].fields["if_index"] == 3


def test_14_known_record_longer_than_layout() -> None:
    longer = b.tlv(1001, b.u32(10, 0, 20, 0) + b"\xee" * 12)
    hdr = b.tlv(1, b.u32(1, 100, 4, len(FRAME)) + FRAME + b"\xee" * 8)
    dg = decode(b.datagram([b.flow_sample([longer, hdr, b.switch_record(7)])]))
    sw, h, sw2 = dg.samples[0].records
    assert sw == FlowRecord(
        1001, {"src_vlan": 10, "src_priority": 0, "dst_vlan": 20, "dst_priority": 0}
    )
    assert isinstance(h, SampledHeader) and h.header == FRAME and h.dst_port == 443
    assert sw2.fields["src_vlan"] == 7
    assert dg.errors == []


def test_15_known_record_shorter_than_layout() -> None:
    short = b.tlv(1, b.u32(3))  # generic interface counters with length 4
    dg = decode(b.datagram([b.counter_sample([short, b.tlv(1005, b.xdr_string("eth0"))]), FLOW]))
    bad, name = dg.samples[0].records
    assert isinstance(bad, BadRecord) and (bad.tag, bad.length) == (1, 4)
    assert name.fields == {"port_name": "eth0"}
    assert len(dg.errors) == 1 and "4 bytes < 88-byte layout" in dg.errors[0]
    assert isinstance(dg.samples[1], FlowSample)


def test_16_unknown_sample_flow_and_counter_formats() -> None:
    dg = decode(b.datagram([
        b.tlv(99, b"\1" * 12),
        b.tlv(9 << 12 | 1, b"\2" * 8),
        b.flow_sample(
            [b.tlv(4413 << 12 | 7, b"x" * 8), b.tlv(8888 << 12 | 1, b""), b.switch_record()]
        ),
        b.counter_sample([b.tlv(0, b"\0" * 4), b.if_counters_record()]),
    ]))  # fmt: skip
    s99, s9, flow, counters = dg.samples
    assert s99 == UnknownSample(99, 12) and s9 == UnknownSample(9 << 12 | 1, 8)
    assert flow.records[:2] == [UnknownRecord(4413 << 12 | 7, 8), UnknownRecord(8888 << 12 | 1, 0)]
    assert counters.records[0] == UnknownRecord(0, 4)
    assert dg.unknown_records == 5 and dg.errors == []


def test_17_discard_sample_with_trailing_elements() -> None:
    records = [b.header_record(FRAME)] + [b.tlv(1036, b.u32(i)) for i in range(50)]
    dg = decode(b.datagram([b.discard_sample(records)]))
    (s,) = dg.samples
    assert isinstance(s, DiscardSample) and len(s.records) == 51 and dg.errors == []


def test_18_compact_and_expanded_mixed() -> None:
    dg = decode(b.datagram([FLOW, b.flow_sample_expanded([]), COUNTERS,
                            b.counter_sample_expanded([])]))  # fmt: skip
    assert [s.tag for s in dg.samples] == [1, 3, 2, 4] and dg.errors == []


# -- Raw packet header record (0:1) -------------------------------------------------------


@pytest.mark.parametrize("proto", [0, 2, 7, 13, 20, 0xFFFFFFFF])
def test_19_header_protocols(proto: int) -> None:
    dg = decode(b.datagram([b.flow_sample([b.header_record(FRAME, protocol=proto)])]))
    (h,) = dg.samples[0].records
    assert isinstance(h, SampledHeader) and h.frame_length == len(FRAME) + 4
    assert h.src_mac is None and h.ip_version is None
    assert h.decode_error == f"header_protocol {proto} not decoded"
    assert dg.errors == []


def test_20_header_length_inconsistent() -> None:
    zero = decode(b.datagram([b.flow_sample([b.header_record(b"")])]))
    assert zero.samples[0].records[0].decode_error == "truncated Ethernet header"
    for declared in (len(FRAME) + 100, 0xFFFFFFFF):
        rec = b.tlv(1, b.u32(1, 100, 4, declared) + FRAME)
        dg = decode(b.datagram([b.flow_sample([rec]), COUNTERS]))
        h = dg.samples[0].records[0]
        assert isinstance(h, SampledHeader) and h.header[: len(FRAME)] == FRAME
        assert h.decode_error is not None and "> " in h.decode_error
        assert h.src_port == 40000  # what is there is still decoded
    odd = decode(
        b.datagram([b.flow_sample([b.header_record(FRAME, frame_length=10, stripped=50)])])
    )
    assert odd.samples[0].records[0].dst_port == 443
    assert to_sflowtool(odd)["samples"][0]["elements"][0]["IPSize"] == "-54"  # sflowtool %d


@pytest.mark.parametrize("size", range(14))
def test_21_short_ethernet(size: int) -> None:
    dg = decode(b.datagram([b.flow_sample([b.header_record(FRAME[:size])])]))
    assert dg.samples[0].records[0].decode_error == "truncated Ethernet header"


@pytest.mark.parametrize("tags", [1, 2, 10, 1000])
def test_22_stacked_vlan_tags(tags: int) -> None:
    frame = b.ethernet(b.ipv4(b.udp(), 17), 0x0800, tags=[(0x8100, 5)] * tags)
    rec = decode(b.datagram([b.flow_sample([b.header_record(frame)])])).samples[0].records[0]
    assert isinstance(rec, SampledHeader)
    if tags <= 8:
        assert rec.vlans == (5,) * tags and rec.src_port == 53
    else:
        assert rec.decode_error == "too many VLAN tags" and rec.src_port is None


def test_22_vlan_tag_with_nothing_after() -> None:
    frame = b.MAC_B + b.MAC_A + b"\x81\x00"
    rec = decode(b.datagram([b.flow_sample([b.header_record(frame)])])).samples[0].records[0]
    assert rec.decode_error == "truncated VLAN tag"


def test_23_mpls_without_bottom_of_stack() -> None:
    labels = struct.pack(">I", 16 << 12) * 40  # never sets the S bit
    frame = b.ethernet(labels, 0x8847)
    rec = decode(b.datagram([b.flow_sample([b.header_record(frame)])])).samples[0].records[0]
    assert rec.decode_error == "MPLS label stack too deep" and len(rec.mpls_labels) == 16
    short = b.ethernet(labels[:12], 0x8847)
    rec = decode(b.datagram([b.flow_sample([b.header_record(short)])])).samples[0].records[0]
    assert rec.decode_error == "truncated MPLS label stack"


@pytest.mark.parametrize(
    ("ip", "error", "port"),
    [
        (b.ipv4(b.tcp(), 6, ihl=4), "IPv4 IHL 4 < 5", None),
        (b.ipv4(b.tcp(), 6, ihl=15), "truncated IPv4 options", None),
        (b.ipv4(b.tcp(), 6, total_length=0), None, 40000),
        (b.ipv4(b.tcp(), 6, frag=100), None, None),
        (b.ipv4(b.tcp()[:8], 6), "truncated TCP header", 40000),
        (b.ipv4(b.tcp(data_offset=2), 6), "TCP data offset 2 < 5", 40000),
    ],
    ids=["ihl<5", "ihl>header", "total_length0", "fragment", "tcp<20", "tcp-doff<5"],
)
def test_24_ipv4_oddities(ip: bytes, error: str | None, port: int | None) -> None:
    rec = (
        decode(b.datagram([b.flow_sample([b.header_record(b.ethernet(ip, 0x0800))])]))
        .samples[0]
        .records[0]
    )
    assert isinstance(rec, SampledHeader)
    assert (rec.decode_error, rec.src_port) == (error, port)


def test_25_ipv6_oddities() -> None:
    def hdr(ip: bytes) -> SampledHeader:
        dg = decode(b.datagram([b.flow_sample([b.header_record(b.ethernet(ip, 0x86DD))])]))
        rec = dg.samples[0].records[0]
        assert isinstance(rec, SampledHeader)
        return rec

    assert hdr(b.ipv6(b"", 17)[:30]).decode_error == "truncated IPv6 header"
    # a chain of hop-by-hop headers that points to itself forever: bounded
    loop = b"".join(b.ipv6_ext(0) for _ in range(12))
    assert hdr(b.ipv6(loop, 0)).decode_error == "too many IPv6 extension headers"
    overrun = bytes((17, 200)) + b"\0" * 6  # claims (200+1)*8 bytes
    assert (
        hdr(b.ipv6(overrun, 60)).decode_error == "IPv6 extension header overruns the sampled header"
    )
    none = hdr(b.ipv6(b"\0" * 8, 59))
    assert (none.ip_protocol, none.src_port, none.decode_error) == (59, None, None)


def test_26_truncated_vxlan_inner_frame() -> None:
    vxlan = b.udp(50000, 4789, b"\x08\0\0\0\0\0\x64\0" + b.ethernet(b"", 0x0800)[:9])
    rec = decode(
        b.datagram([b.flow_sample([b.header_record(b.ethernet(b.ipv4(vxlan, 17), 0x0800))])])
    )
    assert rec.samples[0].records[0].dst_port == 4789


# -- Extended records ---------------------------------------------------------------------


def _gateway(tail: bytes) -> bytes:
    return b.tlv(1003, b.address("192.0.2.1") + b.u32(1, 2, 3) + tail)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b.u32(0xFFFFFFFF), "segment count 4294967295 > 1000"),
        (b.u32(1) + b.u32(2, 50) + b.u32(1), "count 50 exceeds the record"),
        (b.u32(0) + b.u32(0xFFFFFFF) + b.u32(1), "community count 268435455 > 1000"),
    ],
)
def test_27_gateway_bad_counts(body: bytes, error: str) -> None:
    dg = decode(b.datagram([b.flow_sample([_gateway(body), b.switch_record()])]))
    bad, sw = dg.samples[0].records
    assert isinstance(bad, BadRecord) and error in bad.error
    assert isinstance(sw, FlowRecord) and len(dg.errors) == 1


def test_27_gateway_empty_segment_and_bad_next_hop() -> None:
    ok = decode(
        b.datagram([b.flow_sample([_gateway(b.u32(1) + b.u32(2, 0) + b.u32(0) + b.u32(100))])])
    )
    rec = ok.samples[0].records[0]
    assert rec.fields["dst_as_path"] == [{"type": 2, "asns": []}]
    assert to_sflowtool(ok)["samples"][0]["elements"][0]["dst_as"] == "0"
    bad = decode(b.datagram([b.flow_sample([b.tlv(1002, b.u32(7) + b"\0" * 12)])]))
    assert "unknown address type 7" in bad.samples[0].records[0].error


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", ""),
        (b"a" * 5000, "a" * 5000),
        (b"\xff\xfebad", "\ufffd\ufffdbad"),
        (b"nul\0inside", "nul\0inside"),
        (b"sp ace,comma=eq\nnl", "sp ace,comma=eq\nnl"),
    ],
    ids=["empty", "long", "non-utf8", "nul", "specials"],
)
def test_28_strings(raw: bytes, expected: str) -> None:
    rec = b.tlv(1004, b.u32(106) + b.xdr_string(raw) + b.u32(106) + b.xdr_string(b"x"))
    dg = decode(b.datagram([b.flow_sample([rec])]))
    assert dg.samples[0].records[0].fields["src_user"] == expected
    rendered = to_sflowtool(dg)["samples"][0]["elements"][0]["src_user"]
    assert len(rendered) <= 199 and "\0" not in rendered  # sflowtool's C buffer


def test_28_string_longer_than_record() -> None:
    rec = b.tlv(1004, b.u32(106, 500) + b"abcd")
    dg = decode(b.datagram([b.flow_sample([rec])]))
    assert isinstance(dg.samples[0].records[0], BadRecord)
    assert "string length 500 exceeds" in dg.errors[0]


def test_29_switch_vlan_above_4095() -> None:
    dg = decode(b.datagram([b.flow_sample([b.switch_record(70000, 9, 5000, 0)])]))
    assert dg.samples[0].records[0].fields["src_vlan"] == 70000


# -- Semantic values (decoder keeps raw values; scaling/filtering is points.py's job) ------


@pytest.mark.parametrize("rate", [0, 0xFFFFFFFF])
def test_30_sampling_rate_extremes(rate: int) -> None:
    dg = decode(b.datagram([b.flow_sample([b.header_record(FRAME)], rate=rate)]))
    assert dg.samples[0].sampling_rate == rate


def test_31_all_ones_counters_kept_raw() -> None:
    rec = b.if_counters_record(if_in_octets=2**64 - 1, if_in_errors=2**32 - 1)
    fields = decode(b.datagram([b.counter_sample([rec])])).samples[0].records[0].fields
    assert (fields["if_in_octets"], fields["if_in_errors"]) == (2**64 - 1, 2**32 - 1)


@pytest.mark.parametrize(
    ("raw", "fmt", "value", "text"),
    [
        (0x3FFFFFFF, 0, 0x3FFFFFFF, "1073741823"),
        (0x40000001, 1, 1, "dropCode 1"),
        (0x80000007, 2, 7, "multiple 7"),
        (0x80000000, 2, 0, "multiple 0"),
    ],
)
def test_34_interface_encodings(raw: int, fmt: int, value: int, text: str) -> None:
    dg = decode(b.datagram([b.flow_sample([], out=raw)]))
    s = dg.samples[0]
    assert isinstance(s, FlowSample) and (s.output_format, s.output_value) == (fmt, value)
    assert to_sflowtool(dg)["samples"][0]["outputPort"] == text


def test_every_truncation_of_a_rich_datagram_is_safe() -> None:
    """Byte-level sweep: every prefix and every single-byte corruption of a rich datagram."""
    rich = b.datagram([
        FLOW,
        b.discard_sample([b.header_record(b.ethernet(b.ipv6(b.udp(), 17), 0x86DD)),
                          b.tlv(1041, b.xdr_string("g") + b.xdr_string("t"))]),
        b.counter_sample_expanded([b.tlv(2000, b.xdr_string("h") + bytes(16) + b.u32(1, 2)
                                         + b.xdr_string("r")), b.if_counters_record()]),
    ], agent="2001:db8::1")  # fmt: skip
    for cut in range(len(rich)):
        try:
            decode_datagram(rich[:cut])
        except DecodeError:
            pass
    for i in range(len(rich)):
        for value in (0x00, 0x7F, 0xFF):
            mutated = rich[:i] + bytes((value,)) + rich[i + 1 :]
            try:
                to_sflowtool(decode_datagram(mutated))
            except DecodeError:
                pass
