"""Golden line protocol: each case's datagrams, sent through a real UDP socket into the
collector, give exactly ``expected.lp`` (see golden_cases.py for the cases and regeneration)."""

from __future__ import annotations

import os
import socket
import threading
import time

import line_protocol_parser as lpp
import pytest

from collector.sflow.listener import SflowListener
from collector.sflow.pipeline import SflowPipeline
from influx.sink import ListSink
from tests.collector.sflow.golden_cases import ROOT, cases, normalise

REGEN = os.environ.get("FABRICSCOPE_REGEN_GOLDEN") == "1"


def _through_udp(datagrams: list[bytes], native: bool = True) -> list[str]:
    sink = ListSink()
    pipe = SflowPipeline(sink, flow_interval_s=3600, stats_interval_s=3600, native=native)
    listener = SflowListener(pipe, "127.0.0.1", 0)
    thread = threading.Thread(target=listener.serve, daemon=True)
    thread.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for data in datagrams:
            tx.sendto(data, listener.address)
    deadline = time.monotonic() + 30  # a wait for delivery, not a performance bound
    while listener.stats.received < len(datagrams) and time.monotonic() < deadline:
        time.sleep(0.01)
    listener.stop()
    thread.join(10)
    assert listener.stats.received == len(datagrams)
    return [normalise(x) for x in sink.lines if not x.startswith("fabricscope_stats,")]


@pytest.mark.parametrize("native", [True, False], ids=["native", "pure-python"])
@pytest.mark.parametrize("case", cases())
def test_case_gives_expected_lines(case: str, native: bool) -> None:
    folder = ROOT / case
    datagrams = [p.read_bytes() for p in sorted(folder.glob("*.bin"))]
    assert datagrams, f"no datagrams in {folder}"
    lines = _through_udp(datagrams, native)
    for line in lines:
        lpp.parse_line(line)  # every line is valid line protocol
    expected_file = folder / "expected.lp"
    if REGEN and native:
        expected_file.write_text("\n".join(lines) + "\n")
    expected = expected_file.read_text().splitlines()
    assert lines == expected
