"""APIC query engine over the simulated fabric (stage: simulators — REST query semantics).

Implements what §2.2 of the reference documents, against objects rendered lazily from
``fabric.py``:

* class queries (fabric-wide, node-scoped ``topology/pod-P/node-N/<cls>`` or pod-scoped),
  MO queries (``/api/mo/<dn>``);
* ``query-target=self|children|subtree``, ``target-subtree-class``;
* ``query-target-filter`` with ``eq ne lt gt le ge bw wcard and or not xor true false anybit
  allbits`` (values quoted or bare; raw or %-encoded URLs both work);
* ``rsp-subtree=no|children|full``, ``rsp-subtree-class``, ``rsp-subtree-include=count|stats|
  faults|no-scoped``;
* ``order-by=<cls>.<prop>[|asc|desc]`` (comma list), ``page`` (0-based) and ``page-size``;
  ``totalCount`` is the full match count as a string; unpaged results above
  ``max_unpaged`` get the APIC's 400 "Unable to process the query, result dataset is too big".

Errors raise :class:`QueryError` carrying the HTTP status and the APIC error text.

Subscriptions reuse the same parsed query (:class:`QuerySpec`) to decide whether an object change
matches (:meth:`QueryEngine.event_matches`).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from simulators import port_stats
from simulators.fabric import Attrs, Endpoint, EpmEntry, MoEvent, Node, SimulatedFabric

Item = Any


class QueryError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


# --------------------------------------------------------------------------- DN helpers


def split_rns(dn: str) -> list[str]:
    """Split a DN into rns on '/' outside brackets (``ip-[10.0.0.1]``, ``rsx-[a/b]``)."""
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in dn:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "/" and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parent_dn(dn: str) -> str:
    rns = split_rns(dn)
    return "/".join(rns[:-1])


_NODE_RE = re.compile(r"^topology/pod-(\d+)/node-(\d+)(?:/|$)")
_POD_RE = re.compile(r"^topology/pod-(\d+)$")


# ------------------------------------------------------------------------------ filters


Filter = tuple[Any, ...]
_TOKEN_RE = re.compile(r'\s*(?:(?P<q>"(?:[^"\\]|\\.)*")|(?P<p>[(),])|(?P<w>[^(),"\s]+))')
_CMP_OPS = {"eq", "ne", "lt", "gt", "le", "ge", "wcard", "anybit", "allbits"}


def parse_filter(text: str) -> Filter:
    """Parse ``op(cls.prop,"value")`` expressions into nested tuples."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(400, f"Incorrect filter format for {text}")
        pos = m.end()
        if m.group("q") is not None:
            tokens.append(("str", m.group("q")[1:-1].replace('\\"', '"')))
        elif m.group("p") is not None:
            tokens.append(("p", m.group("p")))
        elif m.group("w") is not None:
            tokens.append(("word", m.group("w")))
    idx = 0

    def expect(p: str) -> None:
        nonlocal idx
        if idx >= len(tokens) or tokens[idx] != ("p", p):
            raise QueryError(400, f"Incorrect filter format for {text}")
        idx += 1

    def expr() -> Filter:
        nonlocal idx
        if idx >= len(tokens) or tokens[idx][0] != "word":
            raise QueryError(400, f"Incorrect filter format for {text}")
        op = tokens[idx][1]
        idx += 1
        if op in ("true", "false") and (idx >= len(tokens) or tokens[idx] != ("p", "(")):
            return (op,)
        expect("(")
        if op in ("and", "or", "xor", "not"):
            args = [expr()]
            while idx < len(tokens) and tokens[idx] == ("p", ","):
                idx += 1
                args.append(expr())
            expect(")")
            if op == "not" and len(args) != 1:
                raise QueryError(400, f"Incorrect filter format for {text}")
            return (op, *args)
        if op in ("true", "false"):
            expect(")")
            return (op,)
        if op not in _CMP_OPS and op != "bw":
            raise QueryError(400, f"Incorrect filter format for {text}")
        if idx >= len(tokens) or tokens[idx][0] != "word" or "." not in tokens[idx][1]:
            raise QueryError(400, f"Incorrect filter format for {text}")
        cls, prop = tokens[idx][1].split(".", 1)
        idx += 1
        values: list[str] = []
        while idx < len(tokens) and tokens[idx] == ("p", ","):
            idx += 1
            if idx >= len(tokens) or tokens[idx][0] not in ("str", "word"):
                raise QueryError(400, f"Incorrect filter format for {text}")
            values.append(tokens[idx][1])
            idx += 1
        expect(")")
        need = 2 if op == "bw" else 1
        if len(values) != need:
            raise QueryError(400, f"Incorrect filter format for {text}")
        if op == "wcard":
            try:
                return (op, cls, prop, re.compile(values[0]))
            except re.error as exc:
                raise QueryError(400, f"Incorrect filter format for {text}") from exc
        return (op, cls, prop, *values)

    tree = expr()
    if idx != len(tokens):
        raise QueryError(400, f"Incorrect filter format for {text}")
    return tree


