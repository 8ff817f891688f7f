"""Endpoint learning rules of the simulated fabric (stage: simulators — per-leaf table changes).

Implements the behaviour described in seed 001 ("Controlling Endpoint Learning") on top of the
model in ``fabric.py``.  Every function takes the fabric lock, groups its object changes in one
event batch, and returns the :class:`TruthRecord` it recorded (or ``None`` when learning was
suppressed).

* :func:`move_endpoint` — a data-plane learn at a new attachment.  New leaf(s): local
  ``epmMacEp``/``epmIpEp`` (+ ``epmRsMacEpToIpEpAtt``), flags ``local,mac`` / ``ip,local`` (plus
  ``vpc-attached`` on a vPC), ``ifId`` = port / ``poN``, DN with ``vlan-[vlan-N]``.  Old leaf
  (COOP tells it): local entries deleted, a **bounce** entry (``bounce,mac`` / ``bounce,ip``,
  ``ifId`` = tunnel to the new leaf) created that ages out after ``bounceAgeIntvl`` (630 s).
  Leafs with XR entries (``mac`` / ``ip``, tunnel ``ifId``): ``modified`` with the new tunnel,
  except the ones listed in ``stale_nodes`` (the stale-entry scenario).
* Rogue EP control (default on): more than ``rogue_factor`` moves of one MAC (or one IP, counted
  separately) within ``rogue_interval`` → the move is refused, the endpoint stays "static" where
  it was, a ``faultInst`` is raised; after ``rogue_hold`` the fault clears and the endpoint is
  deleted, then relearned where it sits.
* With rogue control off: EP loop protection (same endpoint moving more than ``loop_factor``
  times in ``loop_interval`` → BD learning disabled for ``hold_interval`` or the port disabled,
  plus a fault) and move dampening (more than ``move_frequency`` moves per second in a BD →
  BD learning disabled for ``hold_interval``).
* :func:`port_down` — ``ethpmPhysIf.operSt`` down flushes the local entries on that port
  (no bounce: the leaf withdrew them from COOP itself).
* :func:`move_ip` — one IP re-learned behind another MAC (duplicate IP / NIC teaming with
  different MACs).
* :func:`learn_ip` — a new IP on a MAC; outside every BD subnet it is the offsubnet case.
* :func:`silence` — the host stops talking: local entries age after ``localEpAgeIntvl`` (900 s),
  XR entries after ``remoteEpAgeIntvl`` (300 s).

Steady-state entries carry no aging timer (traffic keeps them alive); only entries these rules
create with a deadline (bounce, silenced) age.  Stale XR entries left by the stale scenario are
deliberately never aged, which is what makes them stale.
"""

from __future__ import annotations

from simulators.fabric import (
    LOOP_FAULT_CAUSE,
    LOOP_FAULT_CODE,
    ROGUE_FAULT_CAUSE,
    ROGUE_FAULT_CODE,
    Attachment,
    Endpoint,
    EpmEntry,
    MoEvent,
    Node,
    SimulatedFabric,
    TruthRecord,
    fmt_ts,
)
from simulators.loop_faults import clear_fault, fault_attrs

_ATTR_OF = {"flags": "flags", "if_id": "ifId", "pc_tag": "pcTag"}


# ---------------------------------------------------------------------- entry primitives


def _table(fab: SimulatedFabric, node: Node, is_ip: bool) -> dict[tuple[int, str], EpmEntry]:
    return (fab.ip_tables if is_ip else fab.mac_tables)[node.id]


def _emit_entry(
    fab: SimulatedFabric, e: EpmEntry, status: str, changed: tuple[str, ...] = ()
) -> None:
    cls = "epmIpEp" if e.is_ip else "epmMacEp"
    attrs = fab.epm_attrs(e)
    fab.emit(MoEvent(cls, attrs["dn"], status, attrs, changed))


def _emit_rs(fab: SimulatedFabric, e: EpmEntry, status: str) -> None:
    if e.is_ip and e.local and e.rw_mac:
        attrs = fab.rs_attrs(e)
        fab.emit(MoEvent("epmRsMacEpToIpEpAtt", attrs["dn"], status, attrs))


