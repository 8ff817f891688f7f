"""Notifications for tracker findings (stage: collector/apic, a side output next to points).

Per kind (move, rapid, rogue, offsubnet, stale, duplicate_ip, loop) the poller can send
- syslog, RFC 5424 over UDP (facility LOCAL7 and app-name like EPT's ``EPT`` → ``fabricscope``),
- a webhook: an HTTP POST of one JSON object per finding.

Settings (environment, FABRICSCOPE_ prefix, each also a CLI flag of ``fabricscope apic poll``):
``FABRICSCOPE_NOTIFY_SYSLOG=host:port``, ``FABRICSCOPE_NOTIFY_WEBHOOK=url``,
``FABRICSCOPE_NOTIFY_KINDS=move,rapid,...`` (default: every kind but move and stale, the noisy
ones). Sending never blocks the poller: findings go to a bounded queue served by one thread;
overflow is counted and dropped. Message texts follow EPT's (reference/apic-and-ept.md §1.4).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from collector.apic.anomaly_kinds import ANOMALY_KINDS
from collector.apic.models import addr_type
from collector.apic.tracker import Anomaly, Move, Output

log = logging.getLogger(__name__)

ALL_KINDS = ("move", *ANOMALY_KINDS)
DEFAULT_KINDS = "rapid,rogue,offsubnet,duplicate_ip,loop"
_SEVERITY = {
    "move": 5,
    "rapid": 4,
    "rogue": 4,
    "offsubnet": 4,
    "stale": 4,
    "duplicate_ip": 3,
    "loop": 2,
}  # notice / warning / error / critical
LOCAL7 = 23


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FABRICSCOPE_", extra="ignore")

    notify_syslog: str = ""  # host:port (port defaults to 514)
    notify_webhook: str = ""  # http(s) URL
    notify_kinds: str = DEFAULT_KINDS
    notify_queue: int = 10000
    notify_timeout_s: float = 5.0

    def kinds(self) -> frozenset[str]:
        ks = {k.strip() for k in self.notify_kinds.split(",") if k.strip()}
        if "all" in ks:
            return frozenset(ALL_KINDS)
        return frozenset(k for k in ks if k in ALL_KINDS)

    @property
    def enabled(self) -> bool:
        return bool(self.notify_syslog or self.notify_webhook)


def _node(n: int) -> str:
    return f"{n >> 16}-{n & 0xFFFF}" if n > 65535 else str(n)


def finding(fabric: str, o: Output) -> dict[str, Any] | None:
    """One finding as a JSON-able dict (the webhook body), or None for plain events."""
    if isinstance(o, Move):
        src, dst = o.src, o.dst

        def side(loc: tuple[int, str, str, int, str]) -> str:
            s = f"node:{_node(loc[0])}, interface:{loc[1]}, encap:{loc[2]}, pctag:{loc[3]}"
            if o.epg:
                s += f", epg:{o.epg}"
            return s + (f", mac:{loc[4]}" if loc[4] else "")

        return {
            "kind": "move",
            "fabric": fabric,
            "addr": o.addr,
            "addr_type": addr_type(o.addr, o.is_ip),
            "vnid": o.vnid,
            "ts": o.ts,
            "from": {
                "node": _node(src[0]),
                "interface": src[1],
                "encap": src[2],
                "pctag": src[3],
                "mac": src[4],
            },
            "to": {
                "node": _node(dst[0]),
                "interface": dst[1],
                "encap": dst[2],
                "pctag": dst[3],
                "mac": dst[4],
            },
            "epg": o.epg,
            "bd": o.bd,
            "vrf": o.vrf,
            "count": o.count,
            "message": f"move detected [fabric: {fabric}, {o.bd or o.vrf or o.vnid}, "
            f"addr: {o.addr}] from [{side(src)}] to [{side(dst)}]",
        }
    if isinstance(o, Anomaly):
        return {
            "kind": o.kind,
            "fabric": fabric,
            "addr": o.addr,
            "vnid": o.vnid,
            "ts": o.ts,
            "detail": o.detail,
            **{k: v for k, v in o.fields.items() if k not in ("kind",)},
            "message": f"{o.kind} event [fabric: {fabric}, addr: {o.addr}] {o.detail}",
        }
    return None


def rfc5424(msg: str, ts: float, severity: int, hostname: str = "", msgid: str = "-") -> bytes:
    """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`` with a UTF-8 BOM (RFC 5424 §6)."""
    pri = LOCAL7 * 8 + severity
    stamp = (
        datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    host = (hostname or socket.gethostname() or "-")[:255].replace(" ", "_")
    return (
        f"<{pri}>1 {stamp} {host} fabricscope - {msgid} - ".encode()
        + b"\xef\xbb\xbf"
        + (msg.encode("utf-8", "replace"))
    )


class Notifier:
    """Filters findings by kind and sends them from a background thread."""

    def __init__(self, settings: NotifySettings | None = None) -> None:
        self.settings = settings or NotifySettings()
        self.kinds = self.settings.kinds()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue(self.settings.notify_queue)
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._addr: tuple[str, int] | None = None
        if self.settings.notify_syslog:
            host, _, port = self.settings.notify_syslog.rpartition(":")
            if not host:
                host, port = port, "514"
            self._addr = (host.strip("[]"), int(port or 514))
        self._http: httpx.Client | None = None

    def notify_outputs(self, fabric: str, outputs: Sequence[Output]) -> None:
        if not self.settings.enabled:
            return
        for o in outputs:
            kind = "move" if isinstance(o, Move) else o.kind if isinstance(o, Anomaly) else None
            if kind is None or kind not in self.kinds:
                continue
            f = finding(fabric, o)
            if f is None:
                continue
            self._start()
            try:
                self._q.put_nowait(f)
            except queue.Full:
                self.dropped += 1

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="apic-notify", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            f = self._q.get()
            if f is None:
                self._q.task_done()
                return
            try:
                self.send(f)
            finally:
                self._q.task_done()

    def send(self, f: dict[str, Any]) -> None:
        """Deliver one finding on every configured channel (synchronously)."""
        if self._addr is not None:
            try:
                if self._sock is None:
                    fam = socket.AF_INET6 if ":" in self._addr[0] else socket.AF_INET
                    self._sock = socket.socket(fam, socket.SOCK_DGRAM)
                data = rfc5424(
                    f["message"],
                    float(f.get("ts") or 0),
                    _SEVERITY.get(f["kind"], 5),
                    msgid=f["kind"],
                )
                self._sock.sendto(data[:8192], self._addr)
                self.sent += 1
            except OSError as exc:
                self.failed += 1
                log.warning("syslog notification failed: %s", exc)
        if self.settings.notify_webhook:
            try:
                if self._http is None:
                    self._http = httpx.Client(timeout=self.settings.notify_timeout_s)
                r = self._http.post(self.settings.notify_webhook, json=f)
                r.raise_for_status()
                self.sent += 1
            except httpx.HTTPError as exc:
                self.failed += 1
                log.warning("webhook notification failed: %s", type(exc).__name__)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued findings are sent (tests, shutdown)."""
        import time

        end = time.monotonic() + timeout
        while self._q.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.01)

    def close(self) -> None:
        if self._thread is not None:
            self.flush()
            self._q.put(None)
            self._thread.join(2)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._http is not None:
            self._http.close()
            self._http = None
