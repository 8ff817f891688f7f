"""Endpoint tracker (stage: collector/apic, after parsing, before points and notifications).

Keeps per-node endpoint state from epmMacEp / epmIpEp / epmRsMacEpToIpEpAtt records and turns
changes into outputs, with EnhancedEndpointTracker's semantics (reference/apic-and-ept.md §1.4):

- every per-node change → :class:`NodeChange` (``apic_endpoint_event``);
- **move**: a local learn whose location (node or vPC pair, interface, encap, pcTag, rewrite MAC)
  differs from the endpoint's last local location; a delete followed by a learn elsewhere within
  ``transitory_delete_s`` is still a move (EPT's TRANSITORY_DELETE). Bounce and XR entries are never
  local, so the old leaf turning its entry into a bounce is never reported as a move;
- **rapid**: events per minute across all nodes over a threshold, then a hold time during which the
  endpoint's events are counted but not reported (EPT ``rapid_threshold``/``rapid_holdtime``);
- **offsubnet** / **stale** (incl. multiple-local and no-local): deferred rechecks after a
  transitory delay, exactly like EPT's watcher, so mid-move states are not reported;
- beyond EPT: **rogue** (more than ``rogue_factor`` moves within ``rogue_interval_s``, ACI Rogue EP
  Control), **duplicate_ip** (one IP bound to several MACs at once, or flip-flopping between MACs),
  **loop** (many endpoints of one BD each moving repeatedly within a short window).

State is memory-lean: ``__slots__`` objects, flags as an int bitmask, interned interface/encap
strings, no per-endpoint history lists beyond a few move timestamps. Time is passed in (``ts``),
never read here, so the tracker is deterministic under test.
"""

from __future__ import annotations

import heapq
import ipaddress
import sys
from collections import deque
from dataclasses import dataclass
from typing import Any

import collector.apic.models as _models
import collector.apic.pagescan as _pagescan
from collector.apic.anomaly_kinds import ANOMALY_KINDS  # re-exported (see __all__)
from collector.apic.models import (
    F_BOUNCE,
    F_BOUNCE_PROXY,
    F_LOCAL,
    F_PEER,
    F_SKIP,
    F_VPC,
    EpmRecord,
    FabricTables,
    addr_type,
    flags_text,
)


@dataclass(slots=True)
class TrackerConfig:
    """Analysis knobs; defaults are EPT's (rapid/stale/offsubnet) and ACI's (rogue)."""

    transitory_delete_s: float = 60.0
    analyze_move: bool = True
    analyze_rapid: bool = True
    analyze_stale: bool = True
    analyze_offsubnet: bool = True
    analyze_rogue: bool = True
    analyze_duplicate_ip: bool = True
    analyze_loop: bool = True
    stale_multiple_local: bool = True
    stale_no_local: bool = True
    rapid_threshold: int = 2048  # events per minute (EPT default; range 512-65536)
    rapid_holdtime_s: float = 600.0
    rogue_interval_s: float = 60.0  # ACI Rogue EP detection interval
    rogue_factor: int = 4  # rogue at `factor` moves within the interval (ACI refuses the next)
    rogue_hold_s: float = 1800.0
    loop_window_s: float = 60.0
    loop_min_endpoints: int = 8  # distinct endpoints of one BD ...
    loop_min_moves: int = 2  # ... each moving at least this often within the window
    loop_hold_s: float = 300.0
    dup_window_s: float = 300.0  # MAC flip-flop memory for duplicate IP
    dup_hold_s: float = 300.0
    stale_delay_s: float = 45.0  # EPT TRANSITORY_STALE
    stale_no_local_delay_s: float = 315.0  # EPT TRANSITORY_STALE_NO_LOCAL
    offsubnet_delay_s: float = 10.0  # EPT TRANSITORY_OFFSUBNET
    dup_delay_s: float = 10.0
    rs_wait_s: float = 2.0  # how long an IP learn waits for its Rs before a move is decided


# Location of a local learn: (node or vPC pseudo-node, interface, encap, pcTag, rewrite MAC).
Loc = tuple[int, str, str, int, str]


@dataclass(slots=True)
class NodeChange:
    ts: float
    node: int
    vnid: int
    addr: str
    is_ip: bool
    status: str
    flags: int
    if_id: str
    pc_tag: int
    encap: str
    remote: int
    rw_mac: str


@dataclass(slots=True)
class Move:
    ts: float
    vnid: int
    addr: str
    is_ip: bool
    src: Loc
    dst: Loc
    count: int
    epg: str | None
    bd: str | None
    vrf: str | None


@dataclass(slots=True)
class Anomaly:
    ts: float
    kind: str
    vnid: int
    addr: str
    is_ip: bool
    detail: str
    fields: dict[str, Any]


Output = NodeChange | Move | Anomaly