def _num(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        try:
            return float(int(v, 16)) if v.startswith("0x") else None
        except ValueError:
            return None


def _cmp(a: str, b: str) -> int:
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    return (a > b) - (a < b)


def eval_filter(f: Filter, cls: str, get: Callable[[str], str | None]) -> bool:
    op = f[0]
    if op == "and":
        return all(eval_filter(x, cls, get) for x in f[1:])
    if op == "or":
        return any(eval_filter(x, cls, get) for x in f[1:])
    if op == "xor":
        return sum(1 for x in f[1:] if eval_filter(x, cls, get)) == 1
    if op == "not":
        return not eval_filter(f[1], cls, get)
    if op == "true":
        return True
    if op == "false":
        return False
    fcls, prop = f[1], f[2]
    # A term about another class never matches this object (EPT's mixed-class epmDb filter).
    if fcls != cls:
        return False
    val = get(prop)
    if val is None:
        return False
    if op == "eq":
        return bool(val == f[3])
    if op == "ne":
        return bool(val != f[3])
    if op == "wcard":
        return f[3].search(val) is not None
    if op == "lt":
        return _cmp(val, f[3]) < 0
    if op == "gt":
        return _cmp(val, f[3]) > 0
    if op == "le":
        return _cmp(val, f[3]) <= 0
    if op == "ge":
        return _cmp(val, f[3]) >= 0
    if op == "bw":
        return _cmp(val, f[3]) >= 0 and _cmp(val, f[4]) <= 0
    if op in ("anybit", "allbits"):
        nv, nf = _num(val), _num(f[3])
        if nv is None or nf is None:
            return False
        return (int(nv) & int(nf)) != 0 if op == "anybit" else (int(nv) & int(nf)) == int(nf)
    return False


# ------------------------------------------------------------------------------ classes


class MoClass:
    """How to enumerate, name, render and find the objects of one APIC class."""

    name = ""
    parents: tuple[str, ...] = ()  # direct parent class first, then further ancestors
    node_scoped = True  # objects live under topology/pod-P/node-N

    def __init__(self, fab: SimulatedFabric) -> None:
        self.fab = fab

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        raise NotImplementedError

    def count(self, nodes: list[Node] | None) -> int:
        return sum(1 for _ in self.scan(nodes))

    def dn(self, item: Item) -> str:
        return self.attrs(item)["dn"]

    def attrs(self, item: Item) -> Attrs:
        raise NotImplementedError

    def prop(self, item: Item, name: str) -> str | None:
        if name == "dn":
            return self.dn(item)
        return self.attrs(item).get(name)

    def lookup(self, dn: str) -> Item | None:
        return None

    def children(self, item: Item) -> Iterable[tuple[MoClass, Item]]:
        return ()

    def time_key(self, prop: str) -> Callable[[Item], float] | None:
        """A cheap numeric key for a timestamp property (None: not available), so "the newest
        few" (``order-by=<cls>.modTs|desc&page-size=1``) is a scan, not a sort of every object
        rendered. "never" (an unmodified object's modTs) orders as the oldest, as on the APIC."""
        return None


class StaticClass(MoClass):
    def __init__(self, fab: SimulatedFabric, name: str, parents: tuple[str, ...] = ()) -> None:
        super().__init__(fab)
        self.name = name
        self.parents = parents

    def _store(self) -> dict[str, Attrs]:
        return self.fab.static.get(self.name, {})

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        store = self._store()
        if nodes is None:
            return list(store.values())
        prefixes = tuple(n.prefix + "/" for n in nodes)
        exact = {n.prefix for n in nodes}
        return [a for dn, a in store.items() if dn.startswith(prefixes) or dn in exact]

    def count(self, nodes: list[Node] | None) -> int:
        return len(self._store()) if nodes is None else len(list(self.scan(nodes)))

    def dn(self, item: Item) -> str:
        return str(item["dn"])

    def attrs(self, item: Item) -> Attrs:
        return dict(item)

    def prop(self, item: Item, name: str) -> str | None:
        v = item.get(name)
        return None if v is None else str(v)

    def lookup(self, dn: str) -> Item | None:
        return self._store().get(dn)


_EPM_DN = re.compile(
    r"^topology/pod-\d+/node-(?P<node>\d+)/sys/ctx-\[vxlan-(?P<vrf>\d+)\]"
    r"(?:/bd-\[vxlan-(?P<bd>\d+)\])?(?:/vlan-\[vlan-\d+\])?/db-ep/"
    r"(?:mac-(?P<mac>[0-9A-Fa-f:]+)|ip-\[(?P<ip>[^\]]+)\])$"
)


class EpmClass(MoClass):
    parents = ("epmDb", "topSystem", "fabricNode")

    def __init__(self, fab: SimulatedFabric, is_ip: bool) -> None:
        super().__init__(fab)
        self.is_ip = is_ip
        self.name = "epmIpEp" if is_ip else "epmMacEp"

    def _tables(self) -> dict[int, dict[tuple[int, str], EpmEntry]]:
        return self.fab.ip_tables if self.is_ip else self.fab.mac_tables

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        tables = self._tables()
        ids = list(tables) if nodes is None else [n.id for n in nodes if n.id in tables]
        for nid in ids:
            yield from tables[nid].values()

    def count(self, nodes: list[Node] | None) -> int:
        tables = self._tables()
        ids = list(tables) if nodes is None else [n.id for n in nodes if n.id in tables]
        return sum(len(tables[i]) for i in ids)

    def dn(self, item: Item) -> str:
        return str(item.dn())

    def attrs(self, item: Item) -> Attrs:
        return self.fab.epm_attrs(item)

    def prop(self, item: Item, name: str) -> str | None:
        e: EpmEntry = item
        if name == "addr":
            return e.addr
        if name == "flags":
            return e.flags
        if name == "ifId":
            return e.if_id
        if name == "pcTag":
            return e.pc_tag
        if name == "dn":
            return e.dn()
        return self.attrs(e).get(name)

    def time_key(self, prop: str) -> Callable[[Item], float] | None:
        if prop == "createTs":
            return lambda e: float(e.create_ts)
        if prop == "modTs":
            return lambda e: 0.0 if e.mod_ts == e.create_ts else float(e.mod_ts)
        return None

    def lookup(self, dn: str) -> Item | None:
        m = _EPM_DN.match(dn)
        if m is None or (m.group("ip") is not None) != self.is_ip:
            return None
        table = self._tables().get(int(m.group("node")))
        if table is None:
            return None
        if self.is_ip:
            e = table.get((int(m.group("vrf")), m.group("ip")))
        else:
            if m.group("bd") is None:
                return None
            e = table.get((int(m.group("bd")), m.group("mac").upper()))
        return e if e is not None and e.dn() == dn else None

    def children(self, item: Item) -> Iterable[tuple[MoClass, Item]]:
        e: EpmEntry = item
        if self.is_ip or not e.local:
            return []
        rs = self.fab.cls_registry["epmRsMacEpToIpEpAtt"]
        out: list[tuple[MoClass, Item]] = []
        table = self.fab.ip_tables[e.node.id]
        owner = self.fab.endpoints.get((e.bd, e.addr))
        for ip in owner.ips if owner else ():
            ie = table.get((e.vrf, ip))
            if ie is not None and ie.local and ie.rw_mac == e.addr:
                out.append((rs, ie))
        return out


class RsMacIpClass(MoClass):
    name = "epmRsMacEpToIpEpAtt"
    parents = ("epmMacEp", "epmDb", "topSystem", "fabricNode")

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        tables = self.fab.ip_tables
        ids = list(tables) if nodes is None else [n.id for n in nodes if n.id in tables]
        for nid in ids:
            for e in tables[nid].values():
                if e.rw_mac and e.vlan:
                    yield e

    def dn(self, item: Item) -> str:
        return self.fab.rs_dn(item)

    def attrs(self, item: Item) -> Attrs:
        return self.fab.rs_attrs(item)

    def lookup(self, dn: str) -> Item | None:
        marker = "/rsmacEpToIpEpAtt-["
        if marker not in dn:
            return None
        head, rel = dn.split(marker, 1)
        node_prefix = "/".join(split_rns(head)[:3])
        ip_entry = self.fab.cls_registry["epmIpEp"].lookup(f"{node_prefix}/{rel[:-1]}")
        if ip_entry is None or not ip_entry.rw_mac:
            return None
        return ip_entry if self.fab.rs_dn(ip_entry) == dn else None


class CepClass(MoClass):
    name = "fvCEp"
    parents = ("fvAEPg", "fvAp", "fvTenant", "polUni")
    node_scoped = False

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        return self.fab.ep_list if nodes is None else []

    def count(self, nodes: list[Node] | None) -> int:
        return len(self.fab.ep_list) if nodes is None else 0

    def dn(self, item: Item) -> str:
        return str(item.dn)

    def attrs(self, item: Item) -> Attrs:
        return self.fab.cep_attrs(item)

    def prop(self, item: Item, name: str) -> str | None:
        ep: Endpoint = item
        if name == "mac":
            return ep.mac
        if name == "dn":
            return ep.dn
        return self.attrs(ep).get(name)

    def lookup(self, dn: str) -> Item | None:
        m = re.search(r"/cep-([0-9A-Fa-f:]+)$", dn)
        if m is None:
            return None
        for ep in self._eps_by_mac(m.group(1).upper()):
            if ep.dn == dn:
                return ep
        return None

    def _eps_by_mac(self, mac: str) -> list[Endpoint]:
        return [
            ep for bd in self.fab.bds if (ep := self.fab.endpoints.get((bd.vnid, mac))) is not None
        ]

    def children(self, item: Item) -> Iterable[tuple[MoClass, Item]]:
        ep: Endpoint = item
        reg = self.fab.cls_registry
        out: list[tuple[MoClass, Item]] = [(reg["fvIp"], (ep, ip)) for ip in ep.ips]
        if ep.att is not None:
            out.append((reg["fvRsCEpToPathEp"], ep))
        return out


class FvIpClass(MoClass):
    name = "fvIp"
    parents = ("fvCEp", "fvAEPg", "fvAp", "fvTenant", "polUni")
    node_scoped = False

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        if nodes is not None:
            return
        for ep in self.fab.ep_list:
            for ip in ep.ips:
                yield (ep, ip)

    def dn(self, item: Item) -> str:
        return f"{item[0].dn}/ip-[{item[1]}]"

    def attrs(self, item: Item) -> Attrs:
        return self.fab.fvip_attrs(item[0], item[1])

    def prop(self, item: Item, name: str) -> str | None:
        if name == "addr":
            return str(item[1])
        return super().prop(item, name)

    def lookup(self, dn: str) -> Item | None:
        m = re.match(r"^(?P<cep>.*/cep-[0-9A-Fa-f:]+)/ip-\[(?P<ip>[^\]]+)\]$", dn)
        if m is None:
            return None
        ep = self.fab.cls_registry["fvCEp"].lookup(m.group("cep"))
        if ep is None or m.group("ip") not in ep.ips:
            return None
        return (ep, m.group("ip"))


class CepPathClass(MoClass):
    name = "fvRsCEpToPathEp"
    parents = ("fvCEp", "fvAEPg", "fvAp", "fvTenant", "polUni")
    node_scoped = False

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        if nodes is not None:
            return []
        return [ep for ep in self.fab.ep_list if ep.att is not None]

    def attrs(self, item: Item) -> Attrs:
        a = self.fab.cep_path_attrs(item)
        assert a is not None
        return a

    def lookup(self, dn: str) -> Item | None:
        head = dn.split("/rscEpToPathEp-[", 1)[0]
        ep = self.fab.cls_registry["fvCEp"].lookup(head)
        if ep is None or ep.att is None:
            return None
        return ep if self.dn(ep) == dn else None


class TunnelClass(MoClass):
    name = "tunnelIf"
    parents = ("topSystem", "fabricNode")

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        for leaf in self.fab.leafs if nodes is None else [n for n in nodes if n.role == "leaf"]:
            for idx in self.fab.leaf_tunnels(leaf):
                yield (leaf, idx)

    def attrs(self, item: Item) -> Attrs:
        return self.fab.tunnel_attrs(item[0], item[1])

    def lookup(self, dn: str) -> Item | None:
        m = re.match(r"^topology/pod-\d+/node-(\d+)/sys/tunnel-\[tunnel(\d+)\]$", dn)
        if m is None:
            return None
        node = self.fab.nodes.get(int(m.group(1)))
        idx = int(m.group(2)) - 1
        if node is None or node.role != "leaf" or idx not in set(self.fab.leaf_tunnels(node)):
            return None
        return (node, idx)


class PortClass(MoClass):
    """l1PhysIf, ethpmPhysIf and the eqpt* 5min stats (``eqptIngrTotal5min``,
    ``eqptEgrTotal5min``, ``eqptIngrPkts5min``, ``eqptIngrBytes5min``): one object per leaf front
    port; the stats objects are children of ``l1PhysIf`` (``rsp-subtree-include=stats``)."""

    def __init__(self, fab: SimulatedFabric, name: str) -> None:
        super().__init__(fab)
        self.name = name
        self.parents = (
            ("topSystem", "fabricNode")
            if name == "l1PhysIf"
            else ("l1PhysIf", "topSystem", "fabricNode")
        )

    def scan(self, nodes: list[Node] | None) -> Iterable[Item]:
        for leaf in self.fab.leafs if nodes is None else [n for n in nodes if n.role == "leaf"]:
            for port in self.fab.ports[leaf.id]:
                yield (leaf, port)

    def attrs(self, item: Item) -> Attrs:
        leaf, port = item
        if self.name == "l1PhysIf":
            return self.fab.l1_attrs(leaf, port)
        if self.name == "ethpmPhysIf":
            return self.fab.port_attrs(leaf, port)
        if self.name in port_stats.CLASSES:
            return port_stats.attrs(self.fab, leaf, port, self.name)
        return self.fab.stats_attrs(
            leaf, port, "ingr" if self.name == "eqptIngrTotal5min" else "egr"
        )

    def lookup(self, dn: str) -> Item | None:
        m = re.match(r"^topology/pod-\d+/node-(\d+)/sys/phys-\[(eth[\d/]+)\](/.*)?$", dn)
        if m is None:
            return None
        tail = m.group(3) or ""
        expect = {
            "l1PhysIf": "",
            "ethpmPhysIf": "/phys",
            "eqptIngrTotal5min": "/CDeqptIngrTotal5min",
            "eqptEgrTotal5min": "/CDeqptEgrTotal5min",
            "eqptIngrPkts5min": "/CDeqptIngrPkts5min",
            "eqptIngrBytes5min": "/CDeqptIngrBytes5min",
        }[self.name]
        node = self.fab.nodes.get(int(m.group(1)))
        if tail != expect or node is None or m.group(2) not in self.fab.ports.get(node.id, ()):
            return None
        return (node, m.group(2))

    def children(self, item: Item) -> Iterable[tuple[MoClass, Item]]:
        if self.name != "l1PhysIf":
            return []
        reg = self.fab.cls_registry
        return [(reg[c], item) for c in PORT_CLASSES[1:]]


PORT_CLASSES = (
    "l1PhysIf",
    "ethpmPhysIf",
    "eqptIngrTotal5min",
    "eqptEgrTotal5min",
    "eqptIngrPkts5min",
    "eqptIngrBytes5min",
)
_LLDP = ("lldpIf", "lldpInst", "topSystem", "fabricNode")
_CDP = ("cdpIf", "cdpInst", "topSystem", "fabricNode")

STATIC_PARENTS: dict[str, tuple[str, ...]] = {
    "polUni": (),
    "topInfo": (),
    "fabricProtPol": ("polUni",),
    "datetimeFormat": ("polUni",),
    "fabricNode": (),
    "topSystem": ("fabricNode",),
    "firmwareRunning": ("topSystem", "fabricNode"),
    "firmwareCtrlrRunning": ("topSystem", "fabricNode"),
    "fabricExplicitGEp": ("fabricProtPol", "polUni"),
    "fabricNodePEp": ("fabricExplicitGEp", "fabricProtPol", "polUni"),
    "pcAggrIf": ("topSystem", "fabricNode"),
    "pcRsMbrIfs": ("pcAggrIf", "topSystem", "fabricNode"),
    "vpcRsVpcConf": ("topSystem", "fabricNode"),
    "fvTenant": ("polUni",),
    "fvAp": ("fvTenant", "polUni"),
    "fvCtx": ("fvTenant", "polUni"),
    "fvBD": ("fvTenant", "polUni"),
    "fvRsCtx": ("fvBD", "fvTenant", "polUni"),
    "fvSubnet": ("fvBD", "fvTenant", "polUni"),
    "fvAEPg": ("fvAp", "fvTenant", "polUni"),
    "fvRsBd": ("fvAEPg", "fvAp", "fvTenant", "polUni"),
    "faultInst": (),
    # LLDP/CDP neighbours of leaf ports (simulators/adjacency.py):
    # topology/pod-1/node-101/sys/lldp/inst/if-[eth1/5]/adj-1
    "lldpAdjEp": _LLDP,
    "cdpAdjEp": _CDP,
    "cdpMgmtAddr": ("cdpAdjEp", *_CDP),
}
# Container classes the simulator does not materialise but that clients name in subtree
# queries (``/api/class/epmDb.json?query-target=subtree``).
CONTAINER_CLASSES = {
    "epmDb",
    "l3Ctx",
    "l2BD",
    "vpcInst",
    "vpcDom",
    "vpcIf",
    "eqptCh",
    "lldpInst",
    "lldpIf",
    "cdpInst",
    "cdpIf",
}


def build_registry(fab: SimulatedFabric) -> dict[str, MoClass]:
    reg: dict[str, MoClass] = {}
    for name, parents in STATIC_PARENTS.items():
        reg[name] = StaticClass(fab, name, parents)
    for cls in (
        EpmClass(fab, False),
        EpmClass(fab, True),
        RsMacIpClass(fab),
        CepClass(fab),
        FvIpClass(fab),
        CepPathClass(fab),
        TunnelClass(fab),
    ):
        reg[cls.name] = cls
    for name in PORT_CLASSES:
        reg[name] = PortClass(fab, name)
    return reg


# ------------------------------------------------------------------------------- queries


def _getter(c: MoClass, item: Item) -> Callable[[str], str | None]:
    def get(prop: str) -> str | None:
        return c.prop(item, prop)

    return get


@dataclass
class QuerySpec:
    """A parsed request: what to select (class or MO) and how to shape the reply."""

    kind: str  # class | mo
    cls: str = ""
    dn: str = ""
    scope_nodes: list[Node] | None = None
    scope_prefix: str = ""
    query_target: str = "self"
    target_classes: tuple[str, ...] = ()
    filter: Filter | None = None
    filter_text: str = ""
    rsp_subtree: str = "no"
    rsp_subtree_classes: tuple[str, ...] = ()
    rsp_include: tuple[str, ...] = ()
    order_by: list[tuple[str, str, bool]] = field(default_factory=list)
    page: int | None = None
    page_size: int | None = None
    subscription: bool = False
    refresh_timeout: int | None = None


@dataclass
class QueryResult:
    total: int
    imdata: list[dict[str, Any]]


def _int_param(params: dict[str, str], name: str) -> int | None:
    v = params.get(name)
    if v is None or v == "":
        return None
    try:
        n = int(v)
    except ValueError as exc:
        raise QueryError(400, f"Invalid value {v!r} for {name}") from exc
    if n < 0:
        raise QueryError(400, f"Invalid value {v!r} for {name}")
    return n


class QueryEngine:
    """Runs :class:`QuerySpec` against a fabric.  Call under ``fab.lock``."""

    def __init__(self, fab: SimulatedFabric, max_unpaged: int = 100_000) -> None:
        self.fab = fab
        self.max_unpaged = max_unpaged
        if not fab.cls_registry:
            fab.cls_registry = build_registry(fab)
        self.reg: dict[str, MoClass] = fab.cls_registry
        self._cache: dict[tuple[Any, ...], tuple[int, list[tuple[MoClass, Item]]]] = {}

    # ---------------------------------------------------------------- parsing

    def known_class(self, name: str) -> bool:
        return name in self.reg or name in CONTAINER_CLASSES

    def parse(self, kind: str, target: str, params: dict[str, str]) -> QuerySpec:
        spec = QuerySpec(kind=kind)
        if kind == "class":
            # target: "<cls>" or "topology/pod-1/node-101/<cls>" or "topology/pod-1/<cls>"
            scope, _, cls = target.rpartition("/")
            spec.cls = cls
            if not self.known_class(cls):
                raise QueryError(400, f"Request failed, unresolved class for {cls}")
            if scope:
                spec.scope_prefix = scope
                spec.scope_nodes = self._nodes_for(scope)
        else:
            spec.dn = target
            m = _NODE_RE.match(target)
            if m:
                node = self.fab.nodes.get(int(m.group(2)))
                spec.scope_nodes = [node] if node else []
        qt = params.get("query-target", "self")
        if qt not in ("self", "children", "subtree"):
            raise QueryError(400, f"Invalid value {qt!r} for query-target")
        spec.query_target = qt
        spec.target_classes = self._class_list(params.get("target-subtree-class", ""))
        ftext = params.get("query-target-filter", "")
        if ftext:
            spec.filter = parse_filter(ftext)
            spec.filter_text = ftext
        spec.rsp_subtree = params.get("rsp-subtree", "no")
        if spec.rsp_subtree not in ("no", "children", "full"):
            raise QueryError(400, f"Invalid value {spec.rsp_subtree!r} for rsp-subtree")
        spec.rsp_subtree_classes = self._class_list(params.get("rsp-subtree-class", ""))
        spec.rsp_include = tuple(x for x in params.get("rsp-subtree-include", "").split(",") if x)
        for item in (x for x in params.get("order-by", "").split(",") if x):
            field_, _, direction = item.partition("|")
            if "." not in field_ or direction not in ("", "asc", "desc"):
                raise QueryError(400, f"Invalid value {item!r} for order-by")
            ocls, oprop = field_.split(".", 1)
            spec.order_by.append((ocls, oprop, direction == "desc"))
        spec.page = _int_param(params, "page")
        spec.page_size = _int_param(params, "page-size")
        if spec.page_size == 0:
            raise QueryError(400, "Invalid value '0' for page-size")
        spec.subscription = params.get("subscription", "no") == "yes"
        spec.refresh_timeout = _int_param(params, "refresh-timeout")
        return spec

    def _class_list(self, text: str) -> tuple[str, ...]:
        names = tuple(x.strip() for x in text.split(",") if x.strip())
        for n in names:
            if not self.known_class(n):
                raise QueryError(400, f"Request failed, unresolved class for {n}")
        return names

    def _nodes_for(self, scope: str) -> list[Node]:
        m = _NODE_RE.match(scope + "/")
        if m and scope.count("/") == 2:
            node = self.fab.nodes.get(int(m.group(2)))
            return [node] if node and node.pod == int(m.group(1)) else []
        m2 = _POD_RE.match(scope)
        if m2:
            return [n for n in self.fab.nodes.values() if n.pod == int(m2.group(1))]
        raise QueryError(400, f"Request failed, unresolved class for {scope}")

    # -------------------------------------------------------------- selection

    def _classes_under(self, cls: str, direct: bool) -> list[MoClass]:
        """Classes whose objects sit under objects of ``cls`` (directly or anywhere below)."""
        out = []
        for c in self.reg.values():
            if not c.parents:
                continue
            if (c.parents[0] == cls) if direct else (cls in c.parents):
                out.append(c)
        return out

    def _select(self, spec: QuerySpec) -> Iterator[tuple[MoClass, Item]]:
        if spec.kind == "class":
            yield from self._select_class(spec)
        else:
            yield from self._select_mo(spec)

    def _wanted(self, spec: QuerySpec, c: MoClass) -> bool:
        return not spec.target_classes or c.name in spec.target_classes

    def _select_class(self, spec: QuerySpec) -> Iterator[tuple[MoClass, Item]]:
        base = self.reg.get(spec.cls)
        nodes = spec.scope_nodes
        if spec.query_target == "self":
            if base is not None and not (nodes is not None and not base.node_scoped):
                for item in base.scan(nodes):
                    yield base, item
            return
        if spec.query_target == "subtree" and base is not None and self._wanted(spec, base):
            for item in base.scan(nodes):
                yield base, item
        for c in self._classes_under(spec.cls, direct=spec.query_target == "children"):
            if self._wanted(spec, c) and not (nodes is not None and not c.node_scoped):
                for item in c.scan(nodes):
                    yield c, item

    def lookup(self, dn: str) -> tuple[MoClass, Item] | None:
        for c in self.reg.values():
            item = c.lookup(dn)
            if item is not None:
                return c, item
        return None

    def _select_mo(self, spec: QuerySpec) -> Iterator[tuple[MoClass, Item]]:
        dn = spec.dn
        if spec.query_target == "self":
            hit = self.lookup(dn)
            if hit is not None:
                yield hit
            return
        prefix = dn + "/" if dn else ""
        nodes = spec.scope_nodes
        classes = [c for c in self.reg.values() if self._wanted(spec, c)]
        if nodes is not None:
            classes = [c for c in classes if c.node_scoped]
        elif dn.startswith("uni"):
            classes = [c for c in classes if not c.node_scoped or isinstance(c, StaticClass)]
        for c in classes:
            for item in c.scan(nodes):
                cdn = c.dn(item)
                if spec.query_target == "subtree":
                    if cdn == dn or cdn.startswith(prefix):
                        yield c, item
                elif cdn.startswith(prefix) and parent_dn(cdn) == dn:
                    yield c, item

    # ------------------------------------------------------------------ run

    def _filtered(self, spec: QuerySpec) -> list[tuple[MoClass, Item]]:
        key = (
            spec.kind,
            spec.cls,
            spec.dn,
            spec.scope_prefix,
            spec.query_target,
            spec.target_classes,
            spec.filter_text,
            tuple(spec.order_by),
        )
        version = self.fab.version
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        base = self.reg.get(spec.cls)
        if (
            spec.kind == "class"
            and spec.query_target == "self"
            and spec.filter is None
            and spec.order_by == [(spec.cls, "dn", False)]
            and isinstance(base, EpmClass)
            and not (spec.scope_nodes is not None and not base.node_scoped)
        ):
            # A build's paged epm read: sort the entries themselves by their (cached) DN.
            items = list(base.scan(spec.scope_nodes))
            items.sort(key=EpmEntry.dn)
            epm_rows: list[tuple[MoClass, Item]] = [(base, it) for it in items]
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = (version, epm_rows)
            return epm_rows
        rows = list(self._select(spec))
        if spec.filter is not None:
            f = spec.filter
            rows = [(c, it) for c, it in rows if eval_filter(f, c.name, _getter(c, it))]
        for ocls, oprop, desc in reversed(spec.order_by):
            rows = self._sorted(rows, ocls, oprop, desc)
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[key] = (version, rows)
        return rows

    @staticmethod
    def _sorted(
        rows: list[tuple[MoClass, Item]], ocls: str, oprop: str, desc: bool
    ) -> list[tuple[MoClass, Item]]:
        """Stable sort on one property; numeric when the values are numbers (pcTag, bytesRate),
        else lexical.  Objects of other classes (mixed subtree results) sort last."""
        if oprop == "dn" and all(c.name == ocls for c, _ in rows):
            # Paged builds order by dn: one plain string key per object, no tuples.
            return sorted(rows, key=lambda r: r[0].dn(r[1]), reverse=desc)
        vals = [c.prop(it, oprop) if c.name == ocls else None for c, it in rows]
        sample = next((v for v in vals if v is not None), None)
        numeric = sample is not None and oprop != "dn" and _num(sample) is not None
        keyed: list[tuple[tuple[int, float, str], tuple[MoClass, Item]]] = []
        for v, row in zip(vals, rows, strict=True):
            if v is None:
                k = (2, 0.0, "")
            elif numeric:
                n = _num(v)
                k = (0, n, "") if n is not None else (1, 0.0, v)
            else:
                k = (1, 0.0, v)
            keyed.append((k, row))
        keyed.sort(key=lambda kr: kr[0], reverse=desc)
        return [row for _k, row in keyed]

    def total_only(self, spec: QuerySpec) -> int | None:
        """Fast count when no filter/sort is needed (class self query)."""
        if spec.kind != "class" or spec.query_target != "self" or spec.filter is not None:
            return None
        base = self.reg.get(spec.cls)
        if base is None:
            return 0
        if spec.scope_nodes is not None and not base.node_scoped:
            return 0
        return base.count(spec.scope_nodes)

    def _top(self, spec: QuerySpec) -> QueryResult | None:
        """``order-by`` one timestamp of a self class query, first page(s) only: heapq over the
        raw values instead of rendering and sorting every object."""
        if (
            spec.kind != "class"
            or spec.query_target != "self"
            or spec.filter is not None
            or len(spec.order_by) != 1
            or spec.page_size is None
            or spec.rsp_include
        ):
            return None
        ocls, oprop, desc = spec.order_by[0]
        base = self.reg.get(spec.cls)
        if base is None or ocls != spec.cls:
            return None
        key = base.time_key(oprop)
        want = ((spec.page or 0) + 1) * spec.page_size
        if key is None or want > 1000:
            return None
        pick = heapq.nlargest if desc else heapq.nsmallest
        top = pick(want, base.scan(spec.scope_nodes), key=key)
        rows = top[(spec.page or 0) * spec.page_size :]
        total = base.count(spec.scope_nodes)
        return QueryResult(total, [self.render(base, it, spec) for it in rows])

    def run(self, spec: QuerySpec) -> QueryResult:
        top = self._top(spec)
        if top is not None:
            return top
        if "count" in spec.rsp_include:
            total = self.total_only(spec)
            if total is None:
                total = len(self._filtered(spec))
            return QueryResult(
                1,
                [
                    {
                        "moCount": {
                            "attributes": {
                                "childAction": "",
                                "count": str(total),
                                "dn": "",
                                "status": "",
                            }
                        }
                    }
                ],
            )
        total, page_rows = self._page(spec)
        if (
            spec.rsp_subtree == "no"
            and not spec.rsp_include
            and page_rows
            and isinstance(page_rows[0][0], EpmClass)
        ):
            # epm objects have no children here: render them without the generic walk.
            c0 = page_rows[0][0]
            name, attrs = c0.name, c0.fab.epm_attrs
            if all(c is c0 for c, _ in page_rows):
                return QueryResult(
                    total, [{name: {"attributes": attrs(it)}} for _, it in page_rows]
                )
        return QueryResult(total, [self.render(c, it, spec) for c, it in page_rows])

    def _page(self, spec: QuerySpec) -> tuple[int, list[tuple[MoClass, Item]]]:
        """The total and the rows of the requested page (no rendering)."""
        fast = (
            spec.kind == "class"
            and spec.query_target == "self"
            and spec.filter is None
            and not spec.order_by
        )
        if fast:
            total = self.total_only(spec) or 0
        else:
            rows = self._filtered(spec)
            total = len(rows)
        if spec.page_size is None and spec.page is None and total > self.max_unpaged:
            raise QueryError(400, "Unable to process the query, result dataset is too big")
        size = spec.page_size if spec.page_size is not None else max(total, 1)
        start = (spec.page or 0) * size
        if fast:
            base = self.reg.get(spec.cls)
            page_rows: list[tuple[MoClass, Item]] = []
            if base is not None and total:
                it = iter(base.scan(spec.scope_nodes))
                for i, item in enumerate(it):
                    if i >= start + size:
                        break
                    if i >= start:
                        page_rows.append((base, item))
        else:
            page_rows = rows[start : start + size]
        return total, page_rows

    def run_json(self, spec: QuerySpec) -> tuple[int, str] | None:
        """A build's page of epm objects (a plain class query, by DN or unordered, no subtree)
        as the text of its ``imdata`` items, rendered straight to JSON without a dict per object
        (most of a 4M-entry build's cost on this side). None: any other query (use :meth:`run`).
        The text equals what :meth:`run` + JSON encoding gives (tests/simulators)."""
        base = self.reg.get(spec.cls)
        if not (
            isinstance(base, EpmClass)
            and spec.kind == "class"
            and spec.query_target == "self"
            and spec.filter is None
            and spec.rsp_subtree == "no"
            and not spec.rsp_include
            and not spec.subscription
            and spec.order_by in ([], [(spec.cls, "dn", False)])
        ):
            return None
        total, page_rows = self._page(spec)
        if not all(c is base for c, _ in page_rows):
            return None
        render = base.fab.epm_json
        name = base.name
        return total, ",".join([render(it, name) for _, it in page_rows])

    def render(self, c: MoClass, item: Item, spec: QuerySpec, depth: int = 0) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": c.attrs(item)}
        if (spec.rsp_subtree != "no" or spec.rsp_include) and depth < 8:
            kids = []
            for kc, kitem in self.children_of(c, item):
                if spec.rsp_subtree_classes and kc.name not in spec.rsp_subtree_classes:
                    continue
                if spec.rsp_subtree == "no":
                    stats = kc.name.startswith("eqpt") and "stats" in spec.rsp_include
                    faults = kc.name == "faultInst" and "faults" in spec.rsp_include
                    if not (stats or faults):
                        continue
                sub = spec if spec.rsp_subtree == "full" else QuerySpec(kind="mo")
                kids.append(self.render(kc, kitem, sub, depth + 1))
            if kids:
                body["children"] = kids
        return {c.name: body}

    def children_of(self, c: MoClass, item: Item) -> list[tuple[MoClass, Item]]:
        out = list(c.children(item))
        dn = c.dn(item)
        prefix = dn + "/"
        for sc in self.reg.values():
            if isinstance(sc, StaticClass) and (
                sc.parents[:1] == (c.name,) or sc.name == "faultInst"
            ):
                for a in sc._store().values():
                    adn = a["dn"]
                    if adn.startswith(prefix) and parent_dn(adn) == dn:
                        out.append((sc, a))
        return out

    # -------------------------------------------------------------- events

    def event_matches(self, spec: QuerySpec, ev: MoEvent) -> bool:
        """Does an object change fall inside a subscribed query?"""
        if spec.kind == "class":
            if spec.scope_prefix and not ev.dn.startswith(spec.scope_prefix + "/"):
                return False
            if spec.query_target == "self":
                ok = ev.cls == spec.cls
            else:
                c = self.reg.get(ev.cls)
                under = c is not None and (
                    (c.parents[:1] == (spec.cls,))
                    if spec.query_target == "children"
                    else spec.cls in c.parents
                )
                ok = (ev.cls == spec.cls and spec.query_target == "subtree") or under
                ok = ok and (not spec.target_classes or ev.cls in spec.target_classes)
        else:
            if spec.query_target == "self":
                ok = ev.dn == spec.dn
            elif spec.query_target == "children":
                ok = parent_dn(ev.dn) == spec.dn
            else:
                ok = ev.dn == spec.dn or ev.dn.startswith(spec.dn + "/")
            ok = ok and (
                not spec.target_classes
                or ev.cls in spec.target_classes
                or spec.query_target == "self"
            )
        if not ok:
            return False
        if spec.filter is not None:
            return eval_filter(spec.filter, ev.cls, ev.attrs.get)
        return True
