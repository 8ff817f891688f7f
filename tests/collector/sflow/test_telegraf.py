"""Host sFlow → Telegraf measurements agree with Telegraf's own formulas to 0.01 %.

The reference below is a port of Telegraf's plugins/inputs/cpu/cpu.go (usage_* from two
gopsutil TimesStat snapshots) and gopsutil's Linux mem/swap definitions, applied to the same
counter sequence that is sent, as Host sFlow datagrams, through the decoder and the collector.
"""

from __future__ import annotations

import random
import struct

import line_protocol_parser as lpp
import pytest

from collector.sflow.decoder import decode_datagram
from collector.sflow.points import SflowPoints
from collector.sflow.structures import COUNTERS
from tests.collector.sflow import builder as b

T0 = 1_700_000_000_000_000_000
REL = 1e-4  # 0.01 %


# ---------------------------------------------------------------- Telegraf, ported
def telegraf_total(t: dict[str, float]) -> float:
    # cpu.go totalCPUTime: guest is already inside user (and guest_nice inside nice)
    return (
        t["user"] + t["system"] + t["nice"] + t["iowait"] + t["irq"] + t["softirq"]
        + t["steal"] + t["idle"]
    )  # fmt: skip


def telegraf_cpu(cts: dict[str, float], last: dict[str, float]) -> dict[str, float] | None:
    total, last_total = telegraf_total(cts), telegraf_total(last)
    active, last_active = total - cts["idle"], last_total - last["idle"]
    delta = total - last_total
    if delta <= 0:
        return None
    d = {k: cts[k] - last[k] for k in cts}
    return {
        "usage_user": 100 * (d["user"] - d["guest"]) / delta,
        "usage_system": 100 * d["system"] / delta,
        "usage_idle": 100 * d["idle"] / delta,
        "usage_nice": 100 * (d["nice"] - d["guest_nice"]) / delta,
        "usage_iowait": 100 * d["iowait"] / delta,
        "usage_irq": 100 * d["irq"] / delta,
        "usage_softirq": 100 * d["softirq"] / delta,
        "usage_steal": 100 * d["steal"] / delta,
        "usage_guest": 100 * d["guest"] / delta,
        "usage_guest_nice": 100 * d["guest_nice"] / delta,
        "usage_active": 100 * (active - last_active) / delta,
    }


def telegraf_mem(m: dict[str, int]) -> dict[str, float]:
    # gopsutil mem_linux.go without MemAvailable
    used = m["mem_total"] - m["mem_free"] - m["mem_buffers"] - m["mem_cached"]
    available = m["mem_free"] + m["mem_buffers"] + m["mem_cached"]
    return {
        "total": m["mem_total"],
        "free": m["mem_free"],
        "used": used,
        "available": available,
        "used_percent": 100 * used / m["mem_total"],
        "available_percent": 100 * available / m["mem_total"],
    }


def telegraf_swap(m: dict[str, int]) -> dict[str, float]:
    used = m["swap_total"] - m["swap_free"]
    return {
        "total": m["swap_total"],
        "used": used,
        "free": m["swap_free"],
        "used_percent": 100 * used / m["swap_total"],
        "in": m["swap_in"] * 4 * 1024,  # gopsutil: pswpin pages × 4 KiB
        "out": m["swap_out"] * 4 * 1024,
    }


# ---------------------------------------------------------------- counter sequence
_STATES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
_WIRE = {"iowait": "wio", "irq": "intr", "softirq": "sintr"}


def _sequence(rng: random.Random, n: int) -> list[dict[str, int]]:
    """Cumulative /proc/stat-like ms counters of a KVM host: guest time inside user."""
    now = {s: rng.randint(0, 10**6) for s in (*_STATES, "guest", "guest_nice")}
    now["user"] += now["guest"]
    now["nice"] += now["guest_nice"]
    out = []
    for _ in range(n):
        step = {s: rng.randint(0, 4000) for s in _STATES}
        guest = rng.randint(0, step["user"])  # a vCPU's run time is accounted as user too
        guest_nice = rng.randint(0, step["nice"])
        for s in _STATES:
            now[s] += step[s]
        now["guest"] += guest
        now["guest_nice"] += guest_nice
        out.append(dict(now))
    return out


def _cpu_block(t: dict[str, int], uptime: int) -> bytes:
    spec = COUNTERS[2003]
    values = dict.fromkeys(spec.names, 0)
    values.update(load_one=0.5, load_five=0.25, load_fifteen=0.125, proc_run=3, proc_total=412)
    values.update(cpu_num=8, uptime=uptime, interrupts=10**6, contexts=2 * 10**6)
    for state, v in t.items():
        values[f"cpu_{_WIRE.get(state, state)}"] = v
    assert spec.struct is not None
    return spec.struct.pack(*values.values())


def _mem_block(m: dict[str, int]) -> bytes:
    spec = COUNTERS[2004]
    assert spec.struct is not None
    return spec.struct.pack(*(m[n] for n in spec.names))


