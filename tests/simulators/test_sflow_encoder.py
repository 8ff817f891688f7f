"""sFlow encoder: byte-exact against real agents' datagrams, and round trips through the decoder."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from collector.sflow import records as rec
from collector.sflow.decoder import decode_datagram
from simulators import sflow_encoder as enc

TESTDATA = Path("/work/shared/testdata/sflow")
if not TESTDATA.is_dir():  # CI clones put shared/ beside the repo
    TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "sflow"

COUNTER_CLASSES: dict[int, type[enc.FixedBlock]] = {
    c.TAG: c
    for c in (
        enc.IfCounters,
        enc.EthernetCounters,
        enc.ProcessorCounters,
        enc.HostParent,
        enc.HostCpu,
        enc.HostMemory,
        enc.HostDiskIo,
        enc.HostNetIo,
        enc.Mib2Ip,
        enc.Mib2Icmp,
        enc.Mib2Tcp,
        enc.Mib2Udp,
        enc.VirtNode,
        enc.VirtCpu,
        enc.VirtMemory,
        enc.VirtDiskIo,
        enc.VirtNetIo,
    )
}


def _counter(r: rec.CounterRecordT) -> enc.Encodable:
    assert isinstance(r, rec.CounterRecord), r
    if r.tag == 2000:
        return enc.HostDescr(**r.fields)  # type: ignore[arg-type]
    if r.tag == 2001:
        adapters = r.fields["adapters"]
        assert isinstance(adapters, list)
        return enc.HostAdapters([enc.HostAdapter(a["if_index"], a["macs"]) for a in adapters])
    if r.tag == 1005:
        return enc.PortName(str(r.fields["port_name"]))
    return COUNTER_CLASSES[r.tag](**r.fields)


def _flow(r: rec.FlowRecordT) -> enc.Encodable:
    if isinstance(r, rec.SampledHeader):
        return enc.SampledHeader(r.header, r.frame_length, r.stripped, r.header_protocol)
    assert isinstance(r, rec.FlowRecord), r
    if r.tag == 1001:
        return enc.ExtendedSwitch(**r.fields)  # type: ignore[arg-type]
    # Single-u32 extension records (1036 egress queue …) go through RawRecord.
    (value,) = r.fields.values()
    assert isinstance(value, int)
    return enc.RawRecord(r.tag, struct.pack("!I", value))


def reencode(dg: rec.Datagram) -> bytes:
    """Rebuild a decoded datagram with the encoder's public API."""
    samples: list[enc.Encodable] = []
    for s in dg.samples:
        if isinstance(s, rec.CounterSample):
            samples.append(
                enc.CounterSample(
                    s.source_id_type,
                    s.source_id_index,
                    [_counter(r) for r in s.records],
                    sequence=s.sequence,
                    expanded=s.tag == 4,
                )
            )
        elif isinstance(s, rec.FlowSample):
            samples.append(
                enc.FlowSample(
                    s.source_id_index,
                    s.sampling_rate,
                    s.sample_pool,
                    [_flow(r) for r in s.records],
                    input=s.input_value,
                    output=s.output_value,
                    input_format=s.input_format,
                    output_format=s.output_format,
                    drops=s.drops,
                    source_type=s.source_id_type,
                    sequence=s.sequence,
                    expanded=s.tag == 3,
                )
            )
        elif isinstance(s, rec.DiscardSample):
            samples.append(
                enc.DiscardSample(
                    s.source_id_index,
                    s.reason,
                    [_flow(r) for r in s.records],
                    input=s.input_ifindex,
                    output=s.output_ifindex,
                    drops=s.drops,
                    source_type=s.source_id_type,
                    sequence=s.sequence,
                )
            )
        else:
            raise AssertionError(s)
    return enc.encode_datagram(
        dg.agent,
        samples,
        sequence=dg.sequence,
        uptime_ms=dg.uptime_ms,
        sub_agent_id=dg.sub_agent_id,
    )


