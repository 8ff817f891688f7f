"""Write stage: bounded queue → batches → influxdb-client (SYNCHRONOUS), retries, disk spool.

`BatchingWriter` implements `LineSink`. Producers (UDP collector, APIC poller, analyzers) call
`write_lines()`, which only appends to a bounded in-memory queue and never waits for the network.
One worker thread owns every HTTP call, so the retry policy is applied in one place and a slow
InfluxDB throttles only that thread (faults §1.4: the client's own batching mode drops data after
180 s, on 401/413 and at exit — hence synchronous writes from a worker we control).

Response policy (Telegraf's `outputs/influxdb_v2`, faults §1.1 and §7C):

=====================  ===================================================================
2xx                    written
413                    split the batch in halves, recursively; a single line too big is dropped
400                    bisect down to the bad line(s): write the good ones, count + log the bad
400 "partial write"    InfluxDB 1.x: the good points *were* written; count the rest, no retry
422                    partial write (2.x/3.x): count dropped, no retry
401 / 403              keep the data (spool), log an alert (never the token), retry slowly
404                    bucket/database missing: create it when allowed, keep the data, retry
429 / 5xx              retry after Retry-After (seconds or HTTP-date, garbage → 10 s, capped),
                       else exponential backoff
other 4xx              rejected: count dropped, log
connection / timeout   spool (or hold in memory) and retry with exponential backoff
=====================  ===================================================================

Ordering: the spool holds the oldest undelivered data and is replayed before the queue, so after an
outage data arrives oldest first. (A batch that fails while overflow from producers is being spooled
may land after that overflow; with decode-time timestamps this does not change stored data.)

Retries are idempotent only because producers set timestamps at decode time (faults §0): InfluxDB
merges a re-sent point with the stored one instead of duplicating it.
"""

from __future__ import annotations

import collections
import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from influx.spool import Spool, SpoolRecord

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_UNPARSABLE_S = 10.0  # Telegraf: an unparsable Retry-After means 10 s
_DROPPED_RE = re.compile(r"dropped=(\d+)")


