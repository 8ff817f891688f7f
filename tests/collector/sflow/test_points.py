"""Records → line protocol: schema, Telegraf-compatible host metrics, flow aggregation, loss."""

from __future__ import annotations

import line_protocol_parser as lpp
import pytest

from collector.sflow.points import SflowPoints
from collector.sflow.records import (
    CounterRecord,
    CounterSample,
    Datagram,
    DiscardSample,
    FlowRecord,
    FlowSample,
    SampledHeader,
    UnknownRecord,
)

T0 = 1_700_000_000_000_000_000


def parse(line: str) -> dict:
    return lpp.parse_line(line)


def dg(samples, seq=1, agent="192.0.2.2", uptime_ms=None) -> Datagram:
    return Datagram(
        size=0,
        version=5,
        agent_address_type=1,
        agent=agent,
        sub_agent_id=0,
        sequence=seq,
        uptime_ms=1_000_000 + seq if uptime_ms is None else uptime_ms,
        samples_declared=len(samples),
        samples=list(samples),
    )


def host_sample(cpu_ms: dict[str, int], seq: int = 1, hostname: str = "hv1") -> CounterSample:
    cpu = dict.fromkeys(
        (
            "cpu_user",
            "cpu_nice",
            "cpu_system",
            "cpu_idle",
            "cpu_wio",
            "cpu_intr",
            "cpu_sintr",
            "cpu_steal",
            "cpu_guest",
            "cpu_guest_nice",
        ),
        0,
    )
    cpu.update(cpu_ms)
    cpu.update(
        load_one=0.5,
        load_five=0.25,
        load_fifteen=0.125,
        proc_run=1,
        proc_total=90,
        cpu_num=4,
        cpu_speed=2400,
        uptime=555,
        interrupts=10,
        contexts=20,
    )
    return CounterSample(
        tag=4,
        sequence=seq,
        source_id_type=2,
        source_id_index=1,
        records=[
            CounterRecord(
                2000,
                {
                    "hostname": hostname,
                    "uuid": "6571e19b-6571-519b-a571-e19b6571e19b",
                    "machine_type": 3,
                    "os_name": 2,
                    "os_release": "6.1",
                },
            ),
            CounterRecord(
                2001,
                {
                    "adapters": [
                        {
                            "if_index": 4,
                            "macs": [b"\x02\xfc\x00\x00\x00\x01", b"\x52\x54\x00\x00\x00\x07"],
                        }
                    ]
                },
            ),
            CounterRecord(2003, cpu),
            CounterRecord(
                2004,
                {
                    "mem_total": 1000,
                    "mem_free": 400,
                    "mem_shared": 0,
                    "mem_buffers": 100,
                    "mem_cached": 200,
                    "swap_total": 50,
                    "swap_free": 40,
                    "page_in": 1,
                    "page_out": 2,
                    "swap_in": 3,
                    "swap_out": 4,
                },
            ),
            CounterRecord(
                2005,
                {
                    "disk_total": 200,
                    "disk_free": 50,
                    "part_max_used": 6890,
                    "reads": 5,
                    "bytes_read": 500,
                    "read_time": 7,
                    "writes": 6,
                    "bytes_written": 600,
                    "write_time": 8,
                },
            ),
            CounterRecord(
                2006,
                {
                    "bytes_in": 11,
                    "pkts_in": 12,
                    "errs_in": 0,
                    "drops_in": 0,
                    "bytes_out": 21,
                    "pkts_out": 22,
                    "errs_out": 0,
                    "drops_out": 0xFFFFFFFF,
                },
            ),
            UnknownRecord(tag=(4413 << 12) | 3, length=8),
        ],
    )


