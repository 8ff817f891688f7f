"""Golden files: every fixture datagram renders exactly to what `sflowtool -j` printed for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.sflow.decoder import decode_datagram
from collector.sflow.sflowtool_json import to_sflowtool

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sflow"
BINS = sorted(FIXTURES.glob("*/*.bin"))


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
