"""Sampled headers dissected by scapy: `sflow decode --dissect` and the tests' cross-check of the
fast path (collector/sflow/headers.py).

The fast path is hand-written `struct` code tuned for microseconds per sample; scapy is a slow
(~200 µs) but independent and widely used dissector. Here scapy does two jobs:

- `show_layers`: a sampled header layer by layer (scapy's `show`), for a person looking at what
  an agent really sampled;
- `facts`: the same facts the fast path extracts (`SampledHeader` field names), read from scapy's
  dissection, so that tests — and `--dissect` itself — can compare the two and name any field on
  which they disagree (`disagreements`).

scapy is imported lazily (about a second): nothing on the collector's hot path imports this.
"""

from __future__ import annotations

import logging
from typing import Any

from collector.sflow.headers import HEADER_ETHERNET, HEADER_IPV4, HEADER_IPV6
from collector.sflow.records import SampledHeader

# The SampledHeader fields both sides report.
FACT_FIELDS = (
    "dst_mac",
    "src_mac",
    "vlans",
    "ether_type",
    "mpls_labels",
    "ip_version",
    "src_ip",
    "dst_ip",
    "ip_protocol",
    "ip_tos",
    "ip_ttl",
    "ip_id",
    "ip_total_length",
    "ipv6_flow_label",
    "ipv6_payload_length",
    "ip_fragment_offset",
    "src_port",
    "dst_port",
    "tcp_flags",
    "icmp_type",
    "icmp_code",
    "arp_op",
)


_bound = False


def _bind_once() -> None:
    """Teach scapy the ethertypes every sFlow collector follows and scapy does not: MPLS
    multicast (0x8848) and the pre-standard QinQ TPIDs 0x9100-0x9300 (sflowtool unwraps them).
    Only the dispatch is added; scapy still parses every field itself."""
    global _bound
    if _bound:
        return
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # no "IPv6 not available" noise
    from scapy.contrib.mpls import MPLS
    from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
    from scapy.packet import bind_layers

    for outer in (Ether, Dot1Q, Dot1AD):
        bind_layers(outer, MPLS, type=0x8848)
        for tpid in (0x9100, 0x9200, 0x9300):
            bind_layers(outer, Dot1Q, type=tpid)
    _bound = True


def dissect(header: bytes, header_protocol: int = HEADER_ETHERNET) -> Any:
    """scapy's packet for a sampled header (0:1 `header_protocol` 1, 11 or 12)."""
    _bind_once()
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    if header_protocol == HEADER_IPV4:
        return IP(header)
    if header_protocol == HEADER_IPV6:
        return IPv6(header)
    if header_protocol == HEADER_ETHERNET:
        return Ether(header)
    raise ValueError(f"header_protocol {header_protocol} is not Ethernet, IPv4 or IPv6")


def show_layers(header: bytes, header_protocol: int = HEADER_ETHERNET) -> str:
    """Every layer with its fields, as scapy's `show()` prints them."""
    try:
        text: str = dissect(header, header_protocol).show(dump=True)
    except Exception as exc:  # scapy raises on some truncated headers
        return f"scapy could not dissect this header: {type(exc).__name__}: {exc}"
    return text.rstrip("\n")