class NodeEntry:
    """One epm object on one node. ``present`` is False for an Rs seen before its epmIpEp.

    ``shared``: one instance stands for many identical remote (XR) entries — 96 % of a large
    fabric's rows differ only in their endpoint — so a build stores a dict slot per remote entry
    instead of an object. Shared entries are never mutated: :meth:`Tracker._own` copies first.
    """

    __slots__ = (
        "present",
        "flags",
        "if_id",
        "pc_tag",
        "encap",
        "bd",
        "rw_mac",
        "gen",
        "rs_gen",
        "shared",
    )

    def __init__(self) -> None:
        self.present = False
        self.flags = 0
        self.if_id = ""
        self.pc_tag = 0
        self.encap = ""
        self.bd = 0
        self.rw_mac = ""
        self.gen = 0
        self.rs_gen = 0
        self.shared = False

    def copy(self) -> NodeEntry:
        c = NodeEntry()
        c.present, c.flags, c.if_id, c.pc_tag, c.encap = (
            self.present, self.flags, self.if_id, self.pc_tag, self.encap,
        )  # fmt: skip
        c.bd, c.rw_mac, c.gen, c.rs_gen = self.bd, self.rw_mac, self.gen, self.rs_gen
        return c


class Endpoint:
    __slots__ = (
        "nodes",
        "local",
        "local_del_ts",
        "moves",
        "move_ts",
        "vrf",
        "win_start",
        "win_count",
        "prev_count",
        "rapid_until",
        "icount",
        "rogue_until",
        "dup_until",
        "mac_hist",
        "stale_sig",
        "offsub_sig",
        "watch",
    )

    def __init__(self) -> None:
        self.nodes: dict[int, NodeEntry] = {}
        self.local: Loc | None = None
        self.local_del_ts: float | None = None
        self.moves = 0
        self.move_ts: deque[float] | None = None
        self.vrf = 0
        self.win_start = 0.0
        self.win_count = 0
        self.prev_count = 0
        self.rapid_until = 0.0
        self.icount = 0
        self.rogue_until = 0.0
        self.dup_until = 0.0
        self.mac_hist: list[tuple[str, float]] | None = None
        self.stale_sig: str = ""
        self.offsub_sig: str = ""
        self.watch = 0  # bitmask of scheduled rechecks


class _MoveWindow:
    """Moves of one BD within the loop window, with per-address counts kept as moves enter and
    leave (``flapping``: addresses at or above the threshold)."""

    __slots__ = ("dq", "counts", "flapping")

    def __init__(self) -> None:
        self.dq: deque[tuple[float, str]] = deque()
        self.counts: dict[str, int] = {}
        self.flapping = 0

    def add(self, ts: float, addr: str, threshold: int) -> None:
        self.dq.append((ts, addr))
        c = self.counts.get(addr, 0) + 1
        self.counts[addr] = c
        if c == threshold:
            self.flapping += 1

    def expire(self, before: float, threshold: int) -> None:
        dq, counts = self.dq, self.counts
        while dq and dq[0][0] < before:
            _, addr = dq.popleft()
            c = counts[addr] - 1
            if c == threshold - 1:
                self.flapping -= 1
            if c:
                counts[addr] = c
            else:
                del counts[addr]


_W_STALE, _W_OFFSUB, _W_DUP, _W_MOVE = 1, 2, 4, 8
_RS = "epmRsMacEpToIpEpAtt"
# The attributes a build's records carry (collector.apic.pagescan), in snapshot_records' order.
SNAPSHOT_NAMES = ("dn", "flags", "ifId", "pcTag", "status")
SNAPSHOT_REPEATING = frozenset(("flags", "ifId", "pcTag", "status"))  # few distinct values
MAX_MOVE_DEFERS = 5  # an IP move waits at most this many rs_wait_s for its Rs or its MAC