def delete_entry(fab: SimulatedFabric, node: Node, is_ip: bool, key: tuple[int, str]) -> bool:
    table = _table(fab, node, is_ip)
    old = table.pop(key, None)
    if old is None:
        return False
    old.mod_ts = fab.clock.now()
    _emit_rs(fab, old, "deleted")
    _emit_entry(fab, old, "deleted")
    return True


def apply_entry(fab: SimulatedFabric, desired: EpmEntry) -> EpmEntry:
    """Make the leaf hold ``desired``: modify in place when the DN is unchanged (partial
    ``modified`` event), otherwise delete the old object and create the new one."""
    table = _table(fab, desired.node, desired.is_ip)
    key = fab.entry_key(desired)
    old = table.get(key)
    now = fab.clock.now()
    if old is not None and old.dn() == desired.dn():
        changed = [
            attr for slot, attr in _ATTR_OF.items() if getattr(old, slot) != getattr(desired, slot)
        ]
        rw_changed = old.rw_mac != desired.rw_mac
        old.expires = desired.expires
        if not changed and not rw_changed:
            return old
        if rw_changed:
            _emit_rs(fab, old, "deleted")
        old.flags, old.if_id, old.pc_tag = desired.flags, desired.if_id, desired.pc_tag
        old.rw_mac = desired.rw_mac
        old.mod_ts = now
        if changed:
            _emit_entry(fab, old, "modified", (*changed, "modTs"))
        if rw_changed:
            _emit_rs(fab, old, "created")
        return old
    if old is not None:
        delete_entry(fab, desired.node, desired.is_ip, key)
    desired.create_ts = desired.mod_ts = now
    table[key] = desired
    _emit_entry(fab, desired, "created")
    _emit_rs(fab, desired, "created")
    return desired


def _schedule_expiry(fab: SimulatedFabric, e: EpmEntry, kind: str, scenario: str, run: int) -> None:
    assert e.expires is not None
    due = e.expires

    def expire() -> None:
        with fab.lock, fab.batch():
            table = _table(fab, e.node, e.is_ip)
            key = fab.entry_key(e)
            # Only if the very same entry is still there with the same deadline: a relearn or a
            # conversion (bounce -> XR) in between cancels the aging.
            if table.get(key) is not e or e.expires != due:
                return
            delete_entry(fab, e.node, e.is_ip, key)
            bd = fab.bd_by_vnid.get(e.bd)
            fab.record(
                TruthRecord(
                    kind=kind,
                    addr=e.addr,
                    addr_type="ipv4" if e.is_ip else "mac",
                    vnid=e.vrf if e.is_ip else e.bd,
                    bd=bd.name if bd else "",
                    time=fab.clock.now(),
                    cause="aging",
                    scenario=scenario,
                    run=run,
                    from_nodes=(e.node.id,),
                    from_interface=e.if_id,
                    detail=f"{e.flags} entry aged out",
                )
            )

    fab.clock.call_at(due, expire)


def _truth(
    fab: SimulatedFabric,
    kind: str,
    ep: Endpoint,
    *,
    cause: str,
    scenario: str,
    run: int,
    src: Attachment | None,
    dst: Attachment | None,
    addr: str | None = None,
    detail: str = "",
) -> TruthRecord:
    is_ip = addr is not None and addr != ep.mac
    bd = ep.bd
    return fab.record(
        TruthRecord(
            kind=kind,
            addr=addr or ep.mac,
            addr_type="ipv4" if is_ip else "mac",
            vnid=bd.vrf.vnid if is_ip else bd.vnid,
            bd=bd.name,
            time=fab.clock.now(),
            cause=cause,
            scenario=scenario,
            run=run,
            from_nodes=tuple(n.id for n in src.nodes) if src else (),
            from_interface=src.if_id if src else "",
            from_encap=ep.epg.encap if src else "",
            to_nodes=tuple(n.id for n in dst.nodes) if dst else (),
            to_interface=dst.if_id if dst else "",
            to_encap=ep.epg.encap if dst else "",
            detail=detail,
        )
    )


# ------------------------------------------------------------------------ move checks


