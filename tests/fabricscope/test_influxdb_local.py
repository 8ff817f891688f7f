"""`fabricscope influxdb start|status|stop` end to end, on a free port with a tmp state dir."""

from __future__ import annotations

import pytest

from fabricscope.cli import main
from fabricscope.influxdb_local import LocalInfluxDB, free_port, ping

pytestmark = pytest.mark.integration


def test_cli_start_status_stop(tmp_path, capsys, influxd_binary, monkeypatch):
    monkeypatch.setenv("FABRICSCOPE_INFLUXD", str(influxd_binary))
    port = free_port()
    state = ["--state-dir", str(tmp_path)]
    url = f"http://127.0.0.1:{port}"
    assert main(["influxdb", "status", *state]) == 1
    assert capsys.readouterr().out.strip() == "not running"
    try:
        assert main(["influxdb", "start", *state, "--port", str(port)]) == 0
        assert capsys.readouterr().out.strip() == url
        assert ping(url) is not None
        # Idempotent: a second start prints the URL of the running server.
        assert main(["influxdb", "start", *state, "--port", str(port)]) == 0
        assert capsys.readouterr().out.strip() == url
        assert main(["influxdb", "status", *state]) == 0
        assert capsys.readouterr().out.strip() == url
        conf = (tmp_path / "influxdb.conf").read_text()
        assert f'bind-address = "127.0.0.1:{port}"' in conf
        assert "reporting-disabled = true" in conf and "flux-enabled = false" in conf
    finally:
        assert main(["influxdb", "stop", *state]) == 0
    assert capsys.readouterr().out.strip() == "stopped"
    assert ping(url) is None
    assert not (tmp_path / "influxd.pid").exists()
    assert main(["influxdb", "status", *state]) == 1


def test_start_refuses_a_port_in_use(tmp_path, influxd_binary):
    # Port taken by a live server → a clear error, not a hang.
    first = LocalInfluxDB(tmp_path / "a", free_port(), binary=influxd_binary)
    first.start()
    try:
        second = LocalInfluxDB(tmp_path / "b", first.port, binary=influxd_binary)
        with pytest.raises(RuntimeError, match="already answers"):
            second.start()
    finally:
        first.stop()


def test_ensure_influxd_errors_clearly_without_go(tmp_path, monkeypatch):
    from fabricscope import influxdb_local

    monkeypatch.delenv("FABRICSCOPE_INFLUXD", raising=False)
    monkeypatch.setenv("FABRICSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(influxdb_local.InfluxDBLocalError, match="go"):
        influxdb_local.ensure_influxd()


def test_start_failure_reports_log_tail(tmp_path):
    fake = tmp_path / "influxd"
    fake.write_text("#!/bin/sh\necho 'run: open server: boom' >&2\nexit 1\n")
    fake.chmod(0o755)
    db = LocalInfluxDB(tmp_path / "st", free_port(), binary=fake)
    with pytest.raises(RuntimeError, match="(?s)exited with code 1.*boom"):
        db.start(timeout_s=5)
    assert not db.running()
