"""Loop-related faults of the simulated fabric (stage: simulators — faultInst lifecycle).

Two ACI mechanisms report a Layer-2 loop at the edge (reference §2.4):

* **MCP** (MisCabling Protocol): a leaf receives its own MCP PDU back and acts on *the interface
  on which it received its own packet*: a fault only, or err-disabling that interface (Cisco,
  "Using MCP (MisCabling Protocol) for ACI", aci-guide-using-mcp-mis-cabling-protocol.pdf). The
  APIC models the MCP side of a port as ``mcp:If`` with DN
  ``topology/pod-{id}/node-{id}/sys/mcp/inst/if-{[id]}`` and flags it ``HasFaults: true`` (APIC
  Management Information Model reference, pubhub.devnetcloud.com/media/apic-mim-ref-*/docs/
  MO-mcpIf.html), and a faultInst DN is always ``<affected-mo-dn>/fault-<code>``; so the
  simulator raises its MCP fault on that object:
  ``topology/pod-P/node-N/sys/mcp/inst/if-[eth1/5]/fault-F2533`` (cause ``mcp-loop-detected``).
  The simulated action is "notify" (fault only), so the loop keeps playing for the scenario's
  length; with "port disable" the same port would go err-disabled.
* **EP loop protection** (an endpoint learned back and forth between the same two interfaces more
  than ``loopDetectMult`` times in ``loopDetectIntvl``; ``uni/infra/epLoopProtectP-default``,
  actions ``bd-learn-disable`` and/or ``port-disable`` — netascode.cisco.com data model "EP Loop
  Protection"). With the BD-learn-disable action the leaf stops learning in the BD (a leaf log of
  it, quoted in Cisco bug CSCvo88762: "epmc_loop_detect_action: Disabling learn on vlan 10 mac
  … due to loop between 0x18010004 and 0x16000001"), so ``learning.py`` raises its fault on the
  leaf's BD: ``…/sys/ctx-[vxlan-V]/bd-[vxlan-B]/fault-F3012`` (``ep-loop-detected``).

The fault *codes* (F2533, F3012) and causes could not be confirmed from any public source the
project's search tools hold (searched: Cisco docs/MIM pages, ACI-Pre-Upgrade-Validation-Script,
aci-exporter, cobra/acitoolkit code, GitHub issues; none names the MCP or EP-loop faultInst code).
They stay simulator choices; the poller matches a fault by code **or** by a ``cause`` containing
"loop" (server-side filter, collector/apic/faults.py), and the codes are a setting
(``loop_fault_codes``) so a real fabric's codes can be added without a release.

A fault follows the APIC lifecycle (faultInst ``lc``): ``raised`` → when the condition clears
``raised-clearing`` → after the clearing interval ``retaining`` (severity ``cleared``) → deleted
after the retention interval. Every step is a websocket event for a ``faultInst`` subscription.
"""

from __future__ import annotations

from simulators.fabric import Attrs, Node, SimulatedFabric, fmt_ts

MCP_FAULT_CODE = "F2533"
MCP_FAULT_CAUSE = "mcp-loop-detected"
CLEARING_S = 10.0  # raised-clearing → retaining (the APIC's clearing interval, shortened)
RETAIN_S = 300.0  # retaining → deleted (shortened from the APIC's 3600 s default)


def fault_attrs(
    dn: str,
    code: str,
    cause: str,
    descr: str,
    now: float,
    rule: str,
    severity: str = "major",
    domain: str = "access",
) -> Attrs:
    """A freshly raised faultInst (attribute set of a real one, reference §2.4)."""
    ts = fmt_ts(now)
    return {
        "ack": "no",
        "alert": "no",
        "cause": cause,
        "changeSet": "",
        "code": code,
        "created": ts,
        "delegated": "no",
        "descr": descr,
        "dn": dn,
        "domain": domain,
        "highestSeverity": severity,
        "lastTransition": ts,
        "lc": "raised",
        "modTs": ts,
        "occur": "1",
        "origSeverity": severity,
        "prevSeverity": severity,
        "rule": rule,
        "severity": severity,
        "subject": rule,
        "type": "operational",
    }


def mcp_fault_dn(leaf: Node, port: str) -> str:
    return f"{leaf.prefix}/sys/mcp/inst/if-[{port}]/fault-{MCP_FAULT_CODE}"


def raise_mcp_fault(fab: SimulatedFabric, node_id: int, port: str, vlan: int) -> str:
    """MCP saw its own PDU come back on ``port`` (in ``vlan``); returns the fault's DN."""
    leaf = fab.leaf(node_id)
    dn = mcp_fault_dn(leaf, port)
    descr = (
        f"MCP detected a loop on port {port} of node {node_id} in VLAN {vlan}: the leaf "
        "received its own MCP PDU"
    )
    with fab.lock, fab.batch():
        existing = fab.static.get("faultInst", {}).get(dn)
        if existing is not None and existing.get("lc") == "raised":
            return dn
        attrs = fault_attrs(
            dn, MCP_FAULT_CODE, MCP_FAULT_CAUSE, descr, fab.clock.now(), "mcp-if-loop-detected"
        )
        if existing is not None:  # raised again while clearing/retaining: the same object
            occur = str(int(existing.get("occur", "1")) + 1)
            attrs.update(created=existing.get("created", attrs["created"]), occur=occur)
            fab.emit_static("faultInst", attrs, "modified")
        else:
            fab.emit_static("faultInst", attrs, "created")
    return dn


def clear_fault(
    fab: SimulatedFabric, dn: str, clearing_s: float = CLEARING_S, retain_s: float = RETAIN_S
) -> None:
    """The condition behind fault ``dn`` is gone: walk it through clearing and retention."""
    with fab.lock, fab.batch():
        f = fab.static.get("faultInst", {}).get(dn)
        if f is None or f.get("lc") != "raised":
            return
        created = f.get("created", "")
        t = fmt_ts(fab.clock.now())
        fab.emit_static(
            "faultInst",
            {"dn": dn, "lc": "raised-clearing", "lastTransition": t, "modTs": t},
            "modified",
        )

    def retain() -> None:
        with fab.lock, fab.batch():
            cur = fab.static.get("faultInst", {}).get(dn)
            if cur is None or cur.get("lc") != "raised-clearing" or cur.get("created") != created:
                return  # raised again meanwhile
            t = fmt_ts(fab.clock.now())
            fab.emit_static(
                "faultInst",
                {
                    "dn": dn,
                    "lc": "retaining",
                    "prevSeverity": cur.get("severity", "major"),
                    "severity": "cleared",
                    "lastTransition": t,
                    "modTs": t,
                },
                "modified",
            )

    def delete() -> None:
        with fab.lock, fab.batch():
            cur = fab.static.get("faultInst", {}).get(dn)
            if cur is not None and cur.get("lc") == "retaining" and cur.get("created") == created:
                fab.emit_static("faultInst", {"dn": dn}, "deleted")

    fab.clock.call_later(clearing_s, retain)
    fab.clock.call_later(clearing_s + retain_s, delete)


__all__ = [
    "MCP_FAULT_CAUSE",
    "MCP_FAULT_CODE",
    "clear_fault",
    "fault_attrs",
    "mcp_fault_dn",
    "raise_mcp_fault",
]
