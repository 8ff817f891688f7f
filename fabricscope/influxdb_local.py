"""Managed local InfluxDB 1.8.10 (orchestration stage): build, configure, start, stop, status.

`fabricscope demo`, `fabricscope influxdb start|stop|status` and the test suite use this to run
a private influxd on loopback. influxd 1.8.10 is the only InfluxDB that builds from the Go module
proxy with plain Go and no cgo/Rust (reference/influxdb-and-grafana.md §3), and it serves both
`/api/v2/write` (our writer) and InfluxQL on `/query` (our query layer).

Layout of a state dir::

    influxdb.conf   generated on every start (port or options may change between runs)
    influxd.pid     pid of the running server
    influxd.json    {"pid", "port", "url"} so `status`/`stop` from another process find it
    influxd.log     server stdout+stderr, appended
    meta/ data/ wal/
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

INFLUXD_VERSION = "v1.8.10"
INFLUXD_MODULE = "github.com/influxdata/influxdb/cmd/influxd"
DEFAULT_PORT = 8086
# `go install` of 1.8.10 takes ~75 s on 2 cores with a warm module cache; allow a cold one.
BUILD_TIMEOUT_S = 1800.0


class InfluxDBLocalError(RuntimeError):
    """The managed influxd could not be built, started or stopped."""


def cache_dir() -> Path:
    env = os.environ.get("FABRICSCOPE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fabricscope"


def default_state_dir() -> Path:
    env = os.environ.get("FABRICSCOPE_STATE_DIR")
    base = Path(env).expanduser() if env else Path.home() / ".local" / "state" / "fabricscope"
    return base / "influxdb"


def ensure_influxd(*, build_timeout_s: float = BUILD_TIMEOUT_S) -> Path:
    """Path of an influxd 1.8.10 binary, building it into `<cache>/bin` when missing.

    `FABRICSCOPE_INFLUXD` (an existing executable) overrides the cache, e.g. a packaged influxd.
    """
    override = os.environ.get("FABRICSCOPE_INFLUXD")
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise InfluxDBLocalError(f"FABRICSCOPE_INFLUXD={override} is not an executable file")
        return path
    bindir = cache_dir() / "bin"
    binary = bindir / "influxd"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    go = shutil.which("go")
    if go is None:
        raise InfluxDBLocalError(
            "influxd is not installed and `go` is not on PATH; install Go (Debian: "
            "`apt-get install golang-go`, 1.19 is enough) or set FABRICSCOPE_INFLUXD to an "
            "influxd 1.8.x binary"
        )
    bindir.mkdir(parents=True, exist_ok=True)
    # GOTOOLCHAIN=local: build with the Go that is installed (Debian 12's 1.19 builds 1.8.10);
    # a Go >= 1.21 must never go and download another toolchain for it.
    env = dict(
        os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0", GOBIN=str(bindir), GOTOOLCHAIN="local"
    )
    target = f"{INFLUXD_MODULE}@{INFLUXD_VERSION}"
    log.info("building influxd %s into %s (takes a minute or two)", INFLUXD_VERSION, bindir)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [go, "install", target],
            env=env,
            capture_output=True,
            text=True,
            timeout=build_timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InfluxDBLocalError(
            f"`go install {target}` timed out after {build_timeout_s:.0f} s"
        ) from exc
    if proc.returncode != 0 or not binary.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-20:])
        raise InfluxDBLocalError(f"`go install {target}` failed (exit {proc.returncode}):\n{tail}")
    log.info("built %s in %.0f s", binary, time.monotonic() - started)
    return binary


def free_port() -> int:
    """A currently free loopback TCP port (racy by nature; fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(url: str, timeout: float = 1.0) -> str | None:
    """The server's `X-Influxdb-Version` when `/ping` answers 204, else None."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=timeout) as resp:  # noqa: S310
            if resp.status == 204:
                return str(resp.headers.get("X-Influxdb-Version", "unknown"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return None


def _pid_alive(pid: int) -> bool:
    """True when `pid` is a live (not zombie) influxd process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # State is the field after the parenthesised comm (which may itself contain spaces).
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)
    # A recycled pid belonging to another program must not be mistaken for (or killed as) ours.
    return b"influxd" in cmdline


def _tail(path: Path, lines: int = 20) -> str:
    try:
        data = path.read_bytes()[-16384:]
    except OSError:
        return "(no log)"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


@dataclass
class _Running:
    pid: int
    port: int
    url: str


