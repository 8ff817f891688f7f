"""Encode measurements, tags and fields as InfluxDB line protocol; no I/O.

Escaping follows the line-protocol reference (docs-v2 `reference/syntax/line-protocol.md`) per token
kind, and every value that a real server would reject is fixed *here*, before it can poison a batch
(reference/faults-and-bad-inputs.md §6):

- tag values are untrusted (hostnames, EPG names, sFlow strings): control characters become `_`,
  a trailing backslash is replaced, length is capped, and an empty value becomes ``unknown`` so
  two endpoints never collapse into one series;
- integers outside int64 are not written as ``…i`` (a 400 for the whole batch): the sFlow
  "unknown counter" sentinel (all ones) is omitted by the caller, anything else ≥ 2^63 is clamped,
  as Telegraf does without ``influx_uint_support`` — InfluxDB 1.x rejects the ``u`` suffix;
- NaN and ±Inf are dropped; a line with no field left is not emitted at all;
- keys starting with ``_`` are reserved by InfluxDB 2.x and are prefixed with ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache

FieldValue = int | float | bool | str

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
MAX_TAG_VALUE_LEN = 256
MAX_STRING_FIELD_LEN = 32 * 1024

_MEASUREMENT_ESC = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESC = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
# Control characters (incl. NUL, CR, LF, TAB) cannot be represented in a tag: replace them.
_CONTROL = dict.fromkeys(range(32), "_") | {127: "_"}
_TAG_CLEAN = str.maketrans(_CONTROL)
_STR_FIELD_CLEAN = str.maketrans(dict.fromkeys(range(32), " ") | {127: " "})


def _valid_utf8(text: str) -> str:
    """Replace lone surrogates (bytes decoded with surrogateescape): they cannot be encoded as
    UTF-8 and would fail the whole request. `isascii` keeps the common case cheap."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


class LineProtocolError(ValueError):
    """A point that cannot be written (no measurement, no field left)."""


@lru_cache(maxsize=4096)
def escape_measurement(name: str) -> str:
    name = _valid_utf8(name).translate(_TAG_CLEAN)
    if not name:
        raise LineProtocolError("empty measurement name")
    if name.startswith("#"):
        # A leading '#' would turn the whole line into a comment.
        name = "_" + name[1:]
    if name.endswith("\\"):
        # A trailing backslash would escape the separator after it: the line becomes a 400.
        name = name[:-1] + "_"
    return name.translate(_MEASUREMENT_ESC)


@lru_cache(maxsize=8192)
def escape_key(key: str) -> str:
    """Tag or field key."""
    key = _valid_utf8(key).translate(_TAG_CLEAN)
    if not key:
        raise LineProtocolError("empty key")
    if key.startswith("_"):
        key = "x" + key
    if key.endswith("\\"):
        key = key[:-1] + "_"  # as for measurements: it would escape the following `=`
    return key.translate(_KEY_ESC)


@lru_cache(maxsize=65536)
def escape_tag_value(value: str) -> str:
    """Sanitise then escape an untrusted tag value; never returns an empty string."""
    value = _valid_utf8(value).translate(_TAG_CLEAN)[:MAX_TAG_VALUE_LEN]
    if value.endswith("\\"):
        # No escaping makes a trailing backslash safe (influxdb #5407); keep it visible.
        value = value[:-1] + "_"
    if not value:
        return "unknown"
    return value.translate(_KEY_ESC)


def escape_string_field(value: str) -> str:
    value = _valid_utf8(value).translate(_STR_FIELD_CLEAN)[:MAX_STRING_FIELD_LEN]
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_int(value: int) -> str:
    if value > INT64_MAX:
        value = INT64_MAX
    elif value < INT64_MIN:
        value = INT64_MIN
    return f"{value}i"


def format_field_value(value: FieldValue) -> str | None:
    """The encoded value, or None when it must be left out (NaN, Inf)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return format_int(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return repr(value)
    return escape_string_field(str(value))


def tag_set(tags: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """`,k=v,k2=v2` sorted by key (what InfluxDB recommends for write speed), or ''."""
    items = tags.items() if isinstance(tags, Mapping) else tags
    parts = [
        f",{escape_key(k)}={escape_tag_value(str(v))}" for k, v in sorted(items) if v is not None
    ]
    return "".join(parts)


def series_prefix(measurement: str, tags: Mapping[str, str]) -> str:
    """`measurement,tags` — callers on the hot path cache this per series."""
    return escape_measurement(measurement) + tag_set(tags)


def field_set(fields: Mapping[str, FieldValue | None]) -> str:
    parts = []
    for k, v in fields.items():
        if v is None:
            continue
        enc = format_field_value(v)
        if enc is not None:
            parts.append(f"{escape_key(k)}={enc}")
    return ",".join(parts)


def encode_line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, FieldValue | None],
    time_ns: int | None = None,
) -> str | None:
    """One line (no trailing newline), or None when no field survives."""
    fs = field_set(fields)
    if not fs:
        return None
    prefix = series_prefix(measurement, tags)
    if time_ns is None:
        return f"{prefix} {fs}"
    return f"{prefix} {fs} {time_ns}"
