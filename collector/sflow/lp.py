"""Line-protocol building blocks shared by the sFlow writers: value filters and cached prefixes.

sFlow's "unknown" is all ones (sflow_version_5.txt §5): such a value is left out, never written
as a number. Floats that are not finite are left out too (InfluxDB answers 400 to ±inf/NaN).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from collector.sflow.records import RecordValue
from influx.line_protocol import escape_tag_value, format_int

U32_UNKNOWN = 0xFFFFFFFF
U64_UNKNOWN = 0xFFFFFFFFFFFFFFFF
MAX_PREFIXES = 200_000

Pairs = list[tuple[str, int | float | None]]


def is_unknown(value: int) -> bool:
    return value == U32_UNKNOWN or value == U64_UNKNOWN


def num(fields: Mapping[str, RecordValue], key: str) -> int | None:
    """A known integer counter, else None."""
    v = fields.get(key)
    if type(v) is int and v != U32_UNKNOWN and v != U64_UNKNOWN:
        return v
    return None


def f32(value: float) -> float:
    """XDR floats are float32: 0.59 arrives as 0.5899999737739563. Keep the 7 significant
    digits float32 carries so stored values read as the agent meant them."""
    return float(f"{value:.7g}")


def flt(fields: Mapping[str, RecordValue], key: str) -> float | None:
    """A finite float (XDR float32 rounded), else None."""
    v = fields.get(key)
    if isinstance(v, float):
        return f32(v) if math.isfinite(v) else None
    if type(v) is int and not is_unknown(v):
        return float(v)
    return None


_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)


def join(pairs: Pairs) -> str:
    """`k=v,...` for the pairs that have a value; ints get the `i` suffix."""
    out: list[str] = []
    add = out.append
    for k, v in pairs:
        if v is None:
            continue
        if type(v) is int:
            add(f"{k}={v}i" if _INT64_MIN <= v <= _INT64_MAX else f"{k}={format_int(v)}")
        elif v - v == 0:  # finite (NaN and ±inf give NaN)
            add(f"{k}={v!r}")
    return ",".join(out)


class Prefixes:
    """Cached `measurement,k=v,...` (tags sorted by key, values escaped): the same few agents
    and hosts send every datagram, so each series prefix is built once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], str] = {}

    def get(self, measurement: str, *tags: str) -> str:
        key = (measurement, *tags)
        prefix = self._cache.get(key)
        if prefix is None:
            pairs = sorted(zip(tags[::2], tags[1::2], strict=True))
            prefix = measurement + "".join(f",{k}={escape_tag_value(v)}" for k, v in pairs)
            if len(self._cache) > MAX_PREFIXES:
                self._cache.clear()  # bounded under an agent-spoofing flood
            self._cache[key] = prefix
        return prefix
