"""APIC websocket subscriptions (stage: collector/apic, between the client and the tracker).

EPT's pattern (reference/apic-and-ept.md §1.3): open ``/socket<token>``, subscribe with
``subscription=yes&page-size=1`` *before* the build and queue every event that arrives while the
build runs; the poller drains the queue after the build. One socket carries all subscriptions.

Liveness: websocket pings with a timeout catch a half-open TCP connection or an unresponsive
server; a closed socket, a failed ``subscriptionRefresh`` (refreshed at a third of the timeout,
well inside it — APIC under load answers refreshes late), or a 405 "unable to locate opened web
socket" all raise :class:`SubscriptionLost`, after which the poller reconnects, logs in again,
resubscribes and resyncs.

The queue holds raw frames (text, ~300 bytes each instead of ~1.2 KB decoded) and is bounded by
bytes (``max_queue_bytes``): past the bound new frames are dropped and :attr:`overflowed` is set;
the poller then resyncs deliberately, once, instead of growing without limit. The reader keeps,
per class, the newest ``createTs``/``modTs`` the socket delivered, so a REST probe of the APIC's
newest change can tell a silent socket from a quiet fabric (``liveness.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from collector.apic.client import ApicClient, ApicError

log = logging.getLogger(__name__)


class SubscriptionLost(Exception):
    """The event stream can no longer be trusted; reconnect and resync."""


# A frame's first object class and every timestamp in it, read without decoding the frame.
_CLASS_RE = re.compile(r'"imdata":\[\{"([A-Za-z0-9]+)"')
_TS_RE = re.compile(r'"(?:modTs|createTs)":"(\d[^"]*)"')
FRAME_OVERHEAD = 120  # bytes per queued frame beyond its text: tuple, float, deque slot


@dataclass
class Subscriptions:
    client: ApicClient
    refresh_timeout_s: int = 60  # default APIC subscription lifetime
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 10.0
    max_queue_bytes: int = 128 * 1024 * 1024
    ws: ClientConnection | None = None
    ids: dict[str, str] = field(default_factory=dict)  # subscriptionId -> class
    frames: int = 0
    bad_frames: int = 0
    unknown_ids: int = 0
    dropped: int = 0  # frames dropped past the queue bound
    overflows: int = 0  # times the bound was crossed
    overflowed: bool = False  # set by the reader, cleared by the poller's resync
    queue_bytes: int = 0
    queue_peak_bytes: int = 0
    last_frame: float = 0.0
    lost_reason: str = ""
    newest: dict[str, str] = field(default_factory=dict)  # class -> newest timestamp delivered
    _q: deque[tuple[float, str]] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open the session's websocket (``ws://`` for ``http://`` simulators)."""
        url = self.client.websocket_url()
        ssl_ctx: Any = None
        if url.startswith("wss") and not self.client.verify_tls:
            import ssl

            ssl_ctx = ssl.create_default_context()
            ssl_ctx.check_hostname = False
            ssl_ctx.verify_mode = ssl.CERT_NONE
        try:
            self.ws = await websockets.connect(
                url,
                ssl=ssl_ctx,
                ping_interval=self.ping_interval_s,
                ping_timeout=self.ping_timeout_s,
                max_size=64 * 1024 * 1024,
                max_queue=64,
                open_timeout=10,
                close_timeout=2,
            )
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
            raise SubscriptionLost(f"websocket open failed: {type(exc).__name__}: {exc}") from None
        self.lost_reason = ""
        self.last_frame = time.monotonic()
        self._reader = asyncio.create_task(self._read(), name="apic-ws-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
            self.ws = None
        self.ids.clear()

    def reset_queue(self) -> None:
        self._q.clear()
        self.queue_bytes = 0
        self.overflowed = False
        self.newest.clear()

    # ------------------------------------------------------------------ queue
    def qsize(self) -> int:
        return len(self._q)

    def pop(self) -> tuple[float, str] | None:
        """The oldest queued frame ``(received wall time, text)``, or None."""
        if not self._q:
            return None
        item = self._q.popleft()
        self.queue_bytes -= len(item[1]) + FRAME_OVERHEAD
        return item

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a frame; True when one is queued."""
        if self._q:
            return True
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        return bool(self._q)

    def put(self, received: float, frame: str) -> None:
        """Queue a frame (the reader; tests and benchmarks may feed frames directly)."""
        size = len(frame) + FRAME_OVERHEAD
        if self.overflowed or self.queue_bytes + size > self.max_queue_bytes:
            if not self.overflowed:
                self.overflowed = True
                self.overflows += 1
                log.warning(
                    "APIC event backlog over %d MiB (%d frames): dropping new frames until a "
                    "resync", self.max_queue_bytes >> 20, len(self._q),
                )  # fmt: skip
            self.dropped += 1
            return
        self._q.append((received, frame))
        self.queue_bytes += size
        if self.queue_bytes > self.queue_peak_bytes:
            self.queue_peak_bytes = self.queue_bytes
        self._wake.set()

    # ------------------------------------------------------------------ subscriptions
    async def subscribe(self, cls: str, extra: str = "") -> str:
        """Subscribe to a class; events start flowing into the queue right away."""
        params = "page-size=1" + (f"&{extra}" if extra else "")
        try:
            sid, _ = await self.client.subscribe(
                f"/api/class/{cls}.json", params, self.refresh_timeout_s
            )
        except ApicError as exc:
            if exc.is_no_socket:
                raise SubscriptionLost(f"subscribe {cls}: {exc.text}") from None
            raise
        self.ids[sid] = cls
        return sid

    async def refresh_all(self) -> None:
        """Refresh every subscription; any failure means events may have been missed."""
        for sid, cls in list(self.ids.items()):
            try:
                await self.client.refresh_subscription(sid, self.refresh_timeout_s)
            except ApicError as exc:
                raise SubscriptionLost(f"subscription refresh {cls}/{sid}: {exc.text}") from None

    def check_alive(self) -> None:
        """Raise if the reader ended (close frame, ping timeout, read error)."""
        if self._reader is None or self._reader.done() or self.ws is None:
            raise SubscriptionLost(self.lost_reason or "websocket closed")

    def decode(self, frame: str) -> list[tuple[str, dict[str, Any]]]:
        """A queued frame → ``(class, attributes)`` of its objects for live subscriptions; frames
        of unknown (earlier sessions') subscriptions give nothing."""
        try:
            data = _loads(frame)
        except ValueError:
            self.bad_frames += 1
            return []
        if not isinstance(data, dict):
            self.bad_frames += 1
            return []
        sids = data.get("subscriptionId")
        if isinstance(sids, str):
            sids = [sids]
        if not any(s in self.ids for s in sids or ()):
            self.unknown_ids += 1  # a subscription of an earlier session: ignore
            return []
        out: list[tuple[str, dict[str, Any]]] = []
        for item in data.get("imdata") or ():
            if not isinstance(item, dict):
                continue
            for cls, body in item.items():
                attrs = body.get("attributes") if isinstance(body, dict) else None
                if not isinstance(attrs, dict):
                    self.bad_frames += 1
                    continue
                out.append((cls, attrs))
        return out

    async def _read(self) -> None:
        assert self.ws is not None
        newest = self.newest
        try:
            async for msg in self.ws:
                now = time.time()
                self.last_frame = time.monotonic()
                self.frames += 1
                frame = msg if isinstance(msg, str) else msg.decode("utf-8", "replace")
                m = _CLASS_RE.search(frame, 0, 300)
                if m is not None:
                    ts = max(_TS_RE.findall(frame), default="")
                    if ts and ts > newest.get(m.group(1), ""):
                        newest[m.group(1)] = ts
                self.put(now, frame)
            self.lost_reason = "websocket closed by APIC"
        except websockets.exceptions.ConnectionClosed as exc:
            self.lost_reason = f"websocket closed: {exc}"
        except Exception as exc:  # noqa: BLE001 - any reader failure ends the stream
            self.lost_reason = f"websocket error: {type(exc).__name__}: {exc}"


try:
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads
