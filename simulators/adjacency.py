"""LLDP and CDP neighbours of leaf ports (stage: simulators — lldpAdjEp / cdpAdjEp).

A leaf lists what it hears on each front port under
``topology/pod-P/node-N/sys/lldp/inst/if-[eth1/5]/adj-1`` (``lldpAdjEp``) and
``…/sys/cdp/inst/if-[eth1/5]/adj-1`` (``cdpAdjEp``, its management address in a child
``cdpMgmtAddr``).  Attribute sets follow objects captured from real fabrics (e.g.
``lldpAdjEp``: ``capability, chassisIdT "mac", chassisIdV "ec:ce:13:c0:46:34", enCap, id,
mgmtId, mgmtIp, mgmtPortMac "EC:CE:…", portDesc, portIdT "if-name", portIdV "Ethernet3/25",
portVlan, stQual, sysDesc, sysName, ttl``; ``cdpAdjEp``: ``cap, devId "name(SERIAL)", duplex,
index, nativeVlan, platId, portId, stQual, sysName, sysObjIdL, sysObjIdV, ver``).

Who the neighbours are is decided elsewhere (the sFlow bridge cables hypervisors and external
switches to leaf ports); this module only turns a :class:`Neighbor` into the APIC objects and
emits them, so subscriptions to ``lldpAdjEp``/``cdpAdjEp`` see created/deleted events.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.fabric import Attrs, Node, SimulatedFabric, fmt_ts

LLDP = "lldpAdjEp"
CDP = "cdpAdjEp"
CDP_MGMT = "cdpMgmtAddr"


@dataclass(frozen=True)
class Neighbor:
    """What one neighbour advertises on one link."""

    sys_name: str  # LLDP sysName / CDP sysName (hsflowd's hostname for a hypervisor)
    port_id: str  # LLDP portIdV (if-name) / CDP portId: the neighbour's own port
    chassis_mac: str  # LLDP chassisIdV (subtype mac), lower case as lldpd sends it
    mgmt_ip: str
    sys_desc: str = ""
    platform: str = ""  # CDP platId
    serial: str = ""  # CDP devId is "sysName(serial)" on NX-OS
    capability: str = "bridge"
    cdp: bool = False  # also speaks CDP (NX-OS-like); lldpd on hosts does not


def lldp_dn(leaf: Node, port: str) -> str:
    return f"{leaf.prefix}/sys/lldp/inst/if-[{port}]/adj-1"


def cdp_dn(leaf: Node, port: str) -> str:
    return f"{leaf.prefix}/sys/cdp/inst/if-[{port}]/adj-1"


def lldp_attrs(leaf: Node, port: str, n: Neighbor, ts: float) -> Attrs:
    return {
        "capability": n.capability,
        "chassisIdT": "mac",
        "chassisIdV": n.chassis_mac.lower(),
        "dn": lldp_dn(leaf, port),
        "enCap": n.capability,
        "id": "1",
        "mgmtId": "0",
        "mgmtIp": n.mgmt_ip,
        "mgmtPortMac": n.chassis_mac.upper(),
        "modTs": fmt_ts(ts),
        "name": "",
        "portDesc": n.port_id,
        "portIdT": "if-name",
        "portIdV": n.port_id,
        "portVlan": "unspecified",
        "stQual": "",
        "sysDesc": n.sys_desc,
        "sysName": n.sys_name,
        "ttl": "120",
    }


def cdp_attrs(leaf: Node, port: str, n: Neighbor, ts: float) -> Attrs:
    return {
        "cap": "router,switch,igmp-filter",
        "devId": f"{n.sys_name}({n.serial})" if n.serial else n.sys_name,
        "dn": cdp_dn(leaf, port),
        "duplex": "full",
        "id": "1",
        "index": "1",
        "modTs": fmt_ts(ts),
        "name": "",
        "nativeVlan": "unspecified",
        "platId": n.platform,
        "portId": n.port_id,
        "stQual": "",
        "sysName": n.sys_name,
        "sysObjIdL": "0",
        "sysObjIdV": "",
        "ver": n.sys_desc,
    }


def announce(fab: SimulatedFabric, node_id: int, port: str, n: Neighbor) -> None:
    """The leaf starts hearing ``n`` on ``port`` (replaces what it heard there before)."""
    leaf = fab.leaf(node_id)
    with fab.lock, fab.batch():
        ts = fab.clock.now()
        dn = lldp_dn(leaf, port)
        old = fab.static.get(LLDP, {}).get(dn)
        new = lldp_attrs(leaf, port, n, ts)
        if old is not None and all(old.get(k) == v for k, v in new.items() if k != "modTs"):
            return  # the same neighbour again (LLDP refresh): nothing changes on the APIC
        withdraw(fab, node_id, port)
        fab.emit_static(LLDP, new, "created")
        if n.cdp:
            fab.emit_static(CDP, cdp_attrs(leaf, port, n, ts), "created")
            fab.emit_static(
                CDP_MGMT,
                {
                    "addr": n.mgmt_ip,
                    "dn": f"{cdp_dn(leaf, port)}/mgmt-addr-[{n.mgmt_ip}]",
                    "modTs": fmt_ts(ts),
                },
                "created",
            )


def withdraw(fab: SimulatedFabric, node_id: int, port: str) -> None:
    """The neighbour on ``port`` is gone (TTL expired / cable pulled)."""
    leaf = fab.leaf(node_id)
    with fab.lock, fab.batch():
        cdn = cdp_dn(leaf, port)
        for mdn in [d for d in fab.static.get(CDP_MGMT, {}) if d.startswith(cdn + "/")]:
            fab.emit_static(CDP_MGMT, {"dn": mdn}, "deleted")
        fab.emit_static(CDP, {"dn": cdn}, "deleted")
        fab.emit_static(LLDP, {"dn": lldp_dn(leaf, port)}, "deleted")


def neighbors(fab: SimulatedFabric) -> dict[tuple[int, str], Attrs]:
    """(node id, port) → the lldpAdjEp attributes (a test/debug helper)."""
    out: dict[tuple[int, str], Attrs] = {}
    with fab.lock:
        for dn, a in fab.static.get(LLDP, {}).items():
            node = int(dn.split("/node-", 1)[1].split("/", 1)[0])
            port = dn.split("/if-[", 1)[1].split("]", 1)[0]
            out[(node, port)] = a
    return out


__all__ = [
    "CDP",
    "CDP_MGMT",
    "LLDP",
    "Neighbor",
    "announce",
    "cdp_attrs",
    "cdp_dn",
    "lldp_attrs",
    "lldp_dn",
    "neighbors",
    "withdraw",
]
