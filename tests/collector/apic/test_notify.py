"""Notifications over a real UDP socket (RFC 5424 syslog) and a real local HTTP server."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from collector.apic.notify import Notifier, NotifySettings, rfc5424
from collector.apic.tracker import Anomaly, Move, NodeChange

MOVE = Move(
    1_704_067_200.5,
    15007704,
    "00:00:40:01:01:01",
    False,
    (101, "eth1/1", "vlan-101", 32771, ""),
    (102, "eth1/5", "vlan-101", 32771, ""),
    1,
    "t1/a1/e1",
    "t1/bd1",
    "t1/v1",
)
ROGUE = Anomaly(
    1_704_067_201.0,
    "rogue",
    15007704,
    "00:00:40:01:01:01",
    False,
    "rogue endpoint: 5 moves",
    {"moves": 5},
)
EVENT = NodeChange(0, 101, 1, "00:00:40:01:01:01", False, "created", 1, "eth1/1", 1, "", 0, "")

RFC5424 = re.compile(
    rb"^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) fabricscope - (\S+) - "
    rb"\xef\xbb\xbf(.*)$",
    re.S,
)


def test_rfc5424_format():
    m = RFC5424.match(rfc5424("hello", 1_704_067_200.25, 4, hostname="h1", msgid="rogue"))
    assert m is not None
    assert int(m[1]) == 23 * 8 + 4 and m[2] == b"2024-01-01T00:00:00.250Z" and m[3] == b"h1"
    assert m[4] == b"rogue" and m[5] == b"hello"


def test_syslog_over_real_udp_by_kind():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    port = rx.getsockname()[1]
    n = Notifier(NotifySettings(notify_syslog=f"127.0.0.1:{port}", notify_kinds="move,rogue"))
    try:
        n.notify_outputs("fab1", [EVENT, MOVE, ROGUE])
        n.flush()
        got = [rx.recv(9000) for _ in range(2)]
    finally:
        n.close()
        rx.close()
    msgs = [RFC5424.match(g) for g in got]
    assert all(msgs)
    assert msgs[0][4] == b"move"
    text = msgs[0][5].decode()
    assert text.startswith("move detected [fabric: fab1, t1/bd1, addr: 00:00:40:01:01:01]")
    assert "from [node:101, interface:eth1/1, encap:vlan-101" in text
    assert "to [node:102, interface:eth1/5" in text
    assert msgs[1][4] == b"rogue" and int(msgs[1][1]) == 23 * 8 + 4


def test_kinds_filter_drops_unwanted():
    n = Notifier(NotifySettings(notify_syslog="127.0.0.1:9", notify_kinds="stale"))
    n.notify_outputs("f", [MOVE, ROGUE])
    assert n._thread is None  # nothing queued


def test_webhook_to_real_http_server():
    received: list[dict] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append({"ctype": self.headers["content-type"], "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    n = Notifier(NotifySettings(notify_webhook=url, notify_kinds="all"))
    try:
        n.notify_outputs("fab1", [MOVE, ROGUE, EVENT])
        n.flush()
    finally:
        n.close()
        srv.shutdown()
        srv.server_close()
    assert [r["body"]["kind"] for r in received] == ["move", "rogue"]
    assert received[0]["ctype"] == "application/json"
    mv = received[0]["body"]
    assert mv["from"]["node"] == "101" and mv["to"]["interface"] == "eth1/5"
    assert mv["epg"] == "t1/a1/e1" and mv["fabric"] == "fab1"
    assert n.sent == 2 and n.failed == 0


def test_webhook_failure_is_counted_not_raised():
    n = Notifier(
        NotifySettings(
            notify_webhook="http://127.0.0.1:9/x", notify_kinds="all", notify_timeout_s=1
        )
    )
    try:
        n.notify_outputs("f", [ROGUE])
        n.flush()
    finally:
        n.close()
    assert n.failed == 1


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("FABRICSCOPE_NOTIFY_SYSLOG", "logs.example:1514")
    monkeypatch.setenv("FABRICSCOPE_NOTIFY_KINDS", "move, rapid,bogus")
    s = NotifySettings()
    assert s.notify_syslog == "logs.example:1514" and s.kinds() == {"move", "rapid"}
    n = Notifier(s)
    assert n._addr == ("logs.example", 1514)
