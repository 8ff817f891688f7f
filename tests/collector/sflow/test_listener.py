"""The UDP listener over a real socket: datagrams in, lines out; bad input never stops it."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import line_protocol_parser as lpp
import pytest

from collector.sflow.listener import SflowListener, parse_listen
from collector.sflow.pipeline import AllowList, SflowPipeline, parse_allow_list
from influx.sink import ListSink

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sflow"


class LockedSink(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write_lines(self, lines):
        with self.lock:
            super().write_lines(lines)


def start(pipe: SflowPipeline) -> tuple[SflowListener, threading.Thread]:
    listener = SflowListener(pipe, "127.0.0.1", 0, rcvbuf=1 << 20)
    thread = threading.Thread(target=listener.serve, daemon=True)
    thread.start()
    return listener, thread


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_udp_datagrams_become_lines_and_garbage_is_counted():
    sink = LockedSink()
    pipe = SflowPipeline(sink, flow_interval_s=3600, stats_interval_s=3600)
    listener, thread = start(pipe)
    host_dg = (FIXTURES / "generated" / "hsflowd-host-000.bin").read_bytes()
    flow_dgs = sorted((FIXTURES / "generated").glob("pmacct-sfprobe-dg_*.bin"))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tx.sendto(b"\x00\x00\x00\x05garbage", listener.address)  # truncated header
        tx.sendto(b"", listener.address)
        tx.sendto(host_dg, listener.address)
        for path in flow_dgs:
            tx.sendto(path.read_bytes(), listener.address)
        wait_for(lambda: pipe.points.stats.datagrams == 1 + len(flow_dgs))
    finally:
        listener.stop()
        thread.join(5)
        tx.close()
    stats = pipe.points.stats
    assert stats.decode_errors == 2
    measurements = {lpp.parse_line(x)["measurement"] for x in sink.lines}
    assert {"sflow_host_cpu", "mem", "system", "sflow_flows", "fabricscope_stats"} <= measurements
    flows = [lpp.parse_line(x) for x in sink.lines if x.startswith("sflow_flows")]
    assert sum(f["fields"]["samples"] for f in flows) == stats.flow_samples > 0
    final = [lpp.parse_line(x) for x in sink.lines if x.startswith("fabricscope_stats")]
    assert any(f["fields"].get("decode_errors") == 2 for f in final)


def test_allow_list_drops_unlisted_sources_before_decoding():
    sink = LockedSink()
    pipe = SflowPipeline(
        sink,
        allow=AllowList(parse_allow_list("10.9.9.0/24")),
        flow_interval_s=3600,
        stats_interval_s=3600,
    )
    listener, thread = start(pipe)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tx.sendto((FIXTURES / "generated" / "hsflowd-host-000.bin").read_bytes(), listener.address)
        wait_for(lambda: pipe.points.stats.rejected_sources == 1)
    finally:
        listener.stop()
        thread.join(5)
        tx.close()
    assert pipe.points.stats.datagrams == 0
    assert not [x for x in sink.lines if not x.startswith("fabricscope_stats")]


def test_allowed_relay_with_spoofed_agent_is_rejected():
    pipe = SflowPipeline(ListSink(), allow=AllowList(parse_allow_list("127.0.0.1")))
    data = (FIXTURES / "generated" / "hsflowd-host-000.bin").read_bytes()  # agent 192.0.2.2
    pipe.handle(data, "127.0.0.1", 1)
    assert pipe.points.stats.rejected_sources == 1
    pipe = SflowPipeline(ListSink(), allow=AllowList(parse_allow_list("127.0.0.1,192.0.2.0/24")))
    pipe.handle(data, "127.0.0.1", 1)
    assert pipe.points.stats.datagrams == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:6343", ("0.0.0.0", 6343)),
        (":7000", ("0.0.0.0", 7000)),
        ("[::1]:6343", ("::1", 6343)),
        ("127.0.0.1", ("127.0.0.1", 6343)),
    ],
)
def test_parse_listen(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("bad", ["host:notaport", "1.2.3.4:70000", "[::1"])
def test_parse_listen_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        parse_listen(bad)


def test_allow_list_names_the_bad_entry():
    with pytest.raises(ValueError, match="nonsense"):
        parse_allow_list("10.0.0.0/8, nonsense")


def test_socket_drops_are_this_sockets_own() -> None:
    import socket as socket_mod

    from collector.sflow.listener import socket_drops

    full = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_DGRAM)
    other = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_DGRAM)
    tx = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_DGRAM)
    try:
        full.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_RCVBUF, 4096)
        full.bind(("127.0.0.1", 0))
        other.bind(("127.0.0.1", 0))
        assert socket_drops(full) == 0 and socket_drops(other) == 0
        for _ in range(200):  # nobody reads: the small buffer overflows
            tx.sendto(b"x" * 1000, full.getsockname())
        assert (socket_drops(full) or 0) > 0
        assert socket_drops(other) == 0  # another socket's drops are not ours
    finally:
        for s in (full, other, tx):
            s.close()
