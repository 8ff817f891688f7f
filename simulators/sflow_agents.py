"""sFlow agents driven by a small fabric model (stage: simulators — sFlow emitter).

Three layers:

* :class:`SflowModel` — what the agents read: leafs and their links (ifIndex, oper state,
  cumulative counters), hypervisors with two NIC uplinks (teamed, one active), VMs (MAC, IP,
  VLAN, placement, load).  Time is explicit: :meth:`SflowModel.advance_to` integrates every rate
  (traffic, CPU, disk) piecewise-constantly up to a time and runs scheduled actions (migration
  completion, NIC-team toggles, scenario steps) in time order, so the same calls give the same
  counters whatever the wall clock does.  Mutators (:meth:`~SflowModel.migrate_vm`,
  :meth:`~SflowModel.link_down`, :meth:`~SflowModel.start_storm`, …) take effect at the model's
  current time and notify listeners with :class:`ModelEvent` (so the APIC simulator can mirror
  endpoint moves later).
* agents — :class:`HypervisorAgent` speaks Host sFlow like hsflowd with mod_kvm (one 0:4 sample
  for the host, source 2:1, and one per VM, source 3:N); :class:`SwitchAgent` speaks like an
  Arista EOS leaf (0:2 if_counters + ethernet per interface, 0:1001 processor, 0:1 flow samples
  with 802.1Q sampled headers + extended_switch, ingress sampling).
* :class:`SflowAgentFleet` — runs every agent from one background thread (or deterministically
  through :meth:`SflowAgentFleet.tick`) and sends over one UDP socket; each datagram carries its
  own agent address (192.0.2.x / 2001:db8::x), as a relay would.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import socket
import threading
import time
import uuid as uuid_mod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from simulators import sflow_encoder as enc

log = logging.getLogger(__name__)

VLANS = (100, 200)
ACI_GATEWAY_MAC = "00:22:bd:f8:19:ff"  # ACI pervasive gateway MAC: dst of routed traffic
FABRIC_UPLINKS = (49, 50)  # leaf → spine ports (Ethernet49/50)
AVG_FRAME = 800  # bytes: mean frame size used to turn bit rates into packet counts
STORM_FRAME = 64  # a looping broadcast storm is mostly minimum-size ARP
HOST_PORT_SPEED = 25_000_000_000
FABRIC_PORT_SPEED = 100_000_000_000
MIB = 1024 * 1024
GIB = 1024 * MIB
# Share of busy CPU time per Linux CPU state (must sum to 1): user includes guest time, and
# iowait is busy time too, so Telegraf's usage_active (100 − idle) equals the modelled load.
CPU_SPLIT = (("user", 0.69), ("system", 0.20), ("sintr", 0.05), ("intr", 0.02),
             ("nice", 0.01), ("steal", 0.02), ("wio", 0.01))  # fmt: skip
DROP_PORT_LOOPBACK_FILTER = 268  # sflow_drop.h reason codes
DROP_EGRESS_VLAN_FILTER = 301


# --------------------------------------------------------------------------- model


@dataclass
class Link:
    """One leaf interface. Counters are cumulative floats; the encoder masks them to width."""

    leaf: str
    ifindex: int
    speed: int = HOST_PORT_SPEED
    admin_up: bool = True
    oper_up: bool = True
    fabric: bool = False  # leaf → spine uplink (carries the leaf's traffic, not sampled)
    storm_pps: float = 0.0  # broadcasts/s entering the leaf here (what the host side sends)
    looped: bool = False  # the storm is a loop through the host: it also comes back to it
    in_octets: float = 0.0
    in_ucast: float = 0.0
    in_mcast: float = 0.0
    in_bcast: float = 0.0
    out_octets: float = 0.0
    out_ucast: float = 0.0
    out_mcast: float = 0.0
    out_bcast: float = 0.0
    in_storm_pkts: float = 0.0  # part of in_bcast caused by a storm (drives flow samples)
    in_bps: float = 0.0  # current rates, refreshed on each integration step
    out_bps: float = 0.0

    @property
    def name(self) -> str:
        return f"Ethernet{self.ifindex}"

    @property
    def if_status(self) -> int:
        return (1 if self.admin_up else 0) | (2 if self.oper_up and self.admin_up else 0)

    @property
    def in_pkts(self) -> float:
        return self.in_ucast + self.in_mcast + self.in_bcast


@dataclass
class Leaf:
    name: str
    node_id: int
    agent: str
    links: dict[int, Link] = field(default_factory=dict)
    mem_total: int = 16 * GIB
    cpu_base: float = 8.0  # control-plane CPU percent; a storm punts ARP to the CPU
    # Runs an sFlow agent. False for an ACI leaf: it exports NetFlow, not sFlow, so it is in
    # the model only as the far end of the hosts' cables (its side comes from the APIC).
    sflow: bool = True
    chassis_mac: str = ""  # LLDP chassis id of a switch that is not an ACI leaf


@dataclass
class Hypervisor:
    name: str
    agent: str
    uuid: str
    nic_macs: list[str]
    uplinks: list[tuple[str, int]]  # (leaf name, ifindex), NIC-team members in order
    ip: str
    active: int = 0  # index of the preferred uplink in the team
    cpu_num: int = 16
    cpu_speed: int = 2400
    mem_total: int = 256 * GIB
    disk_total: int = 2000 * 1000**3
    base_cpu_load: float = 5.0  # percent, the host's own work
    base_net_bps: float = 5e6  # management/storage traffic of the host itself, each way
    extra_cpu_load: float = 0.0  # raised by scenarios (migration)
    extra_tx_bps: float = 0.0
    extra_rx_bps: float = 0.0
    boot_time: float = 0.0
    # cumulative counters
    cpu_ms: dict[str, float] = field(default_factory=dict)
    interrupts: float = 0.0
    contexts: float = 0.0
    load_avg: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    bytes_in: float = 0.0
    bytes_out: float = 0.0
    pkts_in: float = 0.0
    pkts_out: float = 0.0
    disk_reads: float = 0.0
    disk_writes: float = 0.0
    page_in: float = 0.0
    page_out: float = 0.0
    # Per NIC (index into uplinks): cumulative octets/packets, as the host's own 0:1 counters.
    nic_counters: list[list[float]] = field(default_factory=list)
    # Scenario-driven extra load: (until, cpu %, tx bps, rx bps), removed when ``until`` passes.
    timed_load: list[tuple[float, float, float, float]] = field(default_factory=list)

    def nic(self, index: int) -> list[float]:
        """[in_octets, out_octets, in_pkts, out_pkts, in_bcast, out_bcast] of NIC ``index``
        (grown on demand)."""
        while len(self.nic_counters) <= index:
            self.nic_counters.append([0.0] * 6)
        return self.nic_counters[index]

    @staticmethod
    def nic_name(index: int) -> str:
        """The OS name of NIC ``index`` (its hsflowd ifIndex is ``2 + index``), which lldpd
        sends as the LLDP port id."""
        return f"ens1f{index}"


@dataclass
class VirtualMachine:
    name: str
    index: int  # ds_index of its 3:N counter sample
    uuid: str
    mac: str
    ip: str
    ip6: str
    vlan: int
    host: str
    vcpus: int = 2
    memory: int = 8 * GIB
    disk_capacity: int = 100 * 1000**3
    cpu_load: float = 20.0  # percent of its own vCPUs
    net_bps: float = 20e6  # each way
    cpu_time_ms: float = 0.0
    bytes_in: float = 0.0
    bytes_out: float = 0.0
    pkts_in: float = 0.0
    pkts_out: float = 0.0
    rd_req: float = 0.0
    wr_req: float = 0.0
    migrating_to: str | None = None
    # NIC-team member this VM's virtual port is pinned to (port-ID load balancing, as on a
    # vSwitch); None follows the team's active uplink.
    nic: int | None = None


@dataclass(frozen=True)
class Endpoint:
    """Where the fabric sees one VM right now (what the APIC would learn)."""

    mac: str
    ip: str
    ip6: str
    vlan: int
    leaf: str
    ifindex: int
    vm: str
    hypervisor: str


@dataclass(frozen=True)
class ModelEvent:
    """Notification to listeners; ``kind`` is one of vm_migration_started, vm_moved,
    endpoint_moved, link_down, link_up, storm_started, storm_stopped, nic_flap_started,
    nic_flap_stopped. endpoint_moved with ``from_leaf`` None is a newly attached VM; with
    ``to_leaf`` None the VM lost all its uplinks."""

    kind: str
    at: float
    data: dict[str, Any]


Listener = Callable[[ModelEvent], None]


class SflowModel:
    """Leafs, links, hypervisors and VMs, integrated over simulated time. Thread-safe."""

    def __init__(self, start: float = 0.0, clock: Callable[[], float] | None = None) -> None:
        self.now = start
        self.clock = clock  # when set, mutators first catch the model up to clock()
        self.lock = threading.RLock()
        self.leafs: dict[str, Leaf] = {}
        self.hypervisors: dict[str, Hypervisor] = {}
        self.vms: dict[str, VirtualMachine] = {}
        self._listeners: list[Listener] = []
        self._actions: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._flapping: set[str] = set()
        self._advancing = False

    # ---- construction

    def add_leaf(
        self,
        name: str,
        node_id: int,
        agent: str,
        host_ports: Iterable[int],
        *,
        sflow: bool = True,
        chassis_mac: str = "",
    ) -> Leaf:
        leaf = Leaf(name, node_id, agent, sflow=sflow, chassis_mac=chassis_mac)
        for ifx in host_ports:
            leaf.links[ifx] = Link(name, ifx)
        for ifx in FABRIC_UPLINKS:
            leaf.links[ifx] = Link(name, ifx, speed=FABRIC_PORT_SPEED, fabric=True)
        self.leafs[name] = leaf
        return leaf

    def add_hypervisor(self, hv: Hypervisor) -> Hypervisor:
        with self.lock:
            for leaf, ifx in hv.uplinks:
                self.ensure_link(leaf, ifx)
            hv.boot_time = hv.boot_time or self.now
            self.hypervisors[hv.name] = hv
        return hv

    def ensure_link(self, leaf: str, ifindex: int) -> Link:
        with self.lock:
            return self.leafs[leaf].links.setdefault(ifindex, Link(leaf, ifindex))

    def attach_uplink(self, hv_name: str, leaf: str, ifindex: int) -> int:
        """Cable one more team member of ``hv_name`` to ``leaf`` port ``ifindex`` (no-op when it
        is one already); returns its index in the team."""
        with self.lock:
            hv = self.hypervisors[hv_name]
            if (leaf, ifindex) in hv.uplinks:
                return hv.uplinks.index((leaf, ifindex))
            self.ensure_link(leaf, ifindex)
            hv.uplinks.append((leaf, ifindex))
            n = len(hv.uplinks)
            if len(hv.nic_macs) < n:
                # A new NIC gets the next locally administered MAC after the host's first one.
                base = int(hv.nic_macs[0].replace(":", ""), 16) if hv.nic_macs else 0x02FC00000000
                hv.nic_macs.append(_mac(*((base + n - 1) >> sh & 0xFF for sh in range(40, -8, -8))))
            return n - 1

    def add_vm(self, vm: VirtualMachine) -> VirtualMachine:
        with self.lock:
            self.vms[vm.name] = vm
            self._emit("endpoint_moved", self._endpoint_data(vm, None))
        return vm

    def remove_vm(self, name: str) -> None:
        with self.lock:
            self.vms.pop(name)

    # ---- listeners and scheduling

    def add_listener(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        ev = ModelEvent(kind, self.now, data)
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a broken listener must not stop the simulation
                log.exception("sFlow model listener failed on %s", kind)

    def schedule(self, at: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` (holding the model lock) when the model's time reaches ``at``."""
        with self.lock:
            heapq.heappush(self._actions, (at, next(self._seq), fn))

    def _sync(self) -> None:
        # Scheduled actions run inside advance_to at their own due time: never jump from there.
        if self.clock is not None and not self._advancing:
            self.advance_to(self.clock())

    # ---- queries

    def vms_on(self, host: str) -> list[VirtualMachine]:
        return [vm for vm in self.vms.values() if vm.host == host]

    def active_link(self, hv: Hypervisor) -> Link | None:
        """The NIC-team member carrying traffic: the preferred one if up, else the next up one."""
        n = len(hv.uplinks)
        for i in range(n):
            leaf, ifx = hv.uplinks[(hv.active + i) % n]
            link = self.leafs[leaf].links[ifx]
            if link.oper_up and link.admin_up:
                return link
        return None

    def vm_link(self, vm: VirtualMachine, hv: Hypervisor | None = None) -> Link | None:
        """The link carrying ``vm``: its pinned NIC while that is up, else the team's active."""
        hv = hv or self.hypervisors[vm.host]
        if vm.nic is not None and vm.nic < len(hv.uplinks):
            leaf, ifx = hv.uplinks[vm.nic]
            link = self.leafs[leaf].links[ifx]
            if link.oper_up and link.admin_up:
                return link
        return self.active_link(hv)

    def endpoint(self, vm: VirtualMachine) -> Endpoint | None:
        link = self.vm_link(vm)
        if link is None:
            return None
        return Endpoint(vm.mac, vm.ip, vm.ip6, vm.vlan, link.leaf, link.ifindex, vm.name, vm.host)

    def endpoints(self) -> list[Endpoint]:
        with self.lock:
            eps = (self.endpoint(vm) for vm in self.vms.values())
            return [ep for ep in eps if ep is not None]

    def link_hypervisors(self, link: Link) -> list[Hypervisor]:
        return [hv for hv in self.hypervisors.values() if self.active_link(hv) is link]

    def talkers_by_link(self) -> dict[tuple[str, int], list[VirtualMachine]]:
        """(leaf, ifindex) → the VMs whose traffic enters the fabric there."""
        out: dict[tuple[str, int], list[VirtualMachine]] = {}
        for vm in self.vms.values():
            hv = self.hypervisors.get(vm.host)
            link = self.vm_link(vm, hv) if hv is not None else None
            if link is not None:
                out.setdefault((link.leaf, link.ifindex), []).append(vm)
        return out

    def host_cpu_load(self, hv: Hypervisor, vms: list[VirtualMachine] | None = None) -> float:
        """Effective busy percent: own work + scenario extra + the VMs' vCPU time."""
        vms = self.vms_on(hv.name) if vms is None else vms
        vm_cores = sum(vm.cpu_load / 100.0 * vm.vcpus for vm in vms)
        timed = sum(x[1] for x in hv.timed_load)
        return min(
            100.0, hv.base_cpu_load + hv.extra_cpu_load + timed + 100.0 * vm_cores / hv.cpu_num
        )

    def host_tx_bps(self, hv: Hypervisor, vms: list[VirtualMachine] | None = None) -> float:
        return self._host_own_tx(hv) + sum(vm.net_bps for vm in self._vms(hv, vms))

    def host_rx_bps(self, hv: Hypervisor, vms: list[VirtualMachine] | None = None) -> float:
        return self._host_own_rx(hv) + sum(vm.net_bps for vm in self._vms(hv, vms))

    def _vms(self, hv: Hypervisor, vms: list[VirtualMachine] | None) -> list[VirtualMachine]:
        return self.vms_on(hv.name) if vms is None else vms

    @staticmethod
    def _host_own_tx(hv: Hypervisor) -> float:
        return hv.base_net_bps + hv.extra_tx_bps + sum(x[2] for x in hv.timed_load)

    @staticmethod
    def _host_own_rx(hv: Hypervisor) -> float:
        return hv.base_net_bps + hv.extra_rx_bps + sum(x[3] for x in hv.timed_load)

    # ---- time

    def advance_to(self, t: float) -> None:
        """Integrate all rates up to ``t``, running scheduled actions at their own times."""
        with self.lock:
            outer, self._advancing = self._advancing, True
            try:
                while self._actions and self._actions[0][0] <= t:
                    at, _, fn = heapq.heappop(self._actions)
                    self._integrate(max(self.now, at))
                    fn()
                self._integrate(t)
            finally:
                self._advancing = outer

    def _integrate(self, t: float) -> None:
        dt = t - self.now
        if dt <= 0:
            return
        self.now = t
        for vm in self.vms.values():
            vm.cpu_time_ms += vm.cpu_load / 100.0 * vm.vcpus * 1000.0 * dt
            bytes_each_way = vm.net_bps / 8.0 * dt
            vm.bytes_in += bytes_each_way
            vm.bytes_out += bytes_each_way
            vm.pkts_in += bytes_each_way / AVG_FRAME
            vm.pkts_out += bytes_each_way / AVG_FRAME
            vm.rd_req += 20.0 * dt
            vm.wr_req += 40.0 * dt
        for leaf in self.leafs.values():
            for link in leaf.links.values():
                link.in_bps = link.out_bps = 0.0
        # Group VMs by host once per step: per-host scans would be O(hosts × VMs).
        by_host: dict[str, list[VirtualMachine]] = {name: [] for name in self.hypervisors}
        for vm in self.vms.values():
            by_host.setdefault(vm.host, []).append(vm)
        for hv in self.hypervisors.values():
            self._integrate_host(hv, dt, by_host[hv.name])
        for leaf in self.leafs.values():
            self._integrate_leaf(leaf, dt)

    def _integrate_host(self, hv: Hypervisor, dt: float, vms: list[VirtualMachine]) -> None:
        load = self.host_cpu_load(hv, vms)
        total = hv.cpu_num * 1000.0 * dt
        busy = total * load / 100.0
        idle = total - busy
        ms = hv.cpu_ms
        for state, share in CPU_SPLIT:
            ms[state] = ms.get(state, 0.0) + busy * share
        ms["idle"] = ms.get("idle", 0.0) + idle
        guest = sum(vm.cpu_load / 100.0 * vm.vcpus * 1000.0 * dt for vm in vms)
        ms["guest"] = ms.get("guest", 0.0) + min(guest, busy * 0.69)  # inside user
        runnable = load / 100.0 * hv.cpu_num
        for i, tau in enumerate((60.0, 300.0, 900.0)):  # Linux load-average time constants
            decay = math.exp(-dt / tau)
            hv.load_avg[i] = hv.load_avg[i] * decay + runnable * (1.0 - decay)
        tx, rx = self.host_tx_bps(hv, vms) / 8.0 * dt, self.host_rx_bps(hv, vms) / 8.0 * dt
        hv.bytes_out += tx
        hv.bytes_in += rx
        hv.pkts_out += tx / AVG_FRAME
        hv.pkts_in += rx / AVG_FRAME
        # Where the bytes go: the host's own traffic on the active NIC, each VM's on its own.
        loads: list[tuple[Link | None, float, float]] = [
            (self.active_link(hv), self._host_own_tx(hv), self._host_own_rx(hv))
        ]
        loads += [(self.vm_link(vm, hv), vm.net_bps, vm.net_bps) for vm in vms]
        for link, tx_bps, rx_bps in loads:
            if link is None:
                continue
            # Host transmit is the leaf port's ingress.
            link.in_bps += tx_bps
            link.out_bps += rx_bps
            nic = hv.nic(hv.uplinks.index((link.leaf, link.ifindex)))
            nic[0] += rx_bps / 8.0 * dt
            nic[1] += tx_bps / 8.0 * dt
            nic[2] += rx_bps / 8.0 * dt / AVG_FRAME
            nic[3] += tx_bps / 8.0 * dt / AVG_FRAME
        # A broadcast storm on a NIC's leaf port: the host sends it (storm_pps is what enters
        # the leaf); a loop through the host's bridge also brings it back in.
        for i, (leaf_name, ifx) in enumerate(hv.uplinks):
            link = self.leafs[leaf_name].links[ifx]
            if link.storm_pps and link.oper_up and link.admin_up:
                n = link.storm_pps * dt
                nic = hv.nic(i)
                nic[1] += n * STORM_FRAME
                nic[5] += n
                if link.looped:
                    nic[0] += n * STORM_FRAME
                    nic[4] += n
        hv.interrupts += (500.0 * hv.cpu_num + (tx + rx) / AVG_FRAME / 10.0) * dt
        hv.contexts += (2000.0 * hv.cpu_num * (0.2 + load / 100.0)) * dt
        hv.disk_reads += 50.0 * dt
        hv.disk_writes += 120.0 * dt
        hv.page_in += 10.0 * dt
        hv.page_out += 30.0 * dt

    def _integrate_leaf(self, leaf: Leaf, dt: float) -> None:
        host_links = [lk for lk in leaf.links.values() if not lk.fabric]
        fabric_up = [lk for lk in leaf.links.values() if lk.fabric and lk.oper_up]
        # Traffic leaving/entering the leaf through the spines, spread over the up uplinks.
        total_in = sum(lk.in_bps for lk in host_links)
        total_out = sum(lk.out_bps for lk in host_links)
        for lk in fabric_up:
            lk.out_bps = total_in / 2.0 / len(fabric_up)
            lk.in_bps = total_out / 2.0 / len(fabric_up)
        storm_pps = sum(lk.storm_pps for lk in leaf.links.values() if lk.oper_up)
        for lk in leaf.links.values():
            if not (lk.oper_up and lk.admin_up):
                lk.in_bps = lk.out_bps = 0.0
                continue  # a down port's counters stand still
            in_bytes, out_bytes = lk.in_bps / 8.0 * dt, lk.out_bps / 8.0 * dt
            lk.in_octets += in_bytes
            lk.out_octets += out_bytes
            lk.in_ucast += in_bytes / AVG_FRAME
            lk.out_ucast += out_bytes / AVG_FRAME
            # Background control traffic: ARP broadcasts, LLDP/IGMP multicast.
            lk.in_bcast += 0.5 * dt
            lk.out_bcast += 2.0 * dt
            lk.in_mcast += 1.0 * dt
            lk.out_mcast += 1.0 * dt
            lk.in_octets += 1.5 * 64 * dt
            lk.out_octets += 3.0 * 64 * dt
            if lk.storm_pps:
                n = lk.storm_pps * dt
                lk.in_bcast += n
                lk.in_storm_pkts += n
                lk.in_octets += n * STORM_FRAME
            # The leaf floods every looping broadcast out of all its other up ports.
            flood = (storm_pps - lk.storm_pps) * dt
            if flood > 0:
                lk.out_bcast += flood
                lk.out_octets += flood * STORM_FRAME

    def processor_load(self, leaf: Leaf) -> float:
        storming = any(lk.storm_pps and lk.oper_up for lk in leaf.links.values())
        return min(100.0, leaf.cpu_base + (60.0 if storming else 0.0))

    # ---- mutators (scenarios drive these)

    def _endpoint_data(self, vm: VirtualMachine, before: Endpoint | None) -> dict[str, Any]:
        ep = self.endpoint(vm)
        return {
            "vm": vm.name, "mac": vm.mac, "ip": vm.ip, "vlan": vm.vlan, "hypervisor": vm.host,
            "from_leaf": before.leaf if before else None,
            "from_ifindex": before.ifindex if before else None,
            "to_leaf": ep.leaf if ep else None, "to_ifindex": ep.ifindex if ep else None,
        }  # fmt: skip

    def _moves_around(self, vms: list[VirtualMachine], change: Callable[[], None]) -> None:
        """Apply ``change`` and emit endpoint_moved for every VM whose location changed."""
        before = {vm.name: self.endpoint(vm) for vm in vms}
        change()
        for vm in vms:
            old, new = before[vm.name], self.endpoint(vm)
            if old != new:
                self._emit("endpoint_moved", self._endpoint_data(vm, old))

    def migrate_vm(
        self,
        vm_name: str,
        to_host: str,
        *,
        duration_s: float = 20.0,
        cpu_load: float = 25.0,
        copy_bps: float = 2e9,
    ) -> None:
        """Live migration: for ``duration_s`` both hypervisors work harder (memory copy: CPU
        and ``copy_bps`` of network from source to destination), then the VM switches hosts —
        its MAC leaves the source's host_adapters list and appears in the destination's."""
        with self.lock:
            self._sync()
            vm = self.vms[vm_name]
            if to_host not in self.hypervisors:
                raise KeyError(f"no hypervisor {to_host!r}")
            if vm.host == to_host or vm.migrating_to is not None:
                return
            src, dst = self.hypervisors[vm.host], self.hypervisors[to_host]
            vm.migrating_to = to_host
            for hv in (src, dst):
                hv.extra_cpu_load += cpu_load
            src.extra_tx_bps += copy_bps
            dst.extra_rx_bps += copy_bps
            self._emit("vm_migration_started", {"vm": vm_name, "from": src.name, "to": dst.name})

            def finish() -> None:
                for hv in (src, dst):
                    hv.extra_cpu_load -= cpu_load
                src.extra_tx_bps -= copy_bps
                dst.extra_rx_bps -= copy_bps
                vm.migrating_to = None

                def move() -> None:
                    vm.host = dst.name
                    vm.nic = None

                self._moves_around([vm], move)
                self._emit("vm_moved", {"vm": vm_name, "from": src.name, "to": dst.name,
                                        "mac": vm.mac})  # fmt: skip

            if duration_s <= 0:
                finish()
            else:
                self.schedule(self.now + duration_s, finish)

    def _link(self, leaf: str, ifindex: int) -> Link:
        return self.leafs[leaf].links[ifindex]

    def link_down(self, leaf: str, ifindex: int) -> None:
        """Oper-down: ifStatus loses bit 1, counters freeze, teamed hosts fail over."""
        self._set_link(leaf, ifindex, False)

    def link_up(self, leaf: str, ifindex: int) -> None:
        self._set_link(leaf, ifindex, True)

    def _set_link(self, leaf: str, ifindex: int, up: bool) -> None:
        with self.lock:
            self._sync()
            link = self._link(leaf, ifindex)
            if link.oper_up == up:
                return

            def change() -> None:
                link.oper_up = up

            self._moves_around(list(self.vms.values()), change)
            self._emit("link_up" if up else "link_down", {"leaf": leaf, "ifindex": ifindex})

    def set_active_uplink(self, hv_name: str, index: int) -> None:
        with self.lock:
            self._sync()
            hv = self.hypervisors[hv_name]

            def change() -> None:
                hv.active = index % len(hv.uplinks)

            self._moves_around(self.vms_on(hv_name), change)

    def start_nic_flap(self, hv_name: str, period_s: float = 5.0) -> None:
        """NIC-teaming flap: the host's active uplink alternates every ``period_s``."""
        with self.lock:
            self._sync()
            if hv_name in self._flapping:
                return
            self._flapping.add(hv_name)
            self._emit("nic_flap_started", {"hypervisor": hv_name, "period_s": period_s})

            def toggle() -> None:
                if hv_name not in self._flapping:
                    return
                hv = self.hypervisors[hv_name]
                self.set_active_uplink(hv_name, hv.active + 1)
                self.schedule(self.now + period_s, toggle)

            self.schedule(self.now + period_s, toggle)

    def stop_nic_flap(self, hv_name: str) -> None:
        with self.lock:
            self._sync()
            if hv_name in self._flapping:
                self._flapping.discard(hv_name)
                self._emit("nic_flap_stopped", {"hypervisor": hv_name})

    def start_storm(
        self, leaf: str, ifindex: int, pps: float = 20000.0, *, looped: bool = True
    ) -> None:
        """Broadcast frames come in at ``pps`` and are flooded out of every other port of the
        leaf: a bridging loop behind this port (``looped``: they come back to the host too) or a
        host that floods on its own."""
        with self.lock:
            self._sync()
            link = self._link(leaf, ifindex)
            link.storm_pps, link.looped = pps, looped
            self._emit("storm_started", {"leaf": leaf, "ifindex": ifindex, "pps": pps})

    def stop_storm(self, leaf: str, ifindex: int) -> None:
        with self.lock:
            self._sync()
            link = self._link(leaf, ifindex)
            link.storm_pps, link.looped = 0.0, False
            self._emit("storm_stopped", {"leaf": leaf, "ifindex": ifindex})

    def pin_vm(self, vm_name: str, nic: int | None) -> None:
        """Pin a VM's virtual port to NIC ``nic`` of its host (None: follow the active NIC).
        Re-pinning back and forth is the single-VM NIC-teaming flap."""
        with self.lock:
            self._sync()
            vm = self.vms[vm_name]

            def change() -> None:
                vm.nic = nic

            self._moves_around([vm], change)

    def add_load(self, hv_name: str, duration_s: float, *, cpu: float = 0.0,
                 tx_bps: float = 0.0, rx_bps: float = 0.0) -> None:  # fmt: skip
        """Extra CPU percent and host traffic on ``hv_name`` for ``duration_s``."""
        with self.lock:
            self._sync()
            hv = self.hypervisors[hv_name]
            entry = (self.now + duration_s, cpu, tx_bps, rx_bps)
            hv.timed_load.append(entry)

            def expire() -> None:
                if entry in hv.timed_load:
                    hv.timed_load.remove(entry)

            self.schedule(entry[0], expire)

    def set_cpu_load(self, hv_name: str, percent: float) -> None:
        with self.lock:
            self._sync()
            self.hypervisors[hv_name].base_cpu_load = percent

    def set_net_rate(self, hv_name: str, bps: float) -> None:
        with self.lock:
            self._sync()
            self.hypervisors[hv_name].base_net_bps = bps

    def set_vm_load(self, vm_name: str, cpu_percent: float | None = None,
                    net_bps: float | None = None) -> None:  # fmt: skip
        with self.lock:
            self._sync()
            vm = self.vms[vm_name]
            if cpu_percent is not None:
                vm.cpu_load = cpu_percent
            if net_bps is not None:
                vm.net_bps = net_bps


def _mac(*octets: int) -> str:
    return ":".join(f"{o & 0xFF:02x}" for o in octets)


def build_model(
    hypervisors: int = 4,
    vms: int = 8,
    leafs: int = 2,
    *,
    seed: int = 1,
    start: float = 0.0,
    ipv6_agents: bool = False,
) -> SflowModel:
    """A deterministic small fabric: leaf-101.., each hypervisor teamed to two leaf ports
    (two leafs when there are, else two ports of the one leaf), VMs round-robin on hypervisors,
    alternating between VLAN 100 (10.100.0.0/16, 2001:db8:100::/64) and VLAN 200 (10.200.0.0/16,
    2001:db8:200::/64)."""
    if hypervisors < 1 or leafs < 1 or vms < 0:
        raise ValueError("need at least one hypervisor and one leaf")
    rng = random.Random(seed)
    model = SflowModel(start=start)
    leaf_names = [f"leaf-{101 + i}" for i in range(leafs)]
    ports: dict[str, list[int]] = {n: [] for n in leaf_names}
    uplinks: list[list[tuple[str, int]]] = []
    for j in range(hypervisors):
        if leafs >= 2:
            team = [(leaf_names[j % leafs], j + 1), (leaf_names[(j + 1) % leafs], j + 1)]
        else:
            team = [(leaf_names[0], j + 1), (leaf_names[0], j + 1 + hypervisors)]
        uplinks.append(team)
        for leaf, ifx in team:
            ports[leaf].append(ifx)
    for i, name in enumerate(leaf_names):
        model.add_leaf(name, 101 + i, f"192.0.2.{1 + i}", sorted(ports[name]))
    for j in range(hypervisors):
        agent = f"2001:db8::{101 + j}" if ipv6_agents else f"192.0.2.{101 + j}"
        model.add_hypervisor(Hypervisor(
            name=f"hv{j + 1:02d}", agent=agent, uuid=str(uuid_mod.UUID(int=rng.getrandbits(128))),
            nic_macs=[_mac(0x02, 0xFC, 0, 0, j + 1, 1), _mac(0x02, 0xFC, 0, 0, j + 1, 2)],
            uplinks=uplinks[j], ip=f"10.0.0.{11 + j}",
        ))  # fmt: skip
    for i in range(vms):
        vlan = VLANS[i % len(VLANS)]
        model.add_vm(VirtualMachine(
            name=f"vm{i + 1:03d}", index=i + 1,
            uuid=str(uuid_mod.UUID(int=rng.getrandbits(128))),
            mac=_mac(0x52, 0x54, 0x00, 0x00, (i + 1) >> 8, i + 1),
            ip=f"10.{vlan}.{(10 + i) >> 8}.{(10 + i) & 0xFF}",
            ip6=f"2001:db8:{vlan}::{10 + i:x}", vlan=vlan,
            host=f"hv{i % hypervisors + 1:02d}", cpu_load=10.0 + rng.random() * 20.0,
        ))  # fmt: skip
    return model


