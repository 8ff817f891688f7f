"""Flow and discard samples → ``sflow_flows`` / ``sflow_drops`` rows, aggregated per interval.

Bounded cardinality: per agent only the top-N keys by bytes get a row; the rest fold into one
``other`` row. Keys are kept as the cheapest values the decoder hands over (MAC bytes, address
text); they become tag text only for the rows written at flush.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from socket import AF_INET6, inet_ntoa, inet_ntop

from collector.sflow.drop_reasons import reason_name
from collector.sflow.lp import Prefixes, num
from collector.sflow.records import DiscardSample, FlowRecord, FlowSample, SampledHeader
from influx.line_protocol import format_int

# agent, vlan, src mac, dst mac, src ip, dst ip, ip protocol ("none" where absent)
FlowKey = tuple[str, str, str, str, str, str, str]
DropKey = tuple[str, str, str]  # agent, reason, ifindex
_OTHER = ("other",) * 6


@dataclass(slots=True)
class FlowStat:
    samples: int = 0
    packets: int = 0
    bytes: int = 0


def _mac(mac: object) -> str:
    if isinstance(mac, bytes):
        return mac.hex()
    if isinstance(mac, str):
        return mac.lower().replace(":", "").replace("-", "")
    return "none"


def flow_key(agent: str, sample: FlowSample) -> tuple[FlowKey, int]:
    """(aggregation key, frame length) of one flow sample: the sampled header first, then
    sampled_ethernet/ipv4/ipv6 and extended_switch for what the header did not give."""
    frame_length = 0
    vlan = "none"
    src_mac = dst_mac = src_ip = dst_ip = proto = "none"
    for rec in sample.records:
        t = type(rec)
        if t is SampledHeader:
            h: SampledHeader = rec  # type: ignore[assignment]
            frame_length = h.frame_length
            if h.src_mac is not None:
                src_mac = h.src_mac.hex()
            if h.dst_mac is not None:
                dst_mac = h.dst_mac.hex()
            if h.vlan is not None:
                vlan = str(h.vlan)
            if h.src_ip is not None:
                src_ip = h.src_ip
                dst_ip = h.dst_ip or "none"
            if h.ip_protocol is not None:
                proto = str(h.ip_protocol)
        elif t is FlowRecord:
            fr: FlowRecord = rec  # type: ignore[assignment]
            tag = fr.tag
            ff = fr.fields
            if tag == 1001 and vlan == "none":
                v = ff.get("src_vlan")
                if isinstance(v, int) and v:
                    vlan = str(v)
            elif tag == 2:  # sampled_ethernet
                frame_length = frame_length or num(ff, "length") or 0
                src_mac = _mac(ff.get("src_mac"))
                dst_mac = _mac(ff.get("dst_mac"))
            elif tag in (3, 4) and src_ip == "none":  # sampled_ipv4 / sampled_ipv6
                frame_length = frame_length or num(ff, "length") or 0
                src_ip = str(ff.get("src_ip"))
                dst_ip = str(ff.get("dst_ip"))
                proto = str(ff.get("protocol"))
    return (agent, vlan, src_mac, dst_mac, src_ip, dst_ip, proto), frame_length


def raw_key_text(agent: str, raw: bytes) -> FlowKey:
    """The native path's raw key (see _flowscan.c) as the text key flow_key() gives."""
    vlan = str(int.from_bytes(raw[1:5], "big")) if raw[0] else "none"
    n = raw[18]
    src = raw[19 : 19 + n]
    dst = raw[19 + n : 19 + 2 * n]
    if n == 4:
        sip, dip = inet_ntoa(src), inet_ntoa(dst)
    else:
        sip, dip = inet_ntop(AF_INET6, src), inet_ntop(AF_INET6, dst)
    return (agent, vlan, raw[5:11].hex(), raw[11:17].hex(), sip, dip, str(raw[17]))


