"""Encoder unit tests: every probe row of faults §6 and §7 B1–B4 (B5/B6 need a server: see
test_writer_integration.py). Lines are re-parsed with an independent parser
(line-protocol-parser) so a test fails when a line would not parse the way we meant."""

from __future__ import annotations

import math
from typing import Any

import pytest
from line_protocol_parser import parse_line

from influx.line_protocol import (
    INT64_MAX,
    INT64_MIN,
    MAX_STRING_FIELD_LEN,
    MAX_TAG_VALUE_LEN,
    LineProtocolError,
    encode_line,
    escape_key,
    escape_measurement,
    escape_tag_value,
)

T = 1_700_000_000_000_000_000


def roundtrip(measurement: str, tags: Any, fields: Any) -> tuple[str, Any]:
    line = encode_line(measurement, tags, fields, T)
    assert line is not None
    assert "\n" not in line and "\r" not in line
    return line, parse_line(line)


# -- faults §6 probe table --------------------------------------------------------------------


def test_tag_with_space_comma_equals_is_escaped():
    line, p = roundtrip("m", {"node": "leaf 1,pod=2"}, {"v": 1})
    assert "leaf\\ 1\\,pod\\=2" in line
    assert p["tags"] == {"node": "leaf 1,pod=2"}


@pytest.mark.parametrize("ctl", ["\n", "\r", "\t", "\x00", "\x7f"])
def test_control_chars_in_tag_cannot_inject_a_line(ctl):
    line, p = roundtrip("m", {"epg": f"a{ctl}b"}, {"v": 1})
    assert p["tags"]["epg"] == "a_b"
    assert line.count(" ") == 2  # measurement+tags, fields, timestamp: nothing injected


def test_newline_tag_injection_attempt_stays_one_point():
    # influxdb-java #578: "\nbar v=1" in a tag created measurement `bar`.
    line, p = roundtrip("m", {"epg": "x\nbar v=1"}, {"v": 1})
    assert p["measurement"] == "m"
    assert p["tags"]["epg"] == "x_bar v=1"


def test_trailing_backslash_tag_value_is_replaced_not_mangled():
    line, p = roundtrip("m", {"path": "C:\\"}, {"v": 1})
    assert p["tags"]["path"] == "C:_"
    assert ",path=C:_ v=1i" in line


@pytest.mark.parametrize("empty", ["", "\n"])
def test_empty_tag_value_becomes_unknown_not_dropped(empty):
    _, p = roundtrip("m", {"host": empty}, {"v": 1})
    # "\n" cleans to "_", "" to the sentinel; either way the tag is kept.
    assert p["tags"]["host"] in ("unknown", "_")
    assert escape_tag_value("") == "unknown"


def test_none_tag_is_omitted_explicitly():
    _, p = roundtrip("m", {"host": None, "agent": "a"}, {"v": 1})
    assert p["tags"] == {"agent": "a"}


def test_string_field_quote_and_backslash():
    line, p = roundtrip("m", {}, {"s": 'a"b\\c'})
    assert 's="a\\"b\\\\c"' in line
    assert p["fields"]["s"] == 'a"b\\c'


def test_string_field_with_lf_is_not_raw():
    line, p = roundtrip("m", {}, {"s": "line1\nline2\r\n"})
    assert p["fields"]["s"] == "line1 line2  "


def test_uint64_all_ones_is_clamped_not_out_of_range():
    line, p = roundtrip("m", {}, {"c": 2**64 - 1})
    assert f"c={INT64_MAX}i" in line
    assert p["fields"]["c"] == INT64_MAX


def test_int_below_int64_min_is_clamped():
    _, p = roundtrip("m", {}, {"c": -(2**70)})
    assert p["fields"]["c"] == INT64_MIN


def test_only_nan_inf_fields_emit_no_line():
    assert encode_line("m", {"a": "b"}, {"x": math.nan, "y": math.inf, "z": -math.inf}, T) is None
    assert encode_line("m", {}, {"x": None}, T) is None


def test_nan_dropped_other_fields_kept():
    _, p = roundtrip("m", {}, {"x": math.nan, "y": 1.5})
    assert p["fields"] == {"y": 1.5}


@pytest.mark.parametrize("key", ["_start", "_value", "_measurement", "_field"])
def test_reserved_underscore_keys_are_prefixed(key):
    _, p = roundtrip("m", {key: "v"}, {key: 1})
    assert p["tags"] == {f"x{key}": "v"}
    assert p["fields"] == {f"x{key}": 1}


def test_nul_in_tag_is_replaced():
    _, p = roundtrip("m", {"t": "a\x00b"}, {"v": 1})
    assert p["tags"]["t"] == "a_b"


# -- §7 B1–B4 ---------------------------------------------------------------------------------

B1_NAMES = [
    "tenant one",
    "epg,web",
    "bd=prod",
    'quote"d',
    "back\\slash",
    "trailing\\",
    "lf\nname",
    "tab\tname",
    "nul\x00name",
    "emoji 🚀 ünïcødé",
    "bad\udcffutf8",  # bytes b"\xff" decoded with surrogateescape
]


def expected_clean(name: str) -> str:
    out = name.encode("utf-8", "replace").decode()
    out = "".join("_" if ord(c) < 32 or ord(c) == 127 else c for c in out)
    if out.endswith("\\"):
        out = out[:-1] + "_"
    return out


@pytest.mark.parametrize("name", B1_NAMES)
def test_b1_untrusted_names_everywhere(name):
    line = encode_line(name, {name: name}, {name: name, "v": 1}, T)
    assert line is not None
    line.encode("utf-8")  # must be encodable (invalid UTF-8 replaced)
    p = parse_line(line)
    clean = expected_clean(name)
    assert p["measurement"] == clean
    assert p["tags"] == {clean: clean}
    assert p["fields"][clean] == name.encode("utf-8", "replace").decode().translate(
        dict.fromkeys(range(32), " ")
    )
    assert p["time"] == T


def test_trailing_backslash_in_measurement_and_keys():
    # Found by these tests: `m\` escaped the separating comma/space and gave a 400.
    assert escape_measurement("m\\") == "m_"
    assert escape_key("k\\") == "k_"
    _, p = roundtrip("m\\", {"t\\": "v"}, {"f\\": 1})
    assert p == {"measurement": "m_", "tags": {"t_": "v"}, "fields": {"f_": 1}, "time": T}


def test_b2_huge_tag_value_is_capped_before_sending():
    line, p = roundtrip("m", {"big": "x" * 70_000}, {"v": 1})
    assert len(p["tags"]["big"]) == MAX_TAG_VALUE_LEN
    assert len(line.encode()) < 65535


def test_b3_huge_string_field_is_capped():
    _, p = roundtrip("m", {}, {"s": "y" * 1_100_000})
    assert len(p["fields"]["s"]) == MAX_STRING_FIELD_LEN


def test_b4_leading_hash_measurement_is_not_a_comment():
    line, p = roundtrip("#core1", {}, {"v": 1})
    assert not line.startswith("#")
    assert p["measurement"] == "_core1"


def test_empty_measurement_or_key_raise():
    with pytest.raises(LineProtocolError):
        encode_line("", {}, {"v": 1})
    with pytest.raises(LineProtocolError):
        encode_line("m", {"": "v"}, {"v": 1})


def test_types_and_sorted_tags():
    line = encode_line("m", {"z": "1", "a": "2"}, {"b": True, "f": False, "i": 3, "x": 0.5}, T)
    assert line == f"m,a=2,z=1 b=true,f=false,i=3i,x=0.5 {T}"
    assert encode_line("m", {}, {"v": 1}) == "m v=1i"