class WriteHTTPError(Exception):
    """An HTTP error answer to a write (what a transport raises)."""

    def __init__(self, status: int, body: str = "", retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


class WriteConnectionError(Exception):
    """No HTTP answer: refused, reset, DNS, TLS or timeout (what a transport raises)."""


Transport = Callable[[str], None]
"""Sends one request body (lines joined by LF); raises WriteHTTPError / WriteConnectionError."""


class _Transient(Exception):
    """Internal: stop and retry `remaining` after `delay` seconds."""

    def __init__(self, delay: float, reason: str, remaining: list[str]) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason
        self.remaining = remaining


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: None when absent; delta-seconds or HTTP-date;
    10 s when present but unparsable (Telegraf's rule)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return DEFAULT_RETRY_AFTER_UNPARSABLE_S
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_RETRY_AFTER_UNPARSABLE_S
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def influxdb_client_transport(
    url: str, token: str, org: str, bucket: str, *, timeout_s: float = 10.0, gzip: bool = False
) -> tuple[Transport, Callable[[], None]]:
    """(send, close) writing through influxdb-client's SYNCHRONOUS WriteApi to /api/v2/write.

    One request per batch with the lines as one string body — never one Point per line.
    """
    import urllib3
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException

    client = InfluxDBClient(
        url=url, token=token, org=org, timeout=int(timeout_s * 1000), enable_gzip=gzip
    )
    write_api = client.write_api(write_options=SYNCHRONOUS)

    def send(body: str) -> None:
        try:
            # Encode here with "replace": one unencodable character must not fail the batch.
            data = body.encode("utf-8", "replace")
            write_api.write(bucket=bucket, org=org, record=data, write_precision="ns")  # type: ignore[arg-type]
        except ApiException as exc:
            raw = exc.body
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
            headers: Any = exc.headers or {}
            retry_after = headers.get("Retry-After") if hasattr(headers, "get") else None
            raise WriteHTTPError(int(exc.status or 0), text, retry_after) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # No `from exc`: urllib3 reprs can carry the request URL but never headers; keep
            # just the class + message so the token cannot leak through chained tracebacks.
            raise WriteConnectionError(f"{type(exc).__name__}: {exc}") from None

    return send, client.close


class BatchingWriter:
    """A LineSink that batches, retries and spools lines to one InfluxDB bucket/database.

    `spool_dir=None` disables the disk spool: overflow then drops the oldest lines (counted) and
    failed batches are held in memory.
    """

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        queue_max_lines: int = 1_000_000,
        spool_dir: Path | str | None = None,
        spool_max_bytes: int = 2 * 1024 * 1024 * 1024,
        timeout_s: float = 10.0,
        max_retry_after_s: float = 600.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        auth_retry_s: float = 60.0,
        create_bucket: bool = True,
        transport: Transport | None = None,
        start: bool = True,
    ) -> None:
        if batch_size < 1 or queue_max_lines < batch_size:
            raise ValueError("need 1 <= batch_size <= queue_max_lines")
        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        self._token = token  # never logged, never in stats
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.queue_max_lines = queue_max_lines
        self.timeout_s = timeout_s
        self.max_retry_after_s = max_retry_after_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.auth_retry_s = auth_retry_s
        self._create_bucket = create_bucket
        self._bucket_ready = not create_bucket
        if transport is None:
            self._send, self._close_transport = influxdb_client_transport(
                self.url, token, org, bucket, timeout_s=timeout_s
            )
        else:
            self._send, self._close_transport = transport, lambda: None
        self.spool = Spool(spool_dir, max_bytes=spool_max_bytes) if spool_dir else None

        self._cond = threading.Condition()
        self._queue: collections.deque[str] = collections.deque()
        self._held: list[str] = []  # failed batch kept in memory when there is no spool
        self._next_attempt = 0.0  # monotonic; no send before this (backoff / Retry-After)
        self._failures = 0  # consecutive transient failures, drives the backoff
        self._last_flush = time.monotonic()
        self._flush_requested = False
        self._closing = False
        self._closed = False
        self._close_deadline = float("inf")
        self._busy = False  # worker is between taking a batch and settling it
        self._auth_alerted = False
        self._c: dict[str, int] = collections.Counter()
        self.last_error = ""
        self.last_error_time = 0.0
        self._thread = threading.Thread(target=self._run, name="influx-writer", daemon=True)
        if start:
            self._thread.start()

    @classmethod
    def from_settings(cls, settings: Any, *, name: str, **overrides: Any) -> BatchingWriter:
        """Writer for one process from `fabricscope.settings.Settings`.

        `name` (e.g. "sflow", "apic", "analyze") makes the spool dir `<spool_dir>/<name>`: each
        process needs its own, a spool dir is locked by its owner.
        """
        spool_root = settings.spool_dir or (
            str(Path(settings.state_dir).expanduser() / "spool")
            if settings.state_dir
            else str(Path.home() / ".local" / "state" / "fabricscope" / "spool")
        )
        kwargs: dict[str, Any] = {
            "batch_size": settings.batch_size,
            "flush_interval_s": settings.flush_interval_s,
            "queue_max_lines": settings.queue_max_lines,
            "spool_dir": Path(spool_root) / name,
        }
        kwargs.update(overrides)
        return cls(
            settings.influx_url,
            settings.influx_token.get_secret_value(),
            settings.influx_org,
            settings.influx_bucket,
            **kwargs,
        )

    # -- producer side -------------------------------------------------------------------------
    def write_lines(self, lines: Sequence[str]) -> None:
        """Queue lines; on overflow spool (or drop) the oldest. Never waits on the network."""
        if not lines:
            return
        with self._cond:
            if self._closed:
                # After close() the spool is released; nothing can take these lines any more.
                self._c["points_dropped"] += len(lines)
                self._c["dropped_overflow"] += len(lines)
                return
            self._queue.extend(lines)
            excess = len(self._queue) - self.queue_max_lines
            if excess > 0:
                # Spool whole batches (fewer, larger records); drop only what is needed.
                n = max(excess, self.batch_size) if self.spool is not None else excess
                n = min(n, len(self._queue))
                self._overflow([self._queue.popleft() for _ in range(n)], reason="queue full")
            if len(self._queue) >= self.batch_size:
                self._cond.notify()

    def _overflow(self, lines: list[str], *, reason: str) -> None:
        """Lines that cannot stay in memory: spool them, or count them dropped."""
        if self.spool is not None:
            try:
                self.spool.append(lines)
                self._c["points_spooled"] += len(lines)
                return
            except OSError as exc:  # disk full / read-only: fall through to counted loss
                self._error(f"spool append failed: {exc}")
        self._c["points_dropped"] += len(lines)
        self._c["dropped_overflow"] += len(lines)
        log.warning("dropped %d lines (%s, no spool)", len(lines), reason)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued, held and spooled is written; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            try:
                while not self._drained():
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return self._drained()
                    self._cond.wait(min(left, 0.1))
                return True
            finally:
                self._flush_requested = False

    def _drained(self) -> bool:
        return (
            not self._queue
            and not self._held
            and not self._busy
            and (self.spool is None or self.spool.pending_lines == 0)
        )

    def close(self, timeout: float = 10.0) -> None:
        """Flush for up to `timeout` s, spool (or count as dropped) the rest, stop the worker.

        Call it from the SIGTERM handler / shutdown path; it is idempotent.
        """
        with self._cond:
            self._closing = True
            self._close_deadline = time.monotonic() + timeout
            self._cond.notify_all()
        if self._thread.is_alive():
            # An in-flight request can take up to timeout_s beyond the deadline.
            self._thread.join(timeout + self.timeout_s + 1.0)
        with self._cond:
            if self._thread.is_alive():
                log.error("writer thread did not stop; spooling what is left")
            if self._closed:
                return
            self._spill_all()
            self._closed = True
        self._close_transport()
        if self.spool is not None:
            self.spool.close()

    def _spill_all(self) -> None:
        """Move held + queued lines to the spool (or count them dropped). Lock held."""
        rest = self._held + list(self._queue)
        self._held = []
        self._queue.clear()
        for i in range(0, len(rest), self.batch_size):
            self._overflow(rest[i : i + self.batch_size], reason="shutdown")

    def __enter__(self) -> BatchingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- stats ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, int | float | str]:
        """Counters for `fabricscope_stats` (monotonic counts plus gauges)."""
        with self._cond:
            out: dict[str, int | float | str] = {
                k: self._c.get(k, 0)
                for k in (
                    "points_written",
                    "points_retried",
                    "points_spooled",
                    "points_dropped",
                    "bad_lines",
                    "dropped_overflow",
                    "dropped_partial",
                    "dropped_rejected",
                    "batches_written",
                    "batch_splits",
                    "write_errors",
                )
            }
            out["queue_depth"] = len(self._queue) + len(self._held)
            out["spool_lines"] = self.spool.pending_lines if self.spool else 0
            out["spool_corrupt_records"] = self.spool.corrupt_records if self.spool else 0
            if self.spool is not None and self.spool.dropped_lines:
                out["points_dropped"] = int(out["points_dropped"]) + self.spool.dropped_lines
            out["last_error"] = self.last_error
            out["last_error_time"] = self.last_error_time
            return out

    def influx_state(self) -> str:
        """For health checks, from the last write attempt: "unauthorized" (401/403),
        "bucket_missing" (404), "failing" (unreachable, 5xx, 429), else "ok"."""
        with self._cond:
            if not self._failures:
                return "ok"
            if "unauthorized" in self.last_error:
                return "unauthorized"
            return "bucket_missing" if "not found" in self.last_error else "failing"

    def _error(self, message: str) -> None:
        self._c["write_errors"] += 1
        self.last_error = message[:300]
        self.last_error_time = time.time()

    # -- worker --------------------------------------------------------------------------------
    def _queue_ready(self, now: float) -> bool:
        if not self._queue:
            return False
        return (
            len(self._queue) >= self.batch_size
            or now - self._last_flush >= self.flush_interval_s
            or self._flush_requested
            or self._closing
        )

    def _run(self) -> None:
        try:
            while self._step():
                pass
        except Exception:  # a bug here must not silently stop delivery without a trace
            log.exception("writer worker crashed")
            with self._cond:
                self._error("writer worker crashed")
        finally:
            with self._cond:
                self._cond.notify_all()

    def _step(self) -> bool:
        """One unit of work; False when the worker should exit."""
        record: SpoolRecord | None = None
        with self._cond:
            while True:
                now = time.monotonic()
                if self._closing and now >= self._close_deadline:
                    self._spill_all()
                    return False
                spool_pending = self.spool is not None and self.spool.pending_lines > 0
                if self._closing and not self._queue and not self._held and not spool_pending:
                    return False
                if now >= self._next_attempt and (
                    self._held or spool_pending or self._queue_ready(now)
                ):
                    break
                if now < self._next_attempt and self.spool is not None and self._queue_ready(now):
                    # In an outage: persist full/old batches instead of holding them in memory.
                    self._spool_batch_from_queue()
                    continue
                if (
                    self._closing
                    and now < self._next_attempt
                    and self._failures
                    and self.spool is not None
                ):
                    # Shutting down while InfluxDB is unreachable: do not wait out the backoff.
                    self._spill_all()
                    return False
                if self._flush_requested and self._drained():
                    self._flush_requested = False
                    self._cond.notify_all()
                wait = min(self._close_deadline - now, self.flush_interval_s)
                flush_due = max(0.0, self._last_flush + self.flush_interval_s - now)
                if now < self._next_attempt:
                    wait = min(wait, self._next_attempt - now)
                    if self.spool is not None and self._queue:
                        wait = min(wait, flush_due)  # time to spool the next batch
                elif self._queue:
                    wait = min(wait, flush_due)
                self._cond.wait(max(0.005, wait))
            source: str
            if self._held:
                batch, self._held, source = self._held, [], "held"
            elif spool_pending and self.spool is not None and (record := self.spool.peek()):
                batch, source = record.lines, "spool"
            elif self._queue:
                n = min(self.batch_size, len(self._queue))
                batch, source = [self._queue.popleft() for _ in range(n)], "queue"
                self._last_flush = now
            else:
                return True
            self._busy = True
        try:
            self._deliver_batch(batch, source, record)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return True

    def _spool_batch_from_queue(self) -> None:
        """Lock held."""
        n = min(self.batch_size, len(self._queue))
        self._overflow([self._queue.popleft() for _ in range(n)], reason="outage")
        self._last_flush = time.monotonic()

    def _deliver_batch(self, batch: list[str], source: str, record: SpoolRecord | None) -> None:
        if not self._bucket_ready:
            self._ensure_bucket()
        try:
            self._deliver(batch)
        except _Transient as t:
            with self._cond:
                self._failures += 1
                self._next_attempt = time.monotonic() + t.delay
                self._c["points_retried"] += len(t.remaining)
                self._error(t.reason)
                log.warning(
                    "write of %d lines failed (%s); retrying in %.1f s",
                    len(t.remaining),
                    t.reason,
                    t.delay,
                )
                if source == "spool" and record is not None:
                    if len(t.remaining) < len(record.lines):
                        # Part of the record landed (split/bisect): re-spool only the rest.
                        assert self.spool is not None
                        self.spool.ack(record)
                        self._overflow_front(t.remaining)
                elif self.spool is not None:
                    self._overflow(t.remaining, reason="write failed")
                else:
                    self._held = t.remaining
            return
        with self._cond:
            self._failures = 0
            self._next_attempt = 0.0
            if self._auth_alerted:
                log.warning("InfluxDB writes to %s accepted again", self.url)
                self._auth_alerted = False
            if source == "spool" and record is not None and self.spool is not None:
                self.spool.ack(record)

    def _overflow_front(self, lines: list[str]) -> None:
        """Remaining lines of a partly delivered spool record. Lock held.

        They go back to memory, ahead of everything: a spool append would put them behind newer
        records. Kept in `_held`, which close() spills to the spool.
        """
        self._held = lines

    def _backoff(self) -> float:
        delay = min(self.backoff_max_s, self.backoff_initial_s * (2 ** min(self._failures, 20)))
        return float(delay * random.uniform(0.8, 1.0))  # jitter: no retry storms across processes

    def _ensure_bucket(self) -> None:
        from influx.admin import AdminError, ensure_bucket

        try:
            ensure_bucket(self.url, self._token, self.org, self.bucket, timeout=self.timeout_s)
            self._bucket_ready = True
        except AdminError as exc:
            # Not allowed (e.g. a write-only token): write anyway; a 404 will say if it is missing.
            log.warning("could not ensure bucket %r: %s", self.bucket, exc)
            self._bucket_ready = True
        except Exception as exc:  # unreachable: the write below will fail and back off
            log.debug("bucket check deferred: %s", type(exc).__name__)

    def _deliver(self, lines: list[str]) -> None:
        """Write `lines`, applying the policy; raises _Transient with what is left to retry."""
        if not lines:
            return
        try:
            self._send("\n".join(lines))
        except WriteConnectionError as exc:
            raise _Transient(self._backoff(), f"connection: {exc}", lines) from None
        except WriteHTTPError as exc:
            self._handle_http_error(exc, lines)
            return
        with self._cond:
            self._c["points_written"] += len(lines)
            self._c["batches_written"] += 1

    def _deliver_split(self, lines: list[str]) -> None:
        mid = len(lines) // 2
        with self._cond:
            self._c["batch_splits"] += 1
        halves = [lines[:mid], lines[mid:]]
        for i, half in enumerate(halves):
            try:
                self._deliver(half)
            except _Transient as t:
                t.remaining = t.remaining + [ln for h in halves[i + 1 :] for ln in h]
                raise

    def _handle_http_error(self, exc: WriteHTTPError, lines: list[str]) -> None:
        status, body = exc.status, exc.body
        if status == 413:
            if len(lines) == 1:
                self._count_drop(
                    "dropped_rejected", 1, f"line larger than max body: {lines[0][:120]}"
                )
                return
            self._deliver_split(lines)
            return
        if status == 400 and "partial write" in body:
            # InfluxDB 1.x: what parsed was written; the body lists every unparsable line
            # and `dropped=N` for points refused by the engine (type conflict, limits).
            # (When a batch has both, 1.x reports only the engine error: a parse failure in
            # the same batch is then invisible to us and shows up only as fewer points.)
            bad = body.count("unable to parse")
            dropped = sum(int(m) for m in _DROPPED_RE.findall(body))
            with self._cond:
                self._c["bad_lines"] += bad
                self._c["points_written"] += max(0, len(lines) - bad - dropped)
            self._count_drop("dropped_partial", bad + dropped, f"partial write: {body[:300]}")
            return
        if status == 400:
            if len(lines) == 1:
                with self._cond:
                    self._c["bad_lines"] += 1
                self._count_drop(
                    "dropped_rejected", 1, f"bad line {lines[0][:200]!r}: {body[:200]}"
                )
                return
            self._deliver_split(lines)
            return
        if status == 422:
            m = _DROPPED_RE.findall(body)
            dropped = sum(int(x) for x in m) if m else 1
            with self._cond:
                self._c["points_written"] += max(0, len(lines) - dropped)
            self._count_drop("dropped_partial", dropped, f"partial write (422): {body[:300]}")
            return
        if status in (401, 403):
            if not self._auth_alerted:
                log.error(
                    "ALERT: InfluxDB %s refused our credentials (HTTP %d) for bucket %r; keeping "
                    "data and retrying every %.0f s (token rotated or revoked?)",
                    self.url,
                    status,
                    self.bucket,
                    self.auth_retry_s,
                )
                self._auth_alerted = True
            raise _Transient(self.auth_retry_s, f"HTTP {status} unauthorized", lines)
        if status == 404:
            if self._create_bucket:
                self._bucket_ready = False
                self._ensure_bucket()
            if not self._auth_alerted:
                log.error(
                    "ALERT: InfluxDB %s: bucket/database %r not found (HTTP 404); keeping data",
                    self.url,
                    self.bucket,
                )
                self._auth_alerted = True
            delay = min(self.auth_retry_s, max(self.backoff_initial_s, self._backoff()))
            raise _Transient(delay, "HTTP 404 bucket not found", lines)
        if status == 429 or status >= 500:
            ra = parse_retry_after(exc.retry_after)
            delay = min(ra, self.max_retry_after_s) if ra is not None else self._backoff()
            raise _Transient(delay, f"HTTP {status}", lines)
        self._count_drop("dropped_rejected", len(lines), f"HTTP {status}: {body[:300]}")

    def _count_drop(self, kind: str, n: int, message: str) -> None:
        with self._cond:
            self._c["points_dropped"] += n
            self._c[kind] += n
            self._error(message)
        log.warning("InfluxDB rejected %d point(s), not retried: %s", n, message)
