"""Raw counter blocks → ``sflow_<block>`` lines, one precompiled formatter per structure.

The formatter of a structure is built once from its row in structures.COUNTERS: the `name=`
prefixes and each field's kind are fixed, so formatting a block is one pass over its values.
Unknown (all-ones) integers and non-finite floats are left out; a block with nothing known
writes no line. 0:1 if_counters adds ``if_admin_up``/``if_oper_up`` from a *known* ifStatus.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from collector.sflow.lp import U32_UNKNOWN, U64_UNKNOWN, f32
from collector.sflow.records import RecordValue
from collector.sflow.structures import COUNTERS, Counter
from influx.line_protocol import escape_string_field, format_int

INT64_MAX = (1 << 63) - 1
Formatter = Callable[[Mapping[str, RecordValue]], str]


def _compile(spec: Counter) -> Formatter:
    plan = tuple((f.name, f"{f.name}=") for f in spec.fields)

    def fmt(fields: Mapping[str, RecordValue]) -> str:
        parts: list[str] = []
        add = parts.append
        get = fields.get
        for name, head in plan:
            v = get(name)
            if type(v) is int:
                if v != U32_UNKNOWN and v != U64_UNKNOWN:
                    add(f"{head}{v}i" if v <= INT64_MAX else head + format_int(v))
            elif type(v) is float:
                if math.isfinite(v):
                    add(f"{head}{f32(v)!r}")
            elif type(v) is str:
                add(head + escape_string_field(v))
            # lists (adapters, SFP lanes) and bytes are written elsewhere or not at all
        return ",".join(parts)

    return fmt


def _if_counters(base: Formatter) -> Formatter:
    def fmt(fields: Mapping[str, RecordValue]) -> str:
        fs = base(fields)
        status = fields.get("if_status")
        if type(status) is int and status != U32_UNKNOWN:
            # ifStatus bit 0 = admin up, bit 1 = oper up (RFC 2863 via sFlow if_counters); an
            # unknown status stays unknown: no up/down fields at all.
            updown = f"if_admin_up={status & 1}i,if_oper_up={(status >> 1) & 1}i"
            return f"{fs},{updown}" if fs else updown
        return fs

    return fmt


FORMATTERS: dict[int, Formatter] = {tag: _compile(spec) for tag, spec in COUNTERS.items()}
FORMATTERS[1] = _if_counters(FORMATTERS[1])
MEASUREMENTS: dict[int, str] = {tag: spec.measurement for tag, spec in COUNTERS.items()}
