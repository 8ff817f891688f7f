"""`fabricscope serve` as a user runs it: a subprocess answering on the --listen address."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from fabricscope.commands.serve import split_listen
from fabricscope.influxdb_local import free_port
from tests.api.conftest import API_KEY, Seeded


def test_split_listen() -> None:
    assert split_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert split_listen("[::1]:9000") == ("::1", 9000)
    assert split_listen(":9000") == ("127.0.0.1", 9000)
    for bad in ("8080", "host:", "host:0", "host:99999", "host:http"):
        with pytest.raises(ValueError, match="host:port"):
            split_listen(bad)


def test_serve_subprocess(seeded: Seeded) -> None:
    port = free_port()
    env = {**os.environ, "FABRICSCOPE_API_KEY": API_KEY}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fabricscope.cli",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--influx-url",
            seeded.url,
            "--influx-bucket",
            seeded.db,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                r = httpx.get(f"{base}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.2)
        assert r.json()["influxdb"] == "ok"
        assert httpx.get(f"{base}/api/v1/moves").status_code == 401  # key from the environment
        r = httpx.get(f"{base}/api/v1/moves", headers={"X-API-Key": API_KEY})
        assert r.status_code == 200 and len(r.json()["items"]) == 3
    finally:
        proc.terminate()
        proc.wait(10)
    assert API_KEY not in (proc.stderr.read().decode() if proc.stderr else "")
