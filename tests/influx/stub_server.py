"""A scripted InfluxDB-like HTTP server for failure-path tests of the writer (real HTTP, real
influxdb-client on the other side; only the server's answers are scripted)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 204
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    t: float
    path: str
    lines: list[str]
    headers: dict[str, str]
    reply: Reply | None = None


Script = Callable[["StubInflux", Request], Reply]


def accept_all(_stub: StubInflux, _req: Request) -> Reply:
    return Reply(204)


class StubInflux:
    """`script(stub, request) -> Reply` decides each write answer; every write is recorded."""

    def __init__(self, script: Script = accept_all, port: int = 0) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, reply: Reply) -> None:
                data = reply.body.encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/ping"):
                    self._send(Reply(204, headers={"X-Influxdb-Version": "1.8.10"}))
                else:
                    self._send(Reply(404, "not found"))

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n).decode("utf-8", "replace")
                if self.path.startswith("/query"):
                    self._send(Reply(200, '{"results":[{"statement_id":0}]}'))
                    return
                req = Request(time.monotonic(), self.path, body.split("\n"), dict(self.headers))
                with stub.lock:
                    reply = stub.script(stub, req)
                    req.reply = reply
                    stub.requests.append(req)
                self._send(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted_lines(self) -> list[str]:
        with self.lock:
            return [
                ln for r in self.requests if r.reply and r.reply.status == 204 for ln in r.lines
            ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
