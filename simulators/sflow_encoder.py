"""sFlow v5 XDR encoder (stage: simulators — the exact inverse of the collector's decoder).

Builds datagrams byte for byte as the specs lay them out (sflow_version_5.txt, sflow_host.txt,
sflow_drops.txt; layouts summarised in shared/reference/sflow.md §1). Used by the sFlow agent
simulators and by tests/benchmarks that need arbitrary datagrams, so every structure is a plain
dataclass taking plain values and ``encode()`` returns bytes:

* counter blocks: 0:1 if_counters, 0:2 ethernet, 0:1001 processor, 0:1005 port_name,
  0:2000-2010 host blocks (0:2003 in the 80-byte form, :class:`HostCpu68` for the old 68-byte
  one), 0:2100-2104 virt blocks;
* flow records: 0:1 sampled_header (with :func:`build_frame` / :func:`sampled_header_from_frame`
  for real Ethernet/802.1Q/IPv4/IPv6/TCP/UDP/ICMP/ARP frames), 0:1001 extended_switch;
* samples: 0:1/0:3 flow, 0:2/0:4 counter, 0:5 discard;
* :class:`RawRecord` / :class:`RawSample` for anything else (unknown tags in decoder tests);
* :func:`encode_datagram` for one datagram and :class:`AgentEncoder`, which numbers datagrams and
  samples per agent and splits samples across datagrams of at most 1400 bytes like real agents.

Integer fields are masked to their wire width, so callers may keep ever-growing Python ints
(32-bit counters then wrap exactly as on a real agent).
"""

from __future__ import annotations

import ipaddress
import struct
import uuid as uuid_mod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from struct import Struct
from typing import ClassVar, Protocol

from collector.sflow.structures import COUNTERS

U32_MASK = 0xFFFFFFFF
U64_MASK = 0xFFFFFFFFFFFFFFFF
U32_UNKNOWN = U32_MASK  # sFlow's "counter not available" (SFL_UNDEF_COUNTER)
U64_UNKNOWN = U64_MASK

MAX_DATAGRAM = 1400  # hsflowd's and most switches' default datagram size
DEFAULT_HEADER_BYTES = 128  # SFL_DEFAULT_HEADER_SIZE
FCS_BYTES = 4  # agents strip the Ethernet FCS before copying the header

# source_id types (sflow_version_5.txt "sflow_data_source")
SOURCE_IFINDEX = 0
SOURCE_VLAN = 1
SOURCE_PHYSICAL_ENTITY = 2
SOURCE_LOGICAL_ENTITY = 3

# Compact interface encodings (flow_sample input/output): the top two bits are the format.
IF_INTERNAL = 0x3FFFFFFF
IF_FORMAT_SINGLE = 0
IF_FORMAT_DISCARD = 1
IF_FORMAT_MULTIPLE = 2

HEADER_PROTOCOL_ETHERNET = 1
HEADER_PROTOCOL_IPV4 = 11
HEADER_PROTOCOL_IPV6 = 12

# host_descr enums (sflow_host.txt)
MACHINE_TYPE_X86_64 = 3
OS_NAME_LINUX = 2

# virt_cpu state (libvirt virDomainState)
VIR_DOMAIN_RUNNING = 1

_HDR = Struct("!II")
_U32 = Struct("!I")


def tag_of(enterprise: int, fmt: int) -> int:
    """data_format word: enterprise (20 bits) << 12 | format (12 bits)."""
    return (enterprise & 0xFFFFF) << 12 | (fmt & 0xFFF)


# --------------------------------------------------------------------------- XDR primitives


def xdr_u32(value: int) -> bytes:
    return _U32.pack(value & U32_MASK)


def xdr_opaque(data: bytes) -> bytes:
    """Variable-length opaque: u32 length, the bytes, zero padding to a 4-byte boundary."""
    return _U32.pack(len(data)) + data + b"\0" * (-len(data) % 4)


def xdr_string(text: str, max_len: int | None = None) -> bytes:
    raw = text.encode()
    if max_len is not None:
        # The spec bounds these strings (hostname<64>, os_release<32>); agents truncate.
        raw = raw[:max_len]
    return xdr_opaque(raw)


def tlv(tag: int, body: bytes) -> bytes:
    """One sample or record: data_format, length, body (the body is already XDR-aligned)."""
    return _HDR.pack(tag, len(body)) + body