def _rogue_check(
    fab: SimulatedFabric,
    ep: Endpoint,
    key: tuple[str, int, str],
    dst: Attachment,
    now: float,
    scenario: str,
    run: int,
    addr: str | None = None,
) -> bool:
    """Count one move; True when this move makes the endpoint rogue (and is refused)."""
    pol = fab.policy
    log = [m for m in fab.move_log.get(key, []) if m[0] > now - pol.rogue_interval]
    if len(log) >= pol.rogue_factor:
        fab.move_log[key] = []
        ep.rogue_until = now + pol.rogue_hold
        held = ep.att
        _raise_rogue_fault(fab, ep, now, addr)
        _truth(
            fab,
            "rogue",
            ep,
            cause="rogue-ep-control",
            scenario=scenario,
            run=run,
            src=held,
            dst=dst,
            addr=addr,
            detail=f"{len(log) + 1} moves in {pol.rogue_interval:.0f}s > factor "
            f"{pol.rogue_factor}; held on {held.describe() if held else '-'} for "
            f"{pol.rogue_hold:.0f}s",
        )
        fab.clock.call_at(ep.rogue_until, lambda: _rogue_release(fab, ep, scenario, run, addr))
        return True
    log.append((now, dst.describe()))
    fab.move_log[key] = log
    return False


def _rogue_fault_dn(ep: Endpoint, addr: str | None) -> str | None:
    if ep.att is None:
        return None
    node = ep.att.nodes[0]
    bd = ep.bd
    base = (
        f"{node.prefix}/sys/ctx-[vxlan-{bd.vrf.vnid}]/bd-[vxlan-{bd.vnid}]/"
        f"vlan-[vlan-{ep.epg.vlan}]/db-ep"
    )
    leaf_rn = f"ip-[{addr}]" if addr and addr != ep.mac else f"mac-{ep.mac}"
    return f"{base}/{leaf_rn}/fault-{ROGUE_FAULT_CODE}"


def _raise_rogue_fault(fab: SimulatedFabric, ep: Endpoint, now: float, addr: str | None) -> None:
    dn = _rogue_fault_dn(ep, addr)
    if dn is None:
        return
    node = ep.att.nodes[0] if ep.att else None
    what = f"IP {addr}" if addr and addr != ep.mac else f"MAC {ep.mac}"
    descr = (
        f"Rogue endpoint {what} in BD {ep.bd.name} detected on node "
        f"{node.id if node else '-'} interface {ep.att.if_id if ep.att else '-'}: more than "
        f"{fab.policy.rogue_factor} moves in {fab.policy.rogue_interval:.0f} seconds"
    )
    fab.emit_static(
        "faultInst",
        fault_attrs(
            dn, ROGUE_FAULT_CODE, ROGUE_FAULT_CAUSE, descr, now, "rogue-endpoint", domain="infra"
        ),
        "created",
    )


def _rogue_release(
    fab: SimulatedFabric, ep: Endpoint, scenario: str, run: int, addr: str | None
) -> None:
    with fab.lock, fab.batch():
        now = fab.clock.now()
        if ep.rogue_until > now + 1e-6:
            return
        dn = _rogue_fault_dn(ep, addr)
        for fdn, attrs in list(fab.static.get("faultInst", {}).items()):
            if fdn == dn or (attrs.get("cause") == ROGUE_FAULT_CAUSE and f"-{ep.mac}/" in fdn):
                fab.emit_static("faultInst", {"dn": fdn}, "deleted")
        held = ep.att
        # "After the hold interval, rogue endpoints will be deleted" (seed 001).
        if held is not None:
            _flush_endpoint(fab, ep, held.nodes)
        _truth(
            fab,
            "rogue_cleared",
            ep,
            cause="rogue-hold-expired",
            scenario=scenario,
            run=run,
            src=held,
            dst=None,
            addr=addr,
        )
        if held is not None and not ep.silent:
            # The host is still there and talking: the next packet relearns it where it sits.
            def relearn() -> None:
                move_endpoint(fab, ep, held, cause="relearn", scenario=scenario, run=run)

            fab.clock.call_later(1.0, relearn)


