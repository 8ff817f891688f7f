"""APIC websocket subscriptions (stage: collector/apic, between the client and the tracker).

EPT's pattern (reference/apic-and-ept.md §1.3): open ``/socket<token>``, subscribe with
``subscription=yes&page-size=1`` *before* the build and queue every event that arrives while the
build runs; the poller drains the queue after the build. One socket carries all subscriptions.

Liveness: websocket pings with a timeout catch a half-open TCP connection or an unresponsive
server; a closed socket, a failed ``subscriptionRefresh`` (refreshed at a third of the timeout,
well inside it — APIC under load answers refreshes late), or a 405 "unable to locate opened web
socket" all raise :class:`SubscriptionLost`, after which the poller reconnects, logs in again,
resubscribes and resyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from collector.apic.client import ApicClient, ApicError

log = logging.getLogger(__name__)


class SubscriptionLost(Exception):
    """The event stream can no longer be trusted; reconnect and resync."""


@dataclass
class Subscriptions:
    client: ApicClient
    refresh_timeout_s: int = 60  # default APIC subscription lifetime
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 10.0
    max_queue: int = 1_000_000
    ws: ClientConnection | None = None
    ids: dict[str, str] = field(default_factory=dict)  # subscriptionId -> class
    queue: asyncio.Queue[tuple[float, str, dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue()
    )
    frames: int = 0
    bad_frames: int = 0
    unknown_ids: int = 0
    dropped: int = 0
    last_frame: float = 0.0
    lost_reason: str = ""
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
        self.queue = asyncio.Queue()

    async def subscribe(self, cls: str, extra: str = "") -> str:
        """Subscribe to a class; events start flowing into :attr:`queue` right away."""
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

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for msg in self.ws:
                now = time.time()
                self.last_frame = time.monotonic()
                self.frames += 1
                try:
                    data = json.loads(msg)
                except ValueError:
                    self.bad_frames += 1
                    continue
                if not isinstance(data, dict):
                    self.bad_frames += 1
                    continue
                sids = data.get("subscriptionId")
                if isinstance(sids, str):
                    sids = [sids]
                known = [self.ids[s] for s in sids or () if s in self.ids]
                if not known:
                    self.unknown_ids += 1  # a subscription of an earlier session: ignore
                    continue
                for item in data.get("imdata") or ():
                    if not isinstance(item, dict):
                        continue
                    for cls, body in item.items():
                        attrs = body.get("attributes") if isinstance(body, dict) else None
                        if not isinstance(attrs, dict):
                            self.bad_frames += 1
                            continue
                        if self.queue.qsize() >= self.max_queue:
                            self.dropped += 1
                            self.lost_reason = "event queue overflow"
                            return  # the poller resyncs: better than silently losing events
                        self.queue.put_nowait((now, cls, attrs))
            self.lost_reason = "websocket closed by APIC"
        except websockets.exceptions.ConnectionClosed as exc:
            self.lost_reason = f"websocket closed: {exc}"
        except Exception as exc:  # noqa: BLE001 - any reader failure ends the stream
            self.lost_reason = f"websocket error: {type(exc).__name__}: {exc}"
