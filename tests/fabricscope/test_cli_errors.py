"""Errors a person can act on (issue 12): each CLI failure is one line on stderr naming the thing
and what to do, a non-zero exit, no traceback unless -v. Real subprocesses, real ports in use."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fabricscope.influxdb_local import free_port
from tests.collector.sflow.builder import pcap_file, udp_frame_v4

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sflow"
CAPTURE = FIXTURES / "public" / "telegraf-switch-15918.bin"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "fabricscope.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> str:
    assert r.returncode != 0, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("fabricscope: error:")]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture
def big_capture(tmp_path: Path) -> Path:
    """A pcap of 2,000 copies of a real switch datagram (about 3 MB)."""
    payload = CAPTURE.read_bytes()
    frames = [(1_700_000_000 + i, 0, udp_frame_v4(payload)) for i in range(2000)]
    path = tmp_path / "big.pcap"
    path.write_bytes(pcap_file(frames))
    return path


def test_version() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("fabricscope ")
    from fabricscope import __version__

    assert r.stdout.split()[1] == __version__


def test_decode_missing_file_and_directory(tmp_path: Path) -> None:
    one_line_error(run("sflow", "decode", "/missing.pcap"), "/missing.pcap", "no such file")
    one_line_error(run("sflow", "decode", str(tmp_path)), str(tmp_path), "directory")
    # -v: the traceback is there for whoever wants it.
    r = run("-v", "sflow", "decode", "/missing.pcap")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_udp_port_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        r = run("sflow", "listen", "--listen", f"127.0.0.1:{port}", "--stdout")
        one_line_error(r, f"udp 127.0.0.1:{port}", "already in use", "--listen")
        r = run("sflow", "listen", "--listen", f"127.0.0.1:{port}", "--stdout", "--workers", "2")
        one_line_error(r, "already in use")


@pytest.mark.parametrize(
    ("listen", "words"),
    [
        ("192.0.2.77:6343", ("192.0.2.77", "no such address on this machine")),
        ("no-such-host.invalid:6343", ("no-such-host.invalid", "no such address")),
        ("foo:bar", ("'foo:bar'", "FABRICSCOPE_SFLOW_LISTEN", "host:port")),
        ("127.0.0.1:70000", ("'127.0.0.1:70000'", "host:port")),
    ],
)
def test_bad_udp_listen_address(listen: str, words: tuple[str, ...]) -> None:
    one_line_error(run("sflow", "listen", "--listen", listen, "--stdout"), *words)


def test_serve_port_in_use_says_so_before_announcing_anything() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = run("serve", "--listen", f"127.0.0.1:{port}", "--influx-url", "http://127.0.0.1:9")
    one_line_error(r, f"tcp 127.0.0.1:{port}", "already in use", "--listen")
    assert "http://" not in r.stderr.replace("http://127.0.0.1:9", "")  # no "API on http://…"


def test_serve_bad_listen_address() -> None:
    r = run("serve", "--listen", "192.0.2.77:8080", "--influx-url", "http://127.0.0.1:9")
    one_line_error(r, "192.0.2.77:8080", "no such address")


@pytest.mark.parametrize("url", ["htp:/bad", "http:/bad", "http://", "http://host:99999"])
def test_malformed_influx_url_is_refused_up_front(url: str, tmp_path: Path) -> None:
    env = {"FABRICSCOPE_SPOOL_DIR": str(tmp_path)}
    for args in (
        ("serve", "--influx-url", url, "--listen", f"127.0.0.1:{free_port()}"),
        ("sflow", "replay", str(CAPTURE), "--influx-url", url),
        ("sflow", "listen", "--listen", "127.0.0.1:0", "--influx-url", url),
    ):
        one_line_error(run(*args, env=env, timeout=30), repr(url), "InfluxDB URL")


def test_replay_with_influxdb_down_says_spooled_and_exits_nonzero(tmp_path: Path) -> None:
    env = {"FABRICSCOPE_SPOOL_DIR": str(tmp_path / "spool")}
    url = f"http://127.0.0.1:{free_port()}"
    r = run("sflow", "replay", str(CAPTURE), "--influx-url", url, env=env)
    line = one_line_error(r, url, "spool", "--wait")
    assert "did not take the data" in line
    assert "replayed 1 datagrams" in r.stderr
    assert any((tmp_path / "spool" / "replay").iterdir())
    # --wait with a limit: still down, so it says what it waits for and fails the same way.
    r = run("sflow", "replay", "--wait", "12", "--influx-url", url, env=env)
    assert "waiting for InfluxDB" in r.stderr
    one_line_error(r, "spool")


def test_replay_wait_delivers_the_spool(tmp_path: Path, influxdb, influx_db: str) -> None:
    env = {"FABRICSCOPE_SPOOL_DIR": str(tmp_path / "spool")}
    down = f"http://127.0.0.1:{free_port()}"
    one_line_error(run("sflow", "replay", str(CAPTURE), "--influx-url", down, env=env), "spool")
    # InfluxDB is "back" (here: the real one): --wait without files delivers what was spooled.
    r = run("sflow", "replay", "--wait", "--influx-url", influxdb.url, "--influx-bucket",
            influx_db, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "error" not in r.stderr
    assert influxdb.count(influx_db, "sflow_if_counters") > 0


def test_progress_bar_on_a_terminal_quiet_in_a_pipe(big_capture: Path) -> None:
    piped = run("sflow", "decode", "--format", "lp", str(big_capture))
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == "" and piped.stdout.count("\n") > 100

    # stderr on a pseudo-terminal, stdout still a pipe (as in `… | grep`).
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fabricscope.cli", "sflow", "decode", str(big_capture)],
            stdout=subprocess.PIPE,
            stderr=follower,
            stdin=subprocess.DEVNULL,
        )
        os.close(follower)
        out, _ = proc.communicate(timeout=120)
        tty = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
    finally:
        os.close(leader)
    assert proc.returncode == 0
    text = tty.decode()
    assert "decode [" in text and "100%" in text and "2,000 datagrams" in text, text[-300:]
    assert b"decode [" not in out  # the data on stdout stays clean
