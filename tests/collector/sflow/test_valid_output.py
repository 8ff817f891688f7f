"""Every line the collector writes is valid line protocol, whatever the agent sends.

Property test: random counter/flow/discard structures (unknown sentinels, ±inf, NaN, huge
values, hostile strings) are encoded to wire bytes, decoded and turned into points; every line
must pass the strict parser and no unknown value may appear as a number.
"""

from __future__ import annotations

import math
import random
import struct

import line_protocol_parser as lpp
import pytest

from collector.sflow.decoder import decode_datagram
from collector.sflow.points import SflowPoints
from collector.sflow.structures import COUNTERS
from tests.collector.sflow import builder as b

T0 = 1_700_000_000_000_000_000
SEEDS = range(60)
_NASTY_FLOATS = (math.inf, -math.inf, math.nan, 0.0, -1.5, 3.4e38, 1e-40)
_NASTY_STRINGS = ("", " ", "a,b=c d", 'q"uo\\te', "trail\\", "\0nul", "é\u2028x", "#hash", "_x")


def _value(rng: random.Random, code: str) -> bytes:
    code = {"pct": "I", "hex64": "Q", "mac": "6s2x"}.get(code, code)
    if code.startswith("s"):
        return b.xdr_string(rng.choice(_NASTY_STRINGS))
    if code == "f":
        return struct.pack(">f", rng.choice(_NASTY_FLOATS + (rng.uniform(-1e6, 1e6),)))
    if code == "Q":
        return struct.pack(">Q", rng.choice((0, 2**64 - 1, 2**63, 2**63 - 1, rng.getrandbits(64))))
    if code == "I":
        return struct.pack(">I", rng.choice((0, 2**32 - 1, 2**31, 3, rng.getrandbits(32))))
    if code == "B":
        return bytes([rng.getrandbits(8)])
    if code == "6s2x":
        return rng.randbytes(6) + b"\0\0"
    raise AssertionError(code)


def _counter_body(rng: random.Random, tag: int) -> bytes:
    spec = COUNTERS[tag]
    if not spec.custom:
        unknown_all = rng.random() < 0.2  # every counter "unknown": must still be valid
        parts = []
        for fld in spec.fields:
            if unknown_all and fld.code in ("I", "Q"):
                parts.append(b"\xff" * (4 if fld.code == "I" else 8))
            else:
                parts.append(_value(rng, fld.code))
        return b"".join(parts)
    if tag == 2000:
        return (
            b.xdr_string(rng.choice(_NASTY_STRINGS))
            + rng.randbytes(16)
            + b.u32(rng.getrandbits(32), rng.getrandbits(32))
            + b.xdr_string(rng.choice(_NASTY_STRINGS))
        )
    if tag == 2001:
        ads = [b.u32(rng.getrandbits(32), 1) + rng.randbytes(6) + b"\0\0" for _ in range(2)]
        return b.u32(len(ads)) + b"".join(ads)
    # anything else with a custom decoder: random bytes of a random length (may be BadRecord)
    return rng.randbytes(rng.choice((0, 8, 40, 200)))


def _random_datagram(rng: random.Random, seq: int) -> bytes:
    samples = []
    for _ in range(rng.randint(1, 4)):
        tags = rng.sample(sorted(COUNTERS), rng.randint(1, 6))
        if rng.random() < 0.5:
            tags = [2000, 2003, *tags]  # a host sample: Telegraf translation runs
        records = [b.tlv(t, _counter_body(rng, t)) for t in tags]
        src = rng.choice(((2, 1), (3, rng.randint(1, 5)), (0, rng.randint(1, 50))))
        samples.append(b.counter_sample(records, seq=seq, source=src))
    frame = rng.randbytes(rng.randint(0, 128))
    hdr = b.u32(1, rng.getrandbits(32), 4, len(frame)) + frame
    samples.append(b.flow_sample([b.tlv(1, hdr)], seq=seq, rate=rng.getrandbits(32)))
    samples.append(b.tlv(5, b.u32(seq, 0, 7, 1, 3, 0, rng.getrandbits(32), 1) + b.tlv(1, hdr)))
    agent = rng.choice(("192.0.2.9", "2001:db8::9"))
    return b.datagram(samples, agent=agent, sequence=seq, uptime=seq * 1000)


def _check(line: str) -> dict:
    parsed = lpp.parse_line(line)  # raises on anything InfluxDB would reject
    assert parsed["fields"], line
    for key, value in parsed["fields"].items():
        assert key, line
        if isinstance(value, float):
            assert math.isfinite(value), line
        if isinstance(value, int) and not isinstance(value, bool):
            # the all-ones "unknown" sentinel never appears as a number
            assert value != 2**32 - 1, line
    return parsed


@pytest.mark.parametrize("seed", SEEDS)
def test_random_structures_give_only_valid_lines(seed: int) -> None:
    rng = random.Random(seed)
    pts = SflowPoints(flow_top_n=3)
    out: list[str] = []
    for seq in range(1, 6):
        pts.add_datagram(decode_datagram(_random_datagram(rng, seq)), T0 + seq, out)
    out += pts.flush_flows(T0 + 10)
    out += pts.stats_lines(T0 + 11, {"x": 1.5, "bad": math.inf}, "inst")
    assert out
    for line in out:
        _check(line)


def test_infinite_load_average_is_left_out() -> None:
    pts = SflowPoints()
    cpu = dict.fromkeys(COUNTERS[2003].names, 0)
    cpu.update(load_one=0.5, load_five=math.nan, load_fifteen=-math.inf, cpu_num=4)
    body = struct.pack(COUNTERS[2003].struct.format, *cpu.values())
    descr = b.xdr_string("h1") + bytes(16) + b.u32(3, 2) + b.xdr_string("6.1")
    records = [b.tlv(2000, descr), b.tlv(2003, body)]
    data = b.datagram([b.counter_sample(records, source=(2, 1))])
    out: list[str] = []
    pts.add_datagram(decode_datagram(data), T0, out)
    system = [_check(line) for line in out if line.startswith("system,")]
    assert system[0]["fields"] == {"load1": 0.5, "n_cpus": 4, "uptime": 0}


def test_all_unknown_if_counters_stay_unknown() -> None:
    spec = COUNTERS[1]
    body = b"".join(b"\xff" * (4 if f.code == "I" else 8) for f in spec.fields)
    data = b.datagram([b.counter_sample([b.tlv(1, body)], source=(0, 1))])
    out: list[str] = []
    SflowPoints().add_datagram(decode_datagram(data), T0, out)
    # nothing known: no line at all (an empty field set is not a point), and above all no
    # if_admin_up/if_oper_up invented from an unknown ifStatus
    assert out == []


def test_unknown_if_status_gives_no_up_down_fields() -> None:
    spec = COUNTERS[1]
    values = dict.fromkeys(spec.names, 0)
    values.update(if_index=7, if_status=0xFFFFFFFF, if_in_octets=5)
    body = struct.pack(spec.struct.format, *values.values())
    data = b.datagram([b.counter_sample([b.tlv(1, body)], source=(0, 7))])
    out: list[str] = []
    SflowPoints().add_datagram(decode_datagram(data), T0, out)
    fields = _check(out[0])["fields"]
    assert fields["if_in_octets"] == 5
    assert "if_admin_up" not in fields and "if_oper_up" not in fields and "if_status" not in fields


def test_every_structure_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "measurements.md").read_text()
    missing = [c.measurement for c in COUNTERS.values() if f"`{c.measurement}`" not in doc]
    assert not missing
