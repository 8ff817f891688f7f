"""GET /api/v1/incidents and /api/v1/incidents/{id} against a real InfluxDB seeded with incident
points in the shape of docs/measurements.md."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import API_KEY, MAC, S, Seeded, make_client, write_lines
from tests.api.incident_data import (
    FAILOVER_ID,
    LOOP_ID,
    LOOP_MACS,
    OLD_ID,
    VM_ID,
    IncidentTimes,
    incident_lines,
)


@pytest.fixture
def inc_times(seeded: Seeded) -> IncidentTimes:
    lines, times = incident_lines(seeded.now_ns, seeded.move_ns)
    write_lines(seeded.url, seeded.db, lines)
    return times


@pytest.fixture
def api(seeded: Seeded, inc_times: IncidentTimes) -> Iterator[TestClient]:
    del inc_times
    with make_client(seeded.url, seeded.db) as c:
        yield c


def ids(resp_json: dict) -> list[str]:
    return [i["id"] for i in resp_json["items"]]


def test_list_newest_first_with_filters(api: TestClient) -> None:
    r = api.get("/api/v1/incidents")
    assert r.status_code == 200, r.text
    body = r.json()
    assert ids(body) == [FAILOVER_ID, VM_ID, LOOP_ID, OLD_ID]
    loop = body["items"][2]
    assert loop["kind"] == "loop" and loop["fabric"] == "fabric1"
    assert loop["places"] == ["bd:prod/bd-web", "node-101/eth1/5", "node-102/eth1/7"]
    assert loop["addrs"] == LOOP_MACS
    assert loop["endpoints"] == 3 and loop["moves"] == 6 and loop["confidence"] == 0.95
    assert loop["peak_flood_pps"] == 48000.0
    assert loop["start"] < loop["end"] and "L2 loop" in loop["summary"]

    assert ids(api.get("/api/v1/incidents?fabric=fabric1").json()) == [
        FAILOVER_ID,
        LOOP_ID,
        OLD_ID,
    ]
    assert ids(api.get("/api/v1/incidents?fabric=fabric2").json()) == [VM_ID]
    assert ids(api.get("/api/v1/incidents?kind=loop").json()) == [LOOP_ID]
    assert ids(api.get("/api/v1/incidents?since=-1h").json()) == [FAILOVER_ID, VM_ID, LOOP_ID]
    assert ids(api.get("/api/v1/incidents?since=-4h&until=-1h").json()) == [OLD_ID]
    p1 = api.get("/api/v1/incidents?limit=2").json()
    assert ids(p1) == [FAILOVER_ID, VM_ID] and p1["next_offset"] == 2
    p2 = api.get("/api/v1/incidents?limit=2&offset=2").json()
    assert ids(p2) == [LOOP_ID, OLD_ID]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("since=yesterday", "since"),
        ("until=soon", "until"),
        ("since=-1h&until=-2h", "since"),
        ("kind=storm", "kind"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("offset=-1", "offset"),
        ("fabric=%20", "fabric"),
        ("since=-1000000d", "since"),
        ("until=%2B3000000d", "until"),
        ("since=9999-12-31T23:59:59Z", "since"),
        ("since=0001-01-01T00:00:00Z", "since"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    api: TestClient, query: str, param: str
) -> None:
    r = api.get(f"/api/v1/incidents?{query}")
    assert r.status_code == 422, (query, r.status_code, r.text)
    detail = r.json()["detail"]
    assert any(param in d["loc"] for d in detail), detail
    assert all(d["msg"] for d in detail)


def test_detail_has_the_timeline_of_its_moves(api: TestClient, inc_times: IncidentTimes) -> None:
    r = api.get(f"/api/v1/incidents/{LOOP_ID}")
    assert r.status_code == 200, r.text
    inc = r.json()
    assert inc["id"] == LOOP_ID and inc["kind"] == "loop" and inc["moves"] == 6
    tl = inc["timeline"]
    assert len(tl) == 6 and inc["timeline_truncated"] is False
    assert all(m["incident_id"] == LOOP_ID and m["cause"] == "loop" for m in tl)
    assert [m["time"] for m in tl] == sorted(m["time"] for m in tl)
    assert {m["addr"] for m in tl} == set(LOOP_MACS)
    assert tl[0]["from_node"] == "101" and tl[0]["to_interface"] == "eth1/7"
    assert tl[0]["topology"] == "partial"

    fo = api.get(f"/api/v1/incidents/{FAILOVER_ID}?fabric=fabric1").json()
    assert [m["addr"] for m in fo["timeline"]] == [MAC]
    assert fo["timeline"][0]["evidence"].startswith("eth1/1 on node 101 went down")


def test_unknown_or_hostile_ids(api: TestClient) -> None:
    for bad in ("nope", "inc-loop-9f3c2a' OR '1'='1", 'x" OR 1=1 --', "inc-loop-9f3c2a/../x"):
        r = api.get("/api/v1/incidents/" + quote(bad, safe=""))
        assert r.status_code == 404, (bad, r.text)
        assert "no incident" in r.json()["detail"]
    # The right id in the wrong fabric or outside the window is not found either.
    assert api.get(f"/api/v1/incidents/{LOOP_ID}?fabric=fabric2").status_code == 404
    assert api.get(f"/api/v1/incidents/{OLD_ID}?since=-1h").status_code == 404
    assert api.get(f"/api/v1/incidents/{OLD_ID}").status_code == 200
    r = api.get("/api/v1/incidents/" + quote("inc\x00x", safe=""))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "incident_id"
    assert api.get("/api/v1/incidents/" + "x" * 129).status_code == 422


def test_incidents_want_the_api_key(seeded: Seeded, inc_times: IncidentTimes) -> None:
    del inc_times
    with make_client(seeded.url, seeded.db, API_KEY) as c:
        assert c.get("/api/v1/incidents").status_code == 401
        assert c.get(f"/api/v1/incidents/{LOOP_ID}").status_code == 401
        r = c.get("/api/v1/incidents", headers={"X-API-Key": API_KEY})
        assert r.status_code == 200 and LOOP_ID in ids(r.json())


def test_timeline_keeps_moves_whose_cause_is_older_than_the_kind(
    seeded: Seeded, api: TestClient
) -> None:
    """An incident that became a loop after one of its moves left the analyzers' re-analyse
    window: that move still says `unknown`, yet belongs to the incident's timeline."""
    t = seeded.now_ns - 900 * S
    iid = "inc-kind-changed"
    write_lines(
        seeded.url,
        seeded.db,
        [
            f'incident,fabric=fabric1,kind=loop id="{iid}",start="x",end="y",start_ns={t}i,'
            f'end_ns={t + 60 * S}i,moves=2i,endpoints=2i,places="bd:prod/bd-web",summary="s" {t}',
            "move_analysis,addr=00:50:56:DD:00:01,cause=unknown,fabric=fabric1 "
            f'incident_id="{iid}",confidence=0.0 {t}',
            "move_analysis,addr=00:50:56:DD:00:02,cause=loop,fabric=fabric1 "
            f'incident_id="{iid}",confidence=0.9 {t + 60 * S}',
        ],
    )
    inc = api.get(f"/api/v1/incidents/{iid}").json()
    assert [m["cause"] for m in inc["timeline"]] == ["unknown", "loop"]
    assert inc["start"] == "x"  # fields pass through; bounds came from start_ns/end_ns