def _loop_and_dampening(
    fab: SimulatedFabric, ep: Endpoint, dst: Attachment, now: float, scenario: str, run: int
) -> bool:
    """EP loop protection and move dampening; only active when rogue control is off."""
    pol = fab.policy
    bd = ep.bd
    if pol.dampening:
        blog = [t for t in fab.bd_move_log.get(bd.vnid, []) if t > now - 1.0]
        blog.append(now)
        fab.bd_move_log[bd.vnid] = blog
        if len(blog) > pol.move_frequency:
            _disable_bd(fab, ep, now, "move-dampening", scenario, run, dst)
            return True
    if pol.loop_protection:
        key = ("loop", bd.vnid, ep.mac)
        log = [m for m in fab.move_log.get(key, []) if m[0] > now - pol.loop_interval]
        log.append((now, dst.describe()))
        fab.move_log[key] = log
        if len(log) > pol.loop_factor:
            fab.move_log[key] = []
            if pol.loop_action == "port-disable":
                node = dst.nodes[0]
                port = dst.members[0]
                port_down(
                    fab,
                    node.id,
                    port,
                    cause="ep-loop-protection",
                    scenario=scenario,
                    run=run,
                    qual="error-disabled",
                )
                _truth(
                    fab,
                    "loop",
                    ep,
                    cause="ep-loop-protection",
                    scenario=scenario,
                    run=run,
                    src=ep.att,
                    dst=dst,
                    detail=f"port {node.id}/{port} disabled",
                )
            else:
                _disable_bd(fab, ep, now, "ep-loop-protection", scenario, run, dst)
            return True
    return False


def _disable_bd(
    fab: SimulatedFabric,
    ep: Endpoint,
    now: float,
    why: str,
    scenario: str,
    run: int,
    dst: Attachment,
) -> None:
    bd = ep.bd
    until = now + fab.policy.hold_interval
    fab.bd_learn_disabled[bd.vnid] = until
    node = dst.nodes[0]
    dn = f"{node.prefix}/sys/ctx-[vxlan-{bd.vrf.vnid}]/bd-[vxlan-{bd.vnid}]/fault-{LOOP_FAULT_CODE}"
    fab.emit_static(
        "faultInst",
        fault_attrs(
            dn,
            LOOP_FAULT_CODE,
            LOOP_FAULT_CAUSE,
            f"BD {bd.name}: endpoint learning disabled for {fab.policy.hold_interval:.0f}s ({why})",
            now,
            "bd-learn-disable",
            domain="infra",
        ),
        "created",
    )
    _truth(
        fab,
        "loop",
        ep,
        cause=why,
        scenario=scenario,
        run=run,
        src=ep.att,
        dst=dst,
        detail=f"learning disabled in BD {bd.name} until {fmt_ts(until)}",
    )

    def release() -> None:
        with fab.lock, fab.batch():
            if fab.bd_learn_disabled.get(bd.vnid, 0) <= fab.clock.now() + 1e-6:
                fab.bd_learn_disabled.pop(bd.vnid, None)
                clear_fault(fab, dn)  # raised-clearing → retaining → deleted, as the APIC does

    fab.clock.call_at(until, release)


# -------------------------------------------------------------------------- relocation


def _flush_endpoint(fab: SimulatedFabric, ep: Endpoint, nodes: tuple[Node, ...]) -> None:
    bd = ep.bd
    for node in nodes:
        delete_entry(fab, node, False, (bd.vnid, ep.mac))
        for ip in ep.ips:
            e = fab.ip_tables[node.id].get((bd.vrf.vnid, ip))
            if e is not None and e.local:
                delete_entry(fab, node, True, (bd.vrf.vnid, ip))
    if ep.att is not None and all(
        (bd.vnid, ep.mac) not in fab.mac_tables[n.id] for n in ep.att.nodes
    ):
        ep.att = None


