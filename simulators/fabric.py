"""Fabric model for the ACI simulator (stage: simulators — model, deterministic build, rendering).

What is modelled (reference: /work/shared/reference/apic-and-ept.md §2.4, seed 001):

* pods, spines, leafs, controllers (``fabricNode``/``topSystem``), vPC pairs
  (``fabricExplicitGEp``/``fabricNodePEp``, ``vpcRsVpcConf``), port-channels (``pcAggrIf``),
  physical ports (``l1PhysIf``/``ethpmPhysIf`` + ``eqptIngrTotal5min``/``eqptEgrTotal5min``),
  tunnel interfaces (``tunnelIf``) from every leaf to every other leaf TEP, vPC VIP and the spine
  proxies;
* tenants, VRFs (``fvCtx``), BDs (``fvBD`` + ``fvSubnet``), EPGs (``fvAEPg`` + ``fvRsBd``) with a
  VLAN encap each;
* endpoints: one MAC plus 0-2 IPs, attached to a port, a port-channel or a vPC.  The fabric-wide
  "COOP" view is the :class:`Endpoint` record (one per MAC); the per-leaf endpoint tables
  (``epmMacEp``/``epmIpEp``/``epmRsMacEpToIpEpAtt``) are :class:`EpmEntry` objects keyed per leaf:
  local entries on the attached leaf(s), XR (remote) entries on two "conversation partner" leafs,
  bounce entries after a move.  The logical view (``fvCEp``/``fvIp``/``fvRsCEpToPathEp``) is derived
  from the endpoint records.

Memory: nothing is stored as an APIC attribute dict per endpoint.  Entries are ``__slots__``
objects sharing interned strings; DNs and attribute dicts are rendered on demand by
:meth:`SimulatedFabric.epm_attrs` and friends (the query engine in ``apic_query.py`` calls them).
Small, slow-changing objects (config, nodes, faults, port-channels) are stored as attribute dicts
in :attr:`SimulatedFabric.static`.

Build (deterministic for a given seed)::

    fab = SimulatedFabric.build(leafs=4, endpoints=200, seed=1)
    fab.clock.advance(60)                       # manual clock by default
    records = fab.run_scenario("vm_migration")  # list[TruthRecord]; see scenarios.py

Mutations (learning, moves, aging, rogue control) live in ``learning.py``; every mutation emits
:class:`MoEvent` batches to listeners registered with :meth:`SimulatedFabric.add_listener` (the
APIC server turns them into websocket frames).  All access goes through ``fabric.lock``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import random
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from simulators.clock import SimClock

if TYPE_CHECKING:
    from simulators.scenarios import ScenarioEngine

log = logging.getLogger(__name__)

Attrs = dict[str, str]

# Flag strings exactly as the APIC API writes them: long names, comma-joined, sorted (§2.4).
F_MAC_LOCAL = "local,mac"
F_MAC_LOCAL_VPC = "local,mac,vpc-attached"
F_IP_LOCAL = "ip,local"
F_IP_LOCAL_VPC = "ip,local,vpc-attached"
F_MAC_REMOTE = "mac"
F_IP_REMOTE = "ip"
F_MAC_BOUNCE = "bounce,mac"
F_IP_BOUNCE = "bounce,ip"

INFRA_OVERLAY_VNID = 16777199
VERSION_APIC = "5.2(7f)"
VERSION_SWITCH = "n9000-15.2(7f)"

# Fault codes.  The reference (§2.4 "Rogue endpoints") could not confirm the real rogue-EP or
# loop-protection fault codes from a public source, so these are simulator choices: a poller
# should key on the faultInst ``cause``/``dn`` rather than on the exact code.
ROGUE_FAULT_CODE = "F3013"
ROGUE_FAULT_CAUSE = "rogue-ep-detected"
LOOP_FAULT_CODE = "F3012"
LOOP_FAULT_CAUSE = "ep-loop-detected"
PORT_DOWN_FAULT_CODE = "F0532"


# Quotes in an epm object's JSON whose values need no escaping (SimulatedFabric.epm_json).
_EPM_JSON_QUOTES = 48  # 2 per key and value: the class, "attributes", 11 keys, 11 values


@functools.lru_cache(maxsize=262_144)
def fmt_ts(t: float) -> str:
    """APIC timestamp format: ``2018-03-02T16:42:24.776+00:00``."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


# --------------------------------------------------------------------------------------- model


@dataclass(slots=True, eq=False)
class Node:
    id: int
    pod: int
    role: str  # leaf | spine | controller
    name: str
    tep: str
    serial: str
    model: str
    prefix: str = ""  # "topology/pod-1/node-101", cached: every per-node DN starts with it

    def __post_init__(self) -> None:
        self.prefix = f"topology/pod-{self.pod}/node-{self.id}"


@dataclass(slots=True, eq=False)
class VpcPair:
    id: int  # vPC domain / explicit protection group id
    a: Node
    b: Node
    vip: str

    @property
    def nodes(self) -> tuple[Node, Node]:
        return (self.a, self.b)


@dataclass(slots=True, eq=False)
class Tenant:
    name: str


@dataclass(slots=True, eq=False)
class Vrf:
    tenant: Tenant
    name: str
    vnid: int
    pc_tag: str

    @property
    def dn(self) -> str:
        return f"uni/tn-{self.tenant.name}/ctx-{self.name}"


@dataclass(slots=True, eq=False)
class Bd:
    tenant: Tenant
    name: str
    vrf: Vrf
    vnid: int
    pc_tag: str
    subnet: ipaddress.IPv4Network
    gateway: str
    next_host: int = 10  # next free host offset inside `subnet` for new endpoints

    @property
    def dn(self) -> str:
        return f"uni/tn-{self.tenant.name}/BD-{self.name}"


@dataclass(slots=True, eq=False)
class Epg:
    tenant: Tenant
    ap: str
    name: str
    bd: Bd
    pc_tag: str
    vlan: int
    encap: str = ""

    def __post_init__(self) -> None:
        self.encap = f"vlan-{self.vlan}"

    @property
    def dn(self) -> str:
        return f"uni/tn-{self.tenant.name}/ap-{self.ap}/epg-{self.name}"


