"""The sFlow agents follow the fabric simulator (stage: simulators — fabric → sFlow bridge).

One world, two views. :class:`~simulators.fabric.SimulatedFabric` is the master: its endpoints,
leafs and ports, and the ground truth its scenarios record. :func:`bridge_fabric` derives an
:class:`~simulators.sflow_agents.SflowModel` from it and keeps it in step, so the sFlow agents
sit where a real ACI fabric has them and report what the APIC sees:

* **ACI leafs export NetFlow, not sFlow**: they are in the model only as the far end of the
  hosts' cables (no agent); leaf-side evidence comes from the APIC (eqptIngrPkts5min flood
  counters, MCP faults).
* hypervisors run hsflowd (Host sFlow) **and lldpd**: each NIC cabled to a leaf port appears in
  that leaf's ``lldpAdjEp`` with sysName = the Host sFlow hostname, portIdV = the NIC name
  (``ens1f0`` = hsflowd ifIndex 2), chassisIdV = the host's first NIC MAC (listed in its
  ``host_adapters``), mgmtIp = its sFlow agent address;
* a few non-ACI switches (``ext-sw1``… EOS-like and NX-OS-like, with sFlow agents) hang off leaf
  port ``eth1/47`` with an LLDP (and, NX-OS-like, CDP) adjacency;
* every endpoint is a VM (same MAC, first IP, EPG VLAN) on a hypervisor cabled to the endpoint's
  attachment: one hypervisor per access port — on a vPC pair the same port of both peers is one
  host's NIC team, where link failover sends it — per port-channel (the same ``poN`` on both
  peers: active and standby bundle) and per vPC (both legs); each VM is pinned to the NIC of
  the port the fabric learned it on;
* ``interface_down`` / ``interface_up`` → the leaf port's oper state: the hypervisor NIC on it
  reports oper-down and its counters stop; the team fails over to the standby NIC;
* a ``move`` with cause ``vm_migration`` (or ``stale_remote``, whose move is a migration too) →
  the VM leaves the source hypervisor's VM list for the destination's, and both hypervisors
  carry the migration's CPU and copy traffic for ``migration_s`` from the switchover;
* ``link_failover`` → the VM's traffic continues on the NIC cabled to the port it moved to;
* ``nic_teaming`` (also when the fabric suppresses the learn, since the host kept flapping) →
  the VM's virtual port is re-pinned from one NIC to the other, each time;
* ``loop`` → a broadcast storm on both looped ports for the length of the scenario run: the
  hosts cabled there send it and (the loop runs through them) receive it back — broadcast
  counters on their NICs;
* ``storm`` → the source host's NIC sends broadcasts for the length of the scenario run;
* a port going down withdraws its LLDP/CDP neighbour; coming back re-announces it.

The bridge learns of a migration at its switchover (the RARP that makes the fabric learn the
new place), so the copy load is drawn from then on rather than before it.
"""

from __future__ import annotations

import logging
import random
import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass

from simulators import adjacency
from simulators.adjacency import Neighbor
from simulators.fabric import Attachment, Endpoint, Node, SimulatedFabric, TruthRecord
from simulators.sflow_agents import (
    FABRIC_UPLINKS,
    Hypervisor,
    Link,
    SflowModel,
    VirtualMachine,
    _mac,
)

log = logging.getLogger(__name__)


@dataclass
class BridgeConfig:
    vm_net_bps: float = 5e6  # each way, per VM: keeps 1-in-1000 sampling light for a demo
    migration_s: float = 20.0  # how long a migration's extra load lasts
    migration_cpu: float = 25.0  # extra CPU percent on both hypervisors while migrating
    migration_bps: float = 2e9  # memory copy from the source to the destination
    storm_pps: float = 20000.0  # broadcast rate entering each looped port (when not in fabric)
    seed: int = 1
    external_switches: int = 2  # non-ACI switches with sFlow agents, one per other leaf
    external_port: str = "eth1/47"  # the leaf port they hang off (no endpoint attaches there)