REAL_DATAGRAMS = sorted(TESTDATA.glob("*/*.bin"))


@pytest.mark.parametrize("path", REAL_DATAGRAMS, ids=lambda p: p.name)
def test_reencodes_real_agent_datagrams_byte_for_byte(path: Path) -> None:
    """hsflowd (host blocks, 80-byte host_cpu), pmacct sfprobe (sampled headers + 1001),
    switches (0:1/0:2 compact samples, if_counters, ethernet), a Dell 0:4 and a 0:5 drop."""
    raw = path.read_bytes()
    dg = decode_datagram(raw)
    out = reencode(dg)
    if path.name.startswith("pmacct"):
        # pmacct copies the packet past the header into the XDR padding instead of zeros; our
        # encoder zero-pads. Everything else must match exactly.
        assert len(out) == len(raw)
        diff = [i for i, (a, b) in enumerate(zip(out, raw, strict=True)) if a != b]
        assert all(out[i] == 0 for i in diff)
        assert len(diff) <= 3 * len(dg.samples)
    else:
        assert out == raw


def test_real_datagrams_present() -> None:
    assert len(REAL_DATAGRAMS) >= 20


def _values(block: object, seed: int) -> object:
    """Copy of ``block`` with distinct, full-width values in every numeric field."""
    changes: dict[str, object] = {}
    layout = type(block).layout()  # type: ignore[attr-defined]
    for i, (f, code) in enumerate(zip(dataclasses.fields(block), layout, strict=True)):  # type: ignore[arg-type]
        if code == "Q":
            changes[f.name] = (1 << 40) + seed * 1000 + i
        elif code == "I":
            changes[f.name] = 0x8000_0000 + seed * 1000 + i
        else:
            changes[f.name] = float(i) + 0.5  # exactly representable in float32
    return dataclasses.replace(block, **changes)  # type: ignore[type-var]


def test_every_counter_block_round_trips() -> None:
    blocks = [
        _values(cls(**({"if_index": 0} if cls is enc.IfCounters else {})), n)
        for n, cls in enumerate(COUNTER_CLASSES.values())
    ]
    extra: list[enc.Encodable] = [
        enc.PortName("Ethernet1/49"),
        enc.HostDescr("hv01.example", "6571e19b-6571-519b-a571-e19b6571e19b", 3, 2, "6.1.0"),
        enc.HostAdapters(
            [
                enc.HostAdapter(2, ["02:fc:00:00:00:01"]),
                enc.HostAdapter(7, [b"\x52\x54\x00\x00\x00\x07", "525400000008"]),
            ]
        ),
    ]
    # Split over several samples: one sample of every block would exceed a datagram.
    samples = [
        enc.CounterSample(enc.SOURCE_IFINDEX, 5, blocks[:8]),  # type: ignore[list-item]
        enc.CounterSample(enc.SOURCE_PHYSICAL_ENTITY, 1, blocks[8:], expanded=True),  # type: ignore[list-item]
        enc.CounterSample(enc.SOURCE_LOGICAL_ENTITY, 3, extra, expanded=True),
    ]
    raw = enc.encode_datagram("192.0.2.9", samples, sequence=7, uptime_ms=1234)
    dg = decode_datagram(raw)
    assert not dg.errors and dg.unknown_records == 0
    assert (dg.sequence, dg.uptime_ms, dg.agent) == (7, 1234, "192.0.2.9")
    assert [s.tag for s in dg.samples] == [2, 4, 4]
    got = [r for s in dg.samples for r in s.records]  # type: ignore[union-attr]
    for block, r in zip(blocks, got, strict=False):
        assert isinstance(r, rec.CounterRecord)
        assert r.tag == block.TAG  # type: ignore[attr-defined]
        assert r.fields == dataclasses.asdict(block), block  # type: ignore[call-overload]
    port, descr, adapters = got[len(blocks) :]
    assert port.fields == {"port_name": "Ethernet1/49"}  # type: ignore[union-attr]
    assert descr.fields == {  # type: ignore[union-attr]
        "hostname": "hv01.example",
        "uuid": "6571e19b-6571-519b-a571-e19b6571e19b",
        "machine_type": 3,
        "os_name": 2,
        "os_release": "6.1.0",
    }
    assert adapters.fields == {
        "adapters": [  # type: ignore[union-attr]
            {"if_index": 2, "macs": ["02fc00000001"]},
            {"if_index": 7, "macs": ["525400000007", "525400000008"]},
        ]
    }
    s0 = dg.samples[0]
    assert isinstance(s0, rec.CounterSample)
    assert (s0.source_id_type, s0.source_id_index) == (0, 5)