class Attachment:
    """Where an endpoint plugs in: a port, a port-channel on one leaf, or a vPC on a pair."""

    __slots__ = ("nodes", "if_id", "kind", "path_dn", "members", "vpc")

    def __init__(
        self,
        nodes: tuple[Node, ...],
        if_id: str,
        kind: str,
        path_dn: str,
        members: tuple[str, ...],
        vpc: VpcPair | None = None,
    ) -> None:
        self.nodes = nodes
        self.if_id = sys.intern(if_id)  # "eth1/5" | "po1"
        self.kind = kind  # eth | pc | vpc
        self.path_dn = path_dn  # fabricPathEp dn used by fvCEp.fabricPathDn
        self.members = members  # physical member ports on each node
        self.vpc = vpc

    def describe(self) -> str:
        return f"{'/'.join(str(n.id) for n in self.nodes)}:{self.if_id}"

    def __repr__(self) -> str:
        return f"Attachment({self.describe()})"


class EpmEntry:
    """One per-leaf endpoint table entry (epmMacEp or epmIpEp); rendered lazily."""

    __slots__ = (
        "node",
        "addr",
        "is_ip",
        "vrf",
        "bd",
        "vlan",
        "flags",
        "if_id",
        "pc_tag",
        "rw_mac",
        "create_ts",
        "mod_ts",
        "expires",
        "_dn",
    )

    def __init__(
        self,
        node: Node,
        addr: str,
        is_ip: bool,
        vrf: int,
        bd: int,
        vlan: int,
        flags: str,
        if_id: str,
        pc_tag: str,
        rw_mac: str | None,
        ts: float,
    ) -> None:
        self.node = node
        self.addr = addr
        self.is_ip = is_ip
        self.vrf = vrf
        self.bd = bd  # 0: no bd-[] segment (XR IP entries)
        self.vlan = vlan  # 0: no vlan-[] segment (XR/bounce entries)
        self.flags = flags
        self.if_id = if_id
        self.pc_tag = pc_tag
        self.rw_mac = rw_mac  # local IP entries: the MAC they resolve to (epmRsMacEpToIpEpAtt)
        self.create_ts = ts
        self.mod_ts = ts
        self.expires: float | None = None  # aging deadline when one is running
        self._dn: str | None = None  # rendered once: a build sorts by it and renders it

    @property
    def local(self) -> bool:
        return self.vlan != 0

    def sys_rel(self) -> str:
        """DN relative to the node, starting with ``sys/`` (used inside Rs rns)."""
        leaf = f"ip-[{self.addr}]" if self.is_ip else f"mac-{self.addr}"
        if self.vlan:
            return (
                f"sys/ctx-[vxlan-{self.vrf}]/bd-[vxlan-{self.bd}]/vlan-[vlan-{self.vlan}]"
                f"/db-ep/{leaf}"
            )
        if self.bd:
            return f"sys/ctx-[vxlan-{self.vrf}]/bd-[vxlan-{self.bd}]/db-ep/{leaf}"
        return f"sys/ctx-[vxlan-{self.vrf}]/db-ep/{leaf}"

    def dn(self) -> str:
        # Every part of the DN is fixed at construction (a move makes a new entry).
        d = self._dn
        if d is None:
            d = self._dn = f"{self.node.prefix}/{self.sys_rel()}"
        return d


class Endpoint:
    """Fabric-wide (COOP) record of one MAC endpoint."""

    __slots__ = ("mac", "epg", "ips", "att", "partners", "rogue_until", "silent")

    def __init__(
        self,
        mac: str,
        epg: Epg,
        ips: tuple[str, ...],
        att: Attachment | None,
        partners: tuple[Node, ...],
    ) -> None:
        self.mac = mac
        self.epg = epg
        self.ips = ips
        self.att = att  # None: currently not learned anywhere (flushed)
        self.partners = partners  # leafs holding XR entries for this endpoint
        self.rogue_until = 0.0
        self.silent = False

    @property
    def bd(self) -> Bd:
        return self.epg.bd

    @property
    def dn(self) -> str:
        return f"{self.epg.dn}/cep-{self.mac}"

    def __repr__(self) -> str:
        where = self.att.describe() if self.att else "-"
        return f"Endpoint({self.mac} {self.ips} @ {where})"


@dataclass(slots=True, eq=False)
class TruthRecord:
    """Ground truth of one thing a scenario made happen, for checking a poller/analyzer.

    ``kind``: move | interface_down | interface_up | rogue | rogue_cleared | loop | offsubnet |
    stale | duplicate_ip | bounce_expired | aged | learn | suppressed.
    ``vnid`` follows EPT's key convention: the BD VNID for MACs, the VRF VNID for IPs.
    Nodes are tuples because a vPC attachment lives on two leafs.
    """

    kind: str
    addr: str
    addr_type: str  # mac | ipv4
    vnid: int
    bd: str
    time: float
    cause: str
    scenario: str = ""
    from_nodes: tuple[int, ...] = ()
    from_interface: str = ""
    from_encap: str = ""
    to_nodes: tuple[int, ...] = ()
    to_interface: str = ""
    to_encap: str = ""
    detail: str = ""
    run: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["from_nodes"] = list(self.from_nodes)
        d["to_nodes"] = list(self.to_nodes)
        d["time_iso"] = fmt_ts(self.time)
        return d


@dataclass(slots=True, eq=False)
class MoEvent:
    """One object change.  ``attrs`` is the full object after the change (or before, for a
    delete) so subscription filters can be evaluated; ``changed`` lists the properties a
    ``modified`` frame carries (partial attributes, §2.3)."""

    cls: str
    dn: str
    status: str  # created | modified | deleted
    attrs: Attrs
    changed: tuple[str, ...] = ()

    def frame_attrs(self) -> Attrs:
        base = {"childAction": "", "dn": self.dn, "modTs": self.attrs.get("modTs", ""), "rn": ""}
        if self.status == "created":
            out = dict(self.attrs)
            out.update(rn="", status="created")
            return out
        if self.status == "deleted":
            base["status"] = "deleted"
            return base
        for k in self.changed:
            if k in self.attrs:
                base[k] = self.attrs[k]
        base["status"] = "modified"
        return base


