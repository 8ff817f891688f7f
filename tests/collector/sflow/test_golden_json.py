"""Golden files: every fixture datagram renders exactly to what `sflowtool -j` printed for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.sflow.decoder import decode_datagram
from collector.sflow.sflowtool_json import to_sflowtool

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sflow"
# datagrams sflowtool itself printed (the golden cases' copies of them carry no .json)
BINS = sorted(p for p in FIXTURES.glob("*/*.bin") if p.with_suffix(".sflowtool.json").exists())


def test_fixture_corpus_present() -> None:
    # public/ (4 Telegraf vectors) + generated/ (12 pmacct + 5 hsflowd)
    assert len(list(FIXTURES.glob("public/*.bin"))) == 4
    assert len(list(FIXTURES.glob("generated/*.bin"))) == 17


@pytest.mark.parametrize("path", BINS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_matches_sflowtool(path: Path) -> None:
    expected = json.loads(path.with_suffix(".sflowtool.json").read_text())
    dg = decode_datagram(path.read_bytes())
    assert dg.errors == []
    assert dg.unknown_records == 0
    got = to_sflowtool(dg)
    assert got == expected
    # key order too (dict equality ignores it): compare the serialisations
    assert json.dumps(got) == json.dumps(expected)


def test_renderer_output_is_compact_json_line() -> None:
    dg = decode_datagram((FIXTURES / "public" / "telegraf-drop-1036.bin").read_bytes())
    line = json.dumps(to_sflowtool(dg), separators=(",", ":"))
    assert "\n" not in line
    assert '"discardReason":"host_unreachable"' in line
    for volatile in ("datagramSourceIP", "unixSecondsUTC", "localtime", "pcapTimestamp"):
        assert volatile not in line


# Encoded cases (datagrams our encoder wrote): the expected JSON is what a sflowtool built from
# its C source printed with -r CAPTURE -j (capture-time keys removed, as in generated/).
ENCODED = sorted(FIXTURES.glob("*/*.expected.json"))


@pytest.mark.parametrize("path", ENCODED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_encoded_cases_match_sflowtool_keys(path: Path) -> None:
    data = path.with_name(path.name.replace(".expected.json", ".bin")).read_bytes()
    dg = decode_datagram(data)
    assert dg.errors == [] and dg.unknown_records == 0
    assert json.dumps(to_sflowtool(dg)) == json.dumps(json.loads(path.read_text()))
