"""All-in-one orchestration for `fabricscope demo`: every process of the stack on one machine.

Each component runs as its own `fabricscope …` child process — exactly what an operator runs in
production — so the demo exercises the real CLI, settings and shutdown paths. Stop order matters
for "nothing lost": the simulators stop first (no new data), then the collector and poller get
SIGTERM and flush/spool, then the analyzers and API, and last the managed InfluxDB.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from fabricscope.settings import Settings


@dataclass
class Child:
    name: str
    argv: list[str]
    where: str
    ready: Callable[[Child], bool] | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_contains(text: str) -> Callable[[Child], bool]:
    def check(child: Child) -> bool:
        return child.log_path is not None and text in child.log_path.read_text(errors="replace")

    return check


def has_command(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class Demo:
    """Starts, watches and stops the children; `run()` blocks until Ctrl-C or `duration_s`."""

    def __init__(
        self,
        settings: Settings,
        *,
        state_dir: Path,
        sflow_port: int = 6343,
        apic_port: int = 8443,
        api_listen: str = "127.0.0.1:8080",
        influx_port: int = 8086,
        duration_s: float | None = None,
        out: TextIO = sys.stdout,
        speed: float = 1.0,
        scenarios: str = "all",
        repeat_s: float = 30.0,
        sflow_interval_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.sflow_port = sflow_port
        self.apic_port = apic_port
        self.api_listen = api_listen
        self.influx_port = influx_port
        self.duration_s = duration_s
        self.out = out
        self.speed = speed
        self.scenarios = scenarios
        self.repeat_s = repeat_s
        self.sflow_interval_s = sflow_interval_s
        self.children: list[Child] = []
        self.local_influx: object | None = None
        self._stop = threading.Event()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # ------------------------------------------------------------------ setup
    def influx_url(self) -> str:
        if self.settings.influx_url:
            self.say(f"  InfluxDB       {self.settings.influx_url} (FABRICSCOPE_INFLUX_URL)")
            return self.settings.influx_url
        from fabricscope.influxdb_local import LocalInfluxDB, ensure_influxd

        self.say("  InfluxDB       building/starting the managed InfluxDB 1.8.10 …")
        local = LocalInfluxDB(
            self.state_dir / "influxdb", self.influx_port, binary=ensure_influxd()
        )
        url = local.start()
        self.local_influx = local
        self.say(f"  InfluxDB       {url} (managed, data in {self.state_dir / 'influxdb'})")
        return url

    def plan(self, influx_url: str) -> list[Child]:
        cli = [sys.executable, "-m", "fabricscope.cli"]
        apic_url = f"http://127.0.0.1:{self.apic_port}"
        speed = str(self.speed)
        children = [
            Child(
                "collector",
                [*cli, "sflow", "listen", "--listen", f"127.0.0.1:{self.sflow_port}"],
                f"udp://127.0.0.1:{self.sflow_port} (sFlow collector)",
                ready=log_contains("listening udp"),
            ),
            # One process simulates the fabric behind its APIC *and* the fabric's sFlow agents,
            # so both views follow the same scenarios (simulators/bridge.py).
            Child(
                "fabric-sim",
                [
                    *cli,
                    "sim",
                    "apic",
                    "--listen",
                    f"127.0.0.1:{self.apic_port}",
                    "--leafs",
                    "4",
                    "--endpoints",
                    "200",
                    "--scenarios",
                    self.scenarios,
                    "--repeat",
                    str(self.repeat_s),
                    "--speed",
                    speed,
                    "--username",
                    "admin",
                    "--password",
                    "demo",
                    "--sflow",
                    f"127.0.0.1:{self.sflow_port}",
                    "--sflow-interval",
                    str(self.sflow_interval_s),
                ],
                f"{apic_url} (simulated APIC: REST + websocket) + sFlow agents of its "
                "hypervisors and external switches",
                ready=lambda c: port_open("127.0.0.1", self.apic_port),
            ),
            Child(
                "poller",
                [*cli, "apic", "poll", "--apic-urls", apic_url, "--username", "admin"],
                f"{apic_url} → InfluxDB (APIC endpoint poller)",
                env={"FABRICSCOPE_APIC_PASSWORD": "demo"},
            ),
        ]
        if has_command("fabricscope.commands.analyze"):
            # Short periods so a move's cause shows up within seconds of its evidence.
            children.append(
                Child(
                    "analyzers",
                    [*cli, "analyze", "--move-interval", "15", "--traffic-interval", "30"],
                    "move-cause (every 15 s) and traffic (every 30 s) analyzers",
                )
            )
        if has_command("fabricscope.commands.serve"):
            host, _, port = self.api_listen.rpartition(":")
            children.append(
                Child(
                    "api",
                    [*cli, "serve", "--listen", self.api_listen],
                    f"http://{self.api_listen}/ (web UI), /docs (API)",
                    ready=lambda c: port_open(host or "127.0.0.1", int(port)),
                )
            )
        env = {
            "FABRICSCOPE_INFLUX_URL": influx_url,
            "FABRICSCOPE_SPOOL_DIR": str(self.state_dir / "spool"),
            "FABRICSCOPE_SFLOW_ALLOW": "",
        }
        for child in children:
            child.env = {**env, **child.env}
        return children

    def start_child(self, child: Child) -> None:
        logs = self.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        child.log_path = logs / f"{child.name}.log"
        log = child.log_path.open("ab")
        env = dict(os.environ, **child.env)
        child.proc = subprocess.Popen(
            child.argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while child.ready is not None and not child.ready(child):
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited: see {child.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} did not become ready: see {child.log_path}")
            time.sleep(0.2)
        self.say(f"  {child.name:<14} {child.where}")

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.say("fabricscope demo — starting (Ctrl-C stops everything, nothing lost)")
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        code = 0
        try:
            url = self.influx_url()
            for child in self.plan(url):
                if self._stop.is_set():
                    break
                self.children.append(child)
                self.start_child(child)
            self.say(f"running; logs in {self.state_dir / 'logs'}")
            deadline = time.monotonic() + self.duration_s if self.duration_s else None
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                for child in self.children:
                    if child.proc is not None and child.proc.poll() is not None:
                        self.say(
                            f"  {child.name} exited with {child.proc.returncode}: "
                            f"see {child.log_path}"
                        )
                        child.proc = None
                        code = 1
                self._stop.wait(1.0)
        except RuntimeError as exc:
            self.say(f"error: {exc}")
            code = 1
        finally:
            self.shutdown()
        return code

    def shutdown(self) -> None:
        self.say("stopping …")
        order = ["fabric-sim", "collector", "poller", "analyzers", "api"]
        running = [
            c
            for name in order
            for c in self.children
            if c.name == name and c.proc is not None and c.proc.poll() is None
        ]
        # All at once, then wait: one after the other, their shutdowns added up to ~5 s on a
        # busy machine (Ctrl-C must stop everything within 5 s). InfluxDB stops after them, so
        # the collector's and poller's last flush still lands.
        for child in running:
            assert child.proc is not None
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60  # collector/poller flush or spool before exiting
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
            self.say(f"  stopped {child.name}")
        if self.local_influx is not None:
            self.local_influx.stop()  # type: ignore[attr-defined]
            self.say("  stopped InfluxDB")