def facts(header: bytes, header_protocol: int = HEADER_ETHERNET) -> dict[str, Any]:
    """The fast path's facts (`FACT_FIELDS`) as scapy dissects them: absent ones are None."""
    from scapy.contrib.mpls import MPLS
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, _IPv6ExtHdr
    from scapy.layers.l2 import ARP, SNAP, Dot1AD, Dot1Q, Dot3, Ether
    from scapy.packet import Raw

    out: dict[str, Any] = dict.fromkeys(FACT_FIELDS)
    out["vlans"] = ()
    out["mpls_labels"] = ()
    vlans: list[int] = []
    labels: list[int] = []
    try:
        layer = dissect(header, header_protocol)
    except Exception:  # scapy raises on some truncations (e.g. half an IPv6 address)
        return out
    while layer is not None and layer.name != "NoPayload":
        # ICMP errors quote the offending packet; the fast path stops at the ICMP header.
        if isinstance(layer, IPerror | TCPerror | UDPerror):
            break
        if isinstance(layer, Ether | Dot3):
            out["dst_mac"] = _mac(layer.dst)
            out["src_mac"] = _mac(layer.src)
            if isinstance(layer, Ether):
                out["ether_type"] = layer.type
        elif isinstance(layer, Dot1Q | Dot1AD):
            vlans.append(layer.vlan)
            out["ether_type"] = layer.type
        elif isinstance(layer, SNAP):
            out["ether_type"] = layer.code if layer.OUI == 0 else None
        elif isinstance(layer, MPLS):
            labels.append(layer.label)
        elif isinstance(layer, IP):
            out.update(
                ip_version=4,
                src_ip=layer.src,
                dst_ip=layer.dst,
                ip_protocol=layer.proto,
                ip_tos=layer.tos,
                ip_ttl=layer.ttl,
                ip_id=layer.id,
                ip_total_length=layer.len,
                ip_fragment_offset=layer.frag,
            )
        elif isinstance(layer, IPv6):
            out.update(
                ip_version=6,
                src_ip=layer.src,
                dst_ip=layer.dst,
                ip_protocol=layer.nh,
                ip_tos=layer.tc,
                ip_ttl=layer.hlim,
                ipv6_flow_label=layer.fl,
                ipv6_payload_length=layer.plen,
            )
        elif isinstance(layer, _IPv6ExtHdr):
            out["ip_protocol"] = layer.nh  # the header after this one
            if isinstance(layer, IPv6ExtHdrFragment):
                out["ip_fragment_offset"] = layer.offset
        elif isinstance(layer, TCP):
            out.update(
                src_port=layer.sport, dst_port=layer.dport, tcp_flags=int(layer.flags) & 0xFF
            )
        elif isinstance(layer, UDP):
            out.update(src_port=layer.sport, dst_port=layer.dport)
        elif isinstance(layer, ICMP) or type(layer).__name__.startswith("ICMPv6"):
            # Some ICMPv6 classes (MLDv2 reports) name the code byte `res`: read it raw.
            code = layer.code if "code" in layer.fields else bytes(layer)[1]
            out.update(icmp_type=layer.type, icmp_code=code)
            break
        elif isinstance(layer, ARP):
            out["arp_op"] = layer.op
            if (layer.hwtype, layer.ptype, layer.hwlen, layer.plen) == (1, 0x0800, 6, 4):
                out.update(src_ip=layer.psrc, dst_ip=layer.pdst)
        elif isinstance(layer, Raw):
            # scapy leaves an L4 header cut below its minimum size as Raw; the fast path still
            # reads the ports (first 4 bytes), TCP flags (byte 13) or ICMP type and code
            # (first 2) when present.
            load, proto = bytes(layer.load), out["ip_protocol"]
            if out["ip_fragment_offset"] in (None, 0):
                if proto in (1, 58) and len(load) >= 2:
                    out.update(icmp_type=load[0], icmp_code=load[1])
                elif proto in (6, 17) and len(load) >= 4:
                    out.update(
                        src_port=int.from_bytes(load[0:2], "big"),
                        dst_port=int.from_bytes(load[2:4], "big"),
                    )
                    if proto == 6 and len(load) >= 14:
                        out["tcp_flags"] = load[13]
            break
        if isinstance(layer, TCP | UDP):
            break  # what follows is application payload, which the fast path does not read
        layer = layer.payload
    out["vlans"] = tuple(vlans)
    out["mpls_labels"] = tuple(labels)
    return out


def fast_facts(rec: SampledHeader) -> dict[str, Any]:
    return {f: getattr(rec, f) for f in FACT_FIELDS}


def disagreements(rec: SampledHeader) -> dict[str, tuple[Any, Any]]:
    """{field: (fast path, scapy)} for every fact the fast path decoded and scapy reads
    differently (fields the fast path left None are not compared: it stops at the first
    truncated header, where scapy fills in defaults)."""
    theirs = facts(rec.header, rec.header_protocol)
    mine = fast_facts(rec)
    return {
        f: (mine[f], theirs[f])
        for f in FACT_FIELDS
        if mine[f] not in (None, ()) and mine[f] != theirs[f]
    }


def _mac(text: str | None) -> bytes | None:
    return bytes.fromhex(text.replace(":", "")) if text else None
