"""UDP sFlow listener: receive datagrams and feed the pipeline; never blocked by the database.

The receive loop only decodes and hands lines to the writer's bounded queue (which spools or
drops-and-counts when full), so a slow InfluxDB can never stall it. Throughput beyond one core
comes from distributor.py (one reader, decode workers chosen by agent address); SO_REUSEPORT
sockets (the kernel hashes the UDP source) remain available to callers of open_socket.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from dataclasses import dataclass

from collector.sflow.fastpath import native
from collector.sflow.pipeline import SflowPipeline

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65535
TICK_S = 0.2
BATCH = 64  # datagrams per recvmmsg() call


def parse_listen(text: str, default_port: int = 6343) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, `:port` or `host`; raises ValueError with the bad value."""
    text = text.strip()
    host, port = text, default_port
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"bad listen address {text!r}")
        host = text[1:end]
        rest = text[end + 1 :]
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"bad port in listen address {text!r}")
    return host or "0.0.0.0", port


def open_socket(host: str, port: int, rcvbuf: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Bursts from hundreds of agents arrive faster than one decode: the kernel buffer absorbs
    # them (sFlow-RT asks for >= 2 MB). The kernel caps it at net.core.rmem_max.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if got < rcvbuf:
        log.info(
            "receive buffer is %d bytes (asked %d): raise net.core.rmem_max for bursts", got, rcvbuf
        )
    sock.bind((host, port))
    return sock


def socket_drops(sock: socket.socket) -> int | None:
    """Datagrams the kernel dropped on *this* socket (full receive buffer, or a filter): the
    ``drops`` column of its own row in /proc/net/udp{,6}, found by the socket's inode. The
    host-wide UDP RcvbufErrors would also count every other process's drops."""
    try:
        inode = os.fstat(sock.fileno()).st_ino
    except OSError:
        return None
    wanted = str(inode)
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as fh:
                next(fh, None)  # header
                for line in fh:
                    cols = line.split()
                    # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ptr drops
                    if len(cols) >= 13 and cols[9] == wanted:
                        return int(cols[12])
        except (OSError, ValueError):
            continue
    return None


@dataclass
class ListenerStats:
    received: int = 0
    bytes: int = 0


class SflowListener:
    """Blocking receive loop (run in the main thread or a thread); `stop()` ends it."""

    def __init__(
        self,
        pipeline: SflowPipeline,
        host: str,
        port: int,
        *,
        rcvbuf: int = 8 * 1024 * 1024,
        reuse_port: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.sock = open_socket(host, port, rcvbuf, reuse_port)
        self.sock.settimeout(TICK_S)
        self.stats = ListenerStats()
        self._stop = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        addr = self.sock.getsockname()
        return addr[0], addr[1]

    def stop(self) -> None:
        self._stop.set()

    def socket_drops(self) -> int | None:
        """This listener socket's kernel drops (None once closed or where /proc is missing)."""
        return socket_drops(self.sock) if self.sock.fileno() >= 0 else None

    def serve(self) -> None:
        if native is not None and hasattr(native, "recv_batch"):
            self._serve_batched()
            return
        buf = bytearray(MAX_DATAGRAM)
        view = memoryview(buf)
        recv = self.sock.recvfrom_into
        handle = self.pipeline.handle
        stats = self.stats
        next_tick = time.monotonic() + TICK_S
        try:
            while not self._stop.is_set():
                try:
                    n, addr = recv(buf)
                except TimeoutError:
                    n = -1
                except OSError as exc:
                    if self._stop.is_set():
                        break
                    log.warning("receive failed: %s", exc)
                    n = -1
                if n >= 0:  # an empty datagram is still a (bad) datagram to count
                    stats.received += 1
                    stats.bytes += n
                    handle(bytes(view[:n]), addr[0], time.time_ns())
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + TICK_S
                    self.pipeline.tick(time.time_ns())
        finally:
            self.pipeline.finish(time.time_ns())
            self.sock.close()

    def _serve_batched(self) -> None:
        """recvmmsg(): up to BATCH datagrams per system call (native module), poll() between."""
        fd = self.sock.fileno()
        recv_batch = native.recv_batch
        handle = self.pipeline.handle
        stats = self.stats
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        next_tick = time.monotonic() + TICK_S
        try:
            while not self._stop.is_set():
                try:
                    batch = recv_batch(fd, BATCH)
                except OSError as exc:
                    if self._stop.is_set():
                        break
                    log.warning("receive failed: %s", exc)
                    batch = []
                if batch:
                    # one clock read per batch; +i ns keeps every datagram's points distinct
                    now_ns = time.time_ns()
                    for i, (data, source) in enumerate(batch):
                        stats.received += 1
                        stats.bytes += len(data)
                        handle(data, source, now_ns + i)
                else:
                    poller.poll(TICK_S * 1000)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + TICK_S
                    self.pipeline.tick(time.time_ns())
        finally:
            self.pipeline.finish(time.time_ns())
            self.sock.close()


def worker_instance(index: int) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-w{index}"
