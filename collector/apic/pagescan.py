"""A page of an APIC class query as records, without building its dictionaries (stage:
collector/apic, between the build's fetch and the tracker).

``records(body, names)`` → ``[(cls, element, v_0, …, v_k-1), …]``, one per ``imdata`` element:

- ``cls``: the element's class, or None when the element is not ``{cls: {...}}`` with one key;
- ``element``: how to get the whole element when a record is not enough — a ``slice`` of
  ``body`` (native scanner) or the decoded element itself (pure-Python path); :func:`element`
  turns either into the dictionary;
- ``v_i``: attribute ``names[i]``: a ``str`` when the APIC sent a string, something else (raw
  JSON bytes, or the decoded value) for any other JSON type, None when absent. Callers take the
  fast path only for ``str`` values.

The native scanner (``_pagescan.c``, built by scripts/setup.sh) reads only the named attributes:
a 4.18M-entry build spent a third of its CPU decoding and freeing every attribute of every object.
Without a C compiler, or for a body it finds malformed, the pure-Python path decodes the body
with :func:`collector.apic.client.loads` — the same records (tests/collector/apic/test_pagescan.py).
"""

from __future__ import annotations

from typing import Any

from collector.apic.client import loads

try:
    from collector.apic import _pagescan as native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    native = None

Record = tuple[Any, ...]


def records(
    body: bytes, names: tuple[str, ...], repeating: frozenset[str] = frozenset()
) -> list[Record]:
    """Raises ValueError for a body that is not a JSON object with an ``imdata`` list of
    well-formed JSON (the caller's decoder then says what is wrong). ``repeating``: names whose
    values repeat across a page (flags, ifId, pcTag): the native scanner hands out one str
    object per distinct value, so the tracker's lookups hash each once."""
    if native is not None:
        try:
            bits = sum(1 << i for i, n in enumerate(names) if n in repeating)
            out: list[Record] = native.scan(body, names, bits)
            return out
        except ValueError:
            pass  # the full decoder has the final word on what is malformed
    return records_of(_imdata(body), names)


def _imdata(body: bytes) -> list[Any]:
    data = loads(body)
    if not isinstance(data, dict):
        raise ValueError("reply is not a JSON object")
    imdata = data.get("imdata", [])
    if not isinstance(imdata, list):
        raise ValueError("imdata is not a list")
    return imdata


def records_of(imdata: list[Any], names: tuple[str, ...]) -> list[Record]:
    """The records of an already decoded ``imdata`` list (websocket frames, tests)."""
    out: list[Record] = []
    none = (None,) * len(names)
    for el in imdata:
        cls = None
        vals: tuple[Any, ...] = none
        if isinstance(el, dict) and len(el) == 1:
            ((cls, body),) = el.items()
            attrs = body.get("attributes") if isinstance(body, dict) else None
            if isinstance(attrs, dict):
                vals = tuple(attrs.get(n) for n in names)
        out.append((cls, el, *vals))
    return out


def element(body: bytes, where: Any) -> Any:
    """The whole element of a record: decoded from its slice of ``body``, or as it was."""
    return loads(body[where]) if isinstance(where, slice) else where