def test_block_sizes_match_the_spec() -> None:
    sizes = {
        1: 88,
        2: 52,
        1001: 28,
        2002: 8,
        2003: 80,
        2004: 72,
        2005: 52,
        2006: 40,
        2007: 76,
        2008: 100,
        2009: 60,
        2010: 28,
        2100: 28,
        2101: 12,
        2102: 16,
        2103: 52,
        2104: 40,
    }
    for tag, cls in COUNTER_CLASSES.items():
        block = cls(**({"if_index": 1} if cls is enc.IfCounters else {}))
        assert len(block.body()) == sizes[tag], cls.__name__
    assert len(enc.HostCpu68().body()) == 68


def test_host_cpu_68_byte_form_decodes_without_steal() -> None:
    raw = enc.encode_datagram(
        "192.0.2.2",
        [enc.CounterSample(2, 1, [enc.HostCpu68(cpu_user=5, cpu_steal=9)], expanded=True)],
    )
    (sample,) = decode_datagram(raw).samples
    (cpu,) = sample.records  # type: ignore[union-attr]
    assert cpu.fields["cpu_user"] == 5  # type: ignore[union-attr]
    assert "cpu_steal" not in cpu.fields  # type: ignore[union-attr]


def test_counters_wrap_at_wire_width() -> None:
    block = enc.IfCounters(if_index=1, if_in_octets=(1 << 64) + 5, if_in_ucast_pkts=(1 << 32) + 7)
    (sample,) = decode_datagram(
        enc.encode_datagram("192.0.2.1", [enc.CounterSample(0, 1, [block])])
    ).samples
    f = sample.records[0].fields  # type: ignore[union-attr]
    assert (f["if_in_octets"], f["if_in_ucast_pkts"]) == (5, 7)


def test_ipv6_agent_address() -> None:
    raw = enc.encode_datagram(
        "2001:db8::17",
        [enc.CounterSample(2, 1, [enc.HostParent()])],
        sequence=3,
        sub_agent_id=100000,
    )
    dg = decode_datagram(raw)
    assert (dg.agent_address_type, dg.agent, dg.sub_agent_id, dg.sequence) == (
        2,
        "2001:db8::17",
        100000,
        3,
    )
    assert len(raw) == 40 + 8 + 12 + 8 + 8  # header, sample TLV, seq/source/n, record


