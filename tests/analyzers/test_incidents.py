"""Incidents: grouping in memory, then re-runs and late evidence against a real InfluxDB."""

from __future__ import annotations

import httpx
import pytest

from analyzers import incidents
from analyzers.causes import Verdict
from analyzers.config import MoveCauseConfig
from analyzers.move_cause import MoveCauseAnalyzer
from influx import reads
from influx.line_protocol import encode_line
from influx.query import InfluxQuery
from influx.sink import ListSink

from .evidence_builders import NS, T0, move

CFG = MoveCauseConfig(fabric="fabric1")
NOW = T0 + 120 * NS


def v(cause: str, key: str, conf: float = 0.9) -> Verdict:
    return Verdict(cause, conf, f"{cause} evidence", key, (key,), f"{cause} shared")


def test_moves_sharing_cause_and_place_are_one_incident() -> None:
    loop = [(move(f"00:50:56:AA:00:{i:02X}", T0 + i * NS, ("1", "e1"), ("2", "e1")),
             v("loop", "bd:t/b")) for i in range(30)]  # fmt: skip
    mac, ip = "00:50:56:AA:BB:01", "10.1.1.5"
    vmv = v("vm_migration", "vm:vm-03")
    vm = [(move(mac, T0, ("1", "e5"), ("3", "e7")), vmv),
          (move(ip, T0 + NS, ("1", "e5"), ("3", "e7"), to_mac=mac), vmv)]  # fmt: skip
    far = [
        (move("00:50:56:AA:00:01", T0 + 900 * NS, ("1", "e1"), ("2", "e1")), v("loop", "bd:t/b"))
    ]
    out = incidents.group("fabric1", loop + vm + far, CFG, since_ns=T0 - NS)
    by_kind = sorted((i.kind, i.moves, i.endpoints) for i in out)
    # The loop 15 minutes later is another incident; the VM's MAC and IP are one endpoint.
    assert by_kind == [("loop", 1, 1), ("loop", 30, 30), ("vm_migration", 2, 1)]
    again = incidents.group("fabric1", loop + vm + far, CFG, since_ns=T0 - NS)
    assert [i.id for i in out] == [i.id for i in again]  # deterministic ids
    vm_inc = next(i for i in out if i.kind == "vm_migration")
    assert vm_inc.addrs == [mac, ip] and "vm:vm-03" in vm_inc.places
    line = vm_inc.line("fabric1")
    assert line and line.startswith("incident,fabric=fabric1,kind=vm_migration ")


def test_previous_ids_win_so_late_evidence_updates_the_incident() -> None:
    moves = [
        move(f"00:50:56:AA:00:{i:02X}", T0 + i * NS, ("1", "e1"), ("2", "e1")) for i in range(6)
    ]
    first = incidents.group(
        "f", [(m, v("unknown", "bd:t/b", 0.0)) for m in moves], CFG, since_ns=T0
    )
    (u,) = first
    previous = {(m.addr, m.time_ns): u.id for m in moves}
    (lp,) = incidents.group("f", [(m, v("loop", "bd:t/b")) for m in moves], CFG, since_ns=T0,
                            previous=previous)  # fmt: skip
    assert lp.id == u.id and lp.kind == "loop"


# -- against InfluxDB ----------------------------------------------------------------------------


def post(url: str, db: str, lines: list[str | None]) -> None:
    r = httpx.post(f"{url}/write", params={"db": db}, content="\n".join(x for x in lines if x))
    assert r.status_code == 204, r.text


def move_line(addr: str, t: int, frm: tuple[str, str], to: tuple[str, str], bd: str) -> str | None:
    return encode_line(
        "apic_endpoint_move", {"fabric": "fabric1", "addr": addr, "addr_type": "mac"},
        {"from_node": frm[0], "from_interface": frm[1], "to_node": to[0], "to_interface": to[1],
         "bd": bd, "count": 1}, t,
    )  # fmt: skip


def flood(node: str, iface: str, t: int, pps: float) -> str | None:
    return encode_line("apic_interface", {"fabric": "fabric1", "node": node, "interface": iface},
                       {"in_flood_pkts_rate": pps}, t)  # fmt: skip


@pytest.fixture
def env(influxdb, influx_db):
    q = InfluxQuery(influxdb.url, "", influx_db)
    sink = ListSink()
    state = {"an": MoveCauseAnalyzer(q, sink, CFG)}

    def run(restart: bool = False) -> list[reads.StoredIncident]:
        if restart:
            state["an"] = MoveCauseAnalyzer(q, sink, CFG)
        state["an"].run_once(NOW)
        post(influxdb.url, influx_db, list(sink.lines))
        sink.lines.clear()
        return reads.incidents(q, "fabric1", 0, NOW + NS)

    yield influxdb.url, influx_db, run, q
    q.close()