# --------------------------------------------------------------------------- agents


def _u(v: float) -> int:
    """Cumulative float counter → integer counter value (masked to width by the encoder)."""
    return int(v)


class Agent:
    """Common part: one AgentEncoder, polling schedule, uptime from the agent's boot time."""

    def __init__(self, model: SflowModel, agent: str, boot_time: float, interval_s: float,
                 sub_agent_id: int = 0) -> None:  # fmt: skip
        self.model = model
        self.encoder = enc.AgentEncoder(agent, sub_agent_id)
        self.boot_time = boot_time
        self.interval_s = interval_s
        self.next_poll: float | None = None

    @property
    def agent(self) -> str:
        return self.encoder.agent

    def uptime_ms(self, now: float) -> int:
        return max(0, int((now - self.boot_time) * 1000))

    def poll_due(self, now: float) -> bool:
        if self.next_poll is None or now >= self.next_poll:
            # Keep a fixed cadence (no drift), but don't burst to catch up after a pause.
            nxt = (self.next_poll or now) + self.interval_s
            self.next_poll = nxt if nxt > now else now + self.interval_s
            return True
        return False

    def samples(self, now: float) -> list[enc.Sample]:
        raise NotImplementedError

    def datagrams(self, now: float) -> list[bytes]:
        """Samples due at ``now`` (the model must already be advanced), packed ≤ 1400 B."""
        samples = self.samples(now)
        return self.encoder.pack(samples, self.uptime_ms(now)) if samples else []