FRAMES = {
    "tcp4": {"src_ip": "10.1.100.10", "dst_ip": "10.1.100.11", "protocol": "tcp", "dst_port": 443},
    "udp4": {"src_ip": "10.1.100.10", "dst_ip": "10.1.200.11", "protocol": "udp", "dst_port": 53},
    "icmp4": {"src_ip": "10.1.100.10", "dst_ip": "10.1.100.11", "protocol": "icmp"},
    "tcp6": {
        "src_ip": "2001:db8:100::a",
        "dst_ip": "2001:db8:100::b",
        "protocol": "tcp",
        "dst_port": 80,
    },
    "udp6": {
        "src_ip": "2001:db8:100::a",
        "dst_ip": "2001:db8:200::b",
        "protocol": "udp",
        "dst_port": 123,
    },
    "icmp6": {"src_ip": "2001:db8:100::a", "dst_ip": "2001:db8:100::b", "protocol": "icmp"},
}


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("vlan", [None, 200])
def test_sampled_header_fast_path_fields(name: str, vlan: int | None) -> None:
    kw = FRAMES[name]
    frame = enc.build_frame(
        "52:54:00:00:00:01",
        "52:54:00:00:00:02",
        kw["src_ip"],
        kw["dst_ip"],
        protocol=kw["protocol"],
        src_port=40000,
        dst_port=kw.get("dst_port", 7),
        vlan=vlan,
        frame_size=1514,
        tcp_flags=enc.TCP_SYN,
        ttl=61,
    )  # type: ignore[arg-type]
    assert len(frame) == 1514
    hdr = enc.sampled_header_from_frame(frame)
    assert (len(hdr.header), hdr.frame_length, hdr.stripped) == (128, 1518, 4)
    sample = enc.FlowSample(
        3, 1000, 123456, [hdr, enc.ExtendedSwitch(vlan or 0, 0, vlan or 0, 0)], input=3, output=49
    )
    dg = decode_datagram(enc.encode_datagram("192.0.2.1", [sample]))
    (fs,) = dg.samples
    assert isinstance(fs, rec.FlowSample)
    assert (fs.sampling_rate, fs.sample_pool, fs.input_value, fs.output_value) == (
        1000,
        123456,
        3,
        49,
    )
    h = fs.records[0]
    assert isinstance(h, rec.SampledHeader)
    assert h.decode_error is None
    assert h.src_mac == bytes.fromhex("525400000001") and h.dst_mac == bytes.fromhex("525400000002")
    assert h.vlan == vlan
    assert (h.src_ip, h.dst_ip, h.ip_ttl) == (kw["src_ip"], kw["dst_ip"], 61)
    v6 = ":" in kw["src_ip"]
    assert h.ip_version == (6 if v6 else 4)
    proto = {"tcp": 6, "udp": 17, "icmp": 58 if v6 else 1}[kw["protocol"]]
    assert h.ip_protocol == proto
    if kw["protocol"] == "icmp":
        assert h.icmp_type == (128 if v6 else 8)
    else:
        assert (h.src_port, h.dst_port) == (40000, kw["dst_port"])
    if kw["protocol"] == "tcp":
        assert h.tcp_flags == enc.TCP_SYN
    if not v6:
        assert h.ip_total_length == 1514 - 14 - (4 if vlan else 0)


def test_frame_checksums_are_valid() -> None:
    frame = enc.build_frame(
        "02:00:00:00:00:01",
        "02:00:00:00:00:02",
        "10.0.0.1",
        "10.0.0.2",
        protocol="tcp",
        frame_size=100,
    )
    ip = frame[14:]
    assert enc.inet_checksum(ip[:20]) == 0
    seg = ip[20:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(seg))
    assert enc.inet_checksum(pseudo + seg) == 0


def test_short_frames_are_padded_and_arp_decodes() -> None:
    frame = enc.build_arp_frame("52:54:00:00:00:05", "10.1.100.14", "10.1.100.1", vlan=100)
    assert len(frame) == 60  # Ethernet minimum without FCS
    hdr = enc.sampled_header_from_frame(frame)
    assert (len(hdr.header), hdr.frame_length) == (60, 64)
    dg = decode_datagram(enc.encode_datagram("192.0.2.1", [enc.FlowSample(1, 1, 1, [hdr])]))
    h = dg.samples[0].records[0]  # type: ignore[union-attr]
    assert isinstance(h, rec.SampledHeader)
    assert (h.dst_mac, h.vlan, h.arp_op) == (b"\xff" * 6, 100, 1)
    assert (h.src_ip, h.dst_ip) == ("10.1.100.14", "10.1.100.1")