def loop_lines(start_s: int = 0, n: int = 8) -> list[str | None]:
    return [
        move_line(f"00:50:56:AA:0{k}:{i:02X}", T0 + (start_s + 2 * k) * NS + i * NS // 10,
                  *((("101", "eth1/1"), ("102", "eth1/9")) if k % 2 == 0
                    else (("102", "eth1/9"), ("101", "eth1/1"))), bd="t1/loop")
        for k in range(2) for i in range(n)
    ]  # fmt: skip


def flood_lines() -> list[str | None]:
    return [flood("101", "eth1/1", T0 - k * 60 * NS, 4.0) for k in range(1, 6)] + [
        flood("101", "eth1/1", T0 + 1 * NS, 9000.0)
    ]


def test_reruns_keep_one_incident_per_event(env) -> None:
    url, db, run, q = env
    post(url, db, loop_lines() + flood_lines())
    first = run()
    assert [(i.kind, i.moves, i.endpoints) for i in first] == [("loop", 16, 16)]
    assert first[0].peak_flood_pps == pytest.approx(9000.0)
    assert "node-101/eth1/1" in first[0].places and "bd:t1/loop" in first[0].places
    assert [(i.id, i.kind) for i in run()] == [(first[0].id, "loop")]
    assert [(i.id, i.kind) for i in run(restart=True)] == [(first[0].id, "loop")]
    ids = {f.incident_id for f in reads.move_analysis(q, "fabric1", 0, NOW)}
    assert ids == {first[0].id}


def test_late_evidence_updates_the_incident(env) -> None:
    url, db, run, q = env
    post(url, db, loop_lines())
    (unknown,) = [i for i in run() if i.kind != "nic_teaming_flap"] or [None]
    assert unknown is not None and unknown.kind == "unknown", unknown
    # The APIC's counter poll lands late: the same incident becomes a loop, not a second one.
    post(url, db, flood_lines())
    after = run(restart=True)
    assert [(i.id, i.kind) for i in after] == [(unknown.id, "loop")]


def test_earlier_moves_arriving_late_move_the_start_without_duplicating(env) -> None:
    url, db, run, q = env
    post(url, db, loop_lines(start_s=10) + flood_lines())
    (first,) = run()
    post(url, db, loop_lines(start_s=6, n=4))  # earlier moves of the same loop, stored late
    (after,) = run()
    assert after.id == first.id and after.start_ns < first.start_ns
    assert after.moves == first.moves + 8


def test_incident_keeps_its_older_moves_when_they_leave_the_window(influxdb, influx_db) -> None:
    q = InfluxQuery(influxdb.url, "", influx_db)
    sink = ListSink()
    an = MoveCauseAnalyzer(q, sink, CFG)
    post(influxdb.url, influx_db, loop_lines(start_s=0) + loop_lines(start_s=40) + flood_lines())

    def run(now: int) -> list[reads.StoredIncident]:
        an.run_once(now)
        post(influxdb.url, influx_db, list(sink.lines))
        sink.lines.clear()
        return reads.incidents(q, "fabric1", 0, now + NS)

    (first,) = [i for i in run(NOW) if i.kind == "loop"]
    assert first.moves == 32
    # 620 s later the re-analyse window (600 s) starts after the loop's first half.
    later = run(T0 + 620 * NS)
    assert [(i.id, i.kind, i.start_ns, i.moves) for i in later] == [
        (first.id, "loop", first.start_ns, 32)
    ]
    q.close()


def test_a_loop_names_the_ports_it_moved_endpoints_between_not_their_home_ports() -> None:
    """20 endpoints, each leaving its own home port once and then flapping between the two
    looped ports: the incident's places and summary name the looped ports only."""
    found = []
    for i in range(20):
        mac = f"00:50:56:AA:00:{i:02X}"
        t = T0 + i * NS // 100
        found.append(
            (move(mac, t, ("101", f"eth1/{i + 1}"), ("103", "eth1/15")), v("loop", "bd:t/b"))
        )
        for k in range(1, 6):
            a, b = ("103", "eth1/15"), ("104", "eth1/26")
            src, dst = (a, b) if k % 2 else (b, a)
            found.append((move(mac, t + k * 2 * NS, src, dst), v("loop", "bd:t/b")))
    (inc,) = incidents.group("fabric1", found, CFG, since_ns=T0 - NS)
    ports = [p for p in inc.places if p.startswith("node-")]
    assert ports == ["node-103/eth1/15", "node-104/eth1/26"]
    assert inc.summary.endswith("moved 120 times between node-103/eth1/15 and node-104/eth1/26")