def _host_datagram(seq: int, t: dict[str, int], m: dict[str, int]) -> bytes:
    descr = b.xdr_string("kvm-1") + bytes(16) + b.u32(3, 2) + b.xdr_string("6.1.0")
    records = [
        b.tlv(2000, descr),
        b.tlv(2003, _cpu_block(t, 1000 + seq)),
        b.tlv(2004, _mem_block(m)),
    ]
    return b.datagram([b.counter_sample(records, seq=seq, source=(2, 1))], sequence=seq)


@pytest.mark.parametrize("seed", range(5))
def test_same_counters_give_telegrafs_numbers(seed: int) -> None:
    rng = random.Random(seed)
    seq_cpu = _sequence(rng, 12)
    pts = SflowPoints()
    prev: dict[str, float] | None = None
    compared = 0
    for i, t in enumerate(seq_cpu, start=1):
        total = rng.randint(2**30, 2**36)
        free, buffers, cached = (rng.randint(0, total // 4) for _ in range(3))
        swap_total = rng.randint(1, 2**33)
        m = {
            "mem_total": total, "mem_free": free, "mem_shared": 0, "mem_buffers": buffers,
            "mem_cached": cached, "swap_total": swap_total,
            "swap_free": rng.randint(0, swap_total), "page_in": 1, "page_out": 2,
            "swap_in": rng.randint(0, 10**6), "swap_out": rng.randint(0, 10**6),
        }  # fmt: skip
        out: list[str] = []
        pts.add_datagram(decode_datagram(_host_datagram(i, t, m)), T0 + i * 10**10, out)
        got = {}
        for line in out:
            p = lpp.parse_line(line)
            got[p["measurement"]] = p["fields"]
        seconds = {k: v / 1000 for k, v in t.items()}  # gopsutil reports seconds
        if prev is not None:
            want = telegraf_cpu(seconds, prev)
            assert want is not None
            for key, value in want.items():
                assert got["cpu"][key] == pytest.approx(value, rel=REL, abs=1e-9), key
            compared += 1
        else:
            assert "cpu" not in got  # the first sample only primes the deltas
        prev = seconds
        for key, value in telegraf_mem(m).items():
            assert got["mem"][key] == pytest.approx(value, rel=REL), key
        for key, value in telegraf_swap(m).items():
            assert got["swap"][key] == pytest.approx(value, rel=REL), key
        assert got["system"] == {
            "load1": 0.5, "load5": 0.25, "load15": 0.125, "n_cpus": 8, "uptime": 1000 + i,
        }  # fmt: skip
        assert got["processes"] == {"running": 3, "total": 412}
        assert got["kernel"] == {
            "interrupts": 10**6,
            "context_switches": 2 * 10**6,
            "boot_time": (T0 + i * 10**10) // 10**9 - (1000 + i),
        }
    assert compared == len(seq_cpu) - 1


def test_kvm_guest_time_is_not_counted_twice() -> None:
    # guest time inside user was counted twice before (user 57.1 % of a 1300 ms total)
    base = dict.fromkeys((*_STATES, "guest", "guest_nice"), 0)
    later = dict(base, user=400, guest=300, system=300, idle=200, iowait=100)
    pts = SflowPoints()
    mem = dict.fromkeys(COUNTERS[2004].names, 1)
    out: list[str] = []
    pts.add_datagram(decode_datagram(_host_datagram(1, base, mem)), T0, out)
    out.clear()
    pts.add_datagram(decode_datagram(_host_datagram(2, later, mem)), T0 + 1, out)
    cpu = next(lpp.parse_line(x)["fields"] for x in out if x.startswith("cpu,"))
    assert cpu["usage_user"] == pytest.approx(10.0)  # (400 − 300) / 1000
    assert cpu["usage_guest"] == pytest.approx(30.0)
    assert cpu["usage_active"] == pytest.approx(80.0)
    # user − guest + guest = user: the states (guest included once) add up to 100 %
    assert sum(v for k, v in cpu.items() if k != "usage_active") == pytest.approx(100.0)


def test_netstat_from_mib2_tcp() -> None:
    spec = COUNTERS[2009]
    values = dict.fromkeys(spec.names, 0)
    values["tcp_curr_estab"] = 17
    assert spec.struct is not None
    descr = b.xdr_string("h") + bytes(16) + b.u32(3, 2) + b.xdr_string("")
    records = [b.tlv(2000, descr), b.tlv(2009, spec.struct.pack(*values.values()))]
    data = b.datagram([b.counter_sample(records, source=(2, 1))])
    out: list[str] = []
    SflowPoints().add_datagram(decode_datagram(data), T0, out)
    netstat = [lpp.parse_line(x) for x in out if x.startswith("netstat,")]
    assert netstat[0]["fields"] == {"tcp_established": 17}
    assert netstat[0]["tags"] == {"agent": "192.0.2.1", "host": "h"}


def test_struct_layout_matches_spec_sizes() -> None:
    # host_cpu is 80 bytes (68 in the pre-2014 form), host_memory 72
    assert COUNTERS[2003].struct is not None and COUNTERS[2003].struct.size == 80
    assert struct.calcsize(">3f17I") == 80