def mac_bytes(mac: bytes | str) -> bytes:
    """6-byte MAC from bytes or text ("02:00:00:00:00:01", "02-00-…", "020000000001")."""
    if isinstance(mac, bytes):
        if len(mac) != 6:
            raise ValueError(f"MAC must be 6 bytes, got {len(mac)}")
        return mac
    raw = bytes.fromhex(mac.replace(":", "").replace("-", "").replace(".", ""))
    if len(raw) != 6:
        raise ValueError(f"bad MAC {mac!r}")
    return raw


def mac_str(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


# --------------------------------------------------------------------------- records


class Encodable(Protocol):
    """Anything that is one record or sample: a tag and an ``encode()`` giving the full TLV."""

    def encode(self) -> bytes: ...


_STRUCT_CACHE: dict[type, tuple[Struct, tuple[tuple[str, int], ...]]] = {}
_MASKS = {"I": U32_MASK, "Q": U64_MASK}


class FixedBlock:
    """Base for records whose body is a fixed sequence of u32/u64/float32 fields.

    A counter block's wire layout comes from its row in collector/sflow/structures.py (the one
    table the decoder uses too); the dataclass fields must be that row's field names, in wire
    order. A flow record (not in that table) declares its own ``LAYOUT`` of struct codes.
    """

    __slots__ = ()
    TAG: ClassVar[int]

    @classmethod
    def _compiled(cls) -> tuple[Struct, tuple[tuple[str, int], ...]]:
        hit = _STRUCT_CACHE.get(cls)
        if hit is None:
            names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
            layout: str | None = getattr(cls, "LAYOUT", None)
            if layout is None:
                spec = COUNTERS[cls.TAG]
                if tuple(names) != spec.names or spec.struct is None:
                    raise TypeError(f"{cls.__name__}: fields differ from structure {spec.name}")
                layout = spec.struct.format.lstrip(">")
            if len(names) != len(layout):
                raise TypeError(f"{cls.__name__}: {len(names)} fields, layout {layout!r}")
            masks = tuple((n, _MASKS.get(code, 0)) for n, code in zip(names, layout, strict=True))
            hit = (Struct("!" + layout), masks)
            _STRUCT_CACHE[cls] = hit
        return hit

    @classmethod
    def layout(cls) -> str:
        """Struct codes of the body, one per field, in wire order."""
        return cls._compiled()[0].format.lstrip("!")

    def body(self) -> bytes:
        st, masks = self._compiled()
        values: list[int | float] = []
        for name, mask in masks:
            v = getattr(self, name)
            values.append(int(v) & mask if mask else float(v))
        return st.pack(*values)

    def encode(self) -> bytes:
        return tlv(self.TAG, self.body())


# ---- counter blocks, enterprise 0 (field names: the spec's, snake_case)


@dataclass(slots=True)
class IfCounters(FixedBlock):
    """0:1 generic interface counters (88 bytes). ``if_status`` bit 0 admin up, bit 1 oper up."""

    TAG: ClassVar[int] = 1
    if_index: int
    if_type: int = 6  # ethernetCsmacd
    if_speed: int = 10_000_000_000
    if_direction: int = 1  # full duplex
    if_status: int = 3
    if_in_octets: int = 0
    if_in_ucast_pkts: int = 0
    if_in_multicast_pkts: int = 0
    if_in_broadcast_pkts: int = 0
    if_in_discards: int = 0
    if_in_errors: int = 0
    if_in_unknown_protos: int = 0
    if_out_octets: int = 0
    if_out_ucast_pkts: int = 0
    if_out_multicast_pkts: int = 0
    if_out_broadcast_pkts: int = 0
    if_out_discards: int = 0
    if_out_errors: int = 0
    if_promiscuous_mode: int = 0


@dataclass(slots=True)
class EthernetCounters(FixedBlock):
    """0:2 Ethernet (dot3Stats) counters (52 bytes)."""

    TAG: ClassVar[int] = 2
    dot3_stats_alignment_errors: int = 0
    dot3_stats_fcs_errors: int = 0
    dot3_stats_single_collision_frames: int = 0
    dot3_stats_multiple_collision_frames: int = 0
    dot3_stats_sqe_test_errors: int = 0
    dot3_stats_deferred_transmissions: int = 0
    dot3_stats_late_collisions: int = 0
    dot3_stats_excessive_collisions: int = 0
    dot3_stats_internal_mac_transmit_errors: int = 0
    dot3_stats_carrier_sense_errors: int = 0
    dot3_stats_frame_too_longs: int = 0
    dot3_stats_internal_mac_receive_errors: int = 0
    dot3_stats_symbol_errors: int = 0


@dataclass(slots=True)
class ProcessorCounters(FixedBlock):
    """0:1001 processor: CPU percent over 5 s / 1 min / 5 min, memory in bytes (28 bytes)."""

    TAG: ClassVar[int] = 1001
    five_sec_cpu: int = 0
    one_min_cpu: int = 0
    five_min_cpu: int = 0
    total_memory: int = 0
    free_memory: int = 0


@dataclass(slots=True)
class PortName:
    """0:1005 port_name (string<255>)."""

    TAG: ClassVar[int] = 1005
    port_name: str

    def encode(self) -> bytes:
        return tlv(self.TAG, xdr_string(self.port_name, 255))


def _uuid_bytes(value: str | bytes | uuid_mod.UUID) -> bytes:
    if isinstance(value, uuid_mod.UUID):
        return value.bytes
    if isinstance(value, bytes):
        if len(value) != 16:
            raise ValueError("uuid must be 16 bytes")
        return value
    return uuid_mod.UUID(value).bytes


@dataclass(slots=True)
class HostDescr:
    """0:2000 host_descr: hostname<64>, uuid (16 bytes, fixed opaque), machine_type, os_name,
    os_release<32>."""

    TAG: ClassVar[int] = 2000
    hostname: str
    uuid: str | bytes | uuid_mod.UUID = b"\0" * 16
    machine_type: int = MACHINE_TYPE_X86_64
    os_name: int = OS_NAME_LINUX
    os_release: str = ""

    def encode(self) -> bytes:
        body = (
            xdr_string(self.hostname, 64)
            + _uuid_bytes(self.uuid)
            + struct.pack("!II", self.machine_type & U32_MASK, self.os_name & U32_MASK)
            + xdr_string(self.os_release, 32)
        )
        return tlv(self.TAG, body)


@dataclass(slots=True)
class HostAdapter:
    if_index: int
    macs: list[bytes | str] = field(default_factory=list)


@dataclass(slots=True)
class HostAdapters:
    """0:2001 host_adapters: adapters<> of {ifIndex, mac_address<>}; each MAC is a fixed
    6-byte opaque, so XDR pads it to 8 bytes."""

    TAG: ClassVar[int] = 2001
    adapters: list[HostAdapter] = field(default_factory=list)

    def encode(self) -> bytes:
        parts = [xdr_u32(len(self.adapters))]
        for ad in self.adapters:
            parts.append(struct.pack("!II", ad.if_index & U32_MASK, len(ad.macs)))
            parts.extend(mac_bytes(m) + b"\0\0" for m in ad.macs)
        return tlv(self.TAG, b"".join(parts))


@dataclass(slots=True)
class HostParent(FixedBlock):
    """0:2002 host_parent: the containing entity (hsflowd: 2:1, the hypervisor)."""

    TAG: ClassVar[int] = 2002
    container_type: int = SOURCE_PHYSICAL_ENTITY
    container_index: int = 1


@dataclass(slots=True)
class HostCpu(FixedBlock):
    """0:2003 host_cpu, the 80-byte form hsflowd sends (times in ms, cumulative)."""

    TAG: ClassVar[int] = 2003
    load_one: float = 0.0
    load_five: float = 0.0
    load_fifteen: float = 0.0
    proc_run: int = 0
    proc_total: int = 0
    cpu_num: int = 0
    cpu_speed: int = 0
    uptime: int = 0
    cpu_user: int = 0
    cpu_nice: int = 0
    cpu_system: int = 0
    cpu_idle: int = 0
    cpu_wio: int = 0
    cpu_intr: int = 0
    cpu_sintr: int = 0
    interrupts: int = 0
    contexts: int = 0
    cpu_steal: int = 0
    cpu_guest: int = 0
    cpu_guest_nice: int = 0


class HostCpu68(HostCpu):
    """0:2003 in the pre-2014 68-byte form (no steal/guest/guest_nice): for decoder tests."""

    def body(self) -> bytes:
        return HostCpu.body(self)[:68]


@dataclass(slots=True)
class HostMemory(FixedBlock):
    """0:2004 host_memory (bytes; paging/swapping in pages)."""

    TAG: ClassVar[int] = 2004
    mem_total: int = 0
    mem_free: int = 0
    mem_shared: int = 0
    mem_buffers: int = 0
    mem_cached: int = 0
    swap_total: int = 0
    swap_free: int = 0
    page_in: int = 0
    page_out: int = 0
    swap_in: int = 0
    swap_out: int = 0


@dataclass(slots=True)
class HostDiskIo(FixedBlock):
    """0:2005 host_disk_io; ``part_max_used`` is percent × 100."""

    TAG: ClassVar[int] = 2005
    disk_total: int = 0
    disk_free: int = 0
    part_max_used: int = 0
    reads: int = 0
    bytes_read: int = 0
    read_time: int = 0
    writes: int = 0
    bytes_written: int = 0
    write_time: int = 0


@dataclass(slots=True)
class HostNetIo(FixedBlock):
    """0:2006 host_net_io."""

    TAG: ClassVar[int] = 2006
    bytes_in: int = 0
    pkts_in: int = 0
    errs_in: int = 0
    drops_in: int = 0
    bytes_out: int = 0
    pkts_out: int = 0
    errs_out: int = 0
    drops_out: int = 0


@dataclass(slots=True)
class Mib2Ip(FixedBlock):
    """0:2007 mib2_ip_group (RFC 4293 ip group, 19 × u32)."""

    TAG: ClassVar[int] = 2007
    ip_forwarding: int = 2
    ip_default_ttl: int = 64
    ip_in_receives: int = 0
    ip_in_hdr_errors: int = 0
    ip_in_addr_errors: int = 0
    ip_forw_datagrams: int = 0
    ip_in_unknown_protos: int = 0
    ip_in_discards: int = 0
    ip_in_delivers: int = 0
    ip_out_requests: int = 0
    ip_out_discards: int = 0
    ip_out_no_routes: int = 0
    ip_reasm_timeout: int = 0
    ip_reasm_reqds: int = 0
    ip_reasm_oks: int = 0
    ip_reasm_fails: int = 0
    ip_frag_oks: int = 0
    ip_frag_fails: int = 0
    ip_frag_creates: int = 0


@dataclass(slots=True)
class Mib2Icmp(FixedBlock):
    """0:2008 mib2_icmp_group (25 × u32, sflowtool's order)."""

    TAG: ClassVar[int] = 2008
    icmp_in_msgs: int = 0
    icmp_in_errors: int = 0
    icmp_in_dest_unreachs: int = 0
    icmp_in_time_excds: int = 0
    icmp_in_param_probs: int = 0
    icmp_in_src_quenchs: int = 0
    icmp_in_redirects: int = 0
    icmp_in_echos: int = 0
    icmp_in_echo_reps: int = 0
    icmp_in_timestamps: int = 0
    icmp_in_addr_masks: int = 0
    icmp_in_addr_mask_reps: int = 0
    icmp_out_msgs: int = 0
    icmp_out_errors: int = 0
    icmp_out_dest_unreachs: int = 0
    icmp_out_time_excds: int = 0
    icmp_out_param_probs: int = 0
    icmp_out_src_quenchs: int = 0
    icmp_out_redirects: int = 0
    icmp_out_echos: int = 0
    icmp_out_echo_reps: int = 0
    icmp_out_timestamps: int = 0
    icmp_out_timestamp_reps: int = 0
    icmp_out_addr_masks: int = 0
    icmp_out_addr_mask_reps: int = 0


@dataclass(slots=True)
class Mib2Tcp(FixedBlock):
    """0:2009 mib2_tcp_group (15 × u32)."""

    TAG: ClassVar[int] = 2009
    tcp_rto_algorithm: int = 1
    tcp_rto_min: int = 200
    tcp_rto_max: int = 120000
    tcp_max_conn: int = U32_UNKNOWN
    tcp_active_opens: int = 0
    tcp_passive_opens: int = 0
    tcp_attempt_fails: int = 0
    tcp_estab_resets: int = 0
    tcp_curr_estab: int = 0
    tcp_in_segs: int = 0
    tcp_out_segs: int = 0
    tcp_retrans_segs: int = 0
    tcp_in_errs: int = 0
    tcp_out_rsts: int = 0
    tcp_in_csum_errors: int = 0


@dataclass(slots=True)
class Mib2Udp(FixedBlock):
    """0:2010 mib2_udp_group (7 × u32)."""

    TAG: ClassVar[int] = 2010
    udp_in_datagrams: int = 0
    udp_no_ports: int = 0
    udp_in_errors: int = 0
    udp_out_datagrams: int = 0
    udp_rcvbuf_errors: int = 0
    udp_sndbuf_errors: int = 0
    udp_in_csum_errors: int = 0


@dataclass(slots=True)
class VirtNode(FixedBlock):
    """0:2100 virt_node: the hypervisor's view of itself (hsflowd puts it in the 2:1 sample)."""

    TAG: ClassVar[int] = 2100
    mhz: int = 0
    cpus: int = 0
    memory: int = 0
    memory_free: int = 0
    num_domains: int = 0


@dataclass(slots=True)
class VirtCpu(FixedBlock):
    """0:2101 virt_cpu: libvirt state, cumulative cpuTime in ms, vCPU count."""

    TAG: ClassVar[int] = 2101
    state: int = VIR_DOMAIN_RUNNING
    cpu_time: int = 0
    nr_virt_cpu: int = 1


@dataclass(slots=True)
class VirtMemory(FixedBlock):
    """0:2102 virt_memory (bytes)."""

    TAG: ClassVar[int] = 2102
    memory: int = 0
    max_memory: int = 0


@dataclass(slots=True)
class VirtDiskIo(FixedBlock):
    """0:2103 virt_disk_io."""

    TAG: ClassVar[int] = 2103
    capacity: int = 0
    allocation: int = 0
    available: int = 0
    rd_req: int = 0
    rd_bytes: int = 0
    wr_req: int = 0
    wr_bytes: int = 0
    errs: int = 0


@dataclass(slots=True)
class VirtNetIo(FixedBlock):
    """0:2104 virt_net_io (same layout as 0:2006)."""

    TAG: ClassVar[int] = 2104
    bytes_in: int = 0
    pkts_in: int = 0
    errs_in: int = 0
    drops_in: int = 0
    bytes_out: int = 0
    pkts_out: int = 0
    errs_out: int = 0
    drops_out: int = 0


# ---- flow records, enterprise 0


@dataclass(slots=True)
class SampledHeader:
    """0:1 sampled_header: header_protocol, frame_length, stripped, header<>."""

    TAG: ClassVar[int] = 1
    header: bytes
    frame_length: int
    stripped: int = FCS_BYTES
    header_protocol: int = HEADER_PROTOCOL_ETHERNET

    def encode(self) -> bytes:
        body = struct.pack(
            "!III", self.header_protocol, self.frame_length & U32_MASK, self.stripped
        ) + xdr_opaque(self.header)
        return tlv(self.TAG, body)


@dataclass(slots=True)
class ExtendedSwitch(FixedBlock):
    """0:1001 extended_switch: 802.1Q VLAN and priority, in and out."""

    TAG: ClassVar[int] = 1001
    LAYOUT: ClassVar[str] = "IIII"  # a flow record: not in the counter structures table
    src_vlan: int = 0
    src_priority: int = 0
    dst_vlan: int = 0
    dst_priority: int = 0


@dataclass(slots=True)
class RawRecord:
    """Any record given as its tag and already-encoded body (unknown/enterprise records)."""

    tag: int
    body: bytes

    def encode(self) -> bytes:
        return tlv(self.tag, self.body + b"\0" * (-len(self.body) % 4))


# --------------------------------------------------------------------------- samples

Record = Encodable


def _records(records: Sequence[Encodable]) -> bytes:
    return xdr_u32(len(records)) + b"".join(r.encode() for r in records)


def compact_interface(value: int, fmt: int = IF_FORMAT_SINGLE) -> int:
    """flow_sample input/output word: format in the top two bits, value in the low 30."""
    return (fmt & 0x3) << 30 | (value & 0x3FFFFFFF)


def _source_id(source_type: int, source_index: int) -> int:
    return (source_type & 0xFF) << 24 | (source_index & 0xFFFFFF)


@dataclass(slots=True)
class FlowSample:
    """0:1 flow_sample (compact) or, with ``expanded=True``, 0:3 flow_sample_expanded.

    ``input``/``output`` are interface values with their formats in ``input_format`` /
    ``output_format`` (compact encoding puts the format in the top two bits). ``sequence=None``
    lets :class:`AgentEncoder` number the sample.
    """

    source_index: int
    sampling_rate: int
    sample_pool: int
    records: list[Encodable] = field(default_factory=list)
    input: int = 0
    output: int = 0
    input_format: int = IF_FORMAT_SINGLE
    output_format: int = IF_FORMAT_SINGLE
    drops: int = 0
    source_type: int = SOURCE_IFINDEX
    sequence: int | None = None
    expanded: bool = False

    KIND: ClassVar[str] = "flow"

    def encode(self) -> bytes:
        seq = (self.sequence or 0) & U32_MASK
        common = (self.sampling_rate & U32_MASK, self.sample_pool & U32_MASK, self.drops & U32_MASK)
        if self.expanded:
            head = struct.pack(
                "!IIIIIIIIII",
                seq,
                self.source_type,
                self.source_index,
                *common,
                self.input_format,
                self.input,
                self.output_format,
                self.output,
            )
            return tlv(3, head + _records(self.records))
        head = struct.pack(
            "!IIIIIII",
            seq,
            _source_id(self.source_type, self.source_index),
            *common,
            compact_interface(self.input, self.input_format),
            compact_interface(self.output, self.output_format),
        )
        return tlv(1, head + _records(self.records))


@dataclass(slots=True)
class CounterSample:
    """0:2 counters_sample (compact) or, with ``expanded=True``, 0:4 (hsflowd sends 0:4)."""

    source_type: int
    source_index: int
    records: list[Encodable] = field(default_factory=list)
    sequence: int | None = None
    expanded: bool = False

    KIND: ClassVar[str] = "counter"

    def encode(self) -> bytes:
        seq = (self.sequence or 0) & U32_MASK
        if self.expanded:
            head = struct.pack("!III", seq, self.source_type, self.source_index)
            return tlv(4, head + _records(self.records))
        head = struct.pack("!II", seq, _source_id(self.source_type, self.source_index))
        return tlv(2, head + _records(self.records))


@dataclass(slots=True)
class DiscardSample:
    """0:5 discarded_packet (sflow_drops.txt): expanded source id, drops, in/out ifIndex,
    reason (sflow_drop.h codes), then ordinary flow records."""

    source_index: int
    reason: int
    records: list[Encodable] = field(default_factory=list)
    input: int = 0
    output: int = 0
    drops: int = 0
    source_type: int = SOURCE_IFINDEX
    sequence: int | None = None

    KIND: ClassVar[str] = "discard"

    def encode(self) -> bytes:
        head = struct.pack(
            "!IIIIIII",
            (self.sequence or 0) & U32_MASK,
            self.source_type,
            self.source_index,
            self.drops & U32_MASK,
            self.input & U32_MASK,
            self.output & U32_MASK,
            self.reason & U32_MASK,
        )
        return tlv(5, head + _records(self.records))


@dataclass(slots=True)
class RawSample:
    """A sample given as tag + body (unknown sample types in decoder tests)."""

    tag: int
    body: bytes
    sequence: int | None = None
    source_type: int = 0
    source_index: int = 0

    KIND: ClassVar[str] = "raw"

    def encode(self) -> bytes:
        return tlv(self.tag, self.body + b"\0" * (-len(self.body) % 4))


Sample = FlowSample | CounterSample | DiscardSample | RawSample


# --------------------------------------------------------------------------- datagrams


def agent_address(agent: str) -> bytes:
    """address_type + address: IPv4 is type 1 (4 bytes), IPv6 type 2 (16 bytes)."""
    ip = ipaddress.ip_address(agent)
    return xdr_u32(1 if ip.version == 4 else 2) + ip.packed


def encode_datagram(
    agent: str,
    samples: Iterable[Encodable | bytes],
    *,
    sequence: int = 1,
    uptime_ms: int = 0,
    sub_agent_id: int = 0,
    version: int = 5,
) -> bytes:
    """One sFlow datagram. ``samples`` are sample objects or already-encoded sample TLVs."""
    encoded = [s if isinstance(s, bytes) else s.encode() for s in samples]
    head = (
        xdr_u32(version)
        + agent_address(agent)
        + struct.pack(
            "!IIII",
            sub_agent_id & U32_MASK,
            sequence & U32_MASK,
            uptime_ms & U32_MASK,
            len(encoded),
        )
    )
    return head + b"".join(encoded)


class AgentEncoder:
    """Per-agent datagram state: datagram sequence numbers, per-source sample sequence numbers,
    and packing of samples into datagrams no larger than ``max_datagram`` bytes.

    Real agents number datagrams per (agent, sub_agent) and samples per data source and per
    sampler/poller, so flow and counter samples of one ifIndex have independent sequences.
    """

    def __init__(self, agent: str, sub_agent_id: int = 0, max_datagram: int = MAX_DATAGRAM) -> None:
        self.agent = agent
        self.sub_agent_id = sub_agent_id
        self.max_datagram = max_datagram
        self._prefix = xdr_u32(5) + agent_address(agent) + xdr_u32(sub_agent_id)
        self.header_size = len(self._prefix) + 12
        self.sequence = 0  # last datagram sequence number sent (first datagram is 1)
        self._sample_seq: dict[tuple[str, int, int], int] = {}

    def next_sample_sequence(self, kind: str, source_type: int, source_index: int) -> int:
        key = (kind, source_type, source_index)
        seq = self._sample_seq.get(key, 0) + 1
        self._sample_seq[key] = seq
        return seq

    def _number(self, sample: Sample) -> bytes:
        if sample.sequence is None:
            sample.sequence = self.next_sample_sequence(
                sample.KIND, sample.source_type, sample.source_index
            )
        return sample.encode()

    def pack(self, samples: Iterable[Sample], uptime_ms: int) -> list[bytes]:
        """Encode and split into datagrams of at most ``max_datagram`` bytes, in order."""
        budget = self.max_datagram - self.header_size
        out: list[bytes] = []
        batch: list[bytes] = []
        size = 0
        for sample in samples:
            enc = self._number(sample)
            if len(enc) > budget:
                raise ValueError(
                    f"sample of {len(enc)} bytes does not fit a {self.max_datagram}-byte datagram"
                )
            if size + len(enc) > budget:
                out.append(self._datagram(batch, uptime_ms))
                batch, size = [], 0
            batch.append(enc)
            size += len(enc)
        if batch:
            out.append(self._datagram(batch, uptime_ms))
        return out

    def _datagram(self, encoded: list[bytes], uptime_ms: int) -> bytes:
        self.sequence = (self.sequence + 1) & U32_MASK
        return (
            self._prefix
            + struct.pack("!III", self.sequence, uptime_ms & U32_MASK, len(encoded))
            + b"".join(encoded)
        )


# --------------------------------------------------------------------------- frames

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
BROADCAST_MAC = b"\xff" * 6
MIN_FRAME = 60  # minimum Ethernet frame without FCS; shorter frames are padded on the wire

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10


def inet_checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet_frame(
    dst_mac: bytes | str,
    src_mac: bytes | str,
    ether_type: int,
    payload: bytes,
    vlans: Sequence[int] = (),
    priority: int = 0,
) -> bytes:
    """Ethernet II frame without FCS; ``vlans`` outermost first, each an 802.1Q tag."""
    parts = [mac_bytes(dst_mac), mac_bytes(src_mac)]
    for vid in vlans:
        parts.append(struct.pack("!HH", ETH_VLAN, (priority & 0x7) << 13 | (vid & 0xFFF)))
    parts.append(struct.pack("!H", ether_type))
    parts.append(payload)
    frame = b"".join(parts)
    return frame + b"\0" * max(0, MIN_FRAME - len(frame))


def ipv4_packet(
    src: str,
    dst: str,
    protocol: int,
    payload: bytes,
    *,
    ttl: int = 64,
    tos: int = 0,
    ident: int = 0,
    dont_fragment: bool = True,
) -> bytes:
    total = 20 + len(payload)
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        tos,
        total,
        ident & 0xFFFF,
        0x4000 if dont_fragment else 0,
        ttl,
        protocol,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    csum = inet_checksum(head)
    return head[:10] + struct.pack("!H", csum) + head[12:] + payload


def ipv6_packet(
    src: str,
    dst: str,
    next_header: int,
    payload: bytes,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    first = 6 << 28 | (traffic_class & 0xFF) << 20 | (flow_label & 0xFFFFF)
    return (
        struct.pack(
            "!IHBB16s16s",
            first,
            len(payload),
            next_header,
            hop_limit,
            ipaddress.IPv6Address(src).packed,
            ipaddress.IPv6Address(dst).packed,
        )
        + payload
    )


def _pseudo_header(src: str, dst: str, protocol: int, length: int) -> bytes:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, protocol, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, protocol)


def tcp_segment(
    src: str,
    dst: str,
    src_port: int,
    dst_port: int,
    payload: bytes = b"",
    *,
    flags: int = TCP_ACK | TCP_PSH,
    seq: int = 1,
    ack: int = 1,
    window: int = 65535,
) -> bytes:
    """TCP header (20 bytes, no options) + payload, checksummed over the pseudo-header."""
    head = struct.pack(
        "!HHIIBBHHH",
        src_port,
        dst_port,
        seq & U32_MASK,
        ack & U32_MASK,
        5 << 4,
        flags,
        window,
        0,
        0,
    )
    seg = head + payload
    csum = inet_checksum(_pseudo_header(src, dst, IPPROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def udp_datagram(src: str, dst: str, src_port: int, dst_port: int, payload: bytes = b"") -> bytes:
    length = 8 + len(payload)
    seg = struct.pack("!HHHH", src_port, dst_port, length, 0) + payload
    csum = inet_checksum(_pseudo_header(src, dst, IPPROTO_UDP, length) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", csum) + seg[8:]


def icmp_echo(
    ident: int = 1,
    seq: int = 1,
    payload: bytes = b"",
    *,
    reply: bool = False,
    v6_src: str | None = None,
    v6_dst: str | None = None,
) -> bytes:
    """ICMP (or, with v6_src/v6_dst, ICMPv6) echo request/reply."""
    if v6_src is not None and v6_dst is not None:
        icmp_type = 129 if reply else 128
        msg = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + payload
        csum = inet_checksum(_pseudo_header(v6_src, v6_dst, IPPROTO_ICMPV6, len(msg)) + msg)
    else:
        icmp_type = 0 if reply else 8
        msg = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + payload
        csum = inet_checksum(msg)
    return msg[:2] + struct.pack("!H", csum) + msg[4:]


def arp_packet(
    op: int, sender_mac: bytes | str, sender_ip: str, target_mac: bytes | str, target_ip: str
) -> bytes:
    """Ethernet/IPv4 ARP body (op 1 request, 2 reply)."""
    return struct.pack(
        "!HHBBH6s4s6s4s",
        1,
        ETH_IPV4,
        6,
        4,
        op,
        mac_bytes(sender_mac),
        ipaddress.IPv4Address(sender_ip).packed,
        mac_bytes(target_mac),
        ipaddress.IPv4Address(target_ip).packed,
    )


def build_frame(
    src_mac: bytes | str,
    dst_mac: bytes | str,
    src_ip: str,
    dst_ip: str,
    *,
    protocol: str = "tcp",
    src_port: int = 49152,
    dst_port: int = 443,
    vlan: int | None = None,
    priority: int = 0,
    frame_size: int | None = None,
    payload: bytes | None = None,
    tcp_flags: int = TCP_ACK | TCP_PSH,
    ttl: int = 64,
    tos: int = 0,
    ident: int = 0,
) -> bytes:
    """A complete Ethernet frame (no FCS) carrying TCP, UDP or ICMP over IPv4 or IPv6 (picked
    from the address family), optionally 802.1Q-tagged.

    ``frame_size`` (on-wire size without FCS) pads the payload so the frame has that length;
    ``payload`` gives the bytes explicitly instead.
    """
    v6 = ipaddress.ip_address(src_ip).version == 6
    l2 = 14 + (4 if vlan is not None else 0)
    l3 = 40 if v6 else 20
    l4 = {"tcp": 20, "udp": 8, "icmp": 8}[protocol]
    if payload is None:
        size = max(0, (frame_size or 0) - l2 - l3 - l4)
        # A recognisable, compressible filler; sampled headers only keep the first bytes anyway.
        payload = (b"fabricscope-sim " * (size // 16 + 1))[:size]
    if protocol == "tcp":
        seg = tcp_segment(src_ip, dst_ip, src_port, dst_port, payload, flags=tcp_flags)
        proto = IPPROTO_TCP
    elif protocol == "udp":
        seg = udp_datagram(src_ip, dst_ip, src_port, dst_port, payload)
        proto = IPPROTO_UDP
    elif v6:
        seg = icmp_echo(src_port, dst_port, payload, v6_src=src_ip, v6_dst=dst_ip)
        proto = IPPROTO_ICMPV6
    else:
        seg = icmp_echo(src_port, dst_port, payload)
        proto = IPPROTO_ICMP
    if v6:
        packet = ipv6_packet(src_ip, dst_ip, proto, seg, hop_limit=ttl, traffic_class=tos)
        ether_type = ETH_IPV6
    else:
        packet = ipv4_packet(src_ip, dst_ip, proto, seg, ttl=ttl, tos=tos, ident=ident)
        ether_type = ETH_IPV4
    vlans = () if vlan is None else (vlan,)
    return ethernet_frame(dst_mac, src_mac, ether_type, packet, vlans, priority)


def build_arp_frame(
    src_mac: bytes | str,
    src_ip: str,
    target_ip: str,
    *,
    vlan: int | None = None,
    reply_to: bytes | str | None = None,
) -> bytes:
    """Broadcast ARP request (or, with ``reply_to``, a unicast reply to that MAC)."""
    if reply_to is None:
        body = arp_packet(1, src_mac, src_ip, b"\0" * 6, target_ip)
        dst: bytes | str = BROADCAST_MAC
    else:
        body = arp_packet(2, src_mac, src_ip, reply_to, target_ip)
        dst = reply_to
    vlans = () if vlan is None else (vlan,)
    return ethernet_frame(dst, src_mac, ETH_ARP, body, vlans)


def sampled_header_from_frame(
    frame: bytes,
    max_header: int = DEFAULT_HEADER_BYTES,
    header_protocol: int = HEADER_PROTOCOL_ETHERNET,
) -> SampledHeader:
    """What an agent copies out of a sampled frame: the first ``max_header`` bytes, with
    frame_length the on-wire length including the 4-byte FCS the agent stripped."""
    stripped = FCS_BYTES if header_protocol == HEADER_PROTOCOL_ETHERNET else 0
    return SampledHeader(
        header=frame[:max_header],
        frame_length=len(frame) + stripped,
        stripped=stripped,
        header_protocol=header_protocol,
    )
