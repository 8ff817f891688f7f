"""traffic attribution against a real InfluxDB."""

from __future__ import annotations

import httpx

from analyzers.traffic import TrafficAnalyzer, TrafficConfig
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from influx.sink import ListSink

NS = 1_000_000_000
END = 1_790_000_040 * NS  # interval boundary for interval_s=60 (1_790_000_040 % 60 == 0)
NOW = END + 30 * NS


def post(url: str, db: str, lines: list[str | None]) -> None:
    r = httpx.post(
        f"{url}/write", params={"db": db}, content="\n".join(x for x in lines if x), timeout=30
    )
    assert r.status_code == 204, r.text


def move(addr: str, addr_type: str, epg: str, bd: str, t: int, to_mac: str | None = None):
    return encode_line(
        "apic_endpoint_move",
        {"fabric": "fabric1", "addr": addr, "addr_type": addr_type},
        {
            "from_node": "101",
            "from_interface": "eth1/1",
            "to_node": "102",
            "to_interface": "eth1/3",
            "to_mac": to_mac,
            "epg": epg,
            "bd": bd,
            "vrf": "t1/v1",
        },
        t,
    )


def flow(src_mac: str, src_ip: str, nbytes: int, t: int, agent: str = "10.0.0.1"):
    return encode_line(
        "sflow_flows",
        {
            "agent": agent,
            "vlan": "10",
            "src_mac": src_mac,
            "dst_mac": "ffffffffffff",
            "src_ip": src_ip,
            "dst_ip": "10.1.1.99",
            "ip_protocol": "6",
        },
        {"samples": 1, "packets": nbytes // 1000, "bytes": nbytes},
        t,
    )


def test_traffic_attribution(influxdb, influx_db):
    post(influxdb.url, influx_db, [
        move("00:50:56:AA:00:01", "mac", "t1/app/web", "t1/bd1", END - 3600 * NS),
        # An IP endpoint whose rewrite MAC is unknown as a MAC endpoint: matched by IP.
        move("10.1.1.2", "ipv4", "t1/app/db", "t1/bd2", END - 3600 * NS),
        flow("005056aa0001", "10.1.1.1", 100_000, END - 30 * NS),
        flow("005056aa0001", "10.1.1.1", 50_000, END - 20 * NS, agent="10.0.0.2"),
        flow("0a0000000002", "10.1.1.2", 20_000, END - 10 * NS),
        flow("0a0000000003", "10.1.1.3", 7_000, END - 10 * NS),
        # Outside the interval: must not be counted.
        flow("005056aa0001", "10.1.1.1", 999_000, END),
        flow("005056aa0001", "10.1.1.1", 999_000, END - 61 * NS),
    ])  # fmt: skip
    q = InfluxQuery(influxdb.url, "", influx_db)
    sink = ListSink()
    an = TrafficAnalyzer(q, sink, TrafficConfig(fabric="fabric1", interval_s=60, lag_s=20))
    assert an.interval_for(NOW) == (END - 60 * NS, END)
    an.run_once(NOW)
    post(influxdb.url, influx_db, sink.lines)
    an.run_once(NOW)  # re-run of the same interval: same timestamps, overwritten
    post(influxdb.url, influx_db, sink.lines)
    rows = influxdb.rows(
        'SELECT "bytes", "packets", "endpoints" FROM "traffic_epg" GROUP BY "epg", "tenant"',
        influx_db,
    )
    res = influxdb.query('SELECT "bytes" FROM "traffic_epg" GROUP BY "epg", "tenant"', influx_db)[
        "results"
    ][0]["series"]
    by_epg = {s["tags"]["epg"]: (s["tags"]["tenant"], s["values"]) for s in res}
    assert len(rows) == 3
    assert by_epg["t1/app/web"] == ("t1", [[END, 150_000]])
    assert by_epg["t1/app/db"] == ("t1", [[END, 20_000]])
    assert by_epg["unattributed"][1] == [[END, 7_000]]
    ep = influxdb.rows(
        'SELECT "bytes", "epg", "node" FROM "traffic_endpoint" GROUP BY "addr"', influx_db
    )
    assert sorted(ep) == sorted(
        [[END, 150_000, "t1/app/web", "102"], [END, 20_000, "t1/app/db", "102"]]
    )
    q.close()


def test_no_flows_writes_nothing(influxdb, influx_db):
    q = InfluxQuery(influxdb.url, "", influx_db)
    sink = ListSink()
    assert TrafficAnalyzer(q, sink).run_once(NOW) == []
    assert sink.lines == []
    q.close()
