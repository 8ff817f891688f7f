"""fabricscope/macs.py: the one place for MAC spellings."""

from __future__ import annotations

import pytest

from fabricscope import macs


@pytest.mark.parametrize(
    "text",
    [
        "00:50:56:aa:bb:cc",
        "00-50-56-AA-BB-CC",
        "0050.56aa.bbcc",
        "005056AABBCC",
        " 00.50.56.aa.bb.cc ",
    ],
)
def test_every_spelling_gives_both_forms(text: str) -> None:
    assert macs.to_sflow(text) == "005056aabbcc"
    assert macs.to_apic(text) == "00:50:56:AA:BB:CC"


@pytest.mark.parametrize("text", ["", "10.1.1.5", "00:50:56:aa:bb", "00:50-56:aa:bb:cc", "zz" * 6])
def test_not_a_mac(text: str) -> None:
    assert macs.parse(text) is None and macs.to_sflow(text) == "" and macs.to_apic(text) is None


def test_sflow_forms() -> None:
    assert macs.sflow_to_apic("0050560a0b0c") == "00:50:56:0A:0B:0C"
    assert macs.sflow_to_apic("none") is None
    assert macs.split_list("005056aa0001,,other,02FC00000001") == ("005056aa0001", "02fc00000001")


def test_apic_form_keeps_the_apics_spelling_and_normalises_the_rest() -> None:
    from fabricscope.macs import apic_form

    assert apic_form("00:50:56:AA:BB:CC") == "00:50:56:AA:BB:CC"
    assert apic_form("00:50:56:aa:bb:cc") == "00:50:56:AA:BB:CC"
    assert apic_form("0050.56aa.bbcc") == "00:50:56:AA:BB:CC"
    assert apic_form("not-a-mac") == "NOT-A-MAC"  # kept, never dropped
