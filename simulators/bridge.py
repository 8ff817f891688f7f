"""The sFlow agents follow the fabric simulator (stage: simulators — fabric → sFlow bridge).

One world, two views. :class:`~simulators.fabric.SimulatedFabric` is the master: its endpoints,
leafs and ports, and the ground truth its scenarios record. :func:`bridge_fabric` derives an
:class:`~simulators.sflow_agents.SflowModel` from it and keeps it in step, so the hsflowd-like
hypervisors and EOS-like leafs report what the APIC sees:

* every endpoint is a VM (same MAC, first IP, EPG VLAN) on a hypervisor cabled to the endpoint's
  attachment: one hypervisor per access port (NIC team: that port + the same port on the vPC
  peer, where link failover sends it), per port-channel (its members) and per vPC (both legs);
* ``interface_down`` / ``interface_up`` → the leaf port's oper state: the hypervisor NIC on it
  reports oper-down and its counters stop; the team fails over to the standby NIC;
* a ``move`` with cause ``vm_migration`` (or ``stale_remote``, whose move is a migration too) →
  the VM leaves the source hypervisor's VM list for the destination's, and both hypervisors
  carry the migration's CPU and copy traffic for ``migration_s`` from the switchover;
* ``link_failover`` → the VM's traffic continues on the NIC cabled to the port it moved to;
* ``nic_teaming`` (also when the fabric suppresses the learn, since the host kept flapping) →
  the VM's virtual port is re-pinned from one NIC to the other, each time;
* ``loop`` → a broadcast storm on both looped ports for the length of the scenario run.

The bridge learns of a migration at its switchover (the RARP that makes the fabric learn the
new place), so the copy load is drawn from then on rather than before it.
"""

from __future__ import annotations

import logging
import random
import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass

from simulators.fabric import Attachment, Endpoint, Node, SimulatedFabric, TruthRecord
from simulators.sflow_agents import (
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
    storm_pps: float = 20000.0  # broadcast rate entering each looped port
    seed: int = 1


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
        self._loops_started: set[int] = set()
        self.events = 0  # truth records mirrored into the model

    # ------------------------------------------------------------------ building
    def populate(self) -> None:
        fab, model = self.fab, self.model
        for i, node in enumerate(fab.leafs):
            model.add_leaf(leaf_name(node.id), node.id, f"192.0.2.{i + 1}", ())
        for i, ep in enumerate(fab.ep_list):
            if ep.att is None:
                continue
            host = self.host_for(ep.att)
            self._add_vm(i + 1, ep, host)

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

    def _uplinks(self, att: Attachment) -> list[tuple[str, int]]:
        """The hypervisor NIC team for an attachment, in preference order."""
        fab = self.fab
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
        k = len(self.host_of_att) + 1
        ids = "-".join(str(n.id) for n in att.nodes)
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
        if cause in ("link_failover", "nic_teaming") and dst.kind == "eth":
            # Same host, other NIC: cable it if the scenario chose a port we had not foreseen.
            ifx = port_index(dst.if_id)
            assert ifx is not None
            nic = model.attach_uplink(vm.host, leaf_name(dst.nodes[0].id), ifx)
            model.pin_vm(vm_name, nic)
            return
        if cause == "l2_loop":
            return  # the loop shows the MAC elsewhere; the VM itself stays where it is
        to_host = self.host_for(dst)
        if to_host == vm.host:
            return
        from_host = vm.host
        model.migrate_vm(vm_name, to_host, duration_s=0.0)
        if cause in ("vm_migration", "stale_remote"):
            c = self.cfg
            model.add_load(from_host, c.migration_s, cpu=c.migration_cpu, tx_bps=c.migration_bps)
            model.add_load(to_host, c.migration_s, cpu=c.migration_cpu, rx_bps=c.migration_bps)

    def _loop(self, rec: TruthRecord) -> None:
        if rec.run in self._loops_started:
            return  # one record per looping endpoint; one storm per loop
        self._loops_started.add(rec.run)
        ports = [(rec.from_nodes[:1], rec.from_interface), (rec.to_nodes[:1], rec.to_interface)]
        model = self.model
        storming: list[tuple[str, int]] = []
        for nodes, if_id in ports:
            ifx = port_index(if_id)
            if not nodes or ifx is None or leaf_name(nodes[0]) not in model.leafs:
                continue
            leaf = leaf_name(nodes[0])
            model.ensure_link(leaf, ifx)
            model.start_storm(leaf, ifx, pps=self.cfg.storm_pps)
            storming.append((leaf, ifx))
        run = next((r for r in self.fab.scenarios.runs if r.id == rec.run), None)
        ends = run.ends_at if run is not None else rec.time + 15.0

        def stop() -> None:
            for leaf, ifx in storming:
                model.stop_storm(leaf, ifx)

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
