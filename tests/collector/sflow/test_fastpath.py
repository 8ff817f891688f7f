"""The fast paths write exactly what the full decoder path writes.

Three ways through SflowPipeline: the full decoder (fast=False), the pure-Python fast path
(native=False) and the native one (when the C module is built). Same datagrams in → same lines
and the same collector statistics out: every fixture, and fuzzed datagrams (mutated fixtures
and random structures) that exercise every bail-out to the full decoder.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from collector.sflow.fastpath import FastReader, native
from collector.sflow.pipeline import SflowPipeline
from influx.sink import ListSink
from tests.collector.sflow import builder as b

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sflow"
CORPUS = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.bin"))]
MODES = [("full", False, False), ("python", True, False)]
if native is not None:
    MODES.append(("native", True, True))


def _run(datagrams: list[bytes], fast: bool, use_native: bool) -> tuple[list[str], dict]:
    sink = ListSink()
    pipe = SflowPipeline(sink, flow_interval_s=3600, stats_interval_s=3600, fast=fast,
                         native=use_native)  # fmt: skip
    ts = 1_700_000_000_000_000_000
    for i, data in enumerate(datagrams):
        pipe.handle(data, "192.0.2.1", ts + i)
    pipe.finish(ts + len(datagrams))
    st = pipe.points.stats
    stats = {k: getattr(st, k) for k in st.__slots__}  # type: ignore[attr-defined]
    return sink.lines, stats


def _same_everywhere(datagrams: list[bytes]) -> None:
    results = {name: _run(datagrams, fast, nat) for name, fast, nat in MODES}
    lines, stats = results["full"]
    for name, (got_lines, got_stats) in results.items():
        assert got_stats == stats, name
        assert sorted(got_lines) == sorted(lines), name


def test_native_module_is_built() -> None:
    # scripts/setup.sh builds it; without a compiler the pure-Python path is used (still tested)
    assert native is not None


def test_fixtures_identical_on_every_path() -> None:
    _same_everywhere(CORPUS)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        if op < 0.5 and buf:
            i = rng.randrange(len(buf))
            buf[i] = rng.choice((0, 0xFF, rng.getrandbits(8), buf[i] ^ 1))
        elif op < 0.7:
            del buf[rng.randrange(len(buf) + 1) :]
        elif op < 0.85 and len(buf) > 40:
            i = rng.randrange(28, len(buf) - 4) & ~3  # a length or count word
            buf[i : i + 4] = rng.choice((0, 1, 0xFFFFFFFF, rng.getrandbits(12))).to_bytes(4, "big")
        else:
            buf += rng.randbytes(rng.choice((1, 4, 8)))
    return bytes(buf)


@pytest.mark.parametrize("seed", range(8))
def test_mutated_datagrams_identical_on_every_path(seed: int) -> None:
    rng = random.Random(seed)
    _same_everywhere([_mutate(rng, rng.choice(CORPUS)) for _ in range(300)])


def _flow(rng: random.Random) -> bytes:
    vlans = [(0x8100, rng.randint(0, 4095)) for _ in range(rng.choice((0, 0, 1, 2, 9)))]
    if rng.random() < 0.5:
        payload = b.ipv4(b"\0" * 20, rng.choice((6, 17, 1)), src="10.1.1.1", dst="10.2.2.2")
        frame = b.ethernet(payload, 0x0800, vlans)
    else:
        nh = rng.choice((6, 17, 58, 0, 43, 44))
        frame = b.ethernet(b.ipv6(b"\0" * 16, nh), 0x86DD, vlans)
    if rng.random() < 0.2:
        frame = frame[: rng.randint(0, len(frame))]
    records = [b.header_record(frame, protocol=rng.choice((1, 1, 1, 11)))]
    if rng.random() < 0.5:
        records.insert(rng.randint(0, 1), b.switch_record(src_vlan=rng.choice((0, 7, 2**32 - 1))))
    if rng.random() < 0.1:
        records.append(b.tlv(1036, b.u32(3)))  # egress queue: a record the native path leaves
    return b.flow_sample(records, rate=rng.choice((0, 1, 400, 2**32 - 1)))


@pytest.mark.parametrize("seed", range(6))
def test_random_flows_identical_on_every_path(seed: int) -> None:
    rng = random.Random(seed)
    datagrams = []
    for i in range(200):
        samples = [_flow(rng) for _ in range(rng.randint(1, 8))]
        agent = rng.choice(("192.0.2.1", "192.0.2.2", "2001:db8::1"))
        datagrams.append(b.datagram(samples, agent=agent, sequence=i + 1, uptime=1000 + i))
    _same_everywhere(datagrams)


def test_fast_reader_is_pure() -> None:
    # reading twice gives the same result and changes nothing (no state is touched)
    reader = FastReader(use_native=native is not None)
    a = reader.read(CORPUS[0])
    c = reader.read(CORPUS[0])
    assert (a.agent, a.samples, a.native_flows, a.flows) == (c.agent, c.samples,
                                                              c.native_flows, c.flows)  # fmt: skip
