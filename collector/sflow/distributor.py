"""Several decode workers behind one socket: a reader process hands datagrams out by agent.

With SO_REUSEPORT the kernel spreads datagrams over sockets by the UDP source address and port,
so every agent behind one relay or NAT address — or a benchmark sending from one socket — lands
on one worker. Here one reader owns the socket, does nothing but receive, and sends each
datagram to worker ``hash(agent address) % N`` in batches over a pipe. All datagrams of an agent
go to the same worker in arrival order, so its per-agent state (sequence accounting, CPU deltas,
host names) stays whole in one place, whatever the source addresses.

Wire format of one batch (``Connection.send_bytes``): records of ``>IQB`` (datagram length,
receive time ns, source address length) + source address (ASCII) + datagram. A record with
length ``DROPS_RECORD`` carries the reader socket's kernel drop count in the time field.
"""

from __future__ import annotations

import logging
import select
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from struct import Struct

from collector.sflow.fastpath import native
from collector.sflow.listener import MAX_DATAGRAM, ListenerStats, open_socket, socket_drops
from collector.sflow.pipeline import SflowPipeline

log = logging.getLogger(__name__)

_REC = Struct(">IQB")
DROPS_RECORD = 0xFFFFFFFF
BATCH_BYTES = 256 * 1024
BATCH_SECONDS = 0.005
TICK_S = 0.2


def agent_slot(data: bytes | memoryview, workers: int) -> int:
    """Worker index of a datagram: by the agent address inside it (bytes 8–12 or 8–24)."""
    if len(data) >= 24 and data[7] == 2:  # address type 2: IPv6 agent
        return zlib.crc32(data[8:24]) % workers
    return zlib.crc32(data[8:12]) % workers


class Reader:
    """Receive loop of the reader process: batches per worker, flushed every 5 ms or 256 KiB."""

    def __init__(
        self, host: str, port: int, conns: list[Connection], *, rcvbuf: int = 8 << 20
    ) -> None:
        self.sock = open_socket(host, port, rcvbuf, reuse_port=False)
        self.sock.settimeout(BATCH_SECONDS)
        self.conns = conns
        self.stats = ListenerStats()
        self._stop = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        addr = self.sock.getsockname()
        return addr[0], addr[1]

    def stop(self) -> None:
        self._stop.set()

    def serve(self) -> None:
        if native is not None and hasattr(native, "recv_batch"):
            self._serve_batched()
            return
        n = len(self.conns)
        batches = [bytearray() for _ in range(n)]
        buf = bytearray(MAX_DATAGRAM)
        view = memoryview(buf)
        recv = self.sock.recvfrom_into
        pack = _REC.pack
        stats = self.stats
        next_flush = time.monotonic() + BATCH_SECONDS
        next_drops = 0.0
        try:
            while not self._stop.is_set():
                try:
                    size, addr = recv(buf)
                except TimeoutError:
                    size = -1
                except OSError as exc:
                    if self._stop.is_set():
                        break
                    log.warning("receive failed: %s", exc)
                    size = -1
                if size >= 0:
                    stats.received += 1
                    stats.bytes += size
                    source = addr[0].encode()
                    batch = batches[agent_slot(view[:size], n)]
                    batch += pack(size, time.time_ns(), len(source))
                    batch += source
                    batch += view[:size]
                    if len(batch) >= BATCH_BYTES:
                        self._send(batches, n)
                now = time.monotonic()
                if now >= next_flush:
                    next_drops = self._flush(batches, n, now, next_drops)
                    next_flush = now + BATCH_SECONDS
        finally:
            self._close(batches, n)

    def _serve_batched(self) -> None:
        """As serve(), with recvmmsg() batches from the native module."""
        n = len(self.conns)
        batches = [bytearray() for _ in range(n)]
        fd = self.sock.fileno()
        recv_batch = native.recv_batch
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        pack = _REC.pack
        stats = self.stats
        next_flush = time.monotonic() + BATCH_SECONDS
        next_drops = 0.0
        try:
            while not self._stop.is_set():
                try:
                    got = recv_batch(fd, 64)
                except OSError as exc:
                    if self._stop.is_set():
                        break
                    log.warning("receive failed: %s", exc)
                    got = []
                if got:
                    now_ns = time.time_ns()
                    for i, (data, source) in enumerate(got):
                        size = len(data)
                        stats.received += 1
                        stats.bytes += size
                        src = source.encode()
                        batch = batches[agent_slot(data, n)]
                        batch += pack(size, now_ns + i, len(src))
                        batch += src
                        batch += data
                        if len(batch) >= BATCH_BYTES:
                            self._send(batches, n)
                else:
                    poller.poll(BATCH_SECONDS * 1000)
                now = time.monotonic()
                if now >= next_flush:
                    next_drops = self._flush(batches, n, now, next_drops)
                    next_flush = now + BATCH_SECONDS
        finally:
            self._close(batches, n)

    def _flush(self, batches: list[bytearray], n: int, now: float, next_drops: float) -> float:
        """Send every batch; once a second first add the socket's drop count (worker 0 reports
        the shared socket's drops). Returns when the drops are due next."""
        if now >= next_drops:
            drops = socket_drops(self.sock)
            if drops is not None:
                batches[0] += _REC.pack(DROPS_RECORD, drops, 0)
            next_drops = now + 1.0
        self._send(batches, n)
        return next_drops

    def _close(self, batches: list[bytearray], n: int) -> None:
        self._send(batches, n)
        for conn in self.conns:
            conn.close()
        self.sock.close()

    def _send(self, batches: list[bytearray], n: int) -> None:
        for i in range(n):
            if batches[i]:
                try:
                    self.conns[i].send_bytes(batches[i])
                except (BrokenPipeError, OSError):
                    log.warning("decode worker %d is gone", i)
                batches[i] = bytearray()


def records(batch: bytes) -> Iterator[tuple[int, int, str, bytes]]:
    """(length, receive ns, source, datagram) of each record of a batch."""
    off = 0
    size = len(batch)
    unpack = _REC.unpack_from
    while off + _REC.size <= size:
        length, recv_ns, srclen = unpack(batch, off)
        off += _REC.size
        source = batch[off : off + srclen].decode()
        off += srclen
        if length == DROPS_RECORD:
            yield length, recv_ns, source, b""
            continue
        yield length, recv_ns, source, batch[off : off + length]
        off += length


class PipeWorker:
    """A decode worker fed by the reader: same pipeline as a socket listener, other input."""

    def __init__(self, pipeline: SflowPipeline, conn: Connection) -> None:
        self.pipeline = pipeline
        self.conn = conn
        self.stats = ListenerStats()
        self.kernel_drops: int | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def serve(self, on_tick: Callable[[], None] | None = None) -> None:
        handle = self.pipeline.handle
        stats = self.stats
        next_tick = time.monotonic() + TICK_S
        try:
            while not self._stop.is_set():
                try:
                    ready = self.conn.poll(TICK_S)
                    batch = self.conn.recv_bytes() if ready else b""
                except (EOFError, OSError):
                    break  # the reader has gone: flush and end
                for length, recv_ns, source, data in records(batch):
                    if length == DROPS_RECORD:
                        self.kernel_drops = recv_ns
                        continue
                    stats.received += 1
                    stats.bytes += length
                    handle(data, source, recv_ns)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + TICK_S
                    self.pipeline.tick(time.time_ns())
                    if on_tick is not None:
                        on_tick()
        finally:
            self.pipeline.finish(time.time_ns())
