"""Fixtures for the API tests: a real InfluxDB database seeded with synthetic points in exactly
the shapes the collector (sFlow/Telegraf), the APIC poller and the move analyzer write."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fabricscope.settings import Settings
from influx.query import InfluxQuery

S = 1_000_000_000
MAC = "00:50:56:AA:00:01"
IP1 = "10.1.1.5"
IP2 = "10.1.2.9"
API_KEY = "s3cret-key"


@dataclass
class Seeded:
    db: str
    url: str
    now_ns: int
    move_ns: int  # the MAC's move 101 -> 102


def seed_lines(now: int) -> tuple[list[str], int]:
    move = now - 300 * S
    ev = "apic_endpoint_event,addr={a},addr_type={t},fabric=fabric1 "
    mv = "apic_endpoint_move,addr={a},addr_type={t},fabric={f} "
    lines = [
        # MAC: learned on 101, moves to 102 (link failover), 101 entry deleted.
        ev.format(a=MAC, t="mac") + 'node=101i,vnid=15302i,status="created",flags="local",'
        'interface="eth1/1",encap="vlan-100",pctag=49153i ' + str(now - 600 * S),
        mv.format(a=MAC, t="mac", f="fabric1") + 'from_node="101",from_interface="eth1/1",'
        'from_encap="vlan-100",from_pctag=49153i,to_node="102",to_interface="eth1/2",'
        'to_encap="vlan-100",to_pctag=49153i,vnid=15302i,count=1i,epg="prod/app/web",'
        'bd="prod/bd-web",vrf="prod/vrf1" ' + str(move),
        ev.format(a=MAC, t="mac") + 'node=102i,vnid=15302i,status="created",flags="local",'
        'interface="eth1/2",encap="vlan-100",pctag=49153i ' + str(move),
        ev.format(a=MAC, t="mac") + 'node=101i,vnid=15302i,status="deleted",flags="",'
        "pctag=49153i " + str(move + 1000),
        # IP1 on 102, one move in from 103 (not analysed yet).
        mv.format(a=IP1, t="ipv4", f="fabric1") + 'from_node="103",from_interface="eth1/9",'
        'to_node="102",to_interface="eth1/2",vnid=2818048i,count=1i,epg="prod/app/db",'
        'bd="prod/bd-db",vrf="prod/vrf1" ' + str(now - 200 * S),
        ev.format(a=IP1, t="ipv4") + 'node=102i,vnid=2818048i,status="created",flags="local",'
        'interface="eth1/2",encap="vlan-200" ' + str(now - 200 * S),
        # IP2 on 103.
        ev.format(a=IP2, t="ipv4") + 'node=103i,vnid=2818048i,status="created",flags="local",'
        'interface="eth1/7",encap="vlan-300" ' + str(now - 100 * S),
        # Another fabric: must not leak into fabric=fabric1 queries.
        mv.format(a="10.9.9.9", t="ipv4", f="fabric2") + 'from_node="201",to_node="202",'
        "vnid=1i,count=1i " + str(now - 50 * S),
        # Anomalies.
        "apic_endpoint_anomaly,addr=00:50:56:AA:00:01,fabric=fabric1,kind=rapid "
        'detail="12 moves in 60s",vnid=15302i,addr_type="mac" ' + str(now - 250 * S),
        "apic_endpoint_anomaly,addr=10.1.2.9,fabric=fabric1,kind=offsubnet "
        'detail="10.1.2.9 not in any BD subnet",vnid=2818048i,addr_type="ipv4" '
        + str(now - 90 * S),
        # Analyzer finding for the MAC move, stamped at the move's time.
        f"move_analysis,addr={MAC},cause=link_failover,fabric=fabric1 confidence=0.9,"
        'evidence="eth1/1 on node 101 went down 3s before the move",'
        'move_time="2026-01-01T00:00:00.00Z",from_node="101",from_interface="eth1/1",'
        'to_node="102",to_interface="eth1/2" ' + str(move),
        # Process stats: collector + poller fresh, analyzers stale; a newer per-agent row.
        "fabricscope_stats,instance=c1-1-w0,process=collector datagrams=324i,decode_errors=0i "
        + str(now - 5 * S),
        "fabricscope_stats,agent=127.0.0.1,instance=c1-1-w0,process=collector datagrams=9i,"
        "lost_datagrams=0i " + str(now - 2 * S),
        "fabricscope_stats,fabric=fabric1,process=poller lines=50i " + str(now - 5 * S),
        "fabricscope_stats,process=analyzers runs=3i " + str(now - 600 * S),
        # Telegraf-shape host metrics and a VM on the hypervisor.
        "cpu,agent=192.0.2.2,cpu=cpu-total,host=hv1 usage_active=12.5,usage_user=8.0,"
        "usage_system=4.5 " + str(now - 60 * S),
        "cpu,agent=192.0.2.2,cpu=cpu-total,host=hv1 usage_active=17.5,usage_user=10.0,"
        "usage_system=7.5 " + str(now - 30 * S),
        "mem,agent=192.0.2.2,host=hv1 total=25276510208i,used_percent=40.5 " + str(now - 30 * S),
        "system,agent=192.0.2.2,host=hv1 load1=0.5,load5=0.4,load15=0.3,n_cpus=8i,uptime=555i "
        + str(now - 30 * S),
        "sflow_host_adapters,agent=192.0.2.2,host=hv1,ifindex=4,source_id=3:2,vm=web-1 "
        'macs="005056aa0001",mac_count=1i ' + str(now - 30 * S),
        "sflow_host_adapters,agent=192.0.2.2,host=hv1,ifindex=2,source_id=2:1 "
        'macs="02fc00000001",mac_count=1i ' + str(now - 30 * S),
        # Interfaces: one sFlow port, one APIC port.
        "sflow_if_counters,agent=10.0.0.1,host=10.0.0.1,ifindex=5,source_id=0:5 if_index=5i,"
        "if_speed=10000000000i,if_oper_up=1i,if_admin_up=1i,if_in_octets=1000i,"
        "if_out_octets=2000i,if_in_errors=0i,if_out_errors=0i " + str(now - 30 * S),
        'apic_interface,fabric=fabric1,interface=eth1/1,node=101 oper_st="down",oper_up=false,'
        'speed="10G" ' + str(now - 30 * S),
        # Flows: IP1 -> IP2 is the top talker; the "other" row folds the rest.
        "sflow_flows,agent=10.0.0.1,dst_ip=10.1.2.9,dst_mac=005056aa0002,ip_protocol=6,"
        "src_ip=10.1.1.5,src_mac=005056aa0001,vlan=100 samples=10i,packets=2000i,"
        "bytes=3000000i " + str(now - 40 * S),
        "sflow_flows,agent=10.0.0.1,dst_ip=10.1.2.9,dst_mac=005056aa0002,ip_protocol=6,"
        "src_ip=10.1.1.5,src_mac=005056aa0001,vlan=100 samples=5i,packets=1000i,"
        "bytes=1000000i " + str(now - 30 * S),
        "sflow_flows,agent=10.0.0.1,dst_ip=10.1.1.5,dst_mac=005056aa0001,ip_protocol=6,"
        "src_ip=10.1.2.9,src_mac=005056aa0002,vlan=100 samples=2i,packets=400i,"
        "bytes=50000i " + str(now - 30 * S),
        "sflow_flows,agent=10.0.0.1,dst_ip=other,dst_mac=other,ip_protocol=other,src_ip=other,"
        "src_mac=other,vlan=other samples=1i,packets=200i,bytes=20000i,flows=3i "
        + str(now - 30 * S),
    ]
    return lines, move


def write_lines(url: str, db: str, lines: list[str]) -> None:
    resp = httpx.post(
        f"{url}/write",
        params={"db": db, "precision": "ns"},
        content="\n".join(lines).encode(),
        timeout=30,
    )
    assert resp.status_code == 204, resp.text


@pytest.fixture
def seeded(influxdb, influx_db) -> Seeded:
    now = time.time_ns()
    lines, move = seed_lines(now)
    write_lines(influxdb.url, influx_db, lines)
    return Seeded(influx_db, influxdb.url, now, move)


def make_client(url: str, db: str, api_key: str = "") -> TestClient:
    settings = Settings(influx_url=url, influx_bucket=db, api_key=api_key)  # type: ignore[arg-type]
    return TestClient(create_app(settings, InfluxQuery(url, database=db, timeout_s=5)))


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with make_client(seeded.url, seeded.db) as c:
        yield c
