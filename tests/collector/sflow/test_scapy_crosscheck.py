"""Independent cross-check of the sampled-header fast path (collector/sflow/headers.py) against
scapy (collector/sflow/dissect.py): the same headers dissected by both, the results compared.

1. Every sampled header in the fixture captures (real agents: switches, hsflowd, pmacct).
2. Generated frames: Ethernet with stacked VLAN tags, 802.3 LLC/SNAP, MPLS, IPv4 with options
   and fragments, IPv6 with extension headers, ARP, TCP/UDP/ICMP/ICMPv6, raw-IP header
   protocols, each cut at an arbitrary sampled length (agents sample the first N bytes).
A whole frame must decode without error to exactly scapy's facts; from any prefix, every fact
the fast path reads must be true of the whole frame. Fixture headers (already cut by the agent)
must agree with scapy on every fact the fast path decoded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("scapy")

from collector.sflow.decoder import DecodeError, decode_datagram  # noqa: E402
from collector.sflow.dissect import disagreements, facts, fast_facts, show_layers  # noqa: E402
from collector.sflow.headers import decode_header_layers  # noqa: E402
from collector.sflow.pcap import read_datagrams  # noqa: E402
from collector.sflow.records import SampledHeader  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sflow"


def fast(header: bytes, proto: int = 1) -> SampledHeader:
    rec = SampledHeader(header_protocol=proto, frame_length=len(header), stripped=0, header=header)
    decode_header_layers(rec)
    return rec


def fixture_headers() -> list[tuple[str, int, bytes]]:
    out = []
    for path in sorted(FIXTURES.rglob("*.bin")):
        for _, _, payload in read_datagrams(str(path)):
            try:
                dg = decode_datagram(payload)
            except DecodeError:
                continue
            for sample in dg.samples:
                for rec in getattr(sample, "records", []):
                    if isinstance(rec, SampledHeader):
                        out.append((path.name, rec.header_protocol, rec.header))
    return out


def test_fixture_headers_agree_with_scapy() -> None:
    headers = fixture_headers()
    assert len(headers) >= 20, len(headers)  # the check is not vacuous
    clean = 0
    for name, proto, header in headers:
        rec = fast(header, proto)
        assert disagreements(rec) == {}, (name, header.hex())
        if rec.decode_error is None:
            clean += 1
            assert fast_facts(rec) == facts(header, proto), (name, header.hex())
    assert clean >= len(headers) // 2


# -- generated frames ------------------------------------------------------------------------------


def _frames() -> st.SearchStrategy[tuple[int, bytes]]:
    from scapy.contrib.mpls import MPLS
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP
    from scapy.layers.inet6 import (
        ICMPv6EchoRequest,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
    )
    from scapy.layers.l2 import ARP, LLC, SNAP, Dot1AD, Dot1Q, Dot3, Ether
    from scapy.packet import Raw

    port = st.integers(0, 65535)
    byte = st.integers(0, 255)
    ipv4 = st.ip_addresses(v=4).map(str)
    ipv6 = st.ip_addresses(v=6).map(str)
    mac = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
    payload = st.binary(max_size=64).map(Raw)

    l4 = st.one_of(
        st.builds(lambda s, d, f, p: TCP(sport=s, dport=d, flags=f) / p, port, port, byte, payload),
        st.builds(lambda s, d, p: UDP(sport=s, dport=d) / p, port, port, payload),
        st.builds(lambda t, c: ICMP(type=t, code=c), st.sampled_from([0, 8, 13]), byte),
    )
    l4v6 = st.one_of(
        st.builds(lambda s, d, p: TCP(sport=s, dport=d) / p, port, port, payload),
        st.builds(lambda s, d, p: UDP(sport=s, dport=d) / p, port, port, payload),
        st.builds(lambda i: ICMPv6EchoRequest(id=i), port),
    )
    ip4 = st.builds(
        lambda s, d, tos, ttl, ident, opts, frag, inner: (
            IP(src=s, dst=d, tos=tos, ttl=ttl, id=ident, options=[IPOption_NOP()] * opts,
               frag=frag) / inner  # fmt: skip
        ),
        ipv4, ipv4, byte, byte, port, st.integers(0, 3),
        st.sampled_from([0, 0, 0, 185]), l4,
    )  # fmt: skip
    ext = st.sampled_from(
        [IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(), IPv6ExtHdrFragment()]
    )
    ip6 = st.builds(
        lambda s, d, tc, fl, hl, exts, frag_off, inner: IPv6(
            src=s, dst=d, tc=tc, fl=fl, hlim=hl
        )
        / _chain([e.copy() for e in exts], frag_off)
        / inner,
        ipv6, ipv6, byte, st.integers(0, 0xFFFFF), byte, st.lists(ext, max_size=3),
        st.sampled_from([0, 0, 7]), l4v6,
    )  # fmt: skip
    arp = st.builds(lambda op, a, b: ARP(op=op, psrc=a, pdst=b), st.integers(1, 4), ipv4, ipv4)
    mpls = st.builds(
        lambda labels, inner: _mpls(labels, inner, MPLS),
        st.lists(st.integers(0, 2**20 - 1), min_size=1, max_size=3),
        st.one_of(ip4, ip6),
    )
    l3 = st.one_of(ip4, ip6, arp, mpls)

    def with_l2(
        src: str, dst: str, tags: list[tuple[str, int, int]], inner: object, snap: bool
    ) -> bytes:
        layer: object = Ether(src=src, dst=dst)
        for kind, vid, pcp in tags:
            # Priority and DEI share the TCI with the VLAN id: set them so a mask slip shows.
            tag = Dot1AD if kind == "ad" else Dot1Q
            layer = layer / tag(vlan=vid, prio=pcp >> 1, dei=pcp & 1)
        if snap and not tags:
            return bytes(Dot3(src=src, dst=dst) / LLC() / SNAP() / inner)
        return bytes(layer / inner)

    tags = st.lists(
        st.tuples(st.sampled_from(["q", "ad"]), st.integers(0, 4095), st.integers(0, 15)),
        max_size=3,
    )
    ether = st.builds(with_l2, mac, mac, tags, l3, st.booleans()).map(lambda b: (1, b))
    raw_ip = st.one_of(ip4.map(lambda p: (11, bytes(p))), ip6.map(lambda p: (12, bytes(p))))
    return st.one_of(ether, ether, raw_ip)


def _chain(exts: list[object], frag_off: int) -> object:
    from scapy.layers.inet6 import IPv6ExtHdrFragment
    from scapy.packet import NoPayload

    out: object = NoPayload()
    for e in exts:
        if isinstance(e, IPv6ExtHdrFragment):
            e.offset = frag_off
        out = e if isinstance(out, NoPayload) else out / e
    return out


def _mpls(labels: list[int], inner: object, mpls: type) -> object:
    stack = [mpls(label=lab, s=1 if i == len(labels) - 1 else 0) for i, lab in enumerate(labels)]
    out = stack[0]
    for layer in stack[1:]:
        out = out / layer
    return out / inner


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_generated_headers_agree_with_scapy(data: st.DataObject) -> None:
    proto, frame = data.draw(_frames())
    truth = facts(frame, proto)  # scapy on the whole frame
    # The whole frame: the fast path decodes it without error, to exactly scapy's facts.
    whole = fast(frame, proto)
    assert whole.decode_error is None, (frame.hex(), whole.decode_error)
    assert fast_facts(whole) == truth, frame.hex()
    # A sampled prefix (agents send the first N bytes), cut anywhere: whatever the fast path
    # reads from it, truncated header or not, is true of the whole frame.
    cut = data.draw(st.integers(min_value=0, max_value=len(frame)))
    rec = fast(frame[:cut], proto)
    for name, value in fast_facts(rec).items():
        if isinstance(value, tuple):  # a cut label stack: the labels read so far
            assert truth[name][: len(value)] == value, (name, frame.hex(), cut)
        elif value is not None:
            assert truth[name] == value, (name, frame.hex(), cut, rec.decode_error)


def test_show_layers_names_each_layer() -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Dot1Q, Ether

    header = bytes(Ether() / Dot1Q(vlan=100) / IP(src="10.1.1.5", dst="10.1.2.9") / TCP(dport=443))
    text = show_layers(header)
    for layer in ("###[ Ethernet ]###", "###[ 802.1Q ]###", "###[ IP ]###", "###[ TCP ]###"):
        assert layer in text
    assert "vlan      = 100" in text and "dport     = https" in text


def test_sflow_decode_dissect_shows_each_sampled_header() -> None:
    import subprocess
    import sys

    paths = sorted(str(p) for p in (FIXTURES / "public").glob("*.bin"))
    expected = sum(1 for name, _, _ in fixture_headers() if (FIXTURES / "public" / name).exists())
    assert expected > 0
    r = subprocess.run(
        [sys.executable, "-m", "fabricscope.cli", "sflow", "decode", "--dissect", *paths],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("\n== ")
    assert len(blocks) == expected and r.stdout.startswith("== ")
    for block in blocks:
        assert "bytes sampled" in block.splitlines()[0]
        assert "###[ Ethernet ]###" in block or "###[ IP" in block
        verdicts = [ln for ln in block.splitlines() if ln.startswith("-- ")]
        assert verdicts == ["-- fast path and scapy agree"], block[-400:]
    assert r.stderr == ""  # no progress bar in a pipe, no scapy warnings