HOST_OS = "Debian GNU/Linux 12 (bookworm) Linux 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC x86_64"
EOS_DESC = "Arista Networks EOS version 4.31.2F running on an Arista Networks DCS-7050SX3-48YC8"
NXOS_DESC = "Cisco Nexus Operating System (NX-OS) Software 9.3(9)"


def leaf_name(node_id: int) -> str:
    return f"leaf-{node_id}"


def port_index(if_id: str) -> int | None:
    """eth1/N → ifIndex N (the sFlow view of a front port); None for a port-channel."""
    if if_id.startswith("eth1/"):
        try:
            return int(if_id[5:])
        except ValueError:
            return None
    return None


class FabricSflowBridge:
    """Keeps an :class:`SflowModel` consistent with a fabric; see the module docstring."""

    def __init__(
        self, fab: SimulatedFabric, model: SflowModel, cfg: BridgeConfig | None = None
    ) -> None:
        self.fab = fab
        self.model = model
        self.cfg = cfg or BridgeConfig()
        self.rng = random.Random(self.cfg.seed)
        self.vm_of: dict[str, str] = {}  # lower-case MAC → VM name
        self.host_of_att: dict[str, str] = {}  # Attachment.describe() → hypervisor name
        self.host_of_team: dict[str, str] = {}  # team key (see _team_key) → hypervisor name
        # Leaf port → what it hears over LLDP/CDP; the first host cabled to a port owns it.
        self.neighbors: dict[tuple[int, str], Neighbor] = {}
        self.external: dict[str, tuple[int, str]] = {}  # external switch → (leaf, port)
        self._loops_started: set[int] = set()
        self.events = 0  # truth records mirrored into the model

    # ------------------------------------------------------------------ building
    def populate(self) -> None:
        fab, model = self.fab, self.model
        for i, node in enumerate(fab.leafs):
            model.add_leaf(leaf_name(node.id), node.id, f"192.0.2.{i + 1}", (), sflow=False)
        self._add_external_switches()
        for i, ep in enumerate(fab.ep_list):
            if ep.att is None:
                continue
            host = self.host_for(ep.att)
            self._add_vm(i + 1, ep, host)
            self._pin_home(self.vm_of[ep.mac.lower()], ep.att)

    def _add_external_switches(self) -> None:
        """Non-ACI switches (sFlow agents) cabled by their first uplink (``Ethernet49``) to
        ``external_port`` of every other leaf; odd ones EOS-like (LLDP), even ones NX-OS-like
        (LLDP + CDP)."""
        fab, cfg = self.fab, self.cfg
        leafs = fab.leafs[::2] or fab.leafs
        for k in range(min(cfg.external_switches, len(leafs))):
            node = leafs[k]
            name = f"ext-sw{k + 1}"
            nxos = k % 2 == 1
            mac = _mac(0x00, 0x2A if nxos else 0x1C, 0x73, 0xE0, 0x00, k + 1)
            agent = f"192.0.2.{101 + k}"
            self.model.add_leaf(name, 0, agent, (1, 2, 3, 4), chassis_mac=mac)
            uplink = FABRIC_UPLINKS[0]
            n = Neighbor(
                sys_name=name,
                port_id=f"Ethernet1/{uplink}" if nxos else f"Ethernet{uplink}",
                chassis_mac=mac,
                mgmt_ip=agent,
                sys_desc=NXOS_DESC if nxos else EOS_DESC,
                platform="N9K-C93180YC-FX" if nxos else "DCS-7050SX3-48YC8",
                serial=f"FDO2{k + 1:07d}" if nxos else "",
                capability="bridge,router",
                cdp=nxos,
            )
            self.external[name] = (node.id, cfg.external_port)
            self._cable(node.id, cfg.external_port, n)

    def _cable(self, node_id: int, port: str, n: Neighbor) -> None:
        """The leaf port hears ``n`` from now on (unless another device is cabled there)."""
        if (node_id, port) in self.neighbors:
            return
        self.neighbors[(node_id, port)] = n
        if self.fab.port_state.get((node_id, port), (True, 0.0))[0]:
            adjacency.announce(self.fab, node_id, port, n)

    def _announce_host(self, hv: Hypervisor) -> None:
        for i, (leaf, ifx) in enumerate(hv.uplinks):
            node_id = self.model.leafs[leaf].node_id
            n = Neighbor(
                sys_name=hv.name,  # lldpd and hsflowd both use the host name
                port_id=Hypervisor.nic_name(i),
                chassis_mac=hv.nic_macs[0],  # lldpd: the MAC of the first NIC
                mgmt_ip=hv.agent,  # hsflowd's agent address is the management address
                sys_desc=HOST_OS,
                capability="bridge,station",
            )
            self._cable(node_id, f"eth1/{ifx}", n)

    def _pin_home(self, vm_name: str, att: Attachment) -> None:
        """Pin a VM to the NIC of the port the fabric learned it on (a shared team's host has
        VMs on both sides)."""
        if att.kind not in ("eth", "pc"):
            return
        vm = self.model.vms[vm_name]
        hv = self.model.hypervisors[vm.host]
        ifx = port_index(att.members[0])
        key = (leaf_name(att.nodes[0].id), ifx)
        if ifx is not None and key in hv.uplinks:
            self.model.pin_vm(vm_name, hv.uplinks.index(key))

    def _add_vm(self, index: int, ep: Endpoint, host: str) -> None:
        vlan = ep.epg.vlan
        ip = ep.ips[0] if ep.ips else f"169.254.{index >> 8 & 0xFF}.{index & 0xFF}"
        vm = VirtualMachine(
            name=f"vm{index:04d}",
            index=index,
            uuid=str(uuid_mod.UUID(int=self.rng.getrandbits(128))),
            mac=ep.mac.lower(),
            ip=ip,
            ip6=f"fd00:{vlan:x}::{index:x}",
            vlan=vlan,
            host=host,
            cpu_load=10.0 + self.rng.random() * 20.0,
            net_bps=self.cfg.vm_net_bps,
        )
        self.model.add_vm(vm)
        self.vm_of[vm.mac] = vm.name

    def _team_key(self, att: Attachment) -> str:
        """Attachments that are one host's NIC team: the same access port or port-channel on
        both peers of a vPC pair."""
        pair = self.fab.vpc_of.get(att.nodes[0].id)
        if att.kind in ("eth", "pc") and pair is not None:
            return f"{pair.a.id}-{pair.b.id}:{att.if_id}"
        return att.describe()

    def _uplinks(self, att: Attachment) -> list[tuple[str, int]]:
        """The hypervisor NIC team for an attachment, in preference order."""
        fab = self.fab
        pair = fab.vpc_of.get(att.nodes[0].id)
        if att.kind == "pc" and pair is not None:
            members = [m for m in (port_index(x) for x in att.members) if m is not None]
            return [(leaf_name(n.id), m) for n in (pair.a, pair.b) for m in members]
        if att.kind == "eth" and pair is not None:
            ifx = port_index(att.if_id)
            assert ifx is not None
            return [(leaf_name(pair.a.id), ifx), (leaf_name(pair.b.id), ifx)]
        if att.kind == "eth":
            node = att.nodes[0]
            ifx = port_index(att.if_id)
            assert ifx is not None
            pair = fab.vpc_of.get(node.id)
            if pair is not None:
                standby: Node = pair.b if pair.a is node else pair.a
            else:
                leafs = fab.leafs
                standby = leafs[(leafs.index(node) + 1) % len(leafs)]
            team = [(leaf_name(node.id), ifx)]
            if standby is not node:
                team.append((leaf_name(standby.id), ifx))
            return team
        members = [m for m in (port_index(x) for x in att.members) if m is not None]
        return [(leaf_name(n.id), m) for n in att.nodes for m in members]

    def host_for(self, att: Attachment) -> str:
        """The hypervisor behind ``att`` (created, with its agent, on first use)."""
        key = att.describe()
        name = self.host_of_att.get(key)
        if name is not None:
            return name
        team = self._team_key(att)
        name = self.host_of_team.get(team)
        if name is not None:
            self.host_of_att[key] = name
            return name
        k = len(self.host_of_team) + 1
        pair = self.fab.vpc_of.get(att.nodes[0].id)
        nodes = (pair.a, pair.b) if pair is not None and att.kind != "vpc" else att.nodes
        ids = "-".join(str(n.id) for n in nodes)
        name = f"hv-{ids}-{att.if_id.replace('eth1/', 'e')}"
        uplinks = self._uplinks(att)
        self.model.add_hypervisor(
            Hypervisor(
                name=name,
                agent=f"10.254.{k // 250}.{k % 250 + 1}",
                uuid=str(uuid_mod.UUID(int=self.rng.getrandbits(128))),
                nic_macs=[
                    _mac(0x02, 0xFC, k >> 8, k & 0xFF, 0, 1 + i) for i in range(len(uplinks))
                ],
                uplinks=uplinks,
                ip=f"172.31.{k // 250}.{k % 250 + 1}",
            )
        )
        self.host_of_att[key] = name
        self.host_of_team[team] = name
        self._announce_host(self.model.hypervisors[name])
        return name

    def _attachment(self, nodes: tuple[int, ...], if_id: str) -> Attachment | None:
        if not nodes:
            return None
        for att in self.fab.attachments.get(nodes[0], []):
            if att.if_id == if_id and tuple(n.id for n in att.nodes) == tuple(nodes):
                return att
        return None

    def _link(self, node_id: int, if_id: str) -> Link | None:
        ifx = port_index(if_id)
        leaf = self.model.leafs.get(leaf_name(node_id))
        if ifx is None or leaf is None:
            return None
        return leaf.links.get(ifx)

    # ------------------------------------------------------------------ following
    def on_truth(self, rec: TruthRecord) -> None:
        handler: Callable[[TruthRecord], None] | None = {
            "interface_down": self._interface,
            "interface_up": self._interface,
            "loop": self._loop,
            "storm": self._storm,
            "move": self._move,
            "suppressed": self._move,
        }.get(rec.kind)
        if handler is None or (rec.kind in ("move", "suppressed") and rec.addr_type != "mac"):
            return
        handler(rec)
        self.events += 1

    def _interface(self, rec: TruthRecord) -> None:
        up = rec.kind == "interface_up"
        nodes, if_id = (
            (rec.to_nodes, rec.to_interface) if up else (rec.from_nodes, rec.from_interface)
        )
        for node_id in nodes:
            n = self.neighbors.get((node_id, if_id))
            if n is not None:  # LLDP/CDP: the neighbour goes with the link
                if up:
                    adjacency.announce(self.fab, node_id, if_id, n)
                else:
                    adjacency.withdraw(self.fab, node_id, if_id)
            link = self._link(node_id, if_id)
            if link is None:
                continue  # nothing of ours is cabled there
            if up:
                self.model.link_up(link.leaf, link.ifindex)
            else:
                self.model.link_down(link.leaf, link.ifindex)

    def _move(self, rec: TruthRecord) -> None:
        model = self.model
        vm_name = self.vm_of.get(rec.addr.lower())
        dst = self._attachment(rec.to_nodes, rec.to_interface)
        if vm_name is None or dst is None:
            return
        vm = model.vms[vm_name]
        cause = rec.cause
        if cause in ("link_failover", "nic_teaming") and dst.kind in ("eth", "pc"):
            # Same host, other NIC: cable it if the scenario chose a port we had not foreseen.
            ifx = port_index(dst.members[0])
            assert ifx is not None
            nic = model.attach_uplink(vm.host, leaf_name(dst.nodes[0].id), ifx)
            model.pin_vm(vm_name, nic)
            self._announce_host(model.hypervisors[vm.host])
            return
        if cause == "l2_loop":
            return  # the loop shows the MAC elsewhere; the VM itself stays where it is
        to_host = self.host_for(dst)
        if to_host == vm.host:
            self._pin_home(vm_name, dst)
            return
        from_host = vm.host
        model.migrate_vm(vm_name, to_host, duration_s=0.0)
        self._pin_home(vm_name, dst)
        if cause in ("vm_migration", "stale_remote"):
            c = self.cfg
            model.add_load(from_host, c.migration_s, cpu=c.migration_cpu, tx_bps=c.migration_bps)
            model.add_load(to_host, c.migration_s, cpu=c.migration_cpu, rx_bps=c.migration_bps)

    def _loop(self, rec: TruthRecord) -> None:
        if rec.run in self._loops_started:
            return  # one record per looping endpoint; one storm per loop
        self._loops_started.add(rec.run)
        ports = [(rec.from_nodes[:1], rec.from_interface), (rec.to_nodes[:1], rec.to_interface)]
        self._start_storms(rec, ports, looped=True)

    def _storm(self, rec: TruthRecord) -> None:
        self._start_storms(rec, [(rec.from_nodes[:1], rec.from_interface)], looped=False)

    def _start_storms(
        self, rec: TruthRecord, ports: list[tuple[tuple[int, ...], str]], *, looped: bool
    ) -> None:
        model = self.model
        storming: list[tuple[str, int]] = []
        books: list[list[float]] = []  # the fabric's flood spans of these ports
        for nodes, if_id in ports:
            ifx = port_index(if_id)
            if not nodes or ifx is None or leaf_name(nodes[0]) not in model.leafs:
                continue
            leaf = leaf_name(nodes[0])
            # The rate the fabric counts on that port (its flood book), else the default.
            spans = self.fab.floods.get((nodes[0], if_id))
            pps = spans[-1][2] if spans else self.cfg.storm_pps
            if spans:
                books.append(spans[-1])
            model.ensure_link(leaf, ifx)
            model.start_storm(leaf, ifx, pps=pps, looped=looped)
            storming.append((leaf, ifx))
        run = next((r for r in self.fab.scenarios.runs if r.id == rec.run), None)
        ends = run.ends_at if run is not None else rec.time + 15.0

        def stop() -> None:
            for leaf, ifx in storming:
                model.stop_storm(leaf, ifx)

        def settle() -> None:
            # Stop when the fabric's flood stops (within 1 s), not when the whole run ends: a
            # concurrent run outlasts its loop or storm, and the hosts' broadcast counters
            # must not go on after the leaf ports' flood counters went quiet.
            if all(b[1] != float("inf") for b in books) or model.now >= ends + 1.0:
                stop()
            else:
                model.schedule(model.now + 1.0, settle)

        if books:
            model.schedule(rec.time + 1.0, settle)
        else:
            model.schedule(ends + 1.0, stop)


def bridge_fabric(
    fab: SimulatedFabric, cfg: BridgeConfig | None = None
) -> tuple[SflowModel, FabricSflowBridge]:
    """An sFlow model of ``fab`` that follows its scenarios from now on (model time = the
    fabric's clock)."""
    model = SflowModel(start=fab.clock.now(), clock=fab.clock.now)
    bridge = FabricSflowBridge(fab, model, cfg)
    with fab.lock:
        bridge.populate()
        fab.add_truth_listener(bridge.on_truth)
    log.info(
        "sFlow view of the fabric: %d leafs, %d hypervisors, %d VMs",
        len(model.leafs),
        len(model.hypervisors),
        len(model.vms),
    )
    return model, bridge