class FlowTable:
    """One interval's flow and drop aggregation."""

    def __init__(self, prefixes: Prefixes, top_n: int = 100) -> None:
        self.top_n = top_n
        self._prefix = prefixes.get
        self.flows: dict[FlowKey, FlowStat] = {}
        self.drops: dict[DropKey, FlowStat] = {}
        # The native path (fastpath.native) aggregates on raw key bytes: (agent, raw) →
        # [samples, packets, bytes]; they become text tags only at flush (raw_key_text).
        self.raw: dict[tuple[str, bytes], list[int]] = {}

    def __len__(self) -> int:
        return len(self.flows) + len(self.raw) + len(self.drops)

    def add(self, key: FlowKey, frame_length: int, rate: int) -> None:
        """One sampled packet standing for ``rate`` packets (rate 0 is malformed: count 1)."""
        rate = rate or 1
        stat = self.flows.get(key)
        if stat is None:
            stat = self.flows[key] = FlowStat()
        stat.samples += 1
        stat.packets += rate
        stat.bytes += frame_length * rate  # Python ints: no uint32 overflow (Telegraf bug)

    def add_flow(self, agent: str, sample: FlowSample) -> None:
        key, frame_length = flow_key(agent, sample)
        self.add(key, frame_length, sample.sampling_rate)

    def add_discard(self, agent: str, sample: DiscardSample) -> None:
        reason = reason_name(sample.reason) or f"code_{sample.reason}"
        key = (agent, reason, str(sample.input_ifindex))
        stat = self.drops.get(key)
        if stat is None:
            stat = self.drops[key] = FlowStat()
        stat.samples += 1
        stat.packets += 1
        for rec in sample.records:
            if type(rec) is SampledHeader:
                stat.bytes += rec.frame_length

    def flush(self, ts: int) -> list[str]:
        """The interval's rows (top-N per agent + ``other``, then drops); clears the table."""
        out: list[str] = []
        for (agent, raw), (samples, packets, nbytes) in self.raw.items():
            key = raw_key_text(agent, raw)
            stat = self.flows.get(key)
            if stat is None:
                stat = self.flows[key] = FlowStat()
            stat.samples += samples
            stat.packets += packets
            stat.bytes += nbytes
        self.raw.clear()
        by_agent: dict[str, list[tuple[FlowKey, FlowStat]]] = {}
        for key, stat in self.flows.items():
            by_agent.setdefault(key[0], []).append((key, stat))
        for agent, rows in by_agent.items():
            # ties broken by the key itself: the same rows whatever order flows arrived in
            top = heapq.nlargest(self.top_n, rows, key=lambda r: (r[1].bytes, r[1].samples, r[0]))
            for key, stat in top:
                out.append(
                    f"{self._flow_prefix(agent, key[1:])} samples={stat.samples}i,"
                    f"packets={format_int(stat.packets)},bytes={format_int(stat.bytes)} {ts}"
                )
            rest = len(rows) - len(top)
            if rest:
                top_keys = {k for k, _ in top}
                other = FlowStat()
                for key, stat in rows:
                    if key not in top_keys:
                        other.samples += stat.samples
                        other.packets += stat.packets
                        other.bytes += stat.bytes
                out.append(
                    f"{self._flow_prefix(agent, _OTHER)} samples={other.samples}i,"
                    f"packets={format_int(other.packets)},bytes={format_int(other.bytes)},"
                    f"flows={rest}i {ts}"
                )
        for (agent, reason, ifindex), stat in self.drops.items():
            prefix = self._prefix(
                "sflow_drops", "agent", agent, "reason", reason, "ifindex", ifindex
            )
            out.append(f"{prefix} samples={stat.samples}i,bytes={format_int(stat.bytes)} {ts}")
        self.flows.clear()
        self.drops.clear()
        return out

    def _flow_prefix(self, agent: str, k: tuple[str, ...]) -> str:
        vlan, smac, dmac, sip, dip, proto = k
        return self._prefix(
            "sflow_flows", "agent", agent, "vlan", vlan, "src_mac", smac, "dst_mac", dmac,
            "src_ip", sip, "dst_ip", dip, "ip_protocol", proto,
        )  # fmt: skip