def _emit_cep_path(fab: SimulatedFabric, ep: Endpoint, old: Attachment | None) -> None:
    if old is not None:
        t = old.path_dn
        fab.emit(
            MoEvent(
                "fvRsCEpToPathEp",
                f"{ep.dn}/rscEpToPathEp-[{t}]",
                "deleted",
                {"dn": f"{ep.dn}/rscEpToPathEp-[{t}]", "tDn": t, "modTs": fmt_ts(fab.clock.now())},
            )
        )
    rs = fab.cep_path_attrs(ep)
    if rs is not None:
        fab.emit(MoEvent("fvRsCEpToPathEp", rs["dn"], "created", rs))
    cep = fab.cep_attrs(ep)
    cep["modTs"] = fmt_ts(fab.clock.now())
    fab.emit(MoEvent("fvCEp", ep.dn, "modified", cep, ("fabricPathDn",)))
    for ip in ep.ips:
        a = fab.fvip_attrs(ep, ip)
        a["modTs"] = cep["modTs"]
        fab.emit(MoEvent("fvIp", a["dn"], "modified", a, ("fabricPathDn",)))


def _relocate(
    fab: SimulatedFabric,
    ep: Endpoint,
    dst: Attachment,
    now: float,
    stale_nodes: frozenset[int],
    scenario: str,
    run: int,
) -> None:
    old = ep.att
    bd = ep.bd
    new_ids = {n.id for n in dst.nodes}
    for _node, entry in fab.desired_local(ep, dst, now):
        apply_entry(fab, entry)
    if old is not None:
        for node in old.nodes:
            if node.id in new_ids:
                continue
            # COOP only bounces a leaf that still had the endpoint as local.
            if (bd.vnid, ep.mac) not in fab.mac_tables[node.id]:
                continue
            for entry in fab.desired_remote(ep, node, dst, now, bounce=True):
                entry.expires = now + fab.policy.bounce_age
                kept = apply_entry(fab, entry)
                _schedule_expiry(fab, kept, "bounce_expired", scenario, run)
    ep.partners = tuple(p for p in ep.partners if p.id not in new_ids)
    for p in ep.partners:
        if p.id in stale_nodes:
            continue
        for entry in fab.desired_remote(ep, p, dst, now):
            apply_entry(fab, entry)
    ep.att = dst
    _emit_cep_path(fab, ep, old)


def move_endpoint(
    fab: SimulatedFabric,
    ep: Endpoint,
    dst: Attachment,
    *,
    cause: str,
    scenario: str = "",
    run: int = 0,
    stale_nodes: frozenset[int] = frozenset(),
    kind: str = "move",
    prev: Attachment | None = None,
) -> TruthRecord | None:
    """Data-plane learn of ``ep`` at ``dst`` (a move when it was learned elsewhere).

    ``prev``: where the endpoint was before it got flushed (link failover), so the truth
    still says "move from prev" although the tables no longer hold the old location."""
    with fab.lock, fab.batch():
        now = fab.clock.now()
        old = ep.att
        if old is dst:
            return None
        if ep.rogue_until > now:
            return _truth(
                fab,
                "suppressed",
                ep,
                cause="rogue-hold",
                scenario=scenario,
                run=run,
                src=old,
                dst=dst,
                detail="learning frozen for a rogue endpoint",
            )
        until = fab.bd_learn_disabled.get(ep.bd.vnid, 0.0)
        if until > now:
            return _truth(
                fab,
                "suppressed",
                ep,
                cause="bd-learn-disabled",
                scenario=scenario,
                run=run,
                src=old,
                dst=dst,
            )
        if old is not None:
            if fab.policy.rogue_enabled:
                if _rogue_check(fab, ep, ("mac", ep.bd.vnid, ep.mac), dst, now, scenario, run):
                    return None
            elif _loop_and_dampening(fab, ep, dst, now, scenario, run):
                return None
        _relocate(fab, ep, dst, now, stale_nodes, scenario, run)
        src = old or prev
        return _truth(
            fab,
            kind if src is not None else "learn",
            ep,
            cause=cause,
            scenario=scenario,
            run=run,
            src=src,
            dst=dst,
        )