class HypervisorAgent(Agent):
    """hsflowd with mod_kvm: one 0:4 host sample (2:1) and one 0:4 sample per VM (3:N), the
    NICs' 0:ifIndex counters, and — as Open vSwitch's sFlow does on a KVM host — 1-in-N flow
    samples of the packets crossing each NIC (802.1Q sampled header + extended_switch)."""

    def __init__(
        self,
        model: SflowModel,
        hv_name: str,
        interval_s: float = 30.0,
        *,
        sampling_rate: int = 1000,
        max_samples_per_nic: int = 200,
        seed: int = 0,
    ) -> None:
        hv = model.hypervisors[hv_name]
        # hsflowd's default sub-agent id is 100000 (see the testdata captures).
        super().__init__(model, hv.agent, hv.boot_time, interval_s, sub_agent_id=100000)
        self.hv_name = hv_name
        self.sampling_rate = sampling_rate
        self.max_samples_per_nic = max_samples_per_nic
        self.rng = random.Random(f"{hv_name}/{seed}")
        self._samplers: dict[int, _SamplerState] = {}

    def samples(self, now: float) -> list[enc.Sample]:
        with self.model.lock:
            hv = self.model.hypervisors[self.hv_name]
            out: list[enc.Sample] = self._flow_samples(hv) if self.sampling_rate else []
            if self.poll_due(now):
                vms = sorted(self.model.vms_on(hv.name), key=lambda v: v.index)
                out.append(self._host_sample(hv, vms, now))
                out.extend(self._nic_samples(hv))
                out.extend(self._vm_sample(hv, vm) for vm in vms)
        return out

    def _flow_samples(self, hv: Hypervisor) -> list[enc.Sample]:
        """Sample each NIC's transmitted packets (broadcasts included) 1-in-``sampling_rate``:
        the frames of the VMs pinned to that NIC, the host's own traffic, a storm's ARP."""
        model = self.model
        out: list[enc.Sample] = []
        vms = model.vms_on(hv.name)
        all_vms = list(model.vms.values())
        for i, (leaf, ifx) in enumerate(hv.uplinks):
            c = hv.nic(i)
            # What the host sends out of the NIC (the leaf port's ingress): its VMs' frames and
            # any broadcast storm through it.
            pkts, bcast = c[3] + c[5], c[5]
            st = self._samplers.setdefault(i, _SamplerState(pkts, bcast))
            delta, storm = pkts - st.last_pkts, bcast - st.last_storm
            base_pool = st.last_pkts
            st.last_pkts, st.last_storm = pkts, bcast
            if delta <= 0:
                continue
            st.credit += delta / self.sampling_rate
            n = int(st.credit)
            st.credit -= n
            if n > self.max_samples_per_nic:
                st.drops += n - self.max_samples_per_nic
                n = self.max_samples_per_nic
            link = model.leafs[leaf].links[ifx]
            on_nic = [vm for vm in vms if model.vm_link(vm, hv) is link]
            nic_if = 2 + i
            for k in range(n):
                pool = _u(base_pool + delta * (k + 1) / n)
                if self.rng.random() < storm / delta:
                    frame, vlan = _arp_frame(self.rng, on_nic or vms, all_vms)
                    inp, outp = 0, nic_if  # flooded out of the uplink by the host's bridge
                elif on_nic:
                    src = self.rng.choice(on_nic)
                    frame, _dst = _vm_frame(self.rng, src, all_vms)
                    vlan, inp, outp = src.vlan, 100 + src.index, nic_if  # vNIC → uplink
                else:
                    frame = _host_frame(self.rng, hv, i)
                    vlan, inp, outp = 10, 1, nic_if
                records: list[enc.Encodable] = [
                    enc.sampled_header_from_frame(frame),
                    enc.ExtendedSwitch(src_vlan=vlan, dst_vlan=vlan),
                ]
                out.append(enc.FlowSample(
                    source_index=nic_if, sampling_rate=self.sampling_rate, sample_pool=pool,
                    drops=st.drops, input=inp, output=outp, records=records,
                ))  # fmt: skip
        return out

    def _nic_samples(self, hv: Hypervisor) -> list[enc.Sample]:
        """hsflowd's 0:ifIndex counters of each physical NIC; a NIC whose leaf port is down
        reports oper-down and its counters stand still."""
        out: list[enc.Sample] = []
        for i, (leaf, ifx) in enumerate(hv.uplinks):
            link = self.model.leafs[leaf].links[ifx]
            in_oct, out_oct, in_pk, out_pk, in_bc, out_bc = hv.nic(i)
            ifc = enc.IfCounters(
                if_index=2 + i, if_type=6, if_speed=link.speed, if_direction=1,
                if_status=link.if_status, if_in_octets=_u(in_oct), if_in_ucast_pkts=_u(in_pk),
                if_in_broadcast_pkts=_u(in_bc), if_out_octets=_u(out_oct),
                if_out_ucast_pkts=_u(out_pk), if_out_broadcast_pkts=_u(out_bc),
            )  # fmt: skip
            out.append(enc.CounterSample(enc.SOURCE_IFINDEX, 2 + i, [ifc]))
        return out

    def _host_sample(self, hv: Hypervisor, vms: list[VirtualMachine],
                     now: float) -> enc.CounterSample:  # fmt: skip
        ms = hv.cpu_ms
        load = self.model.host_cpu_load(hv)
        used_mem = 4 * GIB + sum(vm.memory for vm in vms)
        mem_free = max(0, hv.mem_total - used_mem)
        pkts_in, pkts_out = _u(hv.pkts_in), _u(hv.pkts_out)
        # host_adapters lists the host NICs and, as hsflowd's adapter list does on a KVM host,
        # the VMs' MACs; a VM's MAC therefore shows which hypervisor it runs on.
        adapters = [enc.HostAdapter(2 + i, [mac]) for i, mac in enumerate(hv.nic_macs)]
        adapters += [enc.HostAdapter(100 + vm.index, [vm.mac]) for vm in vms]
        host_adapters = enc.HostAdapters(adapters)
        records: list[enc.Encodable] = [
            host_adapters,
            enc.Mib2Udp(udp_in_datagrams=_u(pkts_in * 0.15), udp_out_datagrams=_u(pkts_out * 0.15),
                        udp_no_ports=_u(pkts_in * 0.001)),
            enc.Mib2Tcp(tcp_active_opens=_u(pkts_out / 500), tcp_passive_opens=_u(pkts_in / 700),
                        tcp_curr_estab=40 + 25 * len(vms), tcp_in_segs=_u(pkts_in * 0.8),
                        tcp_out_segs=_u(pkts_out * 0.8), tcp_retrans_segs=_u(pkts_out * 1e-4)),
            enc.Mib2Icmp(icmp_in_msgs=_u(pkts_in * 1e-4), icmp_out_msgs=_u(pkts_out * 1e-4),
                         icmp_in_echos=_u(pkts_in * 1e-4), icmp_out_echo_reps=_u(pkts_out * 1e-4)),
            enc.Mib2Ip(ip_in_receives=pkts_in, ip_in_delivers=pkts_in, ip_out_requests=pkts_out),
            enc.HostDiskIo(disk_total=hv.disk_total, disk_free=hv.disk_total * 6 // 10,
                           part_max_used=4000, reads=_u(hv.disk_reads),
                           bytes_read=_u(hv.disk_reads * 16384), read_time=_u(hv.disk_reads * 0.4),
                           writes=_u(hv.disk_writes), bytes_written=_u(hv.disk_writes * 32768),
                           write_time=_u(hv.disk_writes * 0.8)),
            enc.HostMemory(mem_total=hv.mem_total, mem_free=mem_free, mem_buffers=512 * MIB,
                           mem_cached=min(mem_free, 16 * GIB), page_in=_u(hv.page_in),
                           page_out=_u(hv.page_out)),
            enc.HostCpu(
                load_one=hv.load_avg[0], load_five=hv.load_avg[1], load_fifteen=hv.load_avg[2],
                proc_run=max(1, math.ceil(load / 100.0 * hv.cpu_num)),
                proc_total=300 + 20 * len(vms), cpu_num=hv.cpu_num, cpu_speed=hv.cpu_speed,
                uptime=int(now - hv.boot_time), cpu_user=_u(ms.get("user", 0.0)),
                cpu_nice=_u(ms.get("nice", 0.0)), cpu_system=_u(ms.get("system", 0.0)),
                cpu_idle=_u(ms.get("idle", 0.0)), cpu_wio=_u(ms.get("wio", 0.0)),
                cpu_intr=_u(ms.get("intr", 0.0)), cpu_sintr=_u(ms.get("sintr", 0.0)),
                interrupts=_u(hv.interrupts), contexts=_u(hv.contexts),
                cpu_steal=_u(ms.get("steal", 0.0)), cpu_guest=_u(ms.get("guest", 0.0)),
            ),
            enc.HostNetIo(bytes_in=_u(hv.bytes_in), pkts_in=pkts_in, bytes_out=_u(hv.bytes_out),
                          pkts_out=pkts_out),
            enc.VirtNode(mhz=hv.cpu_speed, cpus=hv.cpu_num, memory=hv.mem_total,
                         memory_free=mem_free, num_domains=len(vms)),
            enc.HostDescr(hostname=hv.name, uuid=hv.uuid, os_release="6.1.0-28-amd64"),
        ]  # fmt: skip
        sample = enc.CounterSample(enc.SOURCE_PHYSICAL_ENTITY, 1, records, expanded=True)
        budget = self.encoder.max_datagram - self.encoder.header_size
        over = len(sample.encode()) - budget
        if over > 0:
            # Dozens of VMs on one host: the sample must still fit one datagram, so the
            # adapter list is cut (16 bytes per single-MAC adapter); VM samples still carry
            # their own MACs.
            keep = max(len(hv.nic_macs), len(adapters) - (over + 15) // 16)
            host_adapters.adapters = adapters[:keep]
            log.debug("%s: host_adapters cut to %d entries to fit a datagram", hv.name, keep)
        return sample

    def _vm_sample(self, hv: Hypervisor, vm: VirtualMachine) -> enc.CounterSample:
        records: list[enc.Encodable] = [
            enc.HostDescr(hostname=vm.name, uuid=vm.uuid, os_release="6.1.0-28-amd64"),
            enc.HostAdapters([enc.HostAdapter(2, [vm.mac])]),
            enc.HostParent(enc.SOURCE_PHYSICAL_ENTITY, 1),
            enc.VirtCpu(state=enc.VIR_DOMAIN_RUNNING, cpu_time=_u(vm.cpu_time_ms),
                        nr_virt_cpu=vm.vcpus),
            enc.VirtMemory(memory=vm.memory * 3 // 4, max_memory=vm.memory),
            enc.VirtDiskIo(capacity=vm.disk_capacity, allocation=vm.disk_capacity // 3,
                           available=vm.disk_capacity * 2 // 3, rd_req=_u(vm.rd_req),
                           rd_bytes=_u(vm.rd_req * 8192), wr_req=_u(vm.wr_req),
                           wr_bytes=_u(vm.wr_req * 16384)),
            enc.VirtNetIo(bytes_in=_u(vm.bytes_in), pkts_in=_u(vm.pkts_in),
                          bytes_out=_u(vm.bytes_out), pkts_out=_u(vm.pkts_out)),
        ]  # fmt: skip
        return enc.CounterSample(enc.SOURCE_LOGICAL_ENTITY, vm.index, records, expanded=True)


@dataclass
class _SamplerState:
    last_pkts: float = 0.0
    last_storm: float = 0.0
    credit: float = 0.0
    drops: int = 0
    discards: int = 0  # packets discarded on this port (what the discard samples stand for)


class SwitchAgent(Agent):
    """An Arista EOS leaf: interface counter polling and 1-in-N ingress packet sampling."""

    def __init__(
        self,
        model: SflowModel,
        leaf_name: str,
        interval_s: float = 30.0,
        *,
        sampling_rate: int = 1000,
        max_samples_per_port: int = 200,
        seed: int = 0,
    ) -> None:
        leaf = model.leafs[leaf_name]
        super().__init__(model, leaf.agent, model.now, interval_s)
        self.leaf_name = leaf_name
        self.sampling_rate = sampling_rate
        # Real ASICs rate-limit samples to the CPU; beyond this, samples count as drops.
        self.max_samples_per_port = max_samples_per_port
        self.rng = random.Random(f"{leaf_name}/{seed}")
        self._samplers: dict[int, _SamplerState] = {}
        # Who talks where, refreshed once per call: per-sample scans would be O(VMs) each.
        self._talkers: dict[tuple[str, int], list[VirtualMachine]] = {}
        self._all_vms: list[VirtualMachine] = []

    def samples(self, now: float) -> list[enc.Sample]:
        with self.model.lock:
            leaf = self.model.leafs[self.leaf_name]
            self._talkers = self.model.talkers_by_link()
            self._all_vms = list(self.model.vms.values())
            out: list[enc.Sample] = self._flow_samples(leaf)
            out.extend(self._discard_samples(leaf))
            if self.poll_due(now):
                out.extend(self._counter_samples(leaf))
        return out

    def _discard_samples(self, leaf: Leaf) -> list[enc.Sample]:
        """0:5 dropped-packet samples, as a switch with drop monitoring sends them: a looped
        port's broadcasts that would go back out where they came in (port_loopback_filter),
        and now and then a frame for a VLAN the egress port does not carry."""
        out: list[enc.Sample] = []
        for ifx in sorted(leaf.links):
            lk = leaf.links[ifx]
            st = self._samplers.get(ifx)
            if st is None or lk.fabric:
                continue
            if lk.storm_pps and lk.oper_up:
                for _ in range(min(5, max(1, int(lk.storm_pps / self.sampling_rate / 4)))):
                    frame, _, _ = self._storm_frame(leaf, lk)
                    st.discards += self.sampling_rate
                    out.append(self._discard(ifx, 0, DROP_PORT_LOOPBACK_FILTER, frame, st))
            elif lk.oper_up and self.rng.random() < 0.02:
                frame, _, out_if = self._unicast_frame(leaf, lk)
                st.discards += self.sampling_rate
                out.append(self._discard(ifx, out_if[1], DROP_EGRESS_VLAN_FILTER, frame, st))
        return out

    def _discard(
        self, ifx: int, out_if: int, reason: int, frame: bytes, st: _SamplerState
    ) -> enc.DiscardSample:
        return enc.DiscardSample(
            source_index=ifx, reason=reason, input=ifx, output=out_if, drops=st.discards,
            records=[enc.sampled_header_from_frame(frame)],
        )  # fmt: skip

    def _counter_samples(self, leaf: Leaf) -> list[enc.Sample]:
        out: list[enc.Sample] = []
        for ifx in sorted(leaf.links):
            lk = leaf.links[ifx]
            ifc = enc.IfCounters(
                if_index=ifx, if_speed=lk.speed, if_status=lk.if_status,
                if_in_octets=_u(lk.in_octets), if_in_ucast_pkts=_u(lk.in_ucast),
                if_in_multicast_pkts=_u(lk.in_mcast), if_in_broadcast_pkts=_u(lk.in_bcast),
                if_out_octets=_u(lk.out_octets), if_out_ucast_pkts=_u(lk.out_ucast),
                if_out_multicast_pkts=_u(lk.out_mcast), if_out_broadcast_pkts=_u(lk.out_bcast),
            )  # fmt: skip
            out.append(enc.CounterSample(enc.SOURCE_IFINDEX, ifx, [ifc, enc.EthernetCounters()]))
        cpu = round(self.model.processor_load(leaf))
        proc = enc.ProcessorCounters(cpu, cpu, cpu, leaf.mem_total, leaf.mem_total * 55 // 100)
        out.append(enc.CounterSample(enc.SOURCE_PHYSICAL_ENTITY, 1, [proc]))
        return out

    def _flow_samples(self, leaf: Leaf) -> list[enc.Sample]:
        out: list[enc.Sample] = []
        for ifx in sorted(leaf.links):
            lk = leaf.links[ifx]
            if lk.fabric:
                continue  # sFlow enabled on host-facing ports only, as on most leafs
            st = self._samplers.setdefault(ifx, _SamplerState(lk.in_pkts, lk.in_storm_pkts))
            delta = lk.in_pkts - st.last_pkts
            storm = lk.in_storm_pkts - st.last_storm
            base_pool = st.last_pkts
            st.last_pkts, st.last_storm = lk.in_pkts, lk.in_storm_pkts
            if delta <= 0:
                continue
            # Expected samples = packets / rate; the fractional part carries over so long-run
            # sample counts × rate match the packet counters exactly.
            st.credit += delta / self.sampling_rate
            n = int(st.credit)
            st.credit -= n
            if n > self.max_samples_per_port:
                st.drops += n - self.max_samples_per_port
                n = self.max_samples_per_port
            storm_share = storm / delta
            for i in range(n):
                pool = _u(base_pool + delta * (i + 1) / n)
                if self.rng.random() < storm_share:
                    frame, vlan, out_if = self._storm_frame(leaf, lk)
                else:
                    frame, vlan, out_if = self._unicast_frame(leaf, lk)
                records: list[enc.Encodable] = [
                    enc.sampled_header_from_frame(frame),
                    enc.ExtendedSwitch(src_vlan=vlan, dst_vlan=vlan),
                ]
                out.append(enc.FlowSample(
                    source_index=ifx, sampling_rate=self.sampling_rate, sample_pool=pool,
                    drops=st.drops, input=ifx, output=out_if[1], output_format=out_if[0],
                    records=records,
                ))  # fmt: skip
        return out

    def _unicast_frame(self, leaf: Leaf, lk: Link) -> tuple[bytes, int, tuple[int, int]]:
        model = self.model
        talkers = self._talkers.get((leaf.name, lk.ifindex), [])
        if not talkers:
            hvs = model.link_hypervisors(lk)
            if not hvs:
                return self._storm_frame(leaf, lk)
            frame = _host_frame(self.rng, hvs[0], 0)
            return frame, 10, (enc.IF_FORMAT_SINGLE, FABRIC_UPLINKS[0])
        src = self.rng.choice(talkers)
        frame, dst = _vm_frame(self.rng, src, self._all_vms)
        ep = model.endpoint(dst) if dst is not None else None
        same_leaf = ep is not None and ep.leaf == leaf.name
        out_if = ep.ifindex if same_leaf and ep is not None else FABRIC_UPLINKS[0]
        return frame, src.vlan, (enc.IF_FORMAT_SINGLE, out_if)

    def _storm_frame(self, leaf: Leaf, lk: Link) -> tuple[bytes, int, tuple[int, int]]:
        # A loop replays the same broadcasts endlessly: ARP requests from endpoints of the
        # looped VLAN, arriving on the port that closes the loop.
        frame, vlan = _arp_frame(self.rng, self._all_vms, self._all_vms)
        flood = sum(1 for other in leaf.links.values() if other is not lk and other.oper_up)
        return frame, vlan, (enc.IF_FORMAT_MULTIPLE, flood)


# ------------------------------------------------------------------------ frames


def _host_frame(rng: random.Random, hv: Hypervisor, nic: int) -> bytes:
    """The host's own traffic (storage/management) to a fixed service address."""
    return enc.build_frame(hv.nic_macs[min(nic, len(hv.nic_macs) - 1)], ACI_GATEWAY_MAC, hv.ip,
                           "10.0.255.10", protocol="tcp", src_port=rng.randint(32768, 60999),
                           dst_port=3260, vlan=10, frame_size=1400)  # fmt: skip


def _vm_frame(
    rng: random.Random, src: VirtualMachine, all_vms: list[VirtualMachine]
) -> tuple[bytes, VirtualMachine | None]:
    """One frame ``src`` sends: to another VM (bridged in its VLAN, else routed through the
    ACI gateway MAC) or, alone, to the outside world. Returns the frame and its peer VM."""
    dst: VirtualMachine | None = None
    if len(all_vms) > 1:
        dst = rng.choice(all_vms)
        while dst is src:
            dst = rng.choice(all_vms)
    v6 = rng.random() < 0.2
    if dst is None:
        dst_mac = ACI_GATEWAY_MAC
        src_ip, dst_ip = (src.ip6, "2001:db8:ffff::10") if v6 else (src.ip, "198.51.100.10")
    else:
        dst_mac = ACI_GATEWAY_MAC if dst.vlan != src.vlan else dst.mac
        src_ip, dst_ip = (src.ip6, dst.ip6) if v6 else (src.ip, dst.ip)
    r = rng.random()
    if r < 0.75:
        proto, dport, size = "tcp", rng.choice((443, 443, 80, 3306, 5432)), 1500
    elif r < 0.95:
        proto, dport, size = "udp", rng.choice((53, 123, 4789, 8472)), 200
    else:
        proto, dport, size = "icmp", 1, 98
    size = rng.choice((size, size, 64 if proto == "tcp" else size))
    frame = enc.build_frame(
        src.mac, dst_mac, src_ip, dst_ip, protocol=proto,
        src_port=rng.randint(32768, 60999), dst_port=dport, vlan=src.vlan,
        frame_size=size, ttl=64, ident=rng.getrandbits(16),
    )  # fmt: skip
    return frame, dst


def _arp_frame(
    rng: random.Random, sources: list[VirtualMachine], all_vms: list[VirtualMachine]
) -> tuple[bytes, int]:
    """An ARP request broadcast from one of ``sources`` for a peer in its VLAN."""
    if not sources:
        vlan = VLANS[0]
        return enc.build_arp_frame("02:00:00:00:00:01", "10.100.0.1", "10.100.0.2", vlan=vlan), vlan
    src = rng.choice(sources)
    peers = [vm for vm in all_vms if vm.vlan == src.vlan and vm is not src] or [src]
    target = rng.choice(peers)
    return enc.build_arp_frame(src.mac, src.ip, target.ip, vlan=src.vlan), src.vlan


# --------------------------------------------------------------------------- scenarios


def _scenario_vm_migration(model: SflowModel, rng: random.Random) -> None:
    vms = sorted(model.vms)
    if not vms or len(model.hypervisors) < 2:
        return
    vm = model.vms[rng.choice(vms)]
    hosts = sorted(h for h in model.hypervisors if h != vm.host)
    model.migrate_vm(vm.name, rng.choice(hosts), duration_s=20.0)


def _scenario_link_failover(model: SflowModel, rng: random.Random) -> None:
    hv = model.hypervisors[rng.choice(sorted(model.hypervisors))]
    link = model.active_link(hv)
    if link is None:
        return
    model.link_down(link.leaf, link.ifindex)
    leaf, ifx = link.leaf, link.ifindex
    model.schedule(model.now + 30.0, lambda: model.link_up(leaf, ifx))


def _scenario_nic_flap(model: SflowModel, rng: random.Random) -> None:
    hv = rng.choice(sorted(model.hypervisors))
    model.start_nic_flap(hv, period_s=3.0)
    model.schedule(model.now + 30.0, lambda: model.stop_nic_flap(hv))


def _scenario_loop(model: SflowModel, rng: random.Random) -> None:
    leaf = model.leafs[rng.choice(sorted(model.leafs))]
    ports = sorted(ifx for ifx, lk in leaf.links.items() if not lk.fabric)
    ifx = rng.choice(ports)
    model.start_storm(leaf.name, ifx, pps=20000.0)
    model.schedule(model.now + 30.0, lambda: model.stop_storm(leaf.name, ifx))


SCENARIOS: dict[str, Callable[[SflowModel, random.Random], None]] = {
    "vm_migration": _scenario_vm_migration,
    "link_failover": _scenario_link_failover,
    "nic_flap": _scenario_nic_flap,
    "loop": _scenario_loop,
}


def schedule_scenario(model: SflowModel, name: str, *, at: float | None = None,
                      repeat_s: float | None = None, seed: int = 1) -> None:  # fmt: skip
    """Run scenario ``name`` at ``at`` (default: now), then every ``repeat_s`` if given."""
    fn = SCENARIOS[name]
    rng = random.Random(seed)

    def run() -> None:
        fn(model, rng)
        if repeat_s:
            model.schedule(model.now + repeat_s, run)

    model.schedule(model.now if at is None else at, run)


# --------------------------------------------------------------------------- fleet


class SflowAgentFleet:
    """Every agent of a model, sending over one UDP socket to the collector.

    ``tick(now)`` is the whole step (advance the model, collect due samples, send) and is
    deterministic; ``start()`` calls it from a daemon thread every ``flow_tick_s`` simulated
    seconds, with simulated time = start time + wall time × ``speed`` (or ``clock()`` if given,
    e.g. ``SimClock.now``).
    """

    def __init__(
        self,
        model: SflowModel,
        collector: tuple[str, int] = ("127.0.0.1", 6343),
        interval_s: float = 30.0,
        speed: float = 1.0,
        *,
        sampling_rate: int = 1000,
        flow_tick_s: float = 1.0,
        clock: Callable[[], float] | None = None,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.collector = collector
        self.speed = speed
        self.flow_tick_s = flow_tick_s
        self.interval_s = interval_s
        self.sampling_rate = sampling_rate
        self.seed = seed
        self._clock = clock
        self.agents: list[Agent] = []
        self._leaf_agents: set[str] = set()
        self._hv_agents: set[str] = set()
        self._sync_agents()
        family = socket.AF_INET6 if ":" in collector[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._t0_sim = model.now
        self._t0_mono = time.monotonic()
        self.datagrams_sent = 0
        self.bytes_sent = 0
        self.send_errors = 0

    def now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return self._t0_sim + (time.monotonic() - self._t0_mono) * self.speed

    def _sync_agents(self) -> None:
        """One agent per leaf and hypervisor, including those added while running (a bridge
        to the fabric simulator adds hypervisors when VMs land on new ports)."""
        model = self.model
        with model.lock:
            for name in sorted(set(model.leafs) - self._leaf_agents):
                self._leaf_agents.add(name)
                if not model.leafs[name].sflow:
                    continue  # an ACI leaf: no sFlow agent
                self.agents.append(
                    SwitchAgent(
                        model,
                        name,
                        self.interval_s,
                        sampling_rate=self.sampling_rate,
                        seed=self.seed,
                    )
                )
            for name in sorted(set(model.hypervisors) - self._hv_agents):
                self.agents.append(
                    HypervisorAgent(
                        model,
                        name,
                        self.interval_s,
                        sampling_rate=self.sampling_rate,
                        seed=self.seed,
                    )
                )
                self._hv_agents.add(name)  # fmt: skip

    def collect(self, now: float) -> list[bytes]:
        """Advance the model to ``now`` and return the datagrams due, without sending."""
        self.model.advance_to(now)
        if len(self.model.hypervisors) != len(self._hv_agents) or len(self.model.leafs) != len(
            self._leaf_agents
        ):
            self._sync_agents()
        out: list[bytes] = []
        for agent in self.agents:
            out.extend(agent.datagrams(now))
        return out

    def tick(self, now: float) -> list[bytes]:
        datagrams = self.collect(now)
        for dg in datagrams:
            try:
                self._sock.sendto(dg, self.collector)
                self.datagrams_sent += 1
                self.bytes_sent += len(dg)
            except OSError:
                # Nothing listening yet (ICMP port unreachable) or a full buffer: a real agent
                # just loses the datagram; the collector sees a sequence gap.
                self.send_errors += 1
        return datagrams

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._t0_sim, self._t0_mono = self.model.now, time.monotonic()
        if self._clock is None:
            self.model.clock = self.now  # mutators from other threads act at "now"
        self._thread = threading.Thread(target=self._run, name="sflow-agents", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = max(0.01, self.flow_tick_s / max(self.speed, 1e-6))
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.tick(self.now())
            except Exception:  # keep emitting: one bad tick must not kill the simulator
                log.exception("sFlow agent tick failed")
            self._stop.wait(max(0.0, period - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.model.clock == self.now:
            self.model.clock = None

    def close(self) -> None:
        self.stop()
        self._sock.close()

    def __enter__(self) -> SflowAgentFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_hostport(text: str, default_port: int = 6343) -> tuple[str, int]:
    """Parse "host:port", "[v6]:port" or a bare host."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, default_port
