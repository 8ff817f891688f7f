"""Health goes red on 401/403 from InfluxDB and on an unreachable APIC: the processes' health
files, the container health checks of docker-compose.yml that read them, and /api/v1/health.
Against a real InfluxDB 1.8 with auth enabled (it answers 401 like 2.x does) and a real poller
process pointed at a closed loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from fabricscope.health import HealthReporter, check, judge
from fabricscope.influxdb_local import free_port
from fabricscope.settings import Settings
from influx.writer import BatchingWriter

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _hc(service: str) -> str:
    test = COMPOSE["services"][service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    return str(test[3])


def _run_hc(
    service: str, state_dir: Path, code: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FABRICSCOPE_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-c", code or _hc(service)],
        env=env, capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip


def _wait(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


@pytest.fixture
def auth_influx(influxdb_factory: Any) -> Any:
    srv = influxdb_factory(auth_enabled=True)
    # The first user may be created without credentials; then everything needs them.
    httpx.post(
        f"{srv.url}/query",
        data={"q": "CREATE USER admin WITH PASSWORD 'right' WITH ALL PRIVILEGES"},
    ).raise_for_status()
    return srv


def _writer(url: str, token: str, tmp: Path) -> BatchingWriter:
    return BatchingWriter(
        url, token, "-", "healthdb",
        batch_size=10, flush_interval_s=0.05, auth_retry_s=0.3, spool_dir=tmp / "spool",
    )  # fmt: skip


@pytest.mark.parametrize(("service", "name"), [("poller", "poller"), ("analyzers", "analyze")])
def test_process_health_check_red_on_401_green_with_the_right_token(
    auth_influx: Any, tmp_path: Path, service: str, name: str
) -> None:
    health = tmp_path / "health"
    bad = _writer(auth_influx.url, "admin:wrong", tmp_path / "bad")
    reporter = HealthReporter(health / f"{name}.json", bad, interval_s=0.1).start()
    try:
        bad.write_lines([f"h v={i}i" for i in range(5)])
        _wait(lambda: bad.influx_state() == "unauthorized")
        reporter.write_once()
        done = _run_hc(service, tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "refused the token (HTTP 401/403)" in done.stdout
        assert "wrong" not in done.stdout  # never the credentials
    finally:
        reporter.stop()
        bad.close(timeout=1)

    good = _writer(auth_influx.url, "admin:right", tmp_path / "good")
    reporter = HealthReporter(health / f"{name}.json", good, interval_s=0.1).start()
    try:
        good.write_lines([f"h v={i}i" for i in range(5)])
        assert good.flush(10)
        reporter.write_once()
        done = _run_hc(service, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        reporter.stop()
        good.close(timeout=1)


def test_collector_health_check_needs_the_port_and_every_worker_healthy(
    auth_influx: Any, tmp_path: Path
) -> None:
    import socket

    code = _hc("collector")
    assert f":{6343:04X} " in code
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    probe = code.replace(f":{6343:04X} ", f":{sock.getsockname()[1]:04X} ")
    health = tmp_path / "health"
    good = _writer(auth_influx.url, "admin:right", tmp_path / "w0")
    bad = _writer(auth_influx.url, "admin:wrong", tmp_path / "w1")
    reporters = [
        HealthReporter(health / "collector-w0.json", good, interval_s=0.1).start(),
        HealthReporter(health / "collector-w1.json", bad, interval_s=0.1).start(),
    ]
    try:
        good.write_lines(["c v=1i"])
        assert good.flush(10)
        bad.write_lines(["c v=1i"])
        _wait(lambda: bad.influx_state() == "unauthorized")
        for r in reporters:
            r.write_once()
        done = _run_hc("collector", tmp_path, probe)
        assert done.returncode == 1 and "collector-w1" in done.stdout, done.stdout + done.stderr
        assert "collector-w0" not in done.stdout
        reporters[1].stop()
        (health / "collector-w1.json").unlink()
        assert _run_hc("collector", tmp_path, probe).returncode == 0
        sock.close()
        done = _run_hc("collector", tmp_path, probe)
        assert done.returncode == 1 and "UDP 6343 is not bound" in done.stdout
    finally:
        sock.close()
        for r in reporters:
            r.stop()
        good.close(timeout=1)
        bad.close(timeout=1)


def test_poller_health_check_red_when_the_apic_is_unreachable(
    influxdb: Any, tmp_path: Path
) -> None:
    """A real `fabricscope apic poll` against a loopback port nobody listens on."""
    env = {
        **os.environ,
        "FABRICSCOPE_STATE_DIR": str(tmp_path),
        "FABRICSCOPE_INFLUX_URL": influxdb.url,
        "FABRICSCOPE_INFLUX_BUCKET": "healthdb",
        "FABRICSCOPE_APIC_URLS": f"http://127.0.0.1:{free_port()}",
        "FABRICSCOPE_APIC_PASSWORD": "x",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "fabricscope.cli", "apic", "poll"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    path = tmp_path / "health" / "poller.json"
    try:

        def apic_down() -> bool:
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                return False
            return data["components"].get("apic", {}).get("ok") is False

        _wait(apic_down, timeout=60)
        data = json.loads(path.read_text())
        assert data["components"]["influxdb"]["ok"] is True
        assert data["components"]["apic"]["state"] == "down"
        # Within the grace period still healthy; past it red, naming the APIC.
        assert check(["poller"], directory=tmp_path / "health") == []
        later = float(data["components"]["apic"]["down_since"]) + 91
        (problem,) = check(["poller"], directory=tmp_path / "health", now=later, max_age_s=1e9)
        assert problem.startswith("poller: apic down for ")
        code = _hc("poller").replace("main(['poller'])", "main(['poller', '--grace', '0'])")
        done = _run_hc("poller", tmp_path, code)
        assert done.returncode == 1 and "apic down" in done.stdout, done.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_judge_staleness_and_grace() -> None:
    ok = {"time": 1000.0, "components": {"influxdb": {"ok": True, "state": "ok"}}}
    assert judge(ok, now=1010.0) is None
    assert "no health report for 100 s" in str(judge(ok, now=1100.0, max_age_s=60))
    failing = {
        "time": 1000.0,
        "components": {"influxdb": {"ok": False, "state": "failing", "down_since": 950.0}},
    }
    assert judge(failing, now=1000.0, grace_s=90) is None
    assert "influxdb failing for 100 s" in str(judge(failing, now=1050.0, grace_s=90))
    refused = {
        "time": 1000.0,
        "components": {"influxdb": {"ok": False, "state": "unauthorized", "down_since": 1000.0}},
    }
    assert "refused the token" in str(judge(refused, now=1000.0))  # no grace for a bad token


def test_missing_health_file_is_unhealthy(tmp_path: Path) -> None:
    (problem,) = check(["analyze"], directory=tmp_path)
    assert "no health file" in problem


def test_api_health_says_unauthorized_with_503(auth_influx: Any) -> None:
    from api.app import create_app
    from influx.query import InfluxQuery

    settings = Settings(influx_url=auth_influx.url, influx_bucket="healthdb")  # type: ignore[arg-type]
    query = InfluxQuery(auth_influx.url, "admin:wrong", "healthdb", timeout_s=5)
    with TestClient(create_app(settings, query)) as client:
        resp = client.get("/api/v1/health")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable" and body["influxdb"] == "unauthorized"
    assert "FABRICSCOPE_INFLUX_TOKEN" in body["influxdb_error"]
    assert "wrong" not in resp.text