def port_down(
    fab: SimulatedFabric,
    node_id: int,
    port: str,
    *,
    cause: str = "link-down",
    scenario: str = "",
    run: int = 0,
    qual: str = "link-failure",
) -> list[Endpoint]:
    """Bring a port oper-down; flush the local endpoints learned on it.  Returns them."""
    with fab.lock, fab.batch():
        node = fab.leaf(node_id)
        now = fab.clock.now()
        fab.port_state[(node_id, port)] = (False, now)
        attrs = fab.port_attrs(node, port)
        attrs["operStQual"] = qual
        fab.emit(
            MoEvent(
                "ethpmPhysIf",
                attrs["dn"],
                "modified",
                attrs,
                ("operSt", "operStQual", "operSpeed", "lastLinkStChg", "usage"),
            )
        )
        affected = {port}
        po = fab.port_bundle.get((node_id, port))
        if po is not None:
            members = [m for (n, m), b in fab.port_bundle.items() if n == node_id and b == po]
            if all(not fab.port_state.get((node_id, m), (True, 0.0))[0] for m in members):
                affected.add(po)
        flushed = [
            ep
            for ep in fab.ep_list
            if ep.att is not None and node in ep.att.nodes and ep.att.if_id in affected
        ]
        for ep in flushed:
            _flush_endpoint(fab, ep, (node,))
        fab.record(
            TruthRecord(
                kind="interface_down",
                addr="",
                addr_type="",
                vnid=0,
                bd="",
                time=now,
                cause=cause,
                scenario=scenario,
                run=run,
                from_nodes=(node_id,),
                from_interface=port,
                detail=f"{len(flushed)} endpoints flushed",
            )
        )
        return flushed


def port_up(
    fab: SimulatedFabric, node_id: int, port: str, *, scenario: str = "", run: int = 0
) -> None:
    with fab.lock, fab.batch():
        node = fab.leaf(node_id)
        now = fab.clock.now()
        fab.port_state[(node_id, port)] = (True, now)
        attrs = fab.port_attrs(node, port)
        fab.emit(
            MoEvent(
                "ethpmPhysIf",
                attrs["dn"],
                "modified",
                attrs,
                ("operSt", "operStQual", "operSpeed", "lastLinkStChg", "usage"),
            )
        )
        fab.record(
            TruthRecord(
                kind="interface_up",
                addr="",
                addr_type="",
                vnid=0,
                bd="",
                time=now,
                cause="link-up",
                scenario=scenario,
                run=run,
                to_nodes=(node_id,),
                to_interface=port,
            )
        )


def move_ip(
    fab: SimulatedFabric, ip: str, dst_ep: Endpoint, *, cause: str, scenario: str = "", run: int = 0
) -> TruthRecord | None:
    """Re-learn ``ip`` behind ``dst_ep``'s MAC (and location): the duplicate-IP case."""
    with fab.lock, fab.batch():
        now = fab.clock.now()
        vrf = dst_ep.bd.vrf.vnid
        src_ep = fab.ip_owner.get((vrf, ip))
        if src_ep is dst_ep or dst_ep.att is None:
            return None
        if (
            fab.policy.rogue_enabled
            and src_ep is not None
            and _rogue_check(fab, src_ep, ("ip", vrf, ip), dst_ep.att, now, scenario, run, addr=ip)
        ):
            return None
        dst = dst_ep.att
        new_ids = {n.id for n in dst.nodes}
        if src_ep is not None:
            src_ep.ips = tuple(i for i in src_ep.ips if i != ip)
            fab.emit(
                MoEvent(
                    "fvIp",
                    f"{src_ep.dn}/ip-[{ip}]",
                    "deleted",
                    {"dn": f"{src_ep.dn}/ip-[{ip}]", "modTs": fmt_ts(now)},
                )
            )
        dst_ep.ips = (*dst_ep.ips, ip)
        fab.ip_owner[(vrf, ip)] = dst_ep
        for _node, entry in fab.desired_local(dst_ep, dst, now, ips=(ip,)):
            if entry.is_ip:
                apply_entry(fab, entry)
        partners = set(dst_ep.partners)
        if src_ep is not None and src_ep.att is not None:
            for node in src_ep.att.nodes:
                if node.id in new_ids:
                    continue
                old = fab.ip_tables[node.id].get((vrf, ip))
                if old is None or not old.local:
                    continue
                for entry in fab.desired_remote(dst_ep, node, dst, now, bounce=True, ips=(ip,)):
                    if entry.is_ip:
                        entry.expires = now + fab.policy.bounce_age
                        kept = apply_entry(fab, entry)
                        _schedule_expiry(fab, kept, "bounce_expired", scenario, run)
            partners.update(src_ep.partners)
        for p in partners:
            if p.id in new_ids or (src_ep and src_ep.att and p in src_ep.att.nodes):
                continue
            e = fab.ip_tables[p.id].get((vrf, ip))
            if e is not None and e.expires is not None:
                continue  # a bounce entry stays a bounce entry until it ages
            for entry in fab.desired_remote(dst_ep, p, dst, now, ips=(ip,)):
                if entry.is_ip:
                    apply_entry(fab, entry)
        a = fab.fvip_attrs(dst_ep, ip)
        fab.emit(MoEvent("fvIp", a["dn"], "created", a))
        rec = fab.record(
            TruthRecord(
                kind="duplicate_ip",
                addr=ip,
                addr_type="ipv4",
                vnid=vrf,
                bd=dst_ep.bd.name,
                time=now,
                cause=cause,
                scenario=scenario,
                run=run,
                from_nodes=tuple(n.id for n in src_ep.att.nodes) if src_ep and src_ep.att else (),
                from_interface=src_ep.att.if_id if src_ep and src_ep.att else "",
                from_encap=src_ep.epg.encap if src_ep else "",
                to_nodes=tuple(n.id for n in dst.nodes),
                to_interface=dst.if_id,
                to_encap=dst_ep.epg.encap,
                detail=f"mac {src_ep.mac if src_ep else '-'} -> {dst_ep.mac}",
            )
        )
        return rec