def by_measurement(lines: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for line in lines:
        p = parse(line)
        out.setdefault(p["measurement"], []).append(p)
    return out


def test_host_counters_give_raw_blocks_and_telegraf_measurements():
    pts = SflowPoints()
    out: list[str] = []
    pts.add_datagram(dg([host_sample({"cpu_user": 1000, "cpu_idle": 9000})]), T0, out)
    m = by_measurement(out)
    # Raw blocks keep the spec names; the first sample only primes the CPU deltas.
    assert m["sflow_host_cpu"][0]["fields"]["cpu_user"] == 1000
    assert m["sflow_host_cpu"][0]["tags"] == {
        "agent": "192.0.2.2",
        "host": "hv1",
        "source_id": "2:1",
    }
    assert "cpu" not in m
    assert m["system"][0]["fields"] == {
        "load1": 0.5,
        "load5": 0.25,
        "load15": 0.125,
        "n_cpus": 4,
        "uptime": 555,
    }
    mem = m["mem"][0]["fields"]
    assert mem["used"] == 1000 - 400 - 100 - 200 and mem["available"] == 700
    assert mem["used_percent"] == pytest.approx(30.0)
    assert m["swap"][0]["fields"]["used"] == 10
    assert m["disk"][0]["fields"]["used_percent"] == pytest.approx(75.0)
    assert m["diskio"][0]["fields"]["read_bytes"] == 500
    # The all-ones "unknown" counter is omitted, not written as a huge integer.
    net = m["net"][0]["fields"]
    assert "drop_out" not in net and net["bytes_recv"] == 11
    assert "drops_out" not in m["sflow_host_net_io"][0]["fields"]
    adapters = m["sflow_host_adapters"][0]
    assert adapters["fields"]["macs"] == "02fc00000001,525400000007"
    assert adapters["tags"]["ifindex"] == "4"
    assert all(p["time"] == T0 for ps in m.values() for p in ps)


def test_cpu_usage_from_deltas_matches_telegraf_semantics():
    pts = SflowPoints()
    out: list[str] = []
    pts.add_datagram(dg([host_sample({"cpu_user": 1000, "cpu_idle": 9000})], seq=1), T0, out)
    out.clear()
    # +300 user, +100 system, +500 idle, +100 iowait over the interval → 1000 ms total.
    pts.add_datagram(
        dg(
            [
                host_sample(
                    {"cpu_user": 1300, "cpu_system": 100, "cpu_idle": 9500, "cpu_wio": 100}, seq=2
                )
            ],
            seq=2,
        ),
        T0 + 10**10,
        out,
    )
    cpu = by_measurement(out)["cpu"][0]
    assert cpu["tags"] == {"agent": "192.0.2.2", "cpu": "cpu-total", "host": "hv1"}
    f = cpu["fields"]
    assert f["usage_user"] == pytest.approx(30.0)
    assert f["usage_system"] == pytest.approx(10.0)
    assert f["usage_idle"] == pytest.approx(50.0)
    assert f["usage_iowait"] == pytest.approx(10.0)
    # Telegraf's cpu.go: active = total − idle (iowait counts as active)
    assert f["usage_active"] == pytest.approx(50.0)


def test_cpu_counter_reset_is_not_a_usage_spike():
    pts = SflowPoints()
    out: list[str] = []
    pts.add_datagram(dg([host_sample({"cpu_user": 5_000_000, "cpu_idle": 9_000_000})]), T0, out)
    out.clear()
    pts.add_datagram(dg([host_sample({"cpu_user": 10, "cpu_idle": 20}, seq=2)], seq=2), T0 + 1, out)
    assert "cpu" not in by_measurement(out)


def test_vm_sample_is_tagged_with_its_hypervisor():
    pts = SflowPoints()
    out: list[str] = []
    vm = CounterSample(
        tag=4,
        sequence=1,
        source_id_type=3,
        source_id_index=2,
        records=[
            CounterRecord(
                2000,
                {
                    "hostname": "web-1",
                    "uuid": "x",
                    "machine_type": 3,
                    "os_name": 2,
                    "os_release": "6",
                },
            ),
            CounterRecord(2101, {"state": 1, "cpu_time": 5000, "nr_virt_cpu": 2}),
        ],
    )
    pts.add_datagram(dg([host_sample({"cpu_idle": 1}), vm]), T0, out)
    m = by_measurement(out)
    assert m["sflow_virt_cpu"][0]["tags"] == {
        "agent": "192.0.2.2",
        "host": "hv1",
        "source_id": "3:2",
        "vm": "web-1",
    }
    # A VM's own host_descr must not produce Telegraf host measurements for the hypervisor.
    assert len(m["system"]) == 1


def flow(src: bytes, dst: bytes, length: int, rate: int = 100, vlan: int | None = 10) -> FlowSample:
    hdr = SampledHeader(
        header_protocol=1,
        frame_length=length,
        stripped=4,
        header=b"",
        src_mac=src,
        dst_mac=dst,
        vlan=vlan,
        ether_type=0x800,
        ip_version=4,
        src_ip="10.0.0.1",
        dst_ip="10.0.0.2",
        ip_protocol=6,
    )
    return FlowSample(
        tag=1,
        sequence=1,
        source_id_type=0,
        source_id_index=5,
        sampling_rate=rate,
        sample_pool=0,
        drops=0,
        input_format=0,
        input_value=5,
        output_format=0,
        output_value=6,
        records=[FlowRecord(1001, {"src_vlan": 10}), hdr],
    )


def test_flows_aggregate_top_n_plus_other_and_count_every_sample():
    pts = SflowPoints(flow_top_n=2)
    out: list[str] = []
    samples = []
    for i in range(5):
        src = bytes([2, 0, 0, 0, 0, i])
        samples += [flow(src, b"\x02" * 6, length=1000 * (i + 1))] * (i + 1)
    pts.add_datagram(dg(samples), T0, out)
    assert out == []  # flows wait for the interval flush
    lines = pts.flush_flows(T0 + 10**10)
    rows = [parse(line) for line in lines]
    assert len(rows) == 3
    assert sum(r["fields"]["samples"] for r in rows) == 15
    assert sum(r["fields"]["packets"] for r in rows) == 1500
    top = sorted(rows, key=lambda r: -r["fields"]["bytes"])
    assert top[0]["tags"]["src_mac"] == "020000000004"
    assert top[0]["fields"]["bytes"] == 5 * 5000 * 100
    other = [r for r in rows if r["tags"]["src_mac"] == "other"][0]
    assert other["fields"]["flows"] == 3
    assert other["fields"]["samples"] == 1 + 2 + 3
    assert pts.flush_flows(T0 + 2 * 10**10) == []  # the table is cleared after a flush


def test_flow_bytes_do_not_overflow_32_bits():
    pts = SflowPoints()
    pts.add_datagram(dg([flow(b"\x02" * 6, b"\x04" * 6, length=9000, rate=0xFFFFFFFF)]), T0, [])
    row = parse(pts.flush_flows(T0)[0])
    assert row["fields"]["bytes"] == 9000 * 0xFFFFFFFF


def test_sampling_rate_zero_counts_the_sample_without_dividing():
    pts = SflowPoints()
    pts.add_datagram(dg([flow(b"\x02" * 6, b"\x04" * 6, length=100, rate=0)]), T0, [])
    row = parse(pts.flush_flows(T0)[0])
    assert row["fields"]["samples"] == 1 and row["fields"]["packets"] == 1


def test_discards_are_aggregated_by_reason_name():
    pts = SflowPoints()
    d = DiscardSample(
        tag=5,
        sequence=1,
        source_id_type=0,
        source_id_index=1,
        drops=256,
        input_ifindex=1,
        output_ifindex=2,
        reason=258,
        records=[],
    )
    pts.add_datagram(dg([d, d]), T0, [])
    rows = [parse(x) for x in pts.flush_flows(T0)]
    assert rows[0]["measurement"] == "sflow_drops"
    assert rows[0]["tags"]["reason"] == "acl"
    assert rows[0]["fields"]["samples"] == 2


def test_sequence_gaps_count_lost_datagrams_and_resets_are_not_loss():
    pts = SflowPoints()
    for seq in (1, 2, 5, 6):  # 3 and 4 lost
        pts.add_datagram(dg([], seq=seq), T0, [])
    for seq in (1, 2):  # the agent restarts: uptime and sequence start again
        pts.add_datagram(dg([], seq=seq, uptime_ms=seq * 1000), T0, [])
    assert pts.stats.lost_datagrams == 2
    assert pts.stats.sequence_gaps == 1
    assert pts.stats.sequence_resets == 1
    lines = pts.stats_lines(T0, {"queue_depth": 3}, "c1")
    rows = [parse(x) for x in lines]
    total = [r for r in rows if "agent" not in r["tags"]][0]
    assert total["fields"]["lost_datagrams"] == 2 and total["fields"]["queue_depth"] == 3
    per_agent = [r for r in rows if r["tags"].get("agent") == "192.0.2.2"][0]
    assert per_agent["fields"] == {"datagrams": 6, "lost_datagrams": 2}


def test_hostile_tag_values_stay_one_line():
    pts = SflowPoints()
    out: list[str] = []
    s = host_sample({"cpu_idle": 1}, hostname="evil\nhost,a=b c\\")
    pts.add_datagram(dg([s]), T0, out)
    for line in out:
        assert "\n" not in line
        parse(line)
    assert by_measurement(out)["system"][0]["tags"]["host"] == "evil_host,a=b c_"


def test_duplicate_and_reordered_datagrams_are_not_counted_as_loss():
    # faults §2.2 case 33: the same sequence twice, then one arriving late.
    pts = SflowPoints()
    for seq in (10, 11, 11, 13, 12, 14):
        pts.add_datagram(dg([], seq=seq), T0, [])
    # 11→13 looks like one lost datagram until 12 arrives late; the duplicate 11 is no loss.
    assert pts.stats.sequence_gaps == 1
    assert pts.stats.lost_datagrams == 0
    assert pts.stats.duplicate_datagrams == 1
    assert pts.stats.reordered_datagrams == 1
    assert pts.stats.sequence_resets == 0


def test_sub_agents_keep_their_own_sequence_numbers():
    # faults §2.2 case 35: two sub-agents of one agent interleave without false gaps.
    pts = SflowPoints()
    for seq in range(1, 6):
        for sub in (0, 1):
            d = dg([], seq=seq)
            d.sub_agent_id = sub
            pts.add_datagram(d, T0, [])
    assert pts.stats.lost_datagrams == 0 and pts.stats.sequence_resets == 0


def test_spoofed_agent_flood_has_bounded_state(monkeypatch):
    # faults §2.2 case 36: many distinct agent addresses must not grow per-agent series forever.
    import collector.sflow.loss as points

    monkeypatch.setattr(points, "MAX_AGENTS", 50)
    pts = SflowPoints()
    for i in range(500):
        pts.add_datagram(dg([], agent=f"10.{i // 256}.{i % 256}.1"), T0, [])
    lines = pts.stats_lines(T0, {}, "c1")
    assert len(lines) == 1 + 50
    total = parse(lines[0])["fields"]
    assert total["datagrams"] == 500 and total["untracked_agent_datagrams"] == 450
