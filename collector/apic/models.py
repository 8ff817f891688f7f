"""APIC object parsing for the poller (stage: collector/apic, between the client and the tracker).

Turns raw APIC managed objects (``{"epmMacEp": {"attributes": {...}}}``) into small, immutable
records the tracker consumes, and keeps the reference tables (nodes, tunnels, VRF/BD/EPG names,
subnets) the analyses need. Pure functions and plain data; no I/O.

DN shapes follow reference/apic-and-ept.md §1.3 and §2.4 (EPT's regexes, generalised):
local ``topology/pod-1/node-101/sys/ctx-[vxlan-V]/bd-[vxlan-B]/vlan-[vlan-10]/db-ep/mac-AA:..``,
remote (XR) ``.../sys/ctx-[vxlan-V]/db-ep/ip-[10.1.1.1]`` and the Rs form
``.../db-ep/mac-X/rsmacEpToIpEpAtt-[sys/ctx-[vxlan-V]/bd-[vxlan-B]/.../db-ep/ip-[IP]]``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fabricscope import macs

EPM_CLASSES = ("epmRsMacEpToIpEpAtt", "epmIpEp", "epmMacEp")  # EPT's subscription order

# --- flags as a bitmask: one small int per per-node entry instead of a set of strings -------------
FLAG_NAMES = (
    "local",
    "mac",
    "ip",
    "vpc-attached",
    "peer-attached",
    "peer-attached-rl",
    "bounce",
    "bounce-to-proxy",
    "vtep",
    "loopback",
    "svi",
    "psvi",
    "cached",
    "static",
    "local-aged",
    "peer-aged",
    "span",
    "shared-service",
    "svc-mgr",
    "control-ep",
    "vip",
    "arp",
)
FLAG_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(FLAG_NAMES)}
F_LOCAL = FLAG_BITS["local"]
F_VPC = FLAG_BITS["vpc-attached"]
F_PEER = FLAG_BITS["peer-attached"] | FLAG_BITS["peer-attached-rl"]
F_BOUNCE = FLAG_BITS["bounce"]
F_BOUNCE_PROXY = FLAG_BITS["bounce-to-proxy"]
# Entries EPT never analyses for stale/offsubnet (infra addresses, not learnt endpoints).
F_SKIP = (
    FLAG_BITS["loopback"]
    | FLAG_BITS["vtep"]
    | FLAG_BITS["svi"]
    | FLAG_BITS["psvi"]
    | FLAG_BITS["cached"]
    | FLAG_BITS["static"]
)
_UNKNOWN_FLAG_BIT = 1 << 30  # any flag we do not know: keeps change detection honest


@functools.lru_cache(maxsize=4096)
def parse_flags(text: str) -> int:
    """Flag text → bitmask; cached: a fabric has a handful of distinct flag strings."""
    bits = 0
    for part in text.split(","):
        part = part.strip()
        if part:
            bits |= FLAG_BITS.get(part, _UNKNOWN_FLAG_BIT)
    return bits


def flags_text(bits: int) -> str:
    return ",".join(n for n in FLAG_NAMES if bits & FLAG_BITS[n])


# --- DN parsing ---
_EPM_DN = re.compile(
    r"^topology/pod-(?P<pod>\d+)/node-(?P<node>\d+)/sys/"
    r"(?:ctx-\[vxlan-(?P<vrf>\d+)\]/|inst-overlay-1/)"
    r"(?:bd-\[vxlan-(?P<bd>\d+)\]/)?"
    r"(?:vx?lan-\[(?P<encap>vx?lan-\d+)\]/)?"
    r"db-ep/(?:mac-(?P<mac>[0-9A-Fa-f:]{17})|ip-\[(?P<ip>[^\]]+)\])"
    r"(?:/rsmacEpToIpEpAtt-\[(?P<rs>.*)\])?$"
)
_RS_TARGET = re.compile(
    r"ctx-\[vxlan-(?P<vrf>\d+)\]/(?:bd-\[vxlan-(?P<bd>\d+)\]/)?.*db-ep/ip-\[(?P<ip>[^\]]+)\]"
)


@dataclass(slots=True)
class EpmRecord:
    """One epm object (from a class query or a websocket event), normalised.

    ``vnid`` is the endpoint key's VNID: the BD VNID for a MAC, the VRF VNID for an IP (EPT).
    For an ``epmRsMacEpToIpEpAtt`` the record describes the *IP* endpoint it points to, with
    ``rw_mac``/``rw_bd`` set; ``is_rs`` tells the tracker to touch only the rewrite info.
    Fields absent from a partial ``modified`` event are None so the tracker can merge.
    Not frozen: a frozen dataclass's ``__init__`` costs twice as much, and millions are made
    during a build; nothing mutates a record after parsing.
    """

    node: int
    pod: int
    vnid: int
    addr: str
    is_ip: bool
    status: str  # created | modified | deleted
    flags: int | None
    if_id: str | None
    pc_tag: int | None
    encap: str | None
    bd: int  # BD VNID from the DN (0 when the DN has none, e.g. XR IP entries)
    vrf: int
    is_rs: bool = False
    rw_mac: str | None = None
    ts: float | None = None


def _norm_mac(mac: str) -> str:
    """The APIC's MAC spelling, by the one MAC module (fabricscope/macs.py)."""
    return macs.apic_form(mac)