def learn_ip(
    fab: SimulatedFabric, ep: Endpoint, ip: str, *, cause: str, scenario: str = "", run: int = 0
) -> TruthRecord | None:
    """A new IP seen behind ``ep``; records ``offsubnet`` when no BD subnet contains it."""
    import ipaddress

    with fab.lock, fab.batch():
        if ep.att is None:
            return None
        bd = ep.bd
        inside = ipaddress.ip_address(ip) in bd.subnet
        if not inside and fab.policy.enforce_subnet_check:
            return _truth(
                fab,
                "suppressed",
                ep,
                cause="enforce-subnet-check",
                scenario=scenario,
                run=run,
                src=None,
                dst=ep.att,
                addr=ip,
            )
        now = fab.clock.now()
        ep.ips = (*ep.ips, ip)
        fab.ip_owner[(bd.vrf.vnid, ip)] = ep
        for _node, entry in fab.desired_local(ep, ep.att, now, ips=(ip,)):
            if entry.is_ip:
                apply_entry(fab, entry)
        for p in ep.partners:
            for entry in fab.desired_remote(ep, p, ep.att, now, ips=(ip,)):
                if entry.is_ip:
                    apply_entry(fab, entry)
        a = fab.fvip_attrs(ep, ip)
        fab.emit(MoEvent("fvIp", a["dn"], "created", a))
        return _truth(
            fab,
            "learn" if inside else "offsubnet",
            ep,
            cause=cause,
            scenario=scenario,
            run=run,
            src=None,
            dst=ep.att,
            addr=ip,
            detail="" if inside else f"{ip} outside BD {bd.name} subnet {bd.subnet}",
        )


def silence(fab: SimulatedFabric, ep: Endpoint, *, scenario: str = "", run: int = 0) -> None:
    """The host goes quiet: start local (900 s) and remote (300 s) aging of its entries."""
    with fab.lock:
        ep.silent = True
        now = fab.clock.now()
        bd = ep.bd
        for node_id in list(fab.mac_tables):
            entries = [fab.mac_tables[node_id].get((bd.vnid, ep.mac))]
            entries += [fab.ip_tables[node_id].get((bd.vrf.vnid, ip)) for ip in ep.ips]
            for e in entries:
                if e is None or e.expires is not None:
                    continue
                e.expires = now + (fab.policy.local_age if e.local else fab.policy.remote_age)
                _schedule_expiry(fab, e, "aged", scenario, run)
