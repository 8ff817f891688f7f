"""apic_interface `bundle`: a member port names its port-channel (ethpmPhysIf bundleIndex)."""

from __future__ import annotations

from typing import Any, cast

from collector.apic.interfaces import InterfaceWatch, bundle_of


def test_bundle_of() -> None:
    assert bundle_of({"bundleIndex": "po7"}) == "po7"
    assert bundle_of({"bundleIndex": "unspecified"}) is None
    assert bundle_of({}) is None


def test_oper_change_of_a_member_port_carries_its_bundle() -> None:
    w = InterfaceWatch(cast(Any, None), cast(Any, None), "fabric1", lambda _lines: None)
    dn = "topology/pod-1/node-103/sys/phys-[eth1/33]/phys"
    line = w.on_event({"dn": dn, "operSt": "down", "bundleIndex": "po7"}, 1_790_000_000.0)
    assert line is not None and 'bundle="po7"' in line and "oper_up=false" in line
    line = w.on_event({"dn": dn, "operSt": "up", "bundleIndex": "unspecified"}, 1_790_000_001.0)
    assert line is not None and "bundle=" not in line
