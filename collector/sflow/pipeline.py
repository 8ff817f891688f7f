"""Datagram → decoder → points → sink, with the source allow-list and interval flushes.

Shared by the UDP listener, `sflow replay` and `sflow decode --format lp`, so all three write
exactly the same lines for the same datagrams.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Mapping

from collector.sflow.decoder import DecodeError, decode_datagram
from collector.sflow.fastpath import Bail, FastReader
from collector.sflow.points import SflowPoints
from influx.sink import LineSink

log = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_list(text: str) -> list[IpNetwork]:
    """Comma-separated CIDRs (a bare address means /32 or /128); raises ValueError with the bad
    entry named."""
    nets: list[IpNetwork] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"FABRICSCOPE_SFLOW_ALLOW: {part!r} is not an address or CIDR"
            ) from exc
    return nets


class AllowList:
    """Source/agent filter; an empty list allows everything. Results cached per address
    (bounded) because the same few agents send every datagram."""

    def __init__(self, nets: list[IpNetwork]) -> None:
        self.nets = nets
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.nets)

    def allows(self, addr: str) -> bool:
        ok = self._cache.get(addr)
        if ok is None:
            try:
                ip = ipaddress.ip_address(addr)
                ok = any(ip in net for net in self.nets)
            except ValueError:
                ok = False
            if len(self._cache) > 65536:
                self._cache.clear()  # a spoofing flood must not grow memory without bound
            self._cache[addr] = ok
        return ok


class SflowPipeline:
    """Stateful decode→points stage; pushes lines to a sink in chunks."""

    def __init__(
        self,
        sink: LineSink,
        *,
        allow: AllowList | None = None,
        flow_interval_s: float = 10.0,
        flow_top_n: int = 100,
        stats_interval_s: float = 10.0,
        instance: str = "collector",
        worker_index: int = 0,
        extra_stats: Callable[[], Mapping[str, int | float]] | None = None,
        chunk_lines: int = 2000,
        fast: bool = True,
        native: bool = True,
    ) -> None:
        self.sink = sink
        self.allow = allow or AllowList([])
        self.points = SflowPoints(flow_top_n=flow_top_n, ts_offset_ns=worker_index)
        self.flow_interval_ns = int(flow_interval_s * 1e9)
        self.stats_interval_ns = int(stats_interval_s * 1e9)
        self.instance = instance
        self.extra_stats = extra_stats
        self.chunk_lines = chunk_lines
        self._buf: list[str] = []
        self._next_flow_ns = 0
        self._next_stats_ns = 0
        self._last_error_log = 0.0
        # fastpath.py reads the common datagrams straight from the bytes; the full decoder
        # takes the rest (and every datagram when fast=False, e.g. to compare the two)
        self.reader = FastReader(use_native=native) if fast else None

    def handle(self, data: bytes, source: str, recv_ns: int) -> None:
        """One datagram. Never raises: a bad datagram is counted and skipped."""
        stats = self.points.stats
        if self.allow and not self.allow.allows(source):
            stats.rejected_sources += 1
            return
        if self.reader is not None:
            try:
                parsed = self.reader.read(data)
            except Bail:
                parsed = None
            except Exception as exc:  # a fast-path bug: the full decoder still gets its turn
                self._log_error("fast path failed on datagram from %s: %r", source, exc)
                parsed = None
            if parsed is not None:
                if self.allow and parsed.agent != source and not self.allow.allows(parsed.agent):
                    stats.rejected_sources += 1
                    return
                self.points.add_parsed(parsed, recv_ns, self._buf)
                if len(self._buf) >= self.chunk_lines:
                    self.push()
                return
        try:
            dg = decode_datagram(data)
        except DecodeError as exc:
            stats.decode_errors += 1
            self._log_error("bad datagram from %s: %s", source, exc)
            return
        except Exception as exc:  # a decoder bug must not stop the next datagram
            stats.decode_errors += 1
            self._log_error("decoder failure on datagram from %s: %r", source, exc)
            return
        if self.allow and dg.agent != source and not self.allow.allows(dg.agent):
            stats.rejected_sources += 1  # allowed relay carrying a spoofed agent address
            return
        self.points.add_datagram(dg, recv_ns, self._buf)
        if len(self._buf) >= self.chunk_lines:
            self.push()

    def _log_error(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= 5.0:  # a flood of bad datagrams must not flood logs
            self._last_error_log = now
            log.warning(msg, *args)

    def push(self) -> None:
        if self._buf:
            lines, self._buf = self._buf, []
            self.sink.write_lines(lines)

    def tick(self, now_ns: int) -> None:
        """Flush the flow table and write self-statistics when their intervals are due."""
        if self._next_flow_ns == 0:
            self._next_flow_ns = now_ns + self.flow_interval_ns
            self._next_stats_ns = now_ns + self.stats_interval_ns
        if now_ns >= self._next_flow_ns:
            self._buf.extend(self.points.flush_flows(now_ns))
            self._next_flow_ns = now_ns + self.flow_interval_ns
        if now_ns >= self._next_stats_ns:
            self._buf.extend(self.stats_lines(now_ns))
            self._next_stats_ns = now_ns + self.stats_interval_ns
        self.push()

    def stats_lines(self, now_ns: int) -> list[str]:
        extra = dict(self.extra_stats()) if self.extra_stats else {}
        return self.points.stats_lines(now_ns, extra, self.instance)

    def finish(self, now_ns: int) -> None:
        """Final flush (shutdown or end of a capture): flows and stats, then push."""
        self._buf.extend(self.points.flush_flows(now_ns))
        self._buf.extend(self.stats_lines(now_ns))
        self.push()
