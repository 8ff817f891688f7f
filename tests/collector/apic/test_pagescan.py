"""The build's page scanner: the native records equal the decoded ones, on real simulator pages,
on every odd shape of element, and on corrupted bodies (where it must fail or agree, never
invent); and the tracker reaches the same state from scanned bytes as from decoded pages."""

from __future__ import annotations

import json
import random

import orjson
import pytest

from collector.apic import pagescan
from collector.apic.pagescan import element, native, records_of
from collector.apic.tracker import SNAPSHOT_NAMES, SNAPSHOT_REPEATING, Tracker
from simulators.fabric import SimulatedFabric
from tests.collector.apic.test_build_fast_path import _rows, _state

NAMES = SNAPSHOT_NAMES


def _comparable(body: bytes, recs: list[tuple[object, ...]]) -> list[object]:
    """Records with each element resolved, and non-string values as the JSON they stand for."""
    out = []
    for cls, where, *vals in recs:
        vals = [orjson.loads(v) if isinstance(v, bytes) else v for v in vals]
        out.append((cls, element(body, where), vals))
    return out


def _agree(body: bytes) -> None:
    """pagescan.records (native when built) gives the decoded records, or both refuse."""
    try:
        want = _comparable(body, records_of(orjson.loads(body)["imdata"], NAMES))
    except (ValueError, TypeError, KeyError):
        want = None
    try:
        got = _comparable(body, pagescan.records(body, NAMES, SNAPSHOT_REPEATING))
    except ValueError:
        got = None
    if want is None:
        # orjson refused or the body is not {"imdata": [...]}: the scanner must not invent one
        if got is not None:
            data = orjson.loads(body)  # raises if the scanner accepted invalid JSON
            assert not isinstance(data.get("imdata", []), list) or got == []
        return
    assert got == want


def _page(fab: SimulatedFabric) -> bytes:
    imdata = [{cls: {"attributes": attrs}} for cls, attrs in _rows(fab)]
    return orjson.dumps({"totalCount": str(len(imdata)), "imdata": imdata})


def test_native_scanner_is_built() -> None:
    # scripts/setup.sh builds it; without a compiler the pure-Python path is used (still tested)
    assert native is not None


def test_simulator_page_scans_to_the_decoded_records() -> None:
    body = _page(SimulatedFabric.build(leafs=6, endpoints=300, seed=3, partners=3))
    recs = pagescan.records(body, NAMES, SNAPSHOT_REPEATING)
    assert len(recs) > 1000 and all(isinstance(r[1], slice) for r in recs)
    _agree(body)


ODD = [
    # escapes and non-ASCII in wanted and skipped values and in keys
    {"epmMacEp": {"attributes": {"dn": 'a\\"b\u00e9\u4e2d\U0001f600', "fl\u0061gs": "mac"}}},
    {"epmMacEp": {"attributes": {"dn": "x/\t\n\r\b\f", "name": "\u00fc\\/"}}},
    # non-string values, repeated keys (the last wins), children
    {"epmIpEp": {"attributes": {"dn": 5, "flags": None, "pcTag": 49153, "ifId": ["a"]}}},
    {"epmIpEp": {"attributes": {"dn": {"x": [1, 2.5e-3, -0, True, False]}, "status": ""}}},
    {"epmMacEp": {"attributes": {"dn": "n"}, "children": [{"c": {"attributes": {"dn": "z"}}}]}},
    # not the usual shape: the caller decodes these whole
    {"epmMacEp": {"children": []}},
    {"epmMacEp": {"attributes": "dn"}},
    {"epmMacEp": 7},
    {"a": {"attributes": {"dn": "1"}}, "b": {"attributes": {"dn": "2"}}},
    {},
    [1, 2],
    "text",
    None,
]


@pytest.mark.parametrize("el", ODD, ids=range(len(ODD)))
def test_odd_elements_agree(el: object) -> None:
    for body in (
        orjson.dumps({"imdata": [el]}),
        json.dumps({"totalCount": 1, "imdata": [el, el]}, ensure_ascii=True).encode(),
        json.dumps({"imdata": [el]}, indent=2, ensure_ascii=False).encode(),
    ):
        _agree(body)


