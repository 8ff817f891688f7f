"""Web UI in headless Chromium (DevTools protocol over `websockets`, no Selenium needed).

The app runs under uvicorn on a free loopback port against seeded InfluxDB data; the browser
searches an endpoint prefix, opens the result and must see the move with its analysed cause.
A screenshot goes to test-artifacts/ui-endpoint.png for a human look. A second run has
FABRICSCOPE_API_KEY set: the browser is sent to the login form, is refused a wrong key, logs in
with the right one and then does the same search (test-artifacts/ui-login.png).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from api.app import create_app
from fabricscope.influxdb_local import free_port
from fabricscope.settings import Settings
from influx.query import InfluxQuery
from tests.api.conftest import API_KEY, MAC, Seeded

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no chromium")]


def _serve(seeded: Seeded, api_key: str = "") -> Iterator[str]:
    settings = Settings(influx_url=seeded.url, influx_bucket=seeded.db, api_key=api_key)  # type: ignore[arg-type]
    app = create_app(settings, InfluxQuery(seeded.url, database=seeded.db, timeout_s=5))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


@pytest.fixture
def server(seeded: Seeded) -> Iterator[str]:
    yield from _serve(seeded)


@pytest.fixture
def keyed_server(seeded: Seeded) -> Iterator[str]:
    yield from _serve(seeded, API_KEY)


class Page:
    """Minimal CDP client for one page target."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        mid = next(self.ids)
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == mid:
                assert "error" not in msg, msg
                result: dict[str, Any] = msg["result"]
                return result

    def eval(self, expr: str) -> Any:
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r["result"].get("value")

    def wait_for(self, expr: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.eval(f"document.readyState === 'complete' && ({expr})")
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expr}; page: {self.eval('location.href')}")


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert proc.poll() is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        with connect(ws_url, max_size=32 * 1024 * 1024) as ws:
            yield Page(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_search_open_endpoint_and_see_move_cause(server: str, page: Page) -> None:
    page.call("Page.enable")
    page.call("Page.navigate", url=server + "/")
    page.wait_for("!!document.getElementById('q')")
    # Search by MAC prefix: a result list, then open the endpoint from it.
    page.eval(
        "document.getElementById('q').value = '00:50:56'; "
        "document.getElementById('search').click(); true"
    )
    page.wait_for("location.search.includes('q=') && !!document.querySelector('a.addr')")
    assert page.eval("document.querySelector('a.addr').textContent") == MAC
    assert "node 102" in page.eval("document.querySelector('table').innerText")
    page.eval("document.querySelector('a.addr').click(); true")
    page.wait_for("location.pathname.startsWith('/ui/endpoints/')")
    now = page.eval("document.getElementById('now').innerText")
    assert "node 102" in now and "eth1/2" in now and "prod/app/web" in now
    assert "node 101" not in now  # deleted there at the move
    move = page.eval("document.querySelector('li.move').innerText")
    assert "101" in move and "102" in move
    assert page.eval("document.querySelector('li.move .cause-name').textContent") == "link_failover"
    assert "went down 3s before the move" in move and "90% confidence" in move
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "ui-endpoint.png").write_bytes(base64.b64decode(shot["data"]))
    # The other pages render with the seeded data.
    for path, needle in (
        ("/ui/moves", "link_failover"),
        ("/ui/anomalies", "offsubnet"),
        ("/ui/hosts", "web-1"),
    ):
        page.call("Page.navigate", url=server + path)
        page.wait_for(f"location.pathname === '{path}'")
        assert needle in page.eval("document.body.innerText"), path


def test_login_with_api_key_then_search_and_open_endpoint(keyed_server: str, page: Page) -> None:
    page.call("Page.enable")
    page.call("Page.navigate", url=keyed_server + "/ui/moves?since=-24h")
    # No session: the browser lands on the login form, remembering the page it asked for.
    page.wait_for("location.pathname === '/ui/login' && !!document.getElementById('key')")
    assert page.eval("new URLSearchParams(location.search).get('next')") == "/ui/moves?since=-24h"
    assert page.eval("document.querySelector('nav')") is None  # nothing to browse yet
    shot = page.call("Page.captureScreenshot", format="png")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "ui-login.png").write_bytes(base64.b64decode(shot["data"]))

    def submit(key: str) -> None:
        page.eval(
            f"document.getElementById('key').value = {json.dumps(key)}; "
            "document.getElementById('login').click(); true"
        )

    submit("not-the-key")
    page.wait_for("!!document.getElementById('login-error')")
    assert page.eval("document.getElementById('login-error').textContent") == "Wrong API key."
    assert page.eval("document.cookie") == ""

    submit(API_KEY)
    page.wait_for("location.pathname === '/ui/moves' && !!document.querySelector('table')")
    assert "link_failover" in page.eval("document.body.innerText")
    # HttpOnly: the session is invisible to scripts, yet the page's own fetches carry it.
    assert "fabricscope_session" not in page.eval("document.cookie")
    status = page.call(
        "Runtime.evaluate",
        expression="fetch('/api/v1/moves?fabric=fabric1').then(r => r.status)",
        awaitPromise=True,
        returnByValue=True,
    )["result"]["value"]
    assert status == 200

    page.call("Page.navigate", url=keyed_server + "/")
    page.wait_for("!!document.getElementById('q')")
    page.eval(
        "document.getElementById('q').value = '00:50:56'; "
        "document.getElementById('search').click(); true"
    )
    page.wait_for("location.search.includes('q=') && !!document.querySelector('a.addr')")
    assert page.eval("document.querySelector('a.addr').textContent") == MAC
    page.eval("document.querySelector('a.addr').click(); true")
    page.wait_for(
        "location.pathname.startsWith('/ui/endpoints/') && !!document.getElementById('now')"
    )
    assert page.eval("document.querySelector('li.move .cause-name').textContent") == "link_failover"

    page.eval("document.getElementById('logout').click(); true")
    page.wait_for("location.pathname === '/ui/login'")
    page.call("Page.navigate", url=keyed_server + "/ui/hosts")
    page.wait_for("location.pathname === '/ui/login' && !!document.getElementById('key')")
