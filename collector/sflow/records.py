"""Typed records produced by the sFlow v5 decoder (sflow.org sflow_version_5.txt, sflow_host.txt,
sflow_drops.txt). Plain slotted dataclasses: cheap to build on the hot path, easy to test.

Conventions:
- ``tag`` is the sFlow data_format, ``enterprise << 12 | format`` (0:2003 → 2003).
- Counter and flow record fields use the spec's names in snake_case (``if_in_octets``,
  ``cpu_user``, ``mem_total``); values are the raw wire values (ints, floats for the XDR
  floats, str for strings, bytes for opaques). Units are the spec's (ms, bytes, percent×100 …).
- Unknown structures become ``UnknownRecord`` (skipped by length, counted), never an error.
- A record whose declared length is shorter than its known layout becomes ``BadRecord``: that one
  record is skipped; the rest of the sample survives (nfdump #486 failure mode avoided).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RecordValue = int | float | str | bytes | list[Any] | None


def tag_str(tag: int) -> str:
    """`enterprise:format`, as sflowtool prints tags."""
    return f"{tag >> 12}:{tag & 0xFFF}"


@dataclass(slots=True)
class UnknownRecord:
    tag: int
    length: int


@dataclass(slots=True)
class BadRecord:
    """A known record whose bytes do not fit its layout; skipped by its declared length."""

    tag: int
    length: int
    error: str


@dataclass(slots=True)
class CounterRecord:
    """One counter block (0:1, 0:2, 0:1001, 0:2000-2010, 0:2100-2106 …)."""

    tag: int
    fields: dict[str, RecordValue]


@dataclass(slots=True)
class SampledHeader:
    """Flow record 0:1 plus what the fast path found inside the header bytes.

    Decoded fields are None when absent or when the header was truncated before them;
    ``decode_error`` says why decoding stopped early (the sample itself is still counted).
    """

    header_protocol: int
    frame_length: int
    stripped: int
    header: bytes
    src_mac: bytes | None = None
    dst_mac: bytes | None = None
    vlan: int | None = None  # outermost 802.1Q/802.1ad VLAN id
    vlans: tuple[int, ...] = ()
    ether_type: int | None = None
    mpls_labels: tuple[int, ...] = ()
    ip_version: int | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    ip_protocol: int | None = None
    ip_tos: int | None = None
    ip_ttl: int | None = None
    ip_id: int | None = None
    ip_total_length: int | None = None
    ipv6_flow_label: int | None = None
    ipv6_payload_length: int | None = None
    ip_fragment_offset: int | None = None
    src_port: int | None = None
    dst_port: int | None = None
    tcp_flags: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    arp_op: int | None = None
    decode_error: str | None = None
    # Offsets into ``header`` for renderers that need the raw layers (sflowtool JSON).
    l3_offset: int | None = None
    l4_offset: int | None = None


@dataclass(slots=True)
class FlowRecord:
    """Any other flow record (0:2, 0:3, 0:4, 0:1001-1004, 0:1036-1043, 0:2100/2101 …)."""

    tag: int
    fields: dict[str, RecordValue]


FlowRecordT = SampledHeader | FlowRecord | UnknownRecord | BadRecord
CounterRecordT = CounterRecord | UnknownRecord | BadRecord


@dataclass(slots=True)
class FlowSample:
    """0:1 (compact) or 0:3 (expanded) flow sample."""

    tag: int
    sequence: int
    source_id_type: int
    source_id_index: int
    sampling_rate: int
    sample_pool: int
    drops: int
    input_format: int
    input_value: int
    output_format: int
    output_value: int
    records: list[FlowRecordT] = field(default_factory=list)


@dataclass(slots=True)
class CounterSample:
    """0:2 (compact) or 0:4 (expanded) counter sample."""

    tag: int
    sequence: int
    source_id_type: int
    source_id_index: int
    records: list[CounterRecordT] = field(default_factory=list)


@dataclass(slots=True)
class DiscardSample:
    """0:5 discarded packet sample (sflow_drops.txt)."""

    tag: int
    sequence: int
    source_id_type: int
    source_id_index: int
    drops: int
    input_ifindex: int
    output_ifindex: int
    reason: int
    records: list[FlowRecordT] = field(default_factory=list)


@dataclass(slots=True)
class UnknownSample:
    tag: int
    length: int


@dataclass(slots=True)
class RtSample:
    """4300:1002 rtmetric / 4300:1003 rtflow: InMon's named values (hsflowd relays them from
    JSON). ``values`` are (type code, name, value) in wire order; see decoder._rt_sample."""

    tag: int
    datasource: str
    sampling_rate: int = 0  # rtflow only
    sample_pool: int = 0  # rtflow only
    values: list[tuple[int, str, RecordValue]] = field(default_factory=list)


SampleT = FlowSample | CounterSample | DiscardSample | RtSample | UnknownSample


@dataclass(slots=True)
class Datagram:
    """One decoded sFlow v5 datagram.

    ``errors`` lists record- and sample-level problems found while decoding (each one already
    skipped); a datagram-level failure raises ``DecodeError`` instead.
    """

    size: int
    version: int
    agent_address_type: int
    agent: str
    sub_agent_id: int
    sequence: int
    uptime_ms: int
    samples_declared: int
    samples: list[SampleT] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unknown_records: int = 0