class Tracker:
    """Feed :meth:`process` (events) or the snapshot methods (builds); drain :attr:`out`."""

    def __init__(self, tables: FabricTables | None = None, config: TrackerConfig | None = None):
        self.tables = tables or FabricTables()
        self.cfg = config or TrackerConfig()
        self.eps: dict[tuple[int, str], Endpoint] = {}
        self.out: list[Output] = []
        self._move_defers: dict[tuple[int, str], int] = {}  # IP moves waiting for their Rs/MAC
        self._last_dup: dict[tuple[int, str], tuple[list[str], float]] = {}  # last report per IP
        self._gen = 0
        self._pool: dict[tuple[Any, ...], NodeEntry] = {}  # shared remote entries, this build
        self._snap_into_empty = False
        self._leaves: dict[str, tuple[str, bool] | bool] = {}  # dn leaf → address, this build
        self._silent = False
        self._in_snapshot = False
        self._held = False
        self._watch: list[tuple[float, int, tuple[int, str]]] = []
        self._bd_moves: dict[int, _MoveWindow] = {}
        self._loop_until: dict[int, float] = {}
        self.events = 0  # records processed
        self.changes = 0
        self.suppressed = 0  # changes not reported because of a rapid hold
        self.entries = 0  # present per-node entries (MAC and IP), kept as they change
        self.present_macs = 0  # of which MAC entries (the count audit compares them)

    # ------------------------------------------------------------------ public API
    def drain(self) -> list[Output]:
        out, self.out = self.out, []
        return out

    def begin_snapshot(self, initial: bool) -> None:
        """Start a (re)build. ``initial``: load silently, as EPT's build does."""
        self._gen += 1
        self._pool = {}
        self._leaves = {}
        self._snap_into_empty = not self.eps
        self._silent = initial
        self._in_snapshot = True

    def apply_snapshot(self, rec: EpmRecord, ts: float) -> None:
        self.process(rec, ts)

    def snapshot_page(self, imdata: list[Any], ts: float) -> int:
        """Apply one decoded page of a class query (``imdata``) to the snapshot; returns the
        objects seen. The same path as :meth:`snapshot_records`."""
        return self.snapshot_records(_pagescan.records_of(imdata, SNAPSHOT_NAMES), ts, b"")

    def snapshot_records(self, recs: list[Any], ts: float, body: bytes) -> int:
        """Apply one page's records (:func:`collector.apic.pagescan.records` of ``body`` with
        :data:`SNAPSHOT_NAMES`) to the snapshot; returns the objects seen.

        The bulk of an initial build — remote entries not yet held — is done inline here, with
        the same result as :func:`parse_epm` + :meth:`apply_snapshot`, which every other object
        takes after its element is decoded (tests/collector/apic/test_build_fast_path.py)."""
        n = new = macs = 0
        fast = self._silent and self._in_snapshot
        eps, pool, gen, leaves = self.eps, self._pool, self._gen, self._leaves
        prefixes, ints, flags_of = _models._PREFIXES, _models._INTS, _models.parse_flags
        leaf_addr, intern, element = _models.leaf_addr, sys.intern, _pagescan.element
        last, last_n, last_pre = "\0", 1, None  # the previous fast dn's prefix (to /db-ep/)
        for cls, where, dn, flags_raw, if_id, pc, status in recs:
            if fast and not status and cls != _RS and dn.__class__ is str:
                flags = flags_of(flags_raw) if flags_raw.__class__ is str else None
                if flags is not None and not flags & F_LOCAL:
                    # Pages come ordered by dn: most share the previous one's prefix.
                    if dn.startswith(last):
                        leaf, pre = dn[last_n:], last_pre
                    else:
                        i = dn.find("/db-ep/") + 7
                        if i <= 7:
                            pre = None
                        else:
                            last, last_n = dn[:i], i
                            head = dn[: i - 7]
                            last_pre = pre = prefixes.get(head) or _models._prefix(head)
                        leaf = dn[i:]
                    a = leaves.get(leaf)
                    if a is None:
                        a = leaves[leaf] = leaf_addr(leaf)
                    if pre is not None and a:
                        _, node, vrf, bd, encap = pre
                        addr, is_mac = a  # type: ignore[misc]
                        if not is_mac or bd:
                            key = (bd if is_mac else vrf, addr)
                            ep = eps.get(key)
                            if ep is None:
                                ep = eps[key] = Endpoint()
                            if node not in ep.nodes:
                                if vrf:
                                    ep.vrf = vrf
                                k = (
                                    True,
                                    flags,
                                    if_id if if_id.__class__ is str else "",
                                    (ints.get(pc) if pc.__class__ is str else None)
                                    or _models._pctag(pc)
                                    or 0,
                                    encap or "",
                                    bd,
                                    gen,
                                )
                                e = pool.get(k)
                                if e is None:
                                    # interned only for a new shared entry: a pool hit compares
                                    # equal without it
                                    e = NodeEntry()
                                    (e.present, e.flags, e.if_id, e.pc_tag, e.encap, e.bd,
                                     e.gen) = k  # fmt: skip
                                    e.if_id = intern(e.if_id)
                                    e = self._share(e)
                                ep.nodes[node] = e
                                n += 1
                                new += 1
                                if is_mac:
                                    macs += 1
                                continue
            # Everything else (local, Rs, held entries, odd elements): decoded, general path.
            n += self._snapshot_element(element(body, where), ts)
        self.events += new
        self.changes += new
        self.entries += new
        self.present_macs += macs
        return n

    def _snapshot_element(self, el: Any, ts: float) -> int:
        """One decoded imdata element through the general path; returns the objects it held."""
        n = 0
        for c, body in el.items() if isinstance(el, dict) else ():
            attrs = body.get("attributes") if isinstance(body, dict) else None
            if isinstance(attrs, dict):
                n += 1
                rec = _models.parse_epm(c, attrs)
                if rec is not None:
                    self.process(rec, ts)
        return n

    def end_snapshot(self, ts: float) -> int:
        """Synthesise deletes for what the snapshot no longer returned (EPT, aci-containers)."""
        gen, removed = self._gen, 0
        # A snapshot into an empty tracker holds only what it read: nothing to sweep (and a
        # 4M-entry walk saved).
        for key, ep in list(self.eps.items()) if not self._snap_into_empty else ():
            for node, e in list(ep.nodes.items()):
                if e.present and e.gen < gen:
                    removed += 1
                    self._delete(key, ep, node, e, ts, rs=False)
                if e.rw_mac and e.rs_gen < gen and node in ep.nodes:
                    self._delete(key, ep, node, e, ts, rs=True)
        self._silent = False
        self._in_snapshot = False
        self._leaves = {}
        return removed

    @property
    def endpoint_count(self) -> int:
        return len(self.eps)

    def node_entry_count(self) -> int:
        return sum(len(ep.nodes) for ep in self.eps.values())

    def local_of(self, vnid: int, addr: str) -> Loc | None:
        ep = self.eps.get((vnid, addr))
        return ep.local if ep else None

    # ------------------------------------------------------------------ processing
    def process(self, rec: EpmRecord, ts: float) -> None:
        self.events += 1
        key = (rec.vnid, rec.addr)
        ep = self.eps.get(key)
        if ep is None:
            if rec.status == "deleted":
                return
            ep = Endpoint()
            self.eps[key] = ep
        if rec.vrf:
            ep.vrf = rec.vrf
        # Rapid counts every event the APIC sends (it only sends changes), not snapshot rows.
        self._held = not self._in_snapshot and self.cfg.analyze_rapid and self._rapid(key, ep, ts)
        if self._held:
            self.suppressed += 1
        e = ep.nodes.get(rec.node)
        flags = rec.flags
        if (
            e is None
            and self._in_snapshot
            and flags is not None
            and not flags & F_LOCAL
            and not rec.is_rs
            and rec.status != "deleted"
        ):
            # The bulk of a build: a remote (XR) entry first seen. Point it at the shared state
            # object for its values without making one of its own.
            k = (True, flags, rec.if_id or "", rec.pc_tag or 0, rec.encap or "", rec.bd, self._gen)
            e = self._pool.get(k)
            if e is None:
                e = NodeEntry()
                e.present, e.flags, e.if_id, e.pc_tag, e.encap, e.bd, e.gen = k
                e = self._share(e)
            ep.nodes[rec.node] = e
            self._changed(key, ep, rec.node, e, "created", ts)
            return
        if rec.status == "deleted":
            if e is not None:
                self._delete(key, ep, rec.node, e, ts, rs=rec.is_rs, rw_mac=rec.rw_mac)
            return
        if rec.is_rs:
            self._apply_rs(key, ep, rec, e, ts)
            return
        new = e is None or not e.present
        if e is None:
            e = NodeEntry()
            ep.nodes[rec.node] = e
        elif e.shared:
            e = self._own(ep, rec.node, e)
        e.gen = self._gen
        # A partial `modified` event only carries what changed: keep the rest (EPT merges too).
        partial = rec.status == "modified" and not new
        flags = rec.flags if rec.flags is not None else (e.flags if partial else 0)
        if_id = rec.if_id if rec.if_id is not None else (e.if_id if partial else "")
        pc_tag = rec.pc_tag if rec.pc_tag is not None else (e.pc_tag if partial else 0)
        encap = rec.encap if rec.encap is not None else (e.encap if partial else "")
        bd = rec.bd or e.bd
        changed = new or (
            flags != e.flags or if_id != e.if_id or pc_tag != e.pc_tag or encap != e.encap
        )
        if changed:
            e.present, e.flags, e.if_id, e.pc_tag, e.encap, e.bd = (
                True,
                flags,
                if_id,
                pc_tag,
                encap,
                bd,
            )
            self._changed(key, ep, rec.node, e, "created" if new else "modified", ts)
        if flags & F_LOCAL:
            if not flags & (F_BOUNCE | F_BOUNCE_PROXY):
                self._local_learn(key, ep, rec.node, e, ts)
        elif self._in_snapshot and not e.rw_mac and not e.rs_gen:
            ep.nodes[rec.node] = self._share(e)

    def _share(self, e: NodeEntry) -> NodeEntry:
        k = (e.present, e.flags, e.if_id, e.pc_tag, e.encap, e.bd, e.gen)
        s = self._pool.get(k)
        if s is None:
            if len(self._pool) >= 500_000:
                return e
            e.shared = True
            s = self._pool[k] = e
        return s

    @staticmethod
    def _own(ep: Endpoint, node: int, e: NodeEntry) -> NodeEntry:
        """A private copy of a shared entry, put in its place, before any change to it."""
        if not e.shared:
            return e
        c = e.copy()
        ep.nodes[node] = c
        return c

    def _apply_rs(
        self, key: tuple[int, str], ep: Endpoint, rec: EpmRecord, e: NodeEntry | None, ts: float
    ) -> None:
        if e is None:
            e = NodeEntry()  # Rs can precede its epmIpEp (EPT subscribes Rs first)
            ep.nodes[rec.node] = e
        e = self._own(ep, rec.node, e)
        e.rs_gen = self._gen
        mac = rec.rw_mac or ""
        if rec.bd:
            e.bd = rec.bd
        if mac == e.rw_mac:
            return
        e.rw_mac = mac
        if not e.present:
            return
        self._changed(key, ep, rec.node, e, "modified", ts)
        if e.flags & F_LOCAL and not e.flags & (F_BOUNCE | F_BOUNCE_PROXY):
            self._local_learn(key, ep, rec.node, e, ts)

    def _delete(
        self,
        key: tuple[int, str],
        ep: Endpoint,
        node: int,
        e: NodeEntry,
        ts: float,
        rs: bool,
        rw_mac: str | None = None,
    ) -> None:
        e = self._own(ep, node, e)
        if rs:
            if not e.rw_mac or (rw_mac and rw_mac != e.rw_mac):
                return  # an Rs to another MAC was already replaced
            e.rw_mac = ""
            if not e.present:
                del ep.nodes[node]
            else:
                self._changed(key, ep, node, e, "modified", ts)
            return
        if not e.present:
            return
        was_local = bool(e.flags & F_LOCAL) and not e.flags & (F_BOUNCE | F_BOUNCE_PROXY)
        e.present = False
        self._changed(key, ep, node, e, "deleted", ts)
        if e.rw_mac:
            e.present = False  # keep the Rs; the entry may come back
        else:
            del ep.nodes[node]
        if was_local and not any(x.present and x.flags & F_LOCAL for x in ep.nodes.values()):
            ep.local_del_ts = ts

    # ------------------------------------------------------------------ analyses
    def _changed(
        self, key: tuple[int, str], ep: Endpoint, node: int, e: NodeEntry, status: str, ts: float
    ) -> None:
        self.changes += 1
        is_ip = _is_ip(key[1])
        if status == "created":
            self.entries += 1
            if not is_ip:
                self.present_macs += 1
        elif status == "deleted":
            self.entries -= 1
            if not is_ip:
                self.present_macs -= 1
        if self._silent:
            return
        cfg = self.cfg
        if self._held:
            return
        self.out.append(
            NodeChange(
                ts,
                node,
                key[0],
                key[1],
                is_ip,
                status,
                e.flags,
                e.if_id,
                e.pc_tag,
                e.encap,
                self.tables.remote_node(node, e.if_id) if not e.flags & F_LOCAL else 0,
                e.rw_mac,
            )
        )
        if is_ip and cfg.analyze_duplicate_ip and e.rw_mac and e.present and e.flags & F_LOCAL:
            self._note_binding(key, ep, e.rw_mac, ts)
        if cfg.analyze_stale:
            self._schedule(key, ep, _W_STALE, ts + cfg.stale_delay_s)
        if is_ip and cfg.analyze_offsubnet:
            self._schedule(key, ep, _W_OFFSUB, ts + cfg.offsubnet_delay_s)

    def _rapid(self, key: tuple[int, str], ep: Endpoint, ts: float) -> bool:
        """True while the endpoint is held as rapid (its events are counted, not reported)."""
        if ts < ep.rapid_until:
            ep.icount += 1
            return True
        # Two-bucket sliding window: cheap, and bursts straddling a bucket edge still count.
        elapsed = ts - ep.win_start
        if elapsed >= 60.0:
            ep.prev_count = ep.win_count if elapsed < 120.0 else 0
            ep.win_start = ts - (elapsed % 60.0) if elapsed < 120.0 else ts
            ep.win_count = 0
            elapsed = ts - ep.win_start
        ep.win_count += 1
        rate = ep.win_count + ep.prev_count * (1.0 - elapsed / 60.0)
        if rate > self.cfg.rapid_threshold:
            ep.rapid_until = ts + self.cfg.rapid_holdtime_s
            ep.icount = 0
            self.out.append(
                Anomaly(
                    ts,
                    "rapid",
                    key[0],
                    key[1],
                    _is_ip(key[1]),
                    f"rapid endpoint detected: rate {rate:.0f} events/min > "
                    f"{self.cfg.rapid_threshold}; held {self.cfg.rapid_holdtime_s:.0f}s",
                    {"rate": round(rate, 1), "threshold": self.cfg.rapid_threshold},
                )
            )
            return True
        return False

    def _loc(self, node: int, e: NodeEntry) -> Loc:
        # Both vPC peers learn a vpc-attached endpoint: report the pair, not a flip-flop.
        if e.flags & F_VPC:
            peer = self.tables.vpc_peer.get(node)
            if peer:
                a, b = sorted((node, peer))
                node = (a << 16) + b
        return (node, e.if_id, e.encap, e.pc_tag, e.rw_mac)

    def _local_learn(
        self,
        key: tuple[int, str],
        ep: Endpoint,
        node: int,
        e: NodeEntry,
        ts: float,
        deferred: bool = False,
    ) -> None:
        loc = self._loc(node, e)
        prev = ep.local
        if prev == loc:
            ep.local_del_ts = None
            return
        if prev is not None and prev[:4] == loc[:4] and (not prev[4] or not loc[4]):
            # Only the rewrite MAC appeared or went: epmIpEp and its Rs arrive separately.
            ep.local = loc if loc[4] else prev
            return
        if prev is not None and e.flags & F_VPC and prev[0] < 65536 and prev[0] != loc[0]:
            # vPC pair unknown (no fabricExplicitGEp): the other peer still holding the same
            # vpc-attached learn on the same port-channel is the pair, not a move.
            pe = ep.nodes.get(prev[0])
            if (
                pe is not None
                and pe.present
                and pe.flags & F_VPC
                and pe.flags & F_LOCAL
                and pe.if_id == e.if_id
                and prev[2:] == loc[2:]
            ):
                return
        if prev is not None and prev[4] and not loc[4] and deferred:
            # Still no Rs: the IP is where its last MAC now is (it followed its MAC).
            mac_ep = self.eps.get((e.bd, prev[4]))
            if mac_ep is not None and mac_ep.local is not None and mac_ep.local[0] == loc[0]:
                loc = (*loc[:4], prev[4])
            elif self._move_defers.get(key, 0) < MAX_MOVE_DEFERS:
                # Neither the Rs nor the MAC's own move has arrived yet (a loaded APIC or
                # poller delivers them late): wait a little longer before calling it.
                self._move_defers[key] = self._move_defers.get(key, 0) + 1
                self._schedule(key, ep, _W_MOVE, ts + self.cfg.rs_wait_s)
                return
        self._move_defers.pop(key, None)
        if prev is not None and prev[4] and not loc[4] and not deferred:
            # An IP learnt elsewhere before its Rs: decide when the Rs arrives (or soon after).
            self._schedule(key, ep, _W_MOVE, ts + self.cfg.rs_wait_s)
            return
        if prev is not None and prev[4] and loc[4] and prev[4] != loc[4]:
            # The IP now resolves to another MAC: another host claims it (duplicate_ip), not a
            # move of this endpoint; the MAC's own move is reported on the MAC.
            ep.local, ep.local_del_ts = loc, None
            return
        recent = ep.local_del_ts is None or ts - ep.local_del_ts <= self.cfg.transitory_delete_s
        ep.local = loc
        ep.local_del_ts = None
        if prev is None or not recent or self._silent or not self.cfg.analyze_move:
            return
        if self._held:
            return  # rapid hold: location still followed, not reported
        ep.moves += 1
        self.out.append(self._move(key, ep, prev, loc, ts))
        if loc[4] and self._follows_mac(e, loc):
            return  # an IP carried along by its MAC: rogue/loop are judged on the MAC
        if self.cfg.analyze_rogue:
            self._rogue(key, ep, ts)
        if self.cfg.analyze_loop:
            self._loop(key, ep, e, ts)

    def _follows_mac(self, e: NodeEntry, loc: Loc) -> bool:
        mac_ep = self.eps.get((e.bd, loc[4]))
        return mac_ep is not None and mac_ep.local is not None and mac_ep.local[0] == loc[0]

    def _move(self, key: tuple[int, str], ep: Endpoint, src: Loc, dst: Loc, ts: float) -> Move:
        t = self.tables
        is_ip = _is_ip(key[1])
        vrf = key[0] if is_ip else (ep.vrf or t.bd_vrf.get(key[0], 0))
        bd_vnid = 0 if is_ip else key[0]
        if is_ip:
            e = ep.nodes.get(dst[0] & 0xFFFF if dst[0] > 65535 else dst[0])
            bd_vnid = e.bd if e else 0
        bd = t.bd_name.get(bd_vnid) if bd_vnid else None
        if bd is None and dst[3] > 1:
            bd_vnid = t.epg_bd.get((vrf, dst[3]), 0)
            bd = t.bd_name.get(bd_vnid)
        return Move(
            ts,
            key[0],
            key[1],
            is_ip,
            src,
            dst,
            ep.moves,
            t.epg_for(vrf, dst[3]),
            bd,
            t.vrf_name.get(vrf),
        )

    def _rogue(self, key: tuple[int, str], ep: Endpoint, ts: float) -> None:
        cfg = self.cfg
        if ep.move_ts is None:
            ep.move_ts = deque(maxlen=cfg.rogue_factor + 1)
        ep.move_ts.append(ts)
        # ACI declares rogue on the move *after* `factor` moves and then freezes the endpoint,
        # so that move is never seen here: `factor` observed moves in the interval is rogue.
        if ts < ep.rogue_until or len(ep.move_ts) < cfg.rogue_factor:
            return
        if ts - ep.move_ts[-cfg.rogue_factor] <= cfg.rogue_interval_s:
            ep.rogue_until = ts + cfg.rogue_hold_s
            self.out.append(
                Anomaly(
                    ts,
                    "rogue",
                    key[0],
                    key[1],
                    _is_ip(key[1]),
                    f"rogue endpoint: {cfg.rogue_factor} moves within "
                    f"{ts - ep.move_ts[-cfg.rogue_factor]:.1f}s (factor {cfg.rogue_factor}, "
                    f"interval {cfg.rogue_interval_s:.0f}s)",
                    {
                        "moves": cfg.rogue_factor,
                        "interval_s": cfg.rogue_interval_s,
                        "node": _node_str(ep.local[0]) if ep.local else "",
                    },
                )
            )

    def _loop(self, key: tuple[int, str], ep: Endpoint, e: NodeEntry, ts: float) -> None:
        cfg = self.cfg
        bd = e.bd if _is_ip(key[1]) else key[0]
        if not bd:
            return
        w = self._bd_moves.get(bd)
        if w is None:
            w = self._bd_moves[bd] = _MoveWindow()
        # Incremental per-BD window: O(1) per move even at tens of thousands of moves/s.
        w.add(ts, key[1], cfg.loop_min_moves)
        w.expire(ts - cfg.loop_window_s, cfg.loop_min_moves)
        if (
            ts < self._loop_until.get(bd, 0.0)
            or len(w.dq) < cfg.loop_min_endpoints * cfg.loop_min_moves
            or w.flapping < cfg.loop_min_endpoints
        ):
            return
        dq = w.dq
        flapping = sorted(a for a, c in w.counts.items() if c >= cfg.loop_min_moves)
        self._loop_until[bd] = ts + cfg.loop_hold_s
        name = self.tables.bd_name.get(bd) or f"vnid-{bd}"
        self.out.append(
            Anomaly(
                ts,
                "loop",
                bd,
                name,
                False,
                f"possible loop in BD {name}: {len(flapping)} endpoints moved "
                f"{len(dq)} times within {cfg.loop_window_s:.0f}s; e.g. {', '.join(flapping[:5])}",
                {
                    "endpoints": len(flapping),
                    "moves": len(dq),
                    "bd": name,
                    "sample": ",".join(flapping[:20]),
                },
            )
        )

    def _note_binding(self, key: tuple[int, str], ep: Endpoint, mac: str, ts: float) -> None:
        """Duplicate IP: the IP now resolves to a MAC other than the one it was last learnt
        behind (one IP on several MACs). Called before the location is updated."""
        if not mac:
            return
        prev_mac = ep.local[4] if ep.local else ""
        if not prev_mac and ep.mac_hist:
            recent = [m for m, t in ep.mac_hist if ts - t <= self.cfg.dup_window_s]
            prev_mac = recent[-1] if recent else ""
        ep.mac_hist = [(mac, ts)]
        if prev_mac and prev_mac != mac:
            self._report_dup(key, ep, [prev_mac, mac], ts, "moved", hold=False)
        else:
            self._schedule(key, ep, _W_DUP, ts + self.cfg.dup_delay_s)

    def _report_dup(
        self,
        key: tuple[int, str],
        ep: Endpoint,
        macs: list[str],
        ts: float,
        why: str,
        hold: bool = True,
    ) -> None:
        if hold and ts < ep.dup_until:
            return  # the concurrent recheck of a change already reported
        last = self._last_dup.get(key)
        if last is not None and last[0] == macs and ts - last[1] < self.cfg.dup_hold_s:
            return  # the same binding change seen again (late or repeated events): one report
        self._last_dup[key] = (list(macs), ts)
        ep.dup_until = ts + self.cfg.dup_hold_s
        self.out.append(
            Anomaly(
                ts,
                "duplicate_ip",
                key[0],
                key[1],
                True,
                f"duplicate IP ({why}): {key[1]} on MACs {' -> '.join(macs)}",
                {"macs": ",".join(macs), "count": len(macs), "reason": why},
            )
        )

    # ------------------------------------------------------------------ deferred rechecks
    def _schedule(self, key: tuple[int, str], ep: Endpoint, bit: int, due: float) -> None:
        if ep.watch & bit:
            return
        ep.watch |= bit
        heapq.heappush(self._watch, (due, bit, key))

    def tick(self, now: float) -> None:
        """Run rechecks that are due (stale, offsubnet, duplicate IP) and forget dead endpoints."""
        w = self._watch
        while w and w[0][0] <= now:
            due, bit, key = heapq.heappop(w)
            ep = self.eps.get(key)
            if ep is None:
                continue
            ep.watch &= ~bit
            if bit == _W_STALE:
                self._check_stale(key, ep, now)
            elif bit == _W_OFFSUB:
                self._check_offsubnet(key, ep, now)
            elif bit == _W_DUP:
                self._check_dup(key, ep, now)
            elif bit == _W_MOVE:
                for n, e in list(ep.nodes.items()):
                    if (
                        e.present
                        and e.flags & F_LOCAL
                        and not e.flags & (F_BOUNCE | F_BOUNCE_PROXY)
                    ):
                        loc, cur = self._loc(n, e), ep.local or (0, "", "", 0, "")
                        if loc[4] and cur[4] and loc[4] != cur[4]:
                            # Another MAC's binding: the old owner's entry whose delete is
                            # still on its way. Taking it here would undo a duplicate-IP
                            # change without a report (the next flip back then looks like
                            # no change); bindings are judged when learnt (_note_binding).
                            continue
                        if loc[:4] != cur[:4]:
                            self._local_learn(key, ep, n, e, now, deferred=True)
                            break
            self._maybe_forget(key, ep, now)

    def _maybe_forget(self, key: tuple[int, str], ep: Endpoint, now: float) -> None:
        if ep.nodes or ep.watch:
            return
        if ep.local_del_ts is not None and now - ep.local_del_ts <= self.cfg.transitory_delete_s:
            self._schedule(key, ep, _W_STALE, ep.local_del_ts + self.cfg.transitory_delete_s + 1)
            return
        if now < ep.rapid_until or now < ep.rogue_until:
            return
        del self.eps[key]
        self._last_dup.pop(key, None)
        self._move_defers.pop(key, None)

    def _check_stale(self, key: tuple[int, str], ep: Endpoint, now: float) -> None:
        t, cfg = self.tables, self.cfg
        locals_ = [
            n
            for n, e in ep.nodes.items()
            if e.present and e.flags & F_LOCAL and not e.flags & (F_BOUNCE | F_BOUNCE_PROXY)
        ]
        expected: set[int] = set()
        for n in locals_:
            expected.add(n)
            peer = t.vpc_peer.get(n)
            if peer and ep.nodes[n].flags & F_VPC:
                expected.add(peer)
        problems: list[str] = []
        groups = {min(n, t.vpc_peer.get(n, n)) for n in locals_}
        if cfg.stale_multiple_local and len(groups) > 1:
            problems.append(f"multiple local nodes {sorted(locals_)}")
        no_local = not locals_
        for n, e in ep.nodes.items():
            if not e.present or n in expected or e.flags & (F_LOCAL | F_SKIP | F_BOUNCE_PROXY):
                continue
            if t.is_proxy_tunnel(n, e.if_id):
                continue
            r = t.remote_node(n, e.if_id)
            if not r and e.flags & F_PEER:
                r = t.vpc_peer.get(n, 0)
            if not r:
                continue  # cannot tell where it points: never guess stale
            targets = {r >> 16, r & 0xFFFF} if r > 65535 else {r}
            if no_local:
                if cfg.stale_no_local and not e.flags & F_BOUNCE:
                    problems.append(f"node {n} points to {_node_str(r)} but no local learn")
                continue
            if targets & expected:
                continue
            # An XR pointing at the old leaf is fine while that leaf bounces to the right place.
            ok = False
            for tn in targets:
                te = ep.nodes.get(tn)
                if te is not None and te.present and te.flags & (F_BOUNCE | F_BOUNCE_PROXY):
                    tr = t.remote_node(tn, te.if_id)
                    tt = {tr >> 16, tr & 0xFFFF} if tr > 65535 else {tr}
                    if te.flags & F_BOUNCE_PROXY or tt & expected:
                        ok = True
            if not ok:
                problems.append(f"node {n} points to {_node_str(r)}, expected {sorted(expected)}")
        sig = ";".join(problems)
        if sig and sig != ep.stale_sig:
            kind_detail = (
                "no_local"
                if no_local
                else ("multiple_local" if problems[0].startswith("multiple") else "stale_remote")
            )
            self.out.append(
                Anomaly(
                    now,
                    "stale",
                    key[0],
                    key[1],
                    _is_ip(key[1]),
                    f"stale endpoint ({kind_detail}): " + "; ".join(problems),
                    {
                        "reason": kind_detail,
                        "count": len(problems),
                        "expected": ",".join(str(x) for x in sorted(expected)),
                    },
                )
            )
        ep.stale_sig = sig

    def _check_offsubnet(self, key: tuple[int, str], ep: Endpoint, now: float) -> None:
        try:
            ip = ipaddress.ip_address(key[1])
        except ValueError:
            return
        bad: list[int] = []
        for n, e in ep.nodes.items():
            if not e.present or e.pc_tag <= 1 or e.flags & F_SKIP:
                continue
            nets = self.tables.subnets_for(key[0], e.bd, e.pc_tag)
            if nets is None:
                continue
            if not any(ip.version == net.version and ip in net for net in nets):
                bad.append(n)
        sig = ",".join(map(str, sorted(bad)))
        if sig and sig != ep.offsub_sig:
            e0 = ep.nodes[bad[0]]
            epg = self.tables.epg_for(key[0], e0.pc_tag) or f"pctag-{e0.pc_tag}"
            bd = self.tables.bd_name.get(e0.bd) or f"vnid-{e0.bd}"
            self.out.append(
                Anomaly(
                    now,
                    "offsubnet",
                    key[0],
                    key[1],
                    True,
                    f"offsubnet endpoint on nodes {sig}: {key[1]} not in any subnet of BD {bd} "
                    f"(epg {epg})",
                    {"nodes": sig, "epg": epg, "bd": bd},
                )
            )
        ep.offsub_sig = sig

    def _check_dup(self, key: tuple[int, str], ep: Endpoint, now: float) -> None:
        macs = sorted(
            {
                e.rw_mac
                for e in ep.nodes.values()
                if e.present
                and e.rw_mac
                and e.flags & F_LOCAL
                and not e.flags & (F_BOUNCE | F_BOUNCE_PROXY)
            }
        )
        if len(macs) > 1:
            self._report_dup(key, ep, macs, now, "concurrent")


def _is_ip(addr: str) -> bool:
    return len(addr) != 17 or addr[2] != ":" or addr.count(":") != 5


def _node_str(r: int) -> str:
    return f"vpc {r >> 16}-{r & 0xFFFF}" if r > 65535 else str(r)


__all__ = [
    "ANOMALY_KINDS",
    "Anomaly",
    "Move",
    "NodeChange",
    "Output",
    "Tracker",
    "TrackerConfig",
    "addr_type",
    "flags_text",
]
