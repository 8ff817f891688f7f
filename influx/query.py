"""Query stage: InfluxQL over HTTP `/query`, and the only place that builds InfluxQL text.

Every caller (API routers, analyzers, Grafana helpers) builds statements with the helpers here —
`quote_ident`, `quote_str`, `regex_literal`, `time_range` — or, better, passes values as bind
parameters (`params={"addr": …}` with `$addr` in the statement, supported by InfluxDB 1.x `/query`).
Never format an untrusted value into a statement by hand.

Escaping rules come from the InfluxQL scanner (influxql/scanner.go, `ScanString`, `ScanDelimited`):
inside '…' and "…" only ``\\\\``, ``\\'``, ``\\"`` and ``\\n`` are escapes and a raw LF is an error;
inside /…/ only ``\\/`` is an escape and every other backslash passes through to the RE2 regexp.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

# -- quoting -----------------------------------------------------------------------------------

_STR_ESC = str.maketrans({"\\": "\\\\", "\n": "\\n"})


class QueryValueError(ValueError):
    """A value that no InfluxQL statement can carry (a NUL or CR in a literal, a time outside
    InfluxDB's range, an oversized duration). The message is fit for a 422 response: the API maps
    this class to 422 wherever it surfaces, so a hostile value can never become a 5xx."""


def _literal_safe(text: str, what: str) -> str:
    # The InfluxQL scanner reads NUL as end of input and folds CR into LF (scanner.go,
    # `reader.ReadRune`), and neither has an escape inside '…' or "…": such a literal would be
    # cut short or rejected by the parser. Bind parameters (`params=`) carry both safely.
    if "\x00" in text or "\r" in text:
        bad = "NUL" if "\x00" in text else "carriage return"
        raise QueryValueError(f"{what} contains a {bad} character, which InfluxQL cannot express")
    return text


def quote_ident(name: str) -> str:
    """A double-quoted InfluxQL identifier (measurement, tag/field key, database, RP)."""
    return '"' + _literal_safe(name, "identifier").translate(_STR_ESC).replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    """A single-quoted InfluxQL string literal (e.g. a tag value in WHERE)."""
    return "'" + _literal_safe(value, "value").translate(_STR_ESC).replace("'", "\\'") + "'"


_RE2_META = set(".+*?()|[]{}^$-&~#")


def regex_escape(value: str) -> str:
    """`value` as a literal inside an InfluxQL /regex/ (RE2 syntax).

    Backslash and slash are written as ``\\x5c`` / ``\\x2f``: the InfluxQL scanner would otherwise
    treat ``\\\\/`` as an escaped slash and end the regex early. Control characters become
    ``\\x{..}`` because a raw newline cannot appear in a statement.
    """
    out = []
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append(r"\x5c")
        elif ch == "/":
            out.append(r"\x2f")
        elif ch in _RE2_META:
            out.append("\\" + ch)
        elif code < 32 or code == 127:
            out.append(f"\\x{{{code:x}}}")
        else:
            out.append(ch)
    return "".join(out)


def regex_literal(value: str, *, match: str = "contains") -> str:
    """A complete /…/ literal matching `value` literally: `contains`, `prefix` or `exact`."""
    body = regex_escape(value)
    if match == "exact":
        body = f"^{body}$"
    elif match == "prefix":
        body = f"^{body}"
    elif match != "contains":
        raise ValueError(f"match must be 'contains', 'prefix' or 'exact', not {match!r}")
    return f"/{body}/"


def delete_predicate(measurement: str, tags: Mapping[str, str]) -> str:
    """The predicate of an InfluxDB 2.x `/api/v2/delete` request: `_measurement` and each tag
    equal to a value, joined with AND. 2.x parses it with the InfluxQL scanner and accepts a tag
    value only as a double-quoted identifier (a '…' string is refused), so every key and value
    is written with `quote_ident`: `"` and `\\` escaped, a newline as `\\n`."""
    parts = [f"{quote_ident('_measurement')}={quote_ident(measurement)}"]
    parts += [f"{quote_ident(k)}={quote_ident(v)}" for k, v in tags.items()]
    return " AND ".join(parts)


# -- time --------------------------------------------------------------------------------------

# Nanoseconds per unit: durations are summed as exact integers (a float or a timedelta would
# round `1ns` to zero and overflow on big inputs before any range check could run).
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
# [0-9], not \d: \d also matches other scripts' digits, which float() would then accept.
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d|w)")
_DURATION_FULL = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h|d|w))+")

# InfluxDB keeps time as int64 nanoseconds and reserves both extremes (models.MinNanoTime =
# MinInt64 + 2, MaxNanoTime = MaxInt64 - 1): 1677-09-21T00:12:43.145224194Z to
# 2262-04-11T23:47:16.854775806Z. A literal outside fails InfluxQL's integer parse.
MIN_TIME_NS = -(2**63) + 2
MAX_TIME_NS = 2**63 - 2
_RANGE_TEXT = "InfluxDB stores times from 1677-09-21 to 2262-04-11 UTC"
# GROUP BY time(…) and every other InfluxQL duration is int64 nanoseconds too.
MAX_DURATION_NS = 2**63 - 1
MAX_DURATION = timedelta(microseconds=MAX_DURATION_NS // 1000)


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `1h30m`, `2d`, `1w`, `500ms` → timedelta (non-negative, at most ~292 years).

    Raises QueryValueError (a ValueError) with a message fit for a 422 response."""
    t = text.strip()
    if not _DURATION_FULL.fullmatch(t):
        raise QueryValueError(
            f"invalid duration {text!r}: expected e.g. 30s, 5m, 1h30m, 2d "
            "(units: ns us ms s m h d w)"
        )
    if len(t) > 64:
        raise QueryValueError(f"duration {text[:20]!r}… is too long: at most 64 characters")
    total_ns = 0
    for num, unit in _DURATION_PART.findall(t):
        whole, _, frac = num.partition(".")
        per = _UNIT_NS[unit]
        total_ns += int(whole) * per + (int(frac) * per // 10 ** len(frac) if frac else 0)
    if total_ns > MAX_DURATION_NS:
        raise QueryValueError(
            f"duration {text!r} is too long: at most {MAX_DURATION.days}d (InfluxDB's limit)"
        )
    return timedelta(microseconds=total_ns // 1000)


def duration_literal(value: timedelta | str) -> str:
    """An InfluxQL duration literal (for GROUP BY time(…)): whole ms/s/m/h/d where exact."""
    td = parse_duration(value) if isinstance(value, str) else value
    us = td // timedelta(microseconds=1)
    if us <= 0:
        raise QueryValueError(f"duration must be positive, got {td}")
    if td > MAX_DURATION:
        raise QueryValueError(f"duration {td} is too long: at most {MAX_DURATION.days}d")
    for unit, size in (("w", 604800_000_000), ("d", 86400_000_000), ("h", 3600_000_000),
                       ("m", 60_000_000), ("s", 1_000_000), ("ms", 1000)):  # fmt: skip
        if us % size == 0:
            return f"{us // size}{unit}"
    return f"{us}u"


def _out_of_range(text: str) -> QueryValueError:
    return QueryValueError(f"time {text!r} is out of range: {_RANGE_TEXT}")


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """`since`/`until` values: `now`, relative (`-1h`, `-30m`, `now-2d`, `-1h30m`) or RFC 3339.

    Returns an aware UTC datetime within InfluxDB's time range; raises QueryValueError (a
    ValueError) with a message fit for a 422 response.
    """
    t = text.strip()
    now = now or datetime.now(UTC)
    if not t:
        raise QueryValueError("empty time: use RFC 3339 (2024-05-01T12:00:00Z), 'now' or e.g. -1h")
    low = t.lower()
    if low == "now":
        return now
    if low.startswith("now"):
        low = low[3:].strip()
    if low[:1] in ("-", "+") and _DURATION_FULL.fullmatch(low[1:].strip()):
        try:
            delta = parse_duration(low[1:].strip())
            rel = now - delta if low[0] == "-" else now + delta
        except (QueryValueError, OverflowError):
            raise _out_of_range(text) from None
        return _in_range(rel, text)
    dt: datetime | None
    try:
        dt = datetime.fromisoformat(t.replace("z", "Z"))
    except ValueError:
        dt = None
    if dt is None or "T" not in t.upper() and " " not in t:
        raise QueryValueError(
            f"invalid time {text!r}: use RFC 3339 (2024-05-01T12:00:00Z), 'now' or a relative "
            "time like -1h, -30m, -2d"
        )
    if dt.tzinfo is None:
        raise QueryValueError(
            f"invalid time {text!r}: RFC 3339 needs a UTC offset, e.g. Z or +02:00"
        )
    try:
        dt = dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        raise _out_of_range(text) from None
    return _in_range(dt, text)


def _in_range(dt: datetime, text: str) -> datetime:
    if not MIN_TIME_NS <= to_ns(dt) <= MAX_TIME_NS:
        raise _out_of_range(text)
    return dt


def to_ns(dt: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (exact, no float rounding)."""
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def rfc3339_nano(time_ns: int) -> str:
    """Epoch nanoseconds → `2026-01-02T03:04:05.123456789Z` (Go's RFC3339Nano, which 2.x's delete
    API parses; datetime alone would lose the last three digits)."""
    sec, frac = divmod(int(time_ns), 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def time_literal(dt: datetime) -> str:
    """An InfluxQL time literal: integer nanoseconds (unambiguous, no quoting issues).
    QueryValueError outside InfluxDB's range, which the server could not parse."""
    ns = to_ns(dt)
    if not MIN_TIME_NS <= ns <= MAX_TIME_NS:
        raise QueryValueError(f"time {dt.isoformat()} is out of range: {_RANGE_TEXT}")
    return f"{ns}"


def time_range(
    since: str | datetime | None,
    until: str | datetime | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """`time >= … AND time < …` for a WHERE clause ('' when both are None)."""
    now = now or datetime.now(UTC)
    parts = []
    if since is not None:
        start = since if isinstance(since, datetime) else parse_time(since, now=now)
        parts.append(f"time >= {time_literal(start)}")
    if until is not None:
        end = until if isinstance(until, datetime) else parse_time(until, now=now)
        parts.append(f"time < {time_literal(end)}")
    if len(parts) == 2 and to_ns(start) >= to_ns(end):
        raise QueryValueError(f"since ({since}) must be before until ({until})")
    return " AND ".join(parts)


# -- results -----------------------------------------------------------------------------------


class InfluxQueryError(RuntimeError):
    """The server rejected the query (syntax, missing database, auth) or was unreachable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Series:
    """One result series: `name` (measurement), GROUP BY `tags`, `columns` and `values` rows."""

    name: str
    columns: list[str]
    values: list[list[Any]]
    tags: dict[str, str] = field(default_factory=dict)
    statement_id: int = 0

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each row as {column: value}, GROUP BY tags merged in."""
        for row in self.values:
            d = dict(self.tags)
            d.update(zip(self.columns, row, strict=False))
            yield d


def parse_response(payload: Mapping[str, Any]) -> list[Series]:
    """Flatten `{"results": [{"series": […]}]}`; raise on any statement error."""
    if "error" in payload:
        raise InfluxQueryError(str(payload["error"]))
    out: list[Series] = []
    for result in payload.get("results", []):
        if "error" in result:
            raise InfluxQueryError(str(result["error"]))
        for s in result.get("series", []) or []:
            out.append(
                Series(
                    name=s.get("name", ""),
                    columns=list(s.get("columns", [])),
                    values=[list(v) for v in s.get("values", []) or []],
                    tags=dict(s.get("tags", {}) or {}),
                    statement_id=int(result.get("statement_id", 0)),
                )
            )
    return out


class InfluxQuery:
    """InfluxQL on `POST /query` with sync (`query`) and async (`aquery`) variants, plus the one
    thing InfluxQL cannot do on every server: delete points (`delete_v2` for InfluxDB 2.x).

    `token`: 1.x without auth: anything; 1.x with auth: `user:password`; 2.x/3.x: an API token.
    `org` and `bucket` (default: `database`) address 2.x's delete API. `server_major`: the
    server's major version when known, else asked from `/ping` on first need. `transport`: an
    httpx transport for the sync client (tests).
    Times come back as epoch nanoseconds by default (`epoch="ns"`); `epoch=None` gives RFC 3339.
    """

    def __init__(
        self,
        url: str,
        token: str = "",
        database: str = "fabricscope",
        *,
        timeout_s: float = 30.0,
        retention_policy: str | None = None,
        org: str = "",
        bucket: str | None = None,
        server_major: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.timeout_s = timeout_s
        self.org = org
        self.bucket = bucket if bucket is not None else database
        self._major = server_major
        self._transport = transport
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None

    def _sync(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout_s, headers=self._headers, transport=self._transport
            )
        return self._client

    def _form(
        self, influxql: str, params: Mapping[str, Any] | None, epoch: str | None
    ) -> dict[str, str]:
        import json

        form = {"q": influxql, "db": self.database}
        if self.retention_policy:
            form["rp"] = self.retention_policy
        if epoch:
            form["epoch"] = epoch
        if params:
            form["params"] = json.dumps(dict(params))
        return form

    @staticmethod
    def _result(resp: httpx.Response) -> list[Series]:
        try:
            payload = resp.json()
        except ValueError:
            raise InfluxQueryError(
                f"HTTP {resp.status_code} from /query: {resp.text[:200]}", resp.status_code
            ) from None
        if resp.status_code >= 400:
            msg = payload.get("error") if isinstance(payload, dict) else None
            raise InfluxQueryError(
                f"HTTP {resp.status_code} from /query: {msg or resp.text[:200]}", resp.status_code
            )
        return parse_response(payload)

    def query(
        self, influxql: str, *, params: Mapping[str, Any] | None = None, epoch: str | None = "ns"
    ) -> list[Series]:
        try:
            resp = self._sync().post(f"{self.url}/query", data=self._form(influxql, params, epoch))
        except httpx.HTTPError as exc:
            raise InfluxQueryError(f"InfluxDB unreachable: {type(exc).__name__}") from None
        return self._result(resp)

    def server_major(self) -> int:
        """1, 2 or 3: as given to the constructor, else asked once (`/ping`) and remembered.
        An unreachable server raises InfluxQueryError and is asked again next time."""
        if self._major is None:
            from influx.admin import server_info  # admin is setup-time code; import on first use

            try:
                # The client already carries the token: 3.x authenticates /ping.
                self._major = server_info(self.url, client=self._sync()).major
            except httpx.HTTPError as exc:
                raise InfluxQueryError(f"InfluxDB unreachable: {type(exc).__name__}") from None
        return self._major

    def delete_v2(self, start_ns: int, stop_ns: int, predicate: str) -> None:
        """InfluxDB 2.x `POST /api/v2/delete`: remove the points of `bucket` with a time in
        [start_ns, stop_ns] (both inclusive) whose series match `predicate` (see
        `delete_predicate`). Needs a token with write permission on the bucket."""
        if not self.org:
            raise InfluxQueryError("InfluxDB 2.x delete needs the org (FABRICSCOPE_INFLUX_ORG)")
        body = {"start": rfc3339_nano(start_ns), "stop": rfc3339_nano(stop_ns),
                "predicate": predicate}  # fmt: skip
        try:
            resp = self._sync().post(
                f"{self.url}/api/v2/delete",
                params={"org": self.org, "bucket": self.bucket},
                json=body,
            )
        except httpx.HTTPError as exc:
            raise InfluxQueryError(f"InfluxDB unreachable: {type(exc).__name__}") from None
        if not resp.is_success:
            try:
                payload = resp.json()
                msg = payload.get("message") if isinstance(payload, dict) else None
            except ValueError:
                msg = None
            raise InfluxQueryError(
                f"HTTP {resp.status_code} from /api/v2/delete: {msg or resp.text[:200]}",
                resp.status_code,
            )

    async def aquery(
        self, influxql: str, *, params: Mapping[str, Any] | None = None, epoch: str | None = "ns"
    ) -> list[Series]:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(timeout=self.timeout_s, headers=self._headers)
        try:
            resp = await self._aclient.post(
                f"{self.url}/query", data=self._form(influxql, params, epoch)
            )
        except httpx.HTTPError as exc:
            raise InfluxQueryError(f"InfluxDB unreachable: {type(exc).__name__}") from None
        return self._result(resp)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