def test_expanded_flow_sample_and_interface_formats() -> None:
    hdr = enc.sampled_header_from_frame(
        enc.build_frame(
            "02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255", protocol="udp"
        )
    )
    compact = enc.FlowSample(
        7, 512, 99, [hdr], input=7, output=5, output_format=enc.IF_FORMAT_MULTIPLE, drops=3
    )
    expanded = enc.FlowSample(
        0x123456,
        512,
        100,
        [hdr],
        input=enc.IF_INTERNAL,
        output=258,
        output_format=enc.IF_FORMAT_DISCARD,
        expanded=True,
        source_type=enc.SOURCE_IFINDEX,
    )
    dg = decode_datagram(enc.encode_datagram("192.0.2.1", [compact, expanded]))
    a, b = dg.samples
    assert isinstance(a, rec.FlowSample) and isinstance(b, rec.FlowSample)
    assert (a.tag, a.output_format, a.output_value, a.drops) == (1, 2, 5, 3)
    assert (b.tag, b.source_id_index, b.input_value, b.output_format, b.output_value) == (
        3,
        0x123456,
        enc.IF_INTERNAL,
        1,
        258,
    )


def test_discard_sample_and_unknown_records() -> None:
    hdr = enc.sampled_header_from_frame(
        enc.build_frame("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2")
    )
    unknown = enc.RawRecord(enc.tag_of(9999, 7), b"\x01\x02\x03")  # padded to 4 by the encoder
    drop = enc.DiscardSample(12, reason=258, records=[hdr, unknown], input=12, drops=4)
    raw_sample = enc.RawSample(enc.tag_of(9999, 1002), b"{}")  # 4300:1002 (rtmetric) is decoded now
    dg = decode_datagram(enc.encode_datagram("192.0.2.1", [drop, raw_sample]))
    d, u = dg.samples
    assert isinstance(d, rec.DiscardSample)
    assert (d.reason, d.input_ifindex, d.drops, d.source_id_index) == (258, 12, 4, 12)
    assert isinstance(d.records[0], rec.SampledHeader)
    assert isinstance(d.records[1], rec.UnknownRecord) and d.records[1].length == 4
    assert isinstance(u, rec.UnknownSample)


def test_agent_encoder_splits_and_numbers() -> None:
    agent = enc.AgentEncoder("192.0.2.1")
    frame = enc.build_frame(
        "02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", frame_size=1500
    )
    samples: list[enc.Sample] = []
    for i in range(50):
        port = 1 + i % 3
        samples.append(
            enc.FlowSample(port, 1000, 1000 * i, [enc.sampled_header_from_frame(frame)], input=port)
        )
        samples.append(enc.CounterSample(0, port, [enc.IfCounters(port), enc.EthernetCounters()]))
    datagrams = agent.pack(samples, uptime_ms=5000)
    assert len(datagrams) > 5
    assert all(len(d) <= enc.MAX_DATAGRAM for d in datagrams)
    decoded = [decode_datagram(d) for d in datagrams]
    assert [d.sequence for d in decoded] == list(range(1, len(datagrams) + 1))
    got = [s for d in decoded for s in d.samples]
    assert len(got) == 100
    # Sample sequence numbers run per (sampler kind, data source): flow and counter samples of
    # the same port each count 1, 2, 3 …
    seqs: dict[tuple[int, int], list[int]] = {}
    for s in got:
        assert isinstance(s, rec.FlowSample | rec.CounterSample)
        seqs.setdefault((s.tag, s.source_id_index), []).append(s.sequence)
    assert len(seqs) == 6
    for values in seqs.values():
        assert values == list(range(1, len(values) + 1))
    # The next batch continues both sequences.
    more = agent.pack([enc.CounterSample(0, 1, [enc.IfCounters(1)])], uptime_ms=6000)
    nxt = decode_datagram(more[0])
    assert nxt.sequence == len(datagrams) + 1
    assert nxt.samples[0].sequence == len(seqs[(2, 1)]) + 1  # type: ignore[union-attr]


def test_oversized_sample_is_rejected() -> None:
    agent = enc.AgentEncoder("192.0.2.1")
    big = enc.CounterSample(0, 1, [enc.PortName("x" * 200)] * 8)
    with pytest.raises(ValueError, match="does not fit"):
        agent.pack([big], uptime_ms=0)