_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)


def _norm_ip(ip: str) -> str:
    """Canonical text of an IP. A canonical dotted quad (what the APIC writes) is returned as
    is without ``ipaddress`` (15 % of a build's CPU otherwise); IPv6 and odd forms are cached."""
    if _IPV4.fullmatch(ip) is not None:
        return ip
    return _norm_ip_slow(ip)


@functools.lru_cache(maxsize=65536)
def _norm_ip_slow(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


# One int object per distinct number: node ids, VNIDs and pcTags repeat millions of times and an
# int above 256 is otherwise a fresh 28-byte object per entry.
_INTS: dict[str, int] = {}


def intern_int(text: str) -> int:
    v = _INTS.get(text)
    if v is None:
        v = int(text)
        if len(_INTS) < 1_000_000:
            v = _INTS.setdefault(text, v)
    return v


def _pctag(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if value == "any":
        return 0
    if isinstance(value, str):
        try:
            return intern_int(value)
        except ValueError:
            return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


_PREFIX_RE = re.compile(
    r"^topology/pod-(\d+)/node-(\d+)/sys/"
    r"(?:ctx-\[vxlan-(\d+)\]/|inst-overlay-1/)"
    r"(?:bd-\[vxlan-(\d+)\]/)?"
    r"(?:vx?lan-\[(vx?lan-\d+)\]/)?$"
)
_MAC17 = re.compile(r"[0-9A-Fa-f:]{17}")
# DN prefix (up to /db-ep) → (pod, node, vrf, bd, encap): a fabric has one per node × BD × encap,
# shared by thousands of entries, so the build parses each once.
_PREFIXES: dict[str, tuple[int, int, int, int, str | None] | None] = {}


def _prefix(text: str) -> tuple[int, int, int, int, str | None] | None:
    hit = _PREFIXES.get(text, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    m = _PREFIX_RE.match(text + "/")
    val = None
    if m is not None:
        pod, node, vrf, bd, encap = m.groups()
        val = (
            intern_int(pod),
            intern_int(node),
            intern_int(vrf) if vrf else 0,
            intern_int(bd) if bd else 0,
            sys.intern(encap) if encap else None,
        )
    if len(_PREFIXES) < 1_000_000:
        _PREFIXES[text] = val
    return val


def leaf_addr(leaf: str) -> tuple[str, bool] | bool:
    """A DN's last part (after ``/db-ep/``) → ``(address, is_mac)``; False when it is neither
    ``mac-X`` nor ``ip-[X]`` (the parse_epm rules, for the build's per-leaf cache)."""
    if leaf[:4] == "mac-" and len(leaf) == 21 and _MAC17.fullmatch(leaf, 4):
        return leaf[4:].upper(), True
    if leaf[:4] == "ip-[" and leaf[-1:] == "]" and len(leaf) > 5 and "/" not in leaf:
        return _norm_ip(leaf[4:-1]), False
    return False


def parse_epm(cls: str, attrs: dict[str, Any], ts: float | None = None) -> EpmRecord | None:
    """Normalise one epm object; None for DNs we cannot key (never raises on odd input)."""
    dn = attrs.get("dn")
    if not isinstance(dn, str):
        return None
    if cls != "epmRsMacEpToIpEpAtt":
        i = dn.find("/db-ep/")
        leaf = dn[i + 7 :] if i > 0 else "/"
        if "/" not in leaf:
            # The common shape, fast: a cached prefix and a plain leaf (mac-X or ip-[X]).
            head = dn[:i]
            pre = _PREFIXES.get(head) or _prefix(head)
            if pre is None:
                return None
            a = leaf_addr(leaf)
            if not a:
                return None
            addr, is_mac = a  # type: ignore[misc]
            is_ip = not is_mac
            pod, node, vrf, bd, encap = pre
            if not is_ip and not bd:
                return None  # a MAC is keyed by its BD; without one it cannot be tracked
            flags_raw = attrs.get("flags")
            if_id = attrs.get("ifId") or None
            pc = attrs.get("pcTag")
            return EpmRecord(
                node,
                pod,
                vrf if is_ip else bd,
                addr,
                is_ip,
                attrs.get("status") or "created",
                parse_flags(flags_raw) if isinstance(flags_raw, str) else None,
                sys.intern(if_id) if isinstance(if_id, str) else if_id,
                (_INTS.get(pc) if isinstance(pc, str) else None) or _pctag(pc),
                encap,
                bd,
                vrf,
                False,
                None,
                ts,
            )
    m = _EPM_DN.match(dn)
    if m is None:
        return None
    status = attrs.get("status") or "created"  # class-query results carry an empty status
    g = m.group
    vrf = intern_int(g("vrf")) if g("vrf") else 0
    bd = intern_int(g("bd")) if g("bd") else 0
    node, pod = intern_int(g("node")), intern_int(g("pod"))
    encap = g("encap")
    flags_raw = attrs.get("flags")
    flags = parse_flags(flags_raw) if isinstance(flags_raw, str) else None
    if_id = attrs.get("ifId") or None
    pc_tag = _pctag(attrs.get("pcTag"))
    if cls == "epmRsMacEpToIpEpAtt" or m["rs"] is not None:
        target = attrs.get("tDn") or m["rs"] or ""
        t = _RS_TARGET.search(target)
        if t is None or m["mac"] is None:
            return None
        return EpmRecord(
            node=node,
            pod=pod,
            vnid=intern_int(t["vrf"]),
            addr=_norm_ip(t["ip"]),
            is_ip=True,
            status=status,
            flags=None,
            if_id=None,
            pc_tag=None,
            encap=None,
            bd=intern_int(t["bd"]) if t["bd"] else bd,
            vrf=intern_int(t["vrf"]),
            is_rs=True,
            rw_mac=sys.intern(_norm_mac(m["mac"])),
            ts=ts,
        )
    is_ip = m["mac"] is None
    if not is_ip and not bd:
        return None  # a MAC is keyed by its BD; without one it cannot be tracked
    return EpmRecord(
        node=node,
        pod=pod,
        vnid=vrf if is_ip else bd,  # IPs live in their VRF, MACs in their BD
        addr=_norm_ip(m["ip"]) if is_ip else _norm_mac(m["mac"]),
        is_ip=is_ip,
        status=status,
        flags=flags,
        if_id=sys.intern(if_id) if if_id else None,
        pc_tag=pc_tag,
        encap=sys.intern(encap) if encap else None,
        bd=bd,
        vrf=vrf,
        ts=ts,
    )


# --- attribute helpers shared by the poller's modules (pure) ---
@functools.lru_cache(maxsize=8192)
def parse_ts(text: str) -> float:
    """APIC timestamp (``2018-03-02T16:42:24.776+00:00``) → epoch seconds; 0.0 when unreadable.
    Cached: events come in bursts sharing a timestamp."""
    if not text[:1].isdigit():
        return 0.0
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def event_time(attrs: dict[str, Any]) -> float:
    """The time an object last changed: ``modTs``, else ``createTs`` ("never" modified); 0.0
    when neither is a timestamp."""
    mod = attrs.get("modTs")
    if isinstance(mod, str) and mod[:1].isdigit():
        ts = parse_ts(mod)
        if ts:
            return ts
    created = attrs.get("createTs")
    return parse_ts(created) if isinstance(created, str) else 0.0


def newest_ts_text(attrs: dict[str, Any]) -> str:
    """The newer of ``createTs``/``modTs`` as the APIC wrote it ("" for none). APIC timestamps
    share one format and offset, so they compare as strings."""
    best = ""
    for k in ("createTs", "modTs"):
        v = attrs.get(k)
        if isinstance(v, str) and v > best and v[:1].isdigit():
            best = v
    return best


def port_of(dn: str) -> str:
    """``…/phys-[eth1/5]…`` → ``eth1/5``; "" for DNs of no physical port."""
    i = dn.find("/phys-[")
    if i < 0:
        return ""
    j = dn.find("]", i)
    return dn[i + 7 : j] if j > 0 else ""


def num(v: Any) -> int | float | None:
    """An APIC number attribute (always a string) as int when integral, else float."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and "." not in str(v) else f


def snake(k: str) -> str:
    """``bytesRate`` → ``bytes_rate`` (APIC attribute → field name)."""
    return "".join("_" + c.lower() if c.isupper() else c for c in k)


def addr_type(addr: str, is_ip: bool) -> str:
    if not is_ip:
        return "mac"
    return "ipv6" if ":" in addr else "ipv4"


# --- reference tables ---
_NODE_DN = re.compile(r"topology/pod-(\d+)/node-(\d+)")
_TENANT_RN = re.compile(r"uni/tn-([^/]+)/")


def node_of_dn(dn: str) -> int | None:
    """The node id of any per-node DN (``topology/pod-P/node-N/…``); None for other DNs."""
    m = _NODE_DN.match(dn)
    return int(m.group(2)) if m else None


def _name_from_dn(dn: str) -> str:
    """``uni/tn-T/ap-A/epg-E`` -> ``T/A/E``: names are only unique with their parents."""
    parts = dn.split("/")[1:]
    return "/".join(p.split("-", 1)[1] if "-" in p else p for p in parts)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass
class FabricTables:
    """Reference data from the configuration classes; every lookup tolerates missing entries.

    Resolution order for an endpoint's EPG: pcTag + VRF VNID → fvAEPg / fvESg (ESG-aware, since
    ESGs broke EPT's pcTag→EPG mapping, issue #92) → unknown, then callers fall back to
    ``pctag-<n>``/``vnid-<n>`` strings. The BD for offsubnet checks comes from the epm DN first.
    """

    node_tep: dict[str, int] = field(default_factory=dict)  # TEP address -> node id
    node_name: dict[int, str] = field(default_factory=dict)
    node_pod: dict[int, int] = field(default_factory=dict)
    node_role: dict[int, str] = field(default_factory=dict)  # leaf | spine | controller
    vpc_tep: dict[str, tuple[int, int]] = field(default_factory=dict)  # virtual IP -> pair
    vpc_peer: dict[int, int] = field(default_factory=dict)
    tunnel_dest: dict[tuple[int, str], str] = field(default_factory=dict)  # (node, tunnelN) -> dest
    tunnel_proxy: set[tuple[int, str]] = field(default_factory=set)
    vrf_name: dict[int, str] = field(default_factory=dict)  # VRF VNID -> tn/ctx
    bd_name: dict[int, str] = field(default_factory=dict)  # BD VNID -> tn/BD
    bd_vrf: dict[int, int] = field(default_factory=dict)
    bd_dn_vnid: dict[str, int] = field(default_factory=dict)
    epg_name: dict[tuple[int, int], str] = field(default_factory=dict)  # (vrf, pcTag) -> name
    epg_bd: dict[tuple[int, int], int] = field(default_factory=dict)  # (vrf, pcTag) -> BD VNID
    epg_dn_key: dict[str, tuple[int, int]] = field(default_factory=dict)
    epg_bd_dn: dict[str, str] = field(default_factory=dict)  # EPG dn -> BD dn (fvRsBd)
    bd_subnets: dict[int, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = field(
        default_factory=dict
    )
    epg_subnets: dict[tuple[int, int], list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = field(
        default_factory=dict
    )
    _pending_subnets: list[tuple[str, str]] = field(default_factory=list)

    def add(self, cls: str, a: dict[str, Any]) -> None:
        """Apply one configuration object (build or ``created``/``modified`` event)."""
        dn = a.get("dn")
        if not isinstance(dn, str):
            return
        deleted = a.get("status") == "deleted"
        if cls == "fabricNode":
            nid = _int(a.get("id"))
            m = _NODE_DN.match(dn)
            if nid and not deleted:
                if a.get("address"):
                    self.node_tep[a["address"]] = nid
                if a.get("name"):
                    self.node_name[nid] = a["name"]
                if m:
                    self.node_pod[nid] = int(m.group(1))
                if a.get("role"):
                    self.node_role[nid] = str(a["role"])
        elif cls == "topSystem":
            nid = _int(a.get("id"))
            if nid and a.get("address") and not deleted:
                self.node_tep[a["address"]] = nid
        elif cls == "fabricExplicitGEp" or cls == "fabricAutoGEp":
            pass  # handled with children in add_vpc
        elif cls == "tunnelIf":
            m = _NODE_DN.match(dn)
            tid = a.get("id") or dn.rsplit("[", 1)[-1].rstrip("]")
            if m and tid:
                tkey = (int(m.group(2)), sys.intern(tid))
                if deleted:
                    self.tunnel_dest.pop(tkey, None)
                    self.tunnel_proxy.discard(tkey)
                else:
                    if a.get("dest"):
                        self.tunnel_dest[tkey] = str(a["dest"]).split("/")[0]
                    t = str(a.get("type", ""))
                    if "proxy" in t or "dci" in t:
                        self.tunnel_proxy.add(tkey)
        elif cls == "fvCtx":
            vnid = _int(a.get("scope") or a.get("seg"))
            if vnid and not deleted:
                self.vrf_name[vnid] = _name_from_dn(dn)
        elif cls == "fvBD":
            vnid = _int(a.get("seg"))
            if vnid and not deleted:
                self.bd_name[vnid] = _name_from_dn(dn)
                self.bd_dn_vnid[dn] = vnid
                if a.get("scope"):
                    self.bd_vrf[vnid] = _int(a.get("scope"))
                self._flush_subnets()
        elif cls in ("fvAEPg", "fvESg", "l3extInstP"):
            tag, vrf = _int(a.get("pcTag"), -1), _int(a.get("scope"))
            if tag > 0 and vrf and not deleted:
                key = (vrf, tag)
                self.epg_name[key] = _name_from_dn(dn)
                self.epg_dn_key[dn] = key
                bd_dn = self.epg_bd_dn.get(dn)
                if bd_dn and bd_dn in self.bd_dn_vnid:
                    self.epg_bd[key] = self.bd_dn_vnid[bd_dn]
                self._flush_subnets()
        elif cls == "fvRsBd":
            epg_dn = dn.rsplit("/rsbd", 1)[0]
            bd_dn = a.get("tDn")
            if bd_dn and not deleted:
                self.epg_bd_dn[epg_dn] = bd_dn
                ekey = self.epg_dn_key.get(epg_dn)
                if ekey and bd_dn in self.bd_dn_vnid:
                    self.epg_bd[ekey] = self.bd_dn_vnid[bd_dn]
        elif cls == "fvSubnet" and not deleted:
            ip = a.get("ip")
            if isinstance(ip, str):
                self._pending_subnets.append((dn.rsplit("/subnet-", 1)[0], ip))
                self._flush_subnets()

    def _flush_subnets(self) -> None:
        """Subnets may arrive before their BD/EPG (any class order); attach when resolvable."""
        keep = []
        for parent, ip in self._pending_subnets:
            try:
                net = ipaddress.ip_network(ip, strict=False)
            except ValueError:
                continue
            if parent in self.bd_dn_vnid:
                lst = self.bd_subnets.setdefault(self.bd_dn_vnid[parent], [])
                if net not in lst:
                    lst.append(net)
            elif parent in self.epg_dn_key:
                lst = self.epg_subnets.setdefault(self.epg_dn_key[parent], [])
                if net not in lst:
                    lst.append(net)
            else:
                keep.append((parent, ip))
        self._pending_subnets = keep

    def add_vpc(self, obj: dict[str, Any]) -> None:
        """fabricExplicitGEp with fabricNodePEp children → vPC pair and its virtual TEP."""
        body: dict[str, Any] = next(iter(obj.values()), {}) if obj else {}
        attrs = body.get("attributes", {})
        ids = []
        for child in body.get("children", []) or []:
            for ccls, cbody in child.items():
                if ccls == "fabricNodePEp":
                    nid = _int(cbody.get("attributes", {}).get("id"))
                    if nid:
                        ids.append(nid)
        if len(ids) == 2:
            a, b = sorted(ids)
            self.vpc_peer[a], self.vpc_peer[b] = b, a
            vip = attrs.get("virtualIp")
            if vip:
                self.vpc_tep[str(vip).split("/")[0]] = (a, b)

    # --- lookups ---
    def remote_node(self, node: int, if_id: str | None) -> int:
        """Node id (or vPC pseudo id ``(a<<16)+b``) a tunnel points to; 0 when unknown."""
        if not if_id or not if_id.startswith("tunnel"):
            return 0
        dest = self.tunnel_dest.get((node, if_id))
        if dest is None:
            return 0
        if dest in self.node_tep:
            return self.node_tep[dest]
        pair = self.vpc_tep.get(dest)
        if pair:
            return (pair[0] << 16) + pair[1]
        return 0

    def leafs(self) -> list[tuple[int, int]]:
        """``(pod, node)`` of every known leaf (the nodes that hold endpoint tables)."""
        return sorted(
            (self.node_pod.get(n, 1), n) for n, r in self.node_role.items() if r == "leaf"
        )

    def is_proxy_tunnel(self, node: int, if_id: str | None) -> bool:
        return bool(if_id) and (node, if_id) in self.tunnel_proxy

    def epg_for(self, vrf: int, pc_tag: int | None) -> str | None:
        if not pc_tag or pc_tag <= 1:
            return None
        return self.epg_name.get((vrf, pc_tag))

    def subnets_for(
        self, vrf: int, bd: int, pc_tag: int | None
    ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
        """Subnets an IP must fall in; None when the BD is unknown (never guess offsubnet)."""
        if not bd and pc_tag and pc_tag > 1:
            bd = self.epg_bd.get((vrf, pc_tag), 0)
        if not bd or bd not in self.bd_name:
            return None
        nets = list(self.bd_subnets.get(bd, ()))
        if pc_tag:
            nets.extend(self.epg_subnets.get((vrf, pc_tag), ()))
        return nets