class LocalInfluxDB:
    """One managed influxd with its data under `state_dir`, listening on 127.0.0.1:`port`.

    The server runs in its own session so it outlives the `fabricscope influxdb start` process;
    `stop()` works from any process through the pid recorded in the state dir.
    """

    def __init__(
        self,
        state_dir: Path | str | None = None,
        port: int = DEFAULT_PORT,
        *,
        auth_enabled: bool = False,
        max_body_size: int = 25_000_000,
        binary: Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).expanduser() if state_dir else default_state_dir()
        self.port = port
        self.auth_enabled = auth_enabled
        self.max_body_size = max_body_size
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths ---------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.state_dir / "influxdb.conf"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "influxd.pid"

    @property
    def info_path(self) -> Path:
        return self.state_dir / "influxd.json"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "influxd.log"

    @property
    def url(self) -> str:
        """Base URL of the running server (its recorded port), else of the configured port."""
        running = self._read_running()
        return running.url if running else f"http://127.0.0.1:{self.port}"

    # -- config --------------------------------------------------------------------------------
    def render_config(self) -> str:
        meta, data, wal = (self.state_dir / sub for sub in ("meta", "data", "wal"))
        # RPC (backup/restore) on an ephemeral port: two managed servers must never collide on
        # the fixed 8088, and nothing here uses backup.
        return f"""\
# Generated by fabricscope (fabricscope/influxdb_local.py); rewritten on every start.
reporting-disabled = true
bind-address = "127.0.0.1:0"

[meta]
  dir = "{meta}"
  logging-enabled = false

[data]
  dir = "{data}"
  wal-dir = "{wal}"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  # No _internal database: it costs disk and CPU on a 2-core demo machine.
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {str(self.auth_enabled).lower()}
  log-enabled = false
  flux-enabled = false
  pprof-enabled = false
  max-body-size = {self.max_body_size}

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  log-enabled = false
"""

    # -- lifecycle -----------------------------------------------------------------------------
    def _read_running(self) -> _Running | None:
        try:
            info = json.loads(self.info_path.read_text())
            running = _Running(int(info["pid"]), int(info["port"]), str(info["url"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return running if _pid_alive(running.pid) else None

    def running(self) -> bool:
        """True when our recorded influxd process is alive and answers /ping."""
        running = self._read_running()
        return running is not None and ping(running.url) is not None

    def start(self, timeout_s: float = 30.0) -> str:
        """Start influxd unless it already runs; return its base URL once /ping answers."""
        existing = self._read_running()
        if existing is not None:
            if ping(existing.url, timeout=2.0) is not None:
                return existing.url
            raise InfluxDBLocalError(
                f"influxd pid {existing.pid} from {self.state_dir} is running but "
                f"{existing.url}/ping does not answer; run `fabricscope influxdb stop` first"
            )
        url = f"http://127.0.0.1:{self.port}"
        if ping(url) is not None:
            raise InfluxDBLocalError(
                f"another InfluxDB already answers on {url}; choose another --port or use it via "
                "FABRICSCOPE_INFLUX_URL"
            )
        binary = self._binary or ensure_influxd()
        for sub in ("meta", "data", "wal"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render_config())
        with self.log_path.open("ab") as logf:
            logf.write(f"--- fabricscope: starting {binary} on {url}\n".encode())
            logf.flush()
            self._proc = subprocess.Popen(
                [str(binary), "run", "-config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                # Own session: Ctrl-C in the starting terminal must not kill a background server.
                start_new_session=True,
            )
        pid = self._proc.pid
        self.pid_path.write_text(f"{pid}\n")
        self.info_path.write_text(json.dumps({"pid": pid, "port": self.port, "url": url}))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._forget()
                raise InfluxDBLocalError(
                    f"influxd exited with code {self._proc.returncode} during startup; "
                    f"log {self.log_path}:\n{_tail(self.log_path)}"
                )
            if ping(url, timeout=0.5) is not None:
                log.info("influxd %s ready at %s (pid %d)", INFLUXD_VERSION, url, pid)
                return url
            time.sleep(0.1)
        self.stop()
        raise InfluxDBLocalError(
            f"influxd did not answer {url}/ping within {timeout_s:.0f} s; "
            f"log {self.log_path}:\n{_tail(self.log_path)}"
        )

    def stop(self, timeout_s: float = 20.0) -> bool:
        """SIGTERM (then SIGKILL after `timeout_s`) and wait; False when nothing was running."""
        running = self._read_running()
        pid = running.pid if running else (self._proc.pid if self._proc else None)
        if pid is None or (
            running is None and (self._proc is None or self._proc.poll() is not None)
        ):
            self._forget()
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout_s):
            log.warning("influxd pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 5.0)
        self._forget()
        return True

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout_s)  # our child: reap it so it does not linger as a zombie
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.05)
        return False

    def _forget(self) -> None:
        for path in (self.pid_path, self.info_path):
            path.unlink(missing_ok=True)

    def __enter__(self) -> LocalInfluxDB:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
