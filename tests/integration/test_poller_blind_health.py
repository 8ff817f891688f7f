"""Never blind, end to end, as a user runs it: `fabricscope sim apic`, `fabricscope apic poll`
and `fabricscope serve` as separate processes on a real InfluxDB, default settings.

- busy fabric, silent websocket (the simulator's ``ws_silent``: the socket stays open and answers
  pings but delivers nothing): ``/api/v1/health`` says the poller is degraded within 60 s, says
  why, and is ok again once the stream works;
- idle fabric, dead websocket (a black-holed TCP path: a proxy between poller and APIC that stops
  passing the websocket's bytes either way, REST still flowing): the same within 60 s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fabricscope.influxdb_local import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]

BLIND_WITHIN_S = 60.0


class BlackholeProxy:
    """TCP proxy 127.0.0.1:port → upstream. ``freeze_websockets()``: every connection that
    asked for a websocket upgrade stops passing bytes in both directions (they are read and
    dropped, as on a path whose firewall state vanished); new connections pass again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.frozen: set[int] = set()
        self.ws_conns: set[int] = set()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BlackholeProxy:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        self.thread.join(10)

    def freeze_websockets(self) -> int:
        self.frozen |= self.ws_conns
        return len(self.frozen)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._conn, "127.0.0.1", self.port)
        )
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()
            self.loop.close()

    async def _conn(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            cw.close()
            return
        cid = id(cw)
        first = await cr.read(65536)
        if b"upgrade: websocket" in first.lower():
            self.ws_conns.add(cid)
        uw.write(first)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    if cid in self.frozen:
                        continue  # black hole
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                if cid not in self.frozen:
                    w.close()

        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fabricscope.cli", *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )


class Stack:
    def __init__(self, tmp: Path, influx_url: str, db: str, scenarios: str) -> None:
        self.tmp = tmp
        self.apic_port = free_port()
        self.api_port = free_port()
        self.env = dict(
            os.environ,
            FABRICSCOPE_INFLUX_URL=influx_url,
            FABRICSCOPE_INFLUX_BUCKET=db,
            FABRICSCOPE_APIC_PASSWORD="password",
        )
        self.scenarios = scenarios
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sim = f"http://127.0.0.1:{self.apic_port}"
        self.api = f"http://127.0.0.1:{self.api_port}"

    def start_sim(self) -> None:
        args = ["sim", "apic", "--listen", f"127.0.0.1:{self.apic_port}", "--leafs", "6"]
        args += ["--endpoints", "300", "--scenarios", self.scenarios, "--repeat", "6"]
        self.procs.append(_spawn(args, self.tmp / "sim.log", self.env))
        self.wait(lambda: httpx.get(f"{self.sim}/_sim/clock", timeout=2).status_code == 200, 60)

    def start_poller(self, apic_url: str) -> None:
        args = ["apic", "poll", "--apic-urls", apic_url, "--username", "admin"]
        self.procs.append(_spawn(args, self.tmp / "poller.log", self.env))

    def start_api(self) -> None:
        args = ["serve", "--listen", f"127.0.0.1:{self.api_port}"]
        self.procs.append(_spawn(args, self.tmp / "api.log", self.env))

    def poller_health(self) -> dict[str, Any]:
        try:
            body = httpx.get(f"{self.api}/api/v1/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return {}
        return dict(body.get("processes", {}).get("poller") or {})

    def wait(self, ok: Any, timeout: float, every: float = 0.5) -> float:
        """Seconds until ok() is true; fails the test after timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for p in self.procs:
                assert p.poll() is None, self.logs()
            try:
                if ok():
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(every)
        raise AssertionError(f"not within {timeout:.0f} s\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log"))
        )

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture
def stack_factory(tmp_path: Path, influxdb: Any, influx_db: str) -> Iterator[Any]:
    stacks: list[Stack] = []

    def make(scenarios: str) -> Stack:
        s = Stack(tmp_path, influxdb.url, influx_db, scenarios)
        stacks.append(s)
        return s

    yield make
    for s in stacks:
        s.stop()


def test_silent_websocket_on_a_busy_fabric_turns_health_degraded_within_a_minute(
    stack_factory: Any,
) -> None:
    st = stack_factory("all")
    st.start_sim()
    st.start_poller(st.sim)
    st.start_api()
    st.wait(lambda: st.poller_health().get("status") == "ok", 120)
    moves0 = st.poller_health().get("moves", 0)
    st.wait(lambda: st.poller_health().get("moves", 0) > moves0, 60)  # busy: endpoints move

    httpx.post(f"{st.sim}/_sim/faults/ws_silent", timeout=5).raise_for_status()
    took = st.wait(lambda: st.poller_health().get("status") == "degraded", BLIND_WITHIN_S + 5)
    health = st.poller_health()
    print(f"silent websocket on a busy fabric: health degraded after {took:.1f} s")
    assert took <= BLIND_WITHIN_S
    assert "silent" in (health.get("last_failure") or ""), health
    assert health.get("blind_detections", 0) >= 1, health

    # While the socket stays silent the poller keeps finding out: never "ok" meanwhile.
    t_end = time.monotonic() + 10
    while time.monotonic() < t_end:
        assert st.poller_health().get("status") != "ok"
        time.sleep(1)

    httpx.delete(f"{st.sim}/_sim/faults/ws_silent", timeout=5).raise_for_status()
    st.wait(lambda: st.poller_health().get("status") == "ok", 120)


def test_dead_websocket_on_an_idle_fabric_turns_health_degraded_within_a_minute(
    stack_factory: Any,
) -> None:
    st = stack_factory("none")
    st.start_sim()
    with BlackholeProxy(st.apic_port) as proxy:
        st.start_poller(f"http://127.0.0.1:{proxy.port}")
        st.start_api()
        st.wait(lambda: st.poller_health().get("status") == "ok", 120)
        assert proxy.freeze_websockets() == 1
        took = st.wait(lambda: st.poller_health().get("status") == "degraded", BLIND_WITHIN_S + 5)
        health = st.poller_health()
        print(f"dead websocket on an idle fabric: health degraded after {took:.1f} s")
        assert took <= BLIND_WITHIN_S
        assert health.get("reconnects", 0) >= 1, health
        # a new websocket (not frozen) carries the stream again; health stays degraded until
        # the probe has confirmed it (two probes), as the busy case above shows end to end
        st.wait(lambda: st.poller_health().get("state") == "streaming", 60)
        assert st.poller_health().get("status") == "degraded"
