"""Builders for epm objects shaped like the APIC's (reference §2.4) for tracker unit tests."""

from __future__ import annotations

from collector.apic.models import EpmRecord, FabricTables, parse_epm

VRF = 2916352
BD = 15007704
PCTAG = 32771
MAC = "00:00:40:01:01:01"
IP = "10.1.1.101"


def node_prefix(node: int) -> str:
    return f"topology/pod-1/node-{node}/sys"


def mac_local(
    node, mac=MAC, ifid="eth1/1", vlan=101, flags="local,mac", status="created", pctag=PCTAG, bd=BD
) -> EpmRecord:
    dn = f"{node_prefix(node)}/ctx-[vxlan-{VRF}]/bd-[vxlan-{bd}]/vlan-[vlan-{vlan}]/db-ep/mac-{mac}"
    rec = parse_epm(
        "epmMacEp", {"dn": dn, "flags": flags, "ifId": ifid, "pcTag": str(pctag), "status": status}
    )
    assert rec is not None
    return rec


def mac_remote(node, mac=MAC, tunnel="tunnel1", flags="mac", status="created", bd=BD):
    dn = f"{node_prefix(node)}/ctx-[vxlan-{VRF}]/bd-[vxlan-{bd}]/db-ep/mac-{mac}"
    rec = parse_epm(
        "epmMacEp",
        {"dn": dn, "flags": flags, "ifId": tunnel, "pcTag": str(PCTAG), "status": status},
    )
    assert rec is not None
    return rec


def ip_local(
    node, ip=IP, ifid="eth1/1", vlan=101, flags="ip,local", status="created", pctag=PCTAG, bd=BD
) -> EpmRecord:
    dn = f"{node_prefix(node)}/ctx-[vxlan-{VRF}]/bd-[vxlan-{bd}]/vlan-[vlan-{vlan}]/db-ep/ip-[{ip}]"
    rec = parse_epm(
        "epmIpEp", {"dn": dn, "flags": flags, "ifId": ifid, "pcTag": str(pctag), "status": status}
    )
    assert rec is not None
    return rec


def ip_remote(node, ip=IP, tunnel="tunnel1", flags="ip", status="created"):
    dn = f"{node_prefix(node)}/ctx-[vxlan-{VRF}]/db-ep/ip-[{ip}]"
    rec = parse_epm(
        "epmIpEp", {"dn": dn, "flags": flags, "ifId": tunnel, "pcTag": str(PCTAG), "status": status}
    )
    assert rec is not None
    return rec


def rs(node, mac=MAC, ip=IP, vlan=101, status="created", bd=BD) -> EpmRecord:
    rel = f"sys/ctx-[vxlan-{VRF}]/bd-[vxlan-{bd}]/vlan-[vlan-{vlan}]"
    ip_dn = f"topology/pod-1/node-{node}/{rel}/db-ep/ip-[{ip}]"
    dn = (
        f"topology/pod-1/node-{node}/{rel}/db-ep/mac-{mac}/rsmacEpToIpEpAtt-[{rel}/db-ep/ip-[{ip}]]"
    )
    rec = parse_epm("epmRsMacEpToIpEpAtt", {"dn": dn, "tDn": ip_dn, "status": status})
    assert rec is not None
    return rec


def tables(leafs=(101, 102, 103, 104, 105), vpc=((103, 104),)) -> FabricTables:
    """Nodes with TEP 10.0.0.<id%256>; tunnelN on every leaf points at leaf N (+100)."""
    t = FabricTables()
    for n in leafs:
        t.add(
            "fabricNode",
            {
                "dn": f"topology/pod-1/node-{n}",
                "id": str(n),
                "address": f"10.0.0.{n % 256}",
                "name": f"leaf{n}",
                "role": "leaf",
            },
        )
    for n in leafs:
        for m in leafs:
            if m != n:
                t.add(
                    "tunnelIf",
                    {
                        "dn": f"{node_prefix(n)}/tunnel-[tunnel{m - 100}]",
                        "id": f"tunnel{m - 100}",
                        "dest": f"10.0.0.{m % 256}/32",
                        "type": "physical",
                    },
                )
    for a, b in vpc:
        t.add_vpc(
            {
                "fabricExplicitGEp": {
                    "attributes": {"virtualIp": "10.0.1.1/32"},
                    "children": [
                        {"fabricNodePEp": {"attributes": {"id": str(a)}}},
                        {"fabricNodePEp": {"attributes": {"id": str(b)}}},
                    ],
                }
            }
        )
    t.add("fvCtx", {"dn": "uni/tn-t1/ctx-v1", "scope": str(VRF)})
    t.add("fvBD", {"dn": "uni/tn-t1/BD-bd1", "seg": str(BD), "scope": str(VRF)})
    t.add("fvSubnet", {"dn": "uni/tn-t1/BD-bd1/subnet-[10.1.1.1/24]", "ip": "10.1.1.1/24"})
    t.add("fvAEPg", {"dn": "uni/tn-t1/ap-a1/epg-e1", "pcTag": str(PCTAG), "scope": str(VRF)})
    t.add("fvRsBd", {"dn": "uni/tn-t1/ap-a1/epg-e1/rsbd", "tDn": "uni/tn-t1/BD-bd1"})
    return t
