"""In-memory evidence for cause tests: records in the shapes `influx.reads` returns."""

from __future__ import annotations

from analyzers.config import MoveCauseConfig
from analyzers.evidence import EvidenceIndex
from influx import reads

NS = 1_000_000_000
T0 = 1_790_000_000 * NS
CFG = MoveCauseConfig(fabric="fabric1")


def move(addr: str, t: int, frm: tuple[str, str], to: tuple[str, str], bd: str = "t1/bd1",
         to_mac: str = "") -> reads.Move:  # fmt: skip
    return reads.Move(
        t, "fabric1", addr, "mac" if ":" in addr else "ipv4", frm[0], frm[1], "vlan-10",
        to_mac, to[0], to[1], "vlan-10", to_mac, "t1/app/epg", bd, "t1/vrf", 1,
    )  # fmt: skip


def port(node: str, iface: str, t: int, up: bool | None = True, flood: float | None = None,
         bundle: str = "") -> reads.InterfaceSample:  # fmt: skip
    st = "" if up is None else "up" if up else "down"
    return reads.InterfaceSample(t, node, iface, up, st, None, None, flood, None, None, bundle)


def lldp(node: str, iface: str, host: str, t: int = T0 - 200 * NS, chassis: str = "",
         name: str | None = None) -> reads.Adjacency:  # fmt: skip
    return reads.Adjacency(t, node, iface, "lldp", host if name is None else name, "vmnic0",
                           "10.0.0.1", chassis, True)  # fmt: skip


def adapters(host: str, t: int, macs: tuple[str, ...], vm: str = "", ifindex: str = "1"):
    return reads.HostAdapters(t, f"10.9.{len(host)}.1", host, "", ifindex, macs, vm)


def nic(host: str, ifindex: str, t: int, up: bool, bcast: int = 0) -> reads.IfCounters:
    return reads.IfCounters(t, "10.9.0.1", host, ifindex, up, bcast, None)


def index(moves: list[reads.Move], **kw: object) -> EvidenceIndex:
    return EvidenceIndex(CFG, moves, **kw)  # type: ignore[arg-type]