@dataclass
class EndpointPolicy:
    """Endpoint retention (l2EpRetPol/fvEpRetPol defaults) + rogue EP control + EP loop
    protection + move dampening (seed 001; reference §2.4)."""

    hold_interval: float = 300.0
    bounce_age: float = 630.0
    local_age: float = 900.0
    remote_age: float = 300.0
    move_frequency: int = 256  # aggregate moves per second per BD before dampening
    # Rogue EP control: ACI default is disabled; the simulator enables it so that the flapping
    # scenarios show holds.  With rogue control on, loop protection and dampening do not act.
    rogue_enabled: bool = True
    rogue_interval: float = 60.0
    rogue_factor: int = 4
    rogue_hold: float = 1800.0
    loop_protection: bool = True
    loop_interval: float = 60.0
    loop_factor: int = 4
    loop_action: str = "bd-learn-disable"  # or "port-disable"
    dampening: bool = True
    enforce_subnet_check: bool = False  # off: offsubnet IPs are learned (the anomaly to detect)


# ------------------------------------------------------------------------------------ fabric


Listener = Callable[[list[MoEvent]], None]


class SimulatedFabric:
    """The simulated ACI fabric.  Build with :meth:`build`; see the module docstring."""

    def __init__(self, seed: int, clock: SimClock) -> None:
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.policy = EndpointPolicy()
        self.fabric_name = "fabric1"
        self.pods: list[int] = []
        self.nodes: dict[int, Node] = {}
        self.leafs: list[Node] = []
        self.spines: list[Node] = []
        self.controllers: list[Node] = []
        self.vpc_pairs: list[VpcPair] = []
        self.vpc_of: dict[int, VpcPair] = {}
        self.tenants: list[Tenant] = []
        self.vrfs: list[Vrf] = []
        self.bds: list[Bd] = []
        self.bd_by_vnid: dict[int, Bd] = {}
        self.epgs: list[Epg] = []
        self.attachments: dict[int, list[Attachment]] = {}  # leaf id -> attachments touching it
        self.endpoints: dict[tuple[int, str], Endpoint] = {}  # (bd vnid, MAC) -> endpoint
        self.ep_list: list[Endpoint] = []
        self.ip_owner: dict[tuple[int, str], Endpoint] = {}  # (vrf vnid, IP) -> owning MAC
        # Per-leaf endpoint tables: node id -> key -> entry.  MAC key (bd vnid, mac),
        # IP key (vrf vnid, ip).  A leaf holds at most one entry per key (local XOR remote).
        self.mac_tables: dict[int, dict[tuple[int, str], EpmEntry]] = {}
        self.ip_tables: dict[int, dict[tuple[int, str], EpmEntry]] = {}
        # Port oper state: (node id, "eth1/5") -> (up, last change ts).  Missing = up since build.
        self.port_state: dict[tuple[int, str], tuple[bool, float]] = {}
        self.ports: dict[int, tuple[str, ...]] = {}
        self.port_bundle: dict[tuple[int, str], str] = {}  # member port -> "po10"
        # Tunnel destinations; a leaf's tunnel to dests[i] is "tunnel{i+1}".
        self.tunnel_dests: list[tuple[str, str, int]] = []  # (type, dest ip, pod)
        self.dest_index: dict[tuple[str, int], int] = {}  # ("node"|"vpc"|"proxy", id) -> index
        self.tunnel_names: list[str] = []
        # Small objects stored as attribute dicts: class -> dn -> attrs.
        self.static: dict[str, dict[str, Attrs]] = {}
        self.bd_learn_disabled: dict[int, float] = {}  # bd vnid -> until
        # Floods entering leaf ports (loops): (node id, port) -> [[start, end, pps], …], end =
        # inf while it lasts; port_stats.py turns them into eqptIngrPkts5min/Bytes5min counters.
        self.floods: dict[tuple[int, str], list[list[float]]] = {}
        self.truth: list[TruthRecord] = []
        self._truth_listeners: list[Callable[[TruthRecord], None]] = []
        self.build_ts = clock.now()
        self._listeners: list[Listener] = []
        self._batch: list[MoEvent] | None = None
        self._batch_depth = 0
        self.move_log: dict[tuple[str, int, str], list[tuple[float, str]]] = {}
        self.bd_move_log: dict[int, list[float]] = {}
        self._scenarios: ScenarioEngine | None = None
        self.version = 0  # bumped on every object change; query caches key on it
        self.cls_registry: dict[str, Any] = {}  # apic_query.MoClass per class, built lazily

    # ------------------------------------------------------------------------- build

    @classmethod
    def build(
        cls,
        leafs: int = 4,
        endpoints: int = 200,
        seed: int = 1,
        *,
        pods: int = 1,
        spines_per_pod: int = 2,
        controllers: int = 3,
        tenants: int | None = None,
        bds: int | None = None,
        partners: int = 2,
        clock: SimClock | None = None,
        policy: EndpointPolicy | None = None,
    ) -> SimulatedFabric:
        """Build a deterministic fabric.  ``partners`` = leafs holding XR entries per endpoint."""
        if leafs < 1:
            raise ValueError("need at least one leaf")
        fab = cls(seed, clock or SimClock())
        if policy is not None:
            fab.policy = policy
        with fab.lock:
            fab._build_nodes(leafs, pods, spines_per_pod, controllers)
            fab._build_tenancy(endpoints, tenants, bds)
            fab._build_interfaces()
            fab._build_static()
            fab._build_endpoints(endpoints, partners)
        return fab

    def _build_nodes(self, leafs: int, pods: int, spines_per_pod: int, controllers: int) -> None:
        pods = max(1, min(pods, leafs))
        self.pods = list(range(1, pods + 1))
        spine_base = 201 if leafs <= 99 else 1001
        for c in range(1, controllers + 1):
            self._add_node(
                Node(c, 1, "controller", f"apic{c}", f"10.0.0.{c}", f"FCH{c:07d}", "APIC-SERVER-M3")
            )
        per_pod = -(-leafs // pods)
        for i in range(leafs):
            nid = 101 + i
            pod = 1 + i // per_pod
            self._add_node(
                Node(
                    nid,
                    pod,
                    "leaf",
                    f"leaf{nid}",
                    self._tep(pod, nid),
                    f"FDO{nid:08d}",
                    "N9K-C93180YC-FX",
                )
            )
        for pod in self.pods:
            for s in range(spines_per_pod):
                nid = spine_base + (pod - 1) * spines_per_pod + s
                self._add_node(
                    Node(
                        nid,
                        pod,
                        "spine",
                        f"spine{nid}",
                        self._tep(pod, nid),
                        f"FDO{nid:08d}",
                        "N9K-C9364C",
                    )
                )
        self.leafs = [n for n in self.nodes.values() if n.role == "leaf"]
        self.spines = [n for n in self.nodes.values() if n.role == "spine"]
        self.controllers = [n for n in self.nodes.values() if n.role == "controller"]
        # Consecutive leafs in a pod form vPC pairs (the usual ACI layout).
        pair_id = 1
        for pod in self.pods:
            pod_leafs = [n for n in self.leafs if n.pod == pod]
            for a, b in zip(pod_leafs[0::2], pod_leafs[1::2], strict=False):
                vip = f"10.{pod - 1}.128.{pair_id % 250 + 1}"
                pair = VpcPair(pair_id, a, b, vip)
                self.vpc_pairs.append(pair)
                self.vpc_of[a.id] = self.vpc_of[b.id] = pair
                pair_id += 1
        # Tunnel destinations: per-pod spine proxies, then every leaf TEP, then every vPC VIP.
        for pod in self.pods:
            for kind, last in (
                ("proxy-acast-v4", 32),
                ("proxy-acast-mac", 33),
                ("proxy-acast-v6", 34),
            ):
                self.dest_index[(f"{kind}", pod)] = len(self.tunnel_dests)
                self.tunnel_dests.append((kind, f"10.{pod - 1}.0.{last}", pod))
        for leaf in self.leafs:
            self.dest_index[("node", leaf.id)] = len(self.tunnel_dests)
            self.tunnel_dests.append(("physical", leaf.tep, leaf.pod))
        for pair in self.vpc_pairs:
            self.dest_index[("vpc", pair.id)] = len(self.tunnel_dests)
            self.tunnel_dests.append(("physical", pair.vip, pair.a.pod))
        self.tunnel_names = [sys.intern(f"tunnel{i + 1}") for i in range(len(self.tunnel_dests))]
        for leaf in self.leafs:
            self.mac_tables[leaf.id] = {}
            self.ip_tables[leaf.id] = {}

    @staticmethod
    def _tep(pod: int, nid: int) -> str:
        return f"10.{pod - 1}.{(nid >> 8) & 255}.{nid & 255}"

    def _add_node(self, node: Node) -> None:
        self.nodes[node.id] = node

    def _build_tenancy(self, endpoints: int, tenants: int | None, bds: int | None) -> None:
        n_bd = bds or max(4, min(2000, endpoints // 400))
        n_tn = tenants or max(1, min(8, n_bd // 4))
        self.tenants = [Tenant(f"tenant{i + 1}") for i in range(n_tn)]
        for t_i, tn in enumerate(self.tenants):
            for v in range(2):
                k = t_i * 2 + v
                self.vrfs.append(Vrf(tn, f"vrf{v + 1}", 2_097_152 + k * 32_768, str(16_386 + k)))
        for i in range(n_bd):
            vrf = self.vrfs[i % len(self.vrfs)]
            # One /20 per BD, carved sequentially out of 10.16.0.0/12 and above.
            base = (10 << 24) + (16 << 16) + (i << 12)
            subnet = ipaddress.IPv4Network((base, 20))
            bd = Bd(
                vrf.tenant,
                f"bd{i + 1}",
                vrf,
                15_007_744 + i * 32,
                str(32_770 + i),
                subnet,
                str(subnet.network_address + 1),
            )
            self.bds.append(bd)
            self.bd_by_vnid[bd.vnid] = bd
            epg = Epg(vrf.tenant, "app1", f"epg{i + 1}", bd, str(49_153 + i), 100 + i % 3800)
            self.epgs.append(epg)

    def _build_interfaces(self) -> None:
        """Per leaf: eth1/1-32 access ports, po1/po2 port-channels (eth1/33-36), vPCs po10-po13
        on eth1/41-44 of both peers; 48 front ports in all."""
        for leaf in self.leafs:
            self.ports[leaf.id] = tuple(sys.intern(f"eth1/{p}") for p in range(1, 49))
            atts: list[Attachment] = []
            for p in range(1, 33):
                port = f"eth1/{p}"
                atts.append(
                    Attachment(
                        (leaf,),
                        port,
                        "eth",
                        f"topology/pod-{leaf.pod}/paths-{leaf.id}/pathep-[{port}]",
                        (port,),
                    )
                )
            for k, members in ((1, ("eth1/33", "eth1/34")), (2, ("eth1/35", "eth1/36"))):
                po = f"po{k}"
                for m in members:
                    self.port_bundle[(leaf.id, m)] = po
                atts.append(
                    Attachment(
                        (leaf,),
                        po,
                        "pc",
                        f"topology/pod-{leaf.pod}/paths-{leaf.id}/pathep-[pc_{leaf.id}_{po}]",
                        members,
                    )
                )
            self.attachments[leaf.id] = atts
        for pair in self.vpc_pairs:
            a, b = pair.a, pair.b
            for k in range(4):
                po = f"po{10 + k}"
                member = f"eth1/{41 + k}"
                for n in (a, b):
                    self.port_bundle[(n.id, member)] = po
                att = Attachment(
                    (a, b),
                    po,
                    "vpc",
                    f"topology/pod-{a.pod}/protpaths-{a.id}-{b.id}/pathep-[vpc_{a.id}_{b.id}_{po}]",
                    (member,),
                    pair,
                )
                self.attachments[a.id].append(att)
                self.attachments[b.id].append(att)

    def _put(self, cls: str, attrs: Attrs) -> None:
        base = {"childAction": "", "modTs": fmt_ts(self.build_ts), "status": ""}
        base.update(attrs)
        self.static.setdefault(cls, {})[attrs["dn"]] = base

    def _build_static(self) -> None:
        self._put("polUni", {"dn": "uni", "name": ""})
        self._put("topInfo", {"dn": "info", "id": "1", "currentTime": fmt_ts(self.build_ts)})
        self._put(
            "fabricProtPol", {"dn": "uni/fabric/protpol", "pairT": "explicit", "name": "default"}
        )
        self._put(
            "datetimeFormat",
            {
                "dn": "uni/fabric/format-default",
                "tz": "n000_UTC",
                "displayFormat": "local",
                "name": "default",
            },
        )
        self._put("fvTenant", {"dn": "uni/tn-infra", "name": "infra"})
        self._put(
            "fvCtx",
            {
                "dn": "uni/tn-infra/ctx-overlay-1",
                "name": "overlay-1",
                "scope": str(INFRA_OVERLAY_VNID),
                "seg": str(INFRA_OVERLAY_VNID),
                "pcTag": "16386",
            },
        )
        for n in self.nodes.values():
            role = n.role
            self._put(
                "fabricNode",
                {
                    "address": n.tep,
                    "adSt": "on",
                    "dn": n.prefix,
                    "fabricSt": "commissioned" if role == "controller" else "active",
                    "id": str(n.id),
                    "model": n.model,
                    "monPolDn": "uni/fabric/monfab-default",
                    "name": n.name,
                    "nodeType": "unspecified",
                    "role": role,
                    "serial": n.serial,
                    "vendor": "Cisco Systems, Inc",
                    "version": VERSION_APIC if role == "controller" else VERSION_SWITCH,
                },
            )
            self._put(
                "topSystem",
                {
                    "address": n.tep,
                    "dn": f"{n.prefix}/sys",
                    "fabricDomain": self.fabric_name,
                    "id": str(n.id),
                    "name": n.name,
                    "podId": str(n.pod),
                    "role": role,
                    "serial": n.serial,
                    "state": "in-service",
                    "version": VERSION_APIC if role == "controller" else VERSION_SWITCH,
                },
            )
            if role == "controller":
                self._put(
                    "firmwareCtrlrRunning",
                    {
                        "dn": f"{n.prefix}/sys/ctrlrfwstatuscont/ctrlrrunning",
                        "version": VERSION_APIC,
                        "type": "controller",
                    },
                )
            else:
                self._put(
                    "firmwareRunning",
                    {
                        "dn": f"{n.prefix}/sys/fwstatuscont/running",
                        "peVer": VERSION_APIC,
                        "version": VERSION_SWITCH,
                        "type": "switch",
                    },
                )
        for pair in self.vpc_pairs:
            gdn = f"uni/fabric/protpol/expgep-vpc-{pair.a.id}-{pair.b.id}"
            self._put(
                "fabricExplicitGEp",
                {
                    "dn": gdn,
                    "id": str(pair.id),
                    "name": f"vpc-{pair.a.id}-{pair.b.id}",
                    "virtualIp": f"{pair.vip}/32",
                },
            )
            for n, peer in ((pair.a, pair.b), (pair.b, pair.a)):
                self._put(
                    "fabricNodePEp",
                    {
                        "dn": f"{gdn}/nodepep-{n.id}",
                        "id": str(n.id),
                        "peerIp": f"{peer.tep}/32",
                        "podId": str(n.pod),
                    },
                )
        for leaf in self.leafs:
            for att in self.attachments[leaf.id]:
                if att.kind == "eth":
                    continue
                adn = f"{leaf.prefix}/sys/aggr-[{att.if_id}]"
                name = att.path_dn.rsplit("pathep-[", 1)[1].rstrip("]")
                self._put(
                    "pcAggrIf",
                    {
                        "dn": adn,
                        "id": att.if_id,
                        "name": name,
                        "pcMode": "active",
                        "adminSt": "up",
                        "operSt": "up",
                    },
                )
                for m in att.members:
                    self._put(
                        "pcRsMbrIfs",
                        {
                            "dn": f"{adn}/rsmbrIfs-[{leaf.prefix}/sys/phys-[{m}]]",
                            "tDn": f"{leaf.prefix}/sys/phys-[{m}]",
                            "tSKey": m,
                            "state": "formed",
                        },
                    )
                if att.vpc is not None:
                    vpc_id = int(att.if_id[2:])
                    vpc_dn = f"{leaf.prefix}/sys/vpc/inst/dom-{att.vpc.id}/if-{vpc_id}"
                    self._put(
                        "vpcRsVpcConf",
                        {
                            "dn": f"{vpc_dn}/rsvpcConf",
                            "tDn": adn,
                            "tSKey": att.if_id,
                            "state": "formed",
                            "tCl": "pcAggrIf",
                            "parentSKey": str(vpc_id),
                        },
                    )
        for tn in self.tenants:
            self._put("fvTenant", {"dn": f"uni/tn-{tn.name}", "name": tn.name})
            self._put("fvAp", {"dn": f"uni/tn-{tn.name}/ap-app1", "name": "app1"})
        for vrf in self.vrfs:
            self._put(
                "fvCtx",
                {
                    "dn": vrf.dn,
                    "name": vrf.name,
                    "scope": str(vrf.vnid),
                    "seg": str(vrf.vnid),
                    "pcTag": vrf.pc_tag,
                    "pcEnfPref": "enforced",
                },
            )
        for bd in self.bds:
            self._put(
                "fvBD",
                {
                    "dn": bd.dn,
                    "name": bd.name,
                    "seg": str(bd.vnid),
                    "scope": str(bd.vrf.vnid),
                    "pcTag": bd.pc_tag,
                    "unicastRoute": "yes",
                    "unkMacUcastAct": "proxy",
                    "arpFlood": "no",
                    "epMoveDetectMode": "",
                    "limitIpLearnToSubnets": "yes",
                    "mac": "00:22:BD:F8:19:FF",
                },
            )
            self._put(
                "fvRsCtx", {"dn": f"{bd.dn}/rsctx", "tnFvCtxName": bd.vrf.name, "tDn": bd.vrf.dn}
            )
            self._put(
                "fvSubnet",
                {
                    "dn": f"{bd.dn}/subnet-[{bd.gateway}/{bd.subnet.prefixlen}]",
                    "ip": f"{bd.gateway}/{bd.subnet.prefixlen}",
                    "scope": "private",
                    "ipDPLearning": "enabled",
                    "preferred": "no",
                    "ctrl": "",
                    "virtual": "no",
                },
            )
        for epg in self.epgs:
            self._put(
                "fvAEPg",
                {
                    "dn": epg.dn,
                    "name": epg.name,
                    "pcTag": epg.pc_tag,
                    "scope": str(epg.bd.vrf.vnid),
                    "isAttrBasedEPg": "no",
                    "pcEnfPref": "unenforced",
                    "floodOnEncap": "disabled",
                },
            )
            self._put(
                "fvRsBd",
                {
                    "dn": f"{epg.dn}/rsbd",
                    "tnFvBDName": epg.bd.name,
                    "tDn": epg.bd.dn,
                    "state": "formed",
                },
            )

    def _mac_for(self, i: int) -> str:
        ouis = (0x005056, 0x000C29, 0x525400, 0x001B21)
        # Multiply by an odd constant mod 2^24: unique, but does not look sequential.
        low = ((i // len(ouis)) * 0x9E3779 + self.seed * 7919) & 0xFFFFFF
        v = (ouis[i % len(ouis)] << 24) | low
        return sys.intern(":".join(f"{(v >> s) & 0xFF:02X}" for s in range(40, -8, -8)))

    def _build_endpoints(self, count: int, n_partners: int) -> None:
        rng = self.rng
        leafs = self.leafs
        now = self.build_ts
        for i in range(count):
            epg = self.epgs[i % len(self.epgs)]
            bd = epg.bd
            mac = self._mac_for(i)
            roll = rng.random()
            n_ips = 1 if roll < 0.9 else (2 if roll < 0.95 else 0)
            ips = tuple(self._alloc_ip(bd) for _ in range(n_ips))
            leaf = leafs[rng.randrange(len(leafs))]
            atts = self.attachments[leaf.id]
            kind_roll = rng.random()
            if kind_roll < 0.4 and leaf.id in self.vpc_of:
                pool = [a for a in atts if a.kind == "vpc"]
            elif kind_roll < 0.55:
                pool = [a for a in atts if a.kind == "pc"]
            else:
                pool = [a for a in atts if a.kind == "eth"]
            att = pool[rng.randrange(len(pool))]
            others = [n for n in leafs if n not in att.nodes]
            partners = tuple(rng.sample(others, min(n_partners, len(others))))
            ep = Endpoint(mac, epg, ips, att, partners)
            self.endpoints[(bd.vnid, mac)] = ep
            self.ep_list.append(ep)
            for ip in ips:
                self.ip_owner[(bd.vrf.vnid, ip)] = ep
            ts = now - (i % 86_400)
            self._install(ep, ts)

    def _alloc_ip(self, bd: Bd) -> str:
        off = bd.next_host
        bd.next_host += 1
        if off >= bd.subnet.num_addresses - 1:
            raise ValueError(f"BD {bd.name} subnet exhausted; raise bds=")
        return sys.intern(str(bd.subnet.network_address + off))

    def _install(self, ep: Endpoint, ts: float) -> None:
        """Build-time (no events): local entries on the attachment, XR on partners."""
        assert ep.att is not None
        for node, entry in self.desired_local(ep, ep.att, ts):
            table = self.ip_tables if entry.is_ip else self.mac_tables
            table[node.id][self.entry_key(entry)] = entry
        for node in ep.partners:
            for entry in self.desired_remote(ep, node, ep.att, ts):
                table = self.ip_tables if entry.is_ip else self.mac_tables
                table[node.id][self.entry_key(entry)] = entry

    # ------------------------------------------------------------- entry construction

    @staticmethod
    def entry_key(e: EpmEntry) -> tuple[int, str]:
        return (e.vrf, e.addr) if e.is_ip else (e.bd, e.addr)

    def tunnel_to(self, att: Attachment) -> str:
        if att.vpc is not None:
            return self.tunnel_names[self.dest_index[("vpc", att.vpc.id)]]
        return self.tunnel_names[self.dest_index[("node", att.nodes[0].id)]]

    def desired_local(
        self, ep: Endpoint, att: Attachment, ts: float, ips: tuple[str, ...] | None = None
    ) -> Iterator[tuple[Node, EpmEntry]]:
        epg, bd = ep.epg, ep.epg.bd
        vpc = att.kind == "vpc"
        for node in att.nodes:
            yield (
                node,
                EpmEntry(
                    node,
                    ep.mac,
                    False,
                    bd.vrf.vnid,
                    bd.vnid,
                    epg.vlan,
                    F_MAC_LOCAL_VPC if vpc else F_MAC_LOCAL,
                    att.if_id,
                    epg.pc_tag,
                    None,
                    ts,
                ),
            )
            for ip in ep.ips if ips is None else ips:
                yield (
                    node,
                    EpmEntry(
                        node,
                        ip,
                        True,
                        bd.vrf.vnid,
                        bd.vnid,
                        epg.vlan,
                        F_IP_LOCAL_VPC if vpc else F_IP_LOCAL,
                        att.if_id,
                        epg.pc_tag,
                        ep.mac,
                        ts,
                    ),
                )

    def desired_remote(
        self,
        ep: Endpoint,
        node: Node,
        att: Attachment,
        ts: float,
        bounce: bool = False,
        ips: tuple[str, ...] | None = None,
    ) -> Iterator[EpmEntry]:
        epg, bd = ep.epg, ep.epg.bd
        tun = self.tunnel_to(att)
        yield EpmEntry(
            node,
            ep.mac,
            False,
            bd.vrf.vnid,
            bd.vnid,
            0,
            F_MAC_BOUNCE if bounce else F_MAC_REMOTE,
            tun,
            epg.pc_tag,
            None,
            ts,
        )
        for ip in ep.ips if ips is None else ips:
            yield EpmEntry(
                node,
                ip,
                True,
                bd.vrf.vnid,
                0,
                0,
                F_IP_BOUNCE if bounce else F_IP_REMOTE,
                tun,
                epg.pc_tag,
                None,
                ts,
            )

    # ------------------------------------------------------------------ rendering

    def epm_attrs(self, e: EpmEntry) -> Attrs:
        return {
            "addr": e.addr,
            "childAction": "",
            "createTs": fmt_ts(e.create_ts),
            "dn": e.dn(),
            "flags": e.flags,
            "ifId": e.if_id,
            "lcC": "",
            "modTs": "never" if e.mod_ts == e.create_ts else fmt_ts(e.mod_ts),
            "name": "",
            "pcTag": e.pc_tag,
            "status": "",
        }

    def epm_json(self, e: EpmEntry, cls: str) -> str:
        """``{cls: {"attributes": epm_attrs(e)}}`` as compact JSON, formatted directly (a build
        renders millions). Every value is simulator-made ASCII; anything that would need
        escaping takes the general encoder instead."""
        mod = "never" if e.mod_ts == e.create_ts else fmt_ts(e.mod_ts)
        text = (
            f'{{"{cls}":{{"attributes":{{"addr":"{e.addr}","childAction":"",'
            f'"createTs":"{fmt_ts(e.create_ts)}","dn":"{e.dn()}","flags":"{e.flags}",'
            f'"ifId":"{e.if_id}","lcC":"","modTs":"{mod}","name":"","pcTag":"{e.pc_tag}",'
            '"status":""}}}'
        )
        if text.count('"') != _EPM_JSON_QUOTES or "\\" in text or not text.isprintable():
            text = json.dumps(
                {cls: {"attributes": self.epm_attrs(e)}}, separators=(",", ":"), ensure_ascii=False
            )
        return text

    def rs_dn(self, e: EpmEntry) -> str:
        mac_rel = (
            f"sys/ctx-[vxlan-{e.vrf}]/bd-[vxlan-{e.bd}]/vlan-[vlan-{e.vlan}]/db-ep/mac-{e.rw_mac}"
        )
        return f"{e.node.prefix}/{mac_rel}/rsmacEpToIpEpAtt-[{e.sys_rel()}]"

    def rs_attrs(self, e: EpmEntry) -> Attrs:
        return {
            "childAction": "",
            "dn": self.rs_dn(e),
            "forceResolve": "yes",
            "lcOwn": "local",
            "modTs": fmt_ts(e.mod_ts),
            "rType": "mo",
            "state": "formed",
            "stateQual": "none",
            "status": "",
            "tCl": "epmIpEp",
            "tDn": e.dn(),
            "tType": "mo",
        }

    def cep_attrs(self, ep: Endpoint) -> Attrs:
        bd = ep.epg.bd
        return {
            "annotation": "",
            "baseEpgDn": "",
            "bdDn": bd.dn,
            "childAction": "",
            "contName": "",
            "dn": ep.dn,
            "encap": ep.epg.encap,
            "esgUsegDn": "",
            "extMngdBy": "",
            "fabricPathDn": ep.att.path_dn if ep.att else "",
            "hostingServer": "",
            "id": "0",
            "idepdn": "",
            "lcC": "learned",
            "lcOwn": "local",
            "mac": ep.mac,
            "mcastAddr": "not-applicable",
            "modTs": fmt_ts(self.build_ts),
            "monPolDn": "uni/tn-common/monepg-default",
            "name": ep.mac,
            "nameAlias": "",
            "reportingControllerName": "",
            "status": "",
            "uid": "0",
            "userdom": ":all:",
            "uuid": "",
            "vmmSrc": "",
            "vrfDn": bd.vrf.dn,
        }

    def fvip_attrs(self, ep: Endpoint, ip: str) -> Attrs:
        bd = ep.epg.bd
        return {
            "addr": ip,
            "annotation": "",
            "baseEpgDn": "",
            "bdDn": bd.dn,
            "childAction": "",
            "createTs": fmt_ts(self.build_ts),
            "debugMACMessage": "",
            "dn": f"{ep.dn}/ip-[{ip}]",
            "esgUsegDn": "",
            "extMngdBy": "",
            "fabricPathDn": ep.att.path_dn if ep.att else "",
            "flags": "",
            "lcOwn": "local",
            "modTs": fmt_ts(self.build_ts),
            "monPolDn": "uni/tn-common/monepg-default",
            "status": "",
            "uid": "0",
            "userdom": ":all:",
            "vrfDn": bd.vrf.dn,
        }

    def cep_path_attrs(self, ep: Endpoint) -> Attrs | None:
        if ep.att is None:
            return None
        t = ep.att.path_dn
        return {
            "childAction": "",
            "dn": f"{ep.dn}/rscEpToPathEp-[{t}]",
            "forceResolve": "yes",
            "lcC": "learned",
            "lcOwn": "local",
            "modTs": fmt_ts(self.build_ts),
            "rType": "mo",
            "state": "formed",
            "stateQual": "none",
            "status": "",
            "tCl": "fabricPathEp",
            "tDn": t,
            "tType": "mo",
        }

    def tunnel_attrs(self, leaf: Node, idx: int) -> Attrs:
        ttype, dest, _pod = self.tunnel_dests[idx]
        return {
            "childAction": "",
            "dest": dest,
            "dn": f"{leaf.prefix}/sys/tunnel-[tunnel{idx + 1}]",
            "id": f"tunnel{idx + 1}",
            "modTs": fmt_ts(self.build_ts),
            "operSt": "up",
            "operStQual": "none",
            "src": f"{leaf.tep}/32",
            "status": "",
            "tType": "ivxlan",
            "type": ttype,
        }

    def leaf_tunnels(self, leaf: Node) -> Iterator[int]:
        own_vpc = self.vpc_of.get(leaf.id)
        for i, (ttype, dest, pod) in enumerate(self.tunnel_dests):
            if dest == leaf.tep or (own_vpc is not None and dest == own_vpc.vip):
                continue
            if ttype.startswith("proxy") and pod != leaf.pod:
                continue
            yield i

    def port_attrs(self, leaf: Node, port: str) -> Attrs:
        up, ts = self.port_state.get((leaf.id, port), (True, self.build_ts))
        return {
            "accessVlan": "vlan-1",
            "bundleIndex": self.port_bundle.get((leaf.id, port), "unspecified"),
            "childAction": "",
            "dn": f"{leaf.prefix}/sys/phys-[{port}]/phys",
            "lastLinkStChg": fmt_ts(ts),
            "modTs": fmt_ts(ts),
            "operDuplex": "full",
            "operMode": "trunk",
            "operSpeed": "10G" if up else "unknown",
            "operSt": "up" if up else "down",
            "operStQual": "none" if up else "link-failure",
            "status": "",
            "usage": "epg" if up else "discovery",
        }

    def l1_attrs(self, leaf: Node, port: str) -> Attrs:
        return {
            "adminSt": "up",
            "childAction": "",
            "dn": f"{leaf.prefix}/sys/phys-[{port}]",
            "id": port,
            "layer": "Layer2",
            "mode": "trunk",
            "modTs": fmt_ts(self.build_ts),
            "mtu": "9000",
            "portT": "leaf",
            "speed": "inherit",
            "status": "",
            "usage": "epg",
            "descr": "",
        }

    def stats_attrs(self, leaf: Node, port: str, direction: str) -> Attrs:
        """eqptIngrTotal5min / eqptEgrTotal5min: counters derived from the clock so they grow."""
        now = self.clock.now()
        start = now - (now % 300)
        up, _ = self.port_state.get((leaf.id, port), (True, self.build_ts))
        h = hash((self.seed, leaf.id, port, direction)) & 0xFFFF
        rate = (1_000 + h * 50) if up else 0  # bytes/s
        elapsed = max(1.0, now - start)
        per = int(rate * elapsed)
        cum = int(rate * (now - self.build_ts + 86_400))
        pkts_rate = rate / 800
        cls = "eqptIngrTotal5min" if direction == "ingr" else "eqptEgrTotal5min"
        return {
            "bytesAvg": str(per),
            "bytesCum": str(cum),
            "bytesMax": str(per),
            "bytesMin": str(per),
            "bytesPer": str(per),
            "bytesRate": f"{float(rate):.6f}",
            "bytesRateAvg": f"{float(rate):.6f}",
            "bytesRateMax": f"{float(rate):.6f}",
            "bytesRateMin": f"{float(rate):.6f}",
            "childAction": "",
            "cnt": str(int(elapsed // 10)),
            "dn": f"{leaf.prefix}/sys/phys-[{port}]/CD{cls}",
            "intervalEnd": fmt_ts(now),
            "intervalStart": fmt_ts(start),
            "lastCollOffset": str(int(elapsed)),
            "modTs": "never",
            "pktsAvg": str(int(per / 800)),
            "pktsCum": str(int(cum / 800)),
            "pktsMax": str(int(per / 800)),
            "pktsMin": str(int(per / 800)),
            "pktsPer": str(int(per / 800)),
            "pktsRate": f"{pkts_rate:.6f}",
            "pktsRateAvg": f"{pkts_rate:.6f}",
            "pktsRateMax": f"{pkts_rate:.6f}",
            "pktsRateMin": f"{pkts_rate:.6f}",
            "repIntvEnd": fmt_ts(now),
            "repIntvStart": fmt_ts(start),
            "status": "",
            "suspect": "no",
        }

    # -------------------------------------------------------------- events/listeners

    def add_listener(self, fn: Listener) -> None:
        with self.lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self.lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the events of one logical change; listeners see them together, in order."""
        with self.lock:
            if self._batch_depth == 0:
                self._batch = []
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    events, self._batch = self._batch or [], None
                    if events:
                        for fn in list(self._listeners):
                            fn(events)

    def emit(self, ev: MoEvent) -> None:
        with self.batch():
            assert self._batch is not None
            self.version += 1
            self._batch.append(ev)

    def emit_static(
        self, cls: str, attrs: Attrs, status: str, changed: tuple[str, ...] = ()
    ) -> None:
        """Create/modify/delete a stored (static) object and emit the event."""
        dn = attrs["dn"]
        store = self.static.setdefault(cls, {})
        if status == "deleted":
            old = store.pop(dn, None)
            if old is not None:
                self.emit(MoEvent(cls, dn, "deleted", old))
            return
        if status == "modified" and dn in store:
            store[dn].update(attrs)
            self.emit(
                MoEvent(
                    cls,
                    dn,
                    "modified",
                    dict(store[dn]),
                    changed or tuple(k for k in attrs if k != "dn"),
                )
            )
            return
        full = {"childAction": "", "status": ""}
        full.update(attrs)
        store[dn] = full
        self.emit(MoEvent(cls, dn, "created", dict(full)))

    def add_truth_listener(self, fn: Callable[[TruthRecord], None]) -> None:
        """Call ``fn`` with every ground-truth record as it happens (under the fabric lock):
        how other simulators — the sFlow agents — follow what the scenarios do."""
        with self.lock:
            self._truth_listeners.append(fn)

    def record(self, rec: TruthRecord) -> TruthRecord:
        with self.lock:
            self.truth.append(rec)
            for fn in list(self._truth_listeners):
                try:
                    fn(rec)
                except Exception:  # a follower's bug must not break the fabric's own learning
                    log.exception("truth listener failed on %s %s", rec.kind, rec.addr)
        return rec

    # ------------------------------------------------------------------ helpers

    def leaf(self, node_id: int) -> Node:
        node = self.nodes[node_id]
        if node.role != "leaf":
            raise KeyError(f"node {node_id} is not a leaf")
        return node

    def endpoint(self, mac: str, bd_vnid: int | None = None) -> Endpoint:
        mac = mac.upper()
        if bd_vnid is not None:
            return self.endpoints[(bd_vnid, mac)]
        for bd in self.bds:
            ep = self.endpoints.get((bd.vnid, mac))
            if ep is not None:
                return ep
        raise KeyError(mac)

    def entries_for(self, addr: str) -> list[EpmEntry]:
        """Every per-leaf entry for a MAC or IP (test/debug helper; linear scan)."""
        key = addr.upper() if ":" in addr else addr
        with self.lock:
            out: list[EpmEntry] = []
            for tables in (self.mac_tables, self.ip_tables):
                for t in tables.values():
                    out.extend(e for (_v, a), e in t.items() if a == key)
            return out

    def entry(self, node_id: int, addr: str, vnid: int) -> EpmEntry | None:
        """The entry on one leaf; ``vnid`` = BD VNID for a MAC, VRF VNID for an IP."""
        tables = self.ip_tables if "." in addr else self.mac_tables
        key = addr if "." in addr else addr.upper()
        return tables[node_id].get((vnid, key))

    def counts(self) -> dict[str, int]:
        with self.lock:
            macs = sum(len(t) for t in self.mac_tables.values())
            ips = sum(len(t) for t in self.ip_tables.values())
            rs = sum(1 for t in self.ip_tables.values() for e in t.values() if e.rw_mac)
            return {
                "endpoints": len(self.ep_list),
                "epmMacEp": macs,
                "epmIpEp": ips,
                "epmRsMacEpToIpEpAtt": rs,
                "leafs": len(self.leafs),
            }

    # ------------------------------------------------------------ scenario facade

    @property
    def scenarios(self) -> ScenarioEngine:
        if self._scenarios is None:
            from simulators.scenarios import ScenarioEngine

            self._scenarios = ScenarioEngine(self)
        return self._scenarios

    def run_scenario(self, name: str, **kwargs: Any) -> list[TruthRecord]:
        """Run one scenario to completion (advancing a manual clock); returns its truth."""
        return self.scenarios.run(name, **kwargs)


__all__ = [
    "Attachment",
    "Bd",
    "Endpoint",
    "EndpointPolicy",
    "Epg",
    "EpmEntry",
    "MoEvent",
    "Node",
    "SimulatedFabric",
    "TruthRecord",
    "Vrf",
    "VpcPair",
    "fmt_ts",
]