def test_repeated_keys_keep_the_last_value() -> None:
    body = b'{"imdata":[{"c":{"attributes":{"dn":"a","dn":"b","flags":1,"flags":"x"}}}],"n":1}'
    (rec,) = pagescan.records(body, NAMES)
    assert rec[2:4] == ("b", "x")
    body = b'{"imdata":[{"c":{"attributes":{"dn":"a"}}}],"imdata":[]}'
    assert pagescan.records(body, NAMES) == []


def test_repeating_values_are_one_object_and_equal() -> None:
    body = orjson.dumps(
        {"imdata": [{"c": {"attributes": {"dn": f"d{i}", "flags": "mac"}}} for i in range(50)]}
    )
    recs = pagescan.records(body, NAMES, SNAPSHOT_REPEATING)
    assert {r[3] for r in recs} == {"mac"}
    if native is not None:
        assert len({id(r[3]) for r in recs}) == 1
        assert len({id(r[2]) for r in recs}) == 50  # dn is not memoised


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"imdata": {}}',
        b'{"imdata": [1,]}',
        b'{"imdata": [{"c": {"attributes": {"dn": "\\x"}}}]}',
        b'{"imdata": [{"c": {"attributes": {"dn": "\\ud800"}}}]}',
        b'{"imdata": [{"c": {"attributes": {"dn": "\xff"}}}]}',
        b'{"imdata": [{"c": {"attributes": {"dn": "a\x01"}}}]}',
        b'{"imdata": [NaN]}',
        b'{"imdata": [01]}',
        b'{"imdata": []} x',
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        pagescan.records(body, NAMES)
    if native is not None:
        with pytest.raises(ValueError):
            native.scan(body, NAMES)


def test_deep_nesting_falls_back_to_the_decoder() -> None:
    # the native scanner stops at 256 levels (its C stack); the full decoder has the last word
    body = b'{"imdata": [' + b"[" * 600 + b"]" * 600 + b"]}"
    if native is not None:
        with pytest.raises(ValueError, match="nesting"):
            native.scan(body, NAMES)
    _agree(body)


def test_corrupted_bodies_fail_or_agree() -> None:
    rng = random.Random(7)
    base = orjson.dumps({"totalCount": "3", "imdata": ODD[:6]})
    for _ in range(3000):
        buf = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            i = rng.randrange(len(buf))
            if op < 0.4:
                buf[i] = rng.choice(b'{}[]",:\\u0123456789abcdefnrtlsx \xc3\xa9\x80')
            elif op < 0.7:
                del buf[i]
            else:
                buf[i:i] = bytes([rng.randrange(256)])
        _agree(bytes(buf))
    for n in range(len(base)):
        _agree(base[:n])


def test_tracker_state_from_scanned_bytes_equals_decoded_pages() -> None:
    fab = SimulatedFabric.build(leafs=6, endpoints=400, seed=4, partners=4)
    imdata = [{cls: {"attributes": attrs}} for cls, attrs in _rows(fab)]
    imdata[5:5] = ODD  # odd elements in the middle of a page
    decoded, scanned = Tracker(), Tracker()
    for tr in (decoded, scanned):
        tr.begin_snapshot(initial=True)
    for i in range(0, len(imdata), 101):
        page = imdata[i : i + 101]
        body = orjson.dumps({"totalCount": str(len(imdata)), "imdata": page})
        a = decoded.snapshot_page(page, 0.0)
        b = scanned.snapshot_records(pagescan.records(body, NAMES, SNAPSHOT_REPEATING), 0.0, body)
        assert a == b
    for tr in (decoded, scanned):
        tr.end_snapshot(0.0)
    assert _state(scanned) == _state(decoded)
    assert (scanned.entries, scanned.present_macs, scanned.events) == (
        decoded.entries,
        decoded.present_macs,
        decoded.events,
    )
