"""Every dashboard query runs on a real InfluxDB holding data written the way the product writes it.

Seeds (all through the product's own code, nothing hand-typed in line protocol):
- sFlow: the golden datagrams (tests/fixtures/sflow/**/*.bin) through the real collector path
  (`SflowPipeline` → `BatchingWriter`, what `fabricscope sflow replay` and the listener run),
  replayed in ROUNDS rounds STEP_S apart, because a .bin file carries no capture time (replay
  stamps its mtime) and rates need two samples in different intervals. Plus one datagram per
  round built with the simulator's sFlow encoder for what no golden file has: a hypervisor with
  a VM (sflow_virt_*) and a NIC that is oper-down.
- APIC: tracker outputs (NodeChange / Move / Anomaly) through `collector.apic.points`
  (`encode_outputs`, `interface_line`, `stats_line`).
- Analyzers: the real `MoveCauseAnalyzer` and `TrafficAnalyzer` run on the seeded database by
  the scheduler's `run_analyzer`, which adds their `fabricscope_stats` health points.

Then `grafana/query_check.run_dashboard_queries` expands Grafana's macros and variables and runs
every variable, annotation and panel query: none may fail, none may come back empty.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest

from collector.apic.points import encode_outputs, interface_line, stats_line
from collector.apic.tracker import Anomaly, Move, NodeChange
from collector.sflow.pcap import read_datagrams
from collector.sflow.pipeline import SflowPipeline
from influx.writer import BatchingWriter

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "sflow").glob("**/*.bin"))
NS = 1_000_000_000
ROUNDS = 4
STEP_S = 10
FABRIC = "fabric1"
ADDR = "00:50:56:AA:BB:01"  # the endpoint that moves, flaps and gets an anomaly


def _load(name: str):  # grafana/ is not a package: load its modules by path
    spec = importlib.util.spec_from_file_location(f"grafana_{name}", GRAFANA / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


query_check = _load("query_check")
build_dashboards = _load("build_dashboards")

# Panels that the seeds cannot fill, with the reason. Keep short.
NO_DATA_EXPECTED: dict[str, str] = {}


# ------------------------------------------------------------------ generated == committed
def test_committed_dashboards_are_generated() -> None:
    for name, text in build_dashboards.build().items():
        path = GRAFANA / "dashboards" / name
        assert path.exists(), f"{name} missing: run python grafana/build_dashboards.py"
        assert path.read_text() == text, f"{name} is stale: run python grafana/build_dashboards.py"


def test_generated_dashboards_are_the_expected_set() -> None:
    assert set(build_dashboards.BUILDERS) == {
        "fabric-overview.json",
        "endpoint-moves.json",
        "endpoint-detail.json",
        "interfaces.json",
        "hosts.json",
        "flows.json",
        "pipeline-health.json",
    }
    d = json.loads((GRAFANA / "dashboards" / "endpoint-moves.json").read_text())
    annos = {a["name"]: a for a in d["annotations"]["list"]}
    assert 'FROM "apic_endpoint_move"' in annos["Endpoint moves"]["query"]
    cause = annos["Move causes"]
    assert 'FROM "move_analysis"' in cause["query"]
    assert cause["textColumn"] == "evidence" and "cause" in cause["tagsColumn"]
    d = json.loads((GRAFANA / "dashboards" / "endpoint-detail.json").read_text())
    (address,) = [v for v in d["templating"]["list"] if v["name"] == "address"]
    assert 'WITH KEY = "addr"' in address["query"]
    # Incidents: a table and annotations on the overview and on the endpoint's dashboard.
    for name in ("fabric-overview.json", "endpoint-detail.json"):
        d = json.loads((GRAFANA / "dashboards" / name).read_text())
        annos = {a["name"]: a for a in d["annotations"]["list"]}
        assert 'FROM "incident"' in annos["Incidents"]["query"], name
        assert annos["Incidents"]["textColumn"] == "summary"
        tables = [p for p in d["panels"] if p["title"] == "Incidents"]
        assert len(tables) == 1 and tables[0]["type"] == "table", name
        assert 'FROM "incident"' in tables[0]["targets"][0]["query"]


def test_macro_expansion() -> None:
    defs = {"agent": {"multi": True, "includeAll": True, "allValue": ".*"}, "address": {}}
    q = query_check.expand(
        "SELECT max(x) FROM m WHERE $timeFilter AND a =~ /^$agent$/ AND b = '$address' "
        "GROUP BY time($__interval) LIMIT $__interval_ms",
        (1_700_000_000_000_000_000, 1_700_000_060_000_000_001),
        {"agent": "10.0.0.1", "address": "00:50:56:AA:BB:01"},
        defs,
        "1m",
    )
    assert q == (
        "SELECT max(x) FROM m WHERE time >= 1700000000000ms and time <= 1700000060001ms "
        "AND a =~ /^10\\.0\\.0\\.1$/ AND b = '00:50:56:AA:BB:01' GROUP BY time(1m) LIMIT 60000"
    )
    q = query_check.expand("x =~ /^$agent$/", (0, 0), {"agent": "$__all"}, defs)
    assert q == "x =~ /^.*$/"


# ------------------------------------------------------------------ seeding
def _vm_datagram(r: int) -> bytes:
    """A hypervisor (2:1) with one VM (3:1) and one NIC that is admin-up, oper-down (0:3)."""
    import simulators.sflow_encoder as enc

    hv = enc.CounterSample(
        enc.SOURCE_PHYSICAL_ENTITY,
        1,
        [
            enc.HostDescr(hostname="hv1", os_release="6.1.0"),
            enc.HostAdapters([enc.HostAdapter(3, ["02fc00000003"])]),
            enc.HostCpu(
                load_one=0.5,
                cpu_num=8,
                cpu_speed=2400,
                uptime=1000 + r * STEP_S,
                cpu_user=10_000 + r * 4000,
                cpu_system=5000 + r * 2000,
                cpu_idle=100_000 + r * 74_000,
            ),  # fmt: skip
            enc.HostMemory(mem_total=64 << 30, mem_free=40 << 30, mem_cached=8 << 30),
            enc.VirtNode(mhz=2400, cpus=8, memory=64 << 30, memory_free=40 << 30, num_domains=1),
        ],
        expanded=True,
    )
    vm = enc.CounterSample(
        enc.SOURCE_LOGICAL_ENTITY,
        1,
        [
            enc.HostDescr(hostname="web-1"),
            enc.HostAdapters([enc.HostAdapter(2, ["02fc000000aa"])]),
            enc.HostParent(enc.SOURCE_PHYSICAL_ENTITY, 1),
            enc.VirtCpu(cpu_time=1000 + r * 5000, nr_virt_cpu=2),
            enc.VirtMemory(memory=3 << 30, max_memory=4 << 30),
            enc.VirtDiskIo(
                capacity=20 << 30,
                allocation=8 << 30,
                available=12 << 30,
                rd_req=10 * r,
                rd_bytes=81920 * r,
                wr_req=5 * r,
                wr_bytes=40960 * r,
            ),
            enc.VirtNetIo(
                bytes_in=1_000_000 * r, pkts_in=1000 * r, bytes_out=500_000 * r, pkts_out=600 * r
            ),
        ],  # fmt: skip
        expanded=True,
    )
    nic = enc.CounterSample(
        enc.SOURCE_IFINDEX,
        3,
        [enc.IfCounters(if_index=3, if_status=1, if_in_octets=1000 * r, if_out_octets=900 * r)],
    )
    return enc.encode_datagram("192.0.2.10", [hv, vm, nic], sequence=r + 1)


def _seed_sflow(url: str, db: str, t0: int) -> int:
    """Replay the golden datagrams (and the VM datagram) ROUNDS times; return the last time."""
    writer = BatchingWriter(url, "", "-", db, batch_size=5000, flush_interval_s=0.1)

    def extra() -> dict[str, int | float]:  # as `sflow listen` wires it: the writer's counters
        return {k: v for k, v in writer.stats().items() if isinstance(v, int | float)}

    pipe = SflowPipeline(
        writer,
        flow_interval_s=STEP_S,
        stats_interval_s=STEP_S,
        instance="dashtest-1-w0",
        extra_stats=extra,
    )
    last = t0
    try:
        for r in range(ROUNDS):
            base = t0 + r * STEP_S * NS
            k = 0
            for path in FIXTURES:
                for _, source, payload in read_datagrams(str(path)):
                    last = base + k * 1_000_000  # receive time: 1 ms apart within a round
                    pipe.tick(last)
                    pipe.handle(payload, source, last)
                    k += 1
            last = base + k * 1_000_000
            pipe.tick(last)
            pipe.handle(_vm_datagram(r), "192.0.2.10", last)
        last = t0 + ROUNDS * STEP_S * NS
        pipe.tick(last)
        pipe.finish(last)
        assert writer.flush(30), "writer did not drain"
    finally:
        writer.close()
    assert pipe.points.stats.decode_errors == 0
    return last


def _seed_apic(t0: int) -> list[str]:
    s = t0 / NS

    def loc(node: int, ifc: str, encap: str = "vlan-101") -> tuple[int, str, str, int, str]:
        return (node, ifc, encap, 16386, "")

    outputs = [
        NodeChange(
            s + 1, 101, 15826915, ADDR, False, "created", 0x1, "eth1/1", 16386, "vlan-101", 0, ""
        ),  # fmt: skip
        NodeChange(
            s + 6, 102, 15826915, ADDR, False, "created", 0x1, "eth1/1", 16386, "vlan-101", 0, ""
        ),  # fmt: skip
        NodeChange(s + 6, 101, 15826915, ADDR, False, "modified", 0x2, "", 0, "", 102, ""),
        # the move back at s + 16: 101 learns it locally again, 102 deletes its entry
        NodeChange(
            s + 16, 101, 15826915, ADDR, False, "modified", 0x1, "eth1/1", 16386, "vlan-101", 0, ""
        ),  # fmt: skip
        NodeChange(s + 16, 102, 15826915, ADDR, False, "deleted", 0x1, "eth1/1", 0, "", 0, ""),
        Move(
            s + 6,
            15826915,
            ADDR,
            False,
            loc(101, "eth1/1"),
            loc(102, "eth1/1"),
            1,
            "t1/app/web",
            "t1/bd1",
            "t1/v1",
        ),  # fmt: skip
        Move(
            s + 16,
            15826915,
            ADDR,
            False,
            loc(102, "eth1/1"),
            loc(101, "eth1/1"),
            2,
            "t1/app/web",
            "t1/bd1",
            "t1/v1",
        ),  # fmt: skip
        Move(
            s + 26,
            2981888,
            "10.1.1.20",
            True,
            loc(103, "eth1/5"),
            loc(104, "eth1/5"),
            1,
            "t1/app/db",
            "t1/bd1",
            "t1/v1",
        ),  # fmt: skip
        Anomaly(s + 17, "rapid", 15826915, ADDR, False, "2400 events/min", {"rate": 2400}),
        Anomaly(
            s + 27,
            "duplicate_ip",
            2981888,
            "10.1.1.20",
            True,
            "bound to 2 MACs",
            {"macs": "00:50:56:AA:BB:02,00:50:56:AA:BB:03"},
        ),  # fmt: skip
    ]
    lines = encode_outputs(FABRIC, outputs)
    for r in range(ROUNDS):
        ts = s + r * STEP_S
        counters = {"in_bytes_cum": 10**9 + r * 10**6, "in_bytes_rate": 1.5e5,
                    "out_bytes_cum": 2 * 10**9 + r * 10**6, "out_bytes_rate": 2.5e5}  # fmt: skip
        for node, ifc, up in ((101, "eth1/1", r < 1), (102, "eth1/1", True)):
            line = interface_line(FABRIC, node, ifc,
                                  {"oper_st": "up" if up else "down", "oper_up": up,
                                   "speed": "10G", **counters}, ts)  # fmt: skip
            assert line
            lines.append(line)
        poller = {"state": "connected", "events": 10 * r, "moves": r, "anomalies": 0,
                  "lag_s": 0.25, "queue_depth": 0}  # fmt: skip
        stat = stats_line(FABRIC, poller, ts)
        assert stat
        lines.append(stat)
    return lines


@pytest.fixture
def seeded(influxdb, influx_db) -> tuple[int, int]:
    t0 = (time.time_ns() // (60 * NS) - 60) * 60 * NS  # an hour ago, on a minute boundary
    last = _seed_sflow(influxdb.url, influx_db, t0)
    with BatchingWriter(influxdb.url, "", "-", influx_db, flush_interval_s=0.1) as w:
        w.write_lines(_seed_apic(t0))
        assert w.flush(30)

    from analyzers.move_cause import MoveCauseAnalyzer, MoveCauseConfig
    from analyzers.scheduler import run_analyzer
    from analyzers.traffic import TrafficAnalyzer, TrafficConfig
    from influx.query import InfluxQuery

    # As `fabricscope analyze` runs them: through the scheduler's run_analyzer into a batching
    # writer, which also carries each run's fabricscope_stats point (process=analyzers, with the
    # writer's own counters). Two runs each, 20 s apart, so the per-interval panels have a
    # difference to show.
    q = InfluxQuery(influxdb.url, "", influx_db)
    now = [t0 + 60 * NS]
    clock = lambda: now[0] / NS  # noqa: E731
    with BatchingWriter(influxdb.url, "", "-", influx_db, flush_interval_s=0.1) as w:
        mc = MoveCauseAnalyzer(q, w, MoveCauseConfig(fabric=FABRIC), clock=clock)
        ta = TrafficAnalyzer(q, w, TrafficConfig(fabric=FABRIC), clock=clock)
        for step in (0, 20):
            now[0] = t0 + (60 + step) * NS  # traffic: [t0, t0 + 60 s) holds all seeded flows
            assert asyncio.run(run_analyzer(mc, 60.0)) and asyncio.run(run_analyzer(ta, 60.0))
            assert w.flush(30)
    # Three moves, one finding each; the second run finds them stored and writes nothing.
    assert (mc.stats.work["moves_analysed"], mc.stats.work["findings_written"]) == (6, 3)
    assert ta.stats.work["rows_written"] > 0
    assert mc.stats.failures == ta.stats.failures == 0
    return t0, max(last, now[0])  # first and last timestamp written


def test_every_dashboard_query_returns_data(influxdb, influx_db, seeded) -> None:
    t0, last = seeded
    # the range of the seeded data (1 s margin), not "now - 10 years"
    time_range = (t0 - NS, last + NS)
    variables: dict[str, str | list[str]] = {
        "address": ADDR,  # endpoint-detail: the endpoint with events, moves, anomaly, cause
        "host": "$__all",  # hosts: both the hsflowd host and the hypervisor (the one with a VM)
        "interfaces.json:agent": "$__all",
        "interfaces.json:ifindex": "$__all",
        "flows.json:agent": "$__all",  # flows come from 3 agents, the drop sample from a 4th
        # The dashboard's default (All): collector, poller and analyzers rows all in view.
        "pipeline-health.json:process": "$__all",
        "pipeline-health.json:instance": "$__all",
    }
    results = query_check.run_dashboard_queries(influxdb.url, influx_db, time_range, variables)
    if os.environ.get("FABRICSCOPE_DASHTEST_VERBOSE"):
        for r in results:
            print(r, "\n    first:", r.values[:1], "last:", r.values[-1:])
    files = {r.dashboard for r in results}
    assert files >= set(build_dashboards.BUILDERS) | {"pipeline-health.json"}
    errors = [str(r) for r in results if r.error]
    assert not errors, "\n".join(errors)
    empty = [
        str(r) for r in results if r.empty and f"{r.dashboard} {r.where}" not in NO_DATA_EXPECTED
    ]
    assert not empty, f"{len(empty)} of {len(results)} queries returned no data:\n" + "\n".join(
        empty
    )
    # Top talkers is reduced by InfluxDB: at most 20 rows, and they are the 20 largest sums.
    (top,) = [r for r in results if "'Top talkers (source → destination)'" in r.where]
    assert 0 < len(top.values) <= 20
    err, sums = query_check._Client(influxdb.url, influx_db).run(
        'SELECT sum("bytes") FROM "sflow_flows" WHERE time >= '
        f"{time_range[0]} AND time <= {time_range[1]} AND \"src_ip\" != 'other' "
        'GROUP BY "src_ip", "dst_ip", "ip_protocol"'
    )
    assert not err
    expected = sorted((row[1] for row in sums), reverse=True)[:20]
    assert sorted((row[1] for row in top.values), reverse=True) == expected
    # Current leaf of the endpoint that moved 101 → 102 → 101: both views say 101.
    leaf = {r.where[-1]: r for r in results if "'Current leaf'" in r.where}
    assert [row[1] for row in leaf["A"].values if row[1] is not None][-1] == "101"
    assert [row[1] for row in leaf["B"].values if row[1] is not None][-1] == 101
    # every panel target was run
    n_targets = sum(
        len(p.get("targets", []))
        for f in query_check.dashboard_files()
        for p in query_check.all_panels(json.loads(f.read_text())["panels"])
    )
    assert sum(r.where.startswith("panel ") for r in results) == n_targets


# ------------------------------------------------------------------ the fixed panels, by value
def _panel_results(url: str, db: str, t0: int, t1: int, dashboard: str, title: str, **variables):
    results = query_check.run_dashboard_queries(
        url,
        db,
        (t0, t1),
        dict(variables),
        dashboards=[GRAFANA / "dashboards" / dashboard],
    )
    found = {r.where.rsplit(" ", 1)[1]: r for r in results if f"{title!r}" in r.where}
    assert found, f"no panel {title!r} in {dashboard}"
    for r in found.values():
        assert not r.error, str(r)
    return found


def _write(url: str, db: str, lines: list[str]) -> None:
    with BatchingWriter(url, "", "-", db, flush_interval_s=0.05) as w:
        w.write_lines(lines)
        assert w.flush(30)


def test_interfaces_oper_down_counts_each_port_by_its_last_state(influxdb, influx_db) -> None:
    """A port that went down and came back no longer counts (issue #12: the stat showed 1)."""
    t0 = (time.time_ns() // (60 * NS) - 30) * 60 * NS
    s = t0 / NS

    def port(node: int, ifc: str, up: bool, ts: float) -> str:
        line = interface_line(FABRIC, node, ifc, {"oper_st": "up" if up else "down",
                                                  "oper_up": up, "speed": "10G"}, ts)  # fmt: skip
        assert line
        return line

    _write(influxdb.url, influx_db, [
        port(101, "eth1/1", False, s + 1), port(101, "eth1/1", True, s + 25),   # flapped, back up
        port(102, "eth1/2", True, s + 1), port(102, "eth1/2", False, s + 40),   # down now
        port(103, "eth1/3", True, s + 1),
    ])  # fmt: skip
    found = _panel_results(
        influxdb.url, influx_db, t0, t0 + 60 * NS, "fabric-overview.json",
        "Interfaces oper-down", fabric="$__all",
    )  # fmt: skip
    assert sum(row[1] for row in found["A"].values) == 1  # the stat's calc is sum
    # 102 comes back too: nothing is down, the query finds nothing and the stat shows "0"
    _write(influxdb.url, influx_db, [port(102, "eth1/2", True, s + 50)])
    found = _panel_results(
        influxdb.url, influx_db, t0, t0 + 60 * NS, "fabric-overview.json",
        "Interfaces oper-down", fabric="$__all",
    )  # fmt: skip
    assert found["A"].rows == 0
    panel = next(
        p for p in build_dashboards.fabric_overview()["panels"]
        if p["title"] == "Interfaces oper-down"
    )  # fmt: skip
    assert panel["fieldConfig"]["defaults"]["noValue"] == "0"
    assert panel["options"]["reduceOptions"]["calcs"] == ["sum"]


def test_endpoint_detail_current_leaf_and_events_by_status(influxdb, influx_db) -> None:
    """An endpoint that never moved still has a current leaf (its local learn), and the events
    panel splits by status."""
    t0 = (time.time_ns() // (60 * NS) - 30) * 60 * NS
    s = t0 / NS
    addr = "00:50:56:CC:DD:01"
    outputs = [
        NodeChange(s + 1, 103, 15826915, addr, False, "created", 0x1, "eth1/7", 16386,
                   "vlan-101", 0, ""),  # local learn on 103
        NodeChange(s + 2, 104, 15826915, addr, False, "created", 0x40, "tunnel5", 0, "",
                   103, ""),  # a bounce entry on 104 points at 103: not where it is
        NodeChange(s + 3, 103, 15826915, addr, False, "modified", 0x1, "eth1/7", 16386,
                   "vlan-101", 0, ""),
        NodeChange(s + 4, 104, 15826915, addr, False, "deleted", 0x40, "tunnel5", 0, "", 0, ""),
    ]  # fmt: skip
    _write(influxdb.url, influx_db, encode_outputs(FABRIC, outputs))
    t1 = t0 + 60 * NS
    leaf = _panel_results(
        influxdb.url, influx_db, t0, t1, "endpoint-detail.json", "Current leaf", address=addr
    )
    assert leaf["A"].rows == 0  # no move
    assert [row[1] for row in leaf["B"].values if row[1] is not None][-1] == 103
    by_status = _panel_results(
        influxdb.url, influx_db, t0, t1, "endpoint-detail.json",
        "Events per interval by status", address=addr,
    )  # fmt: skip
    counts = {ref: sum(row[1] or 0 for row in r.values) for ref, r in by_status.items()}
    assert counts == {"A": 2, "B": 1, "C": 1}  # created, modified, deleted
