"""Process health files (orchestration stage): what a container health check reads.

The collector, poller and analyzers serve no HTTP, and their `fabricscope_stats` cannot reach
InfluxDB when InfluxDB refuses their token, so each process also writes its own state to a small
JSON file every few seconds (`<state dir>/health/<writer name>.json`), and

    python -m fabricscope.health collector-w*

is the container health check: exit 0 when every matching file is fresh and says healthy, else 1
with one line saying why. Unhealthy means any of:

- the file is older than `--max-age` (the process is stuck or gone);
- InfluxDB refused the process's credentials (HTTP 401/403) on its last write;
- its writes have been failing otherwise (unreachable, 5xx, bucket missing) for `--grace` s;
- a probe the process registered (the poller: its APIC connection) has been down for `--grace` s.

The file holds no secret (state words and error texts the writer already logs).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

INTERVAL_S = 5.0
MAX_AGE_S = 60.0
GRACE_S = 90.0

# A probe returns (component, ok, detail): e.g. ("apic", False, "connect timeout").
Probe = Callable[[], tuple[str, bool, str]]


class _Writer(Protocol):
    def influx_state(self) -> str: ...


def health_dir(state_dir: str = "") -> Path:
    """`<state dir>/health`, the same root the spool defaults to."""
    base = (
        Path(state_dir).expanduser()
        if state_dir
        else Path(
            os.environ.get("FABRICSCOPE_STATE_DIR") or "~/.local/state/fabricscope"
        ).expanduser()
    )
    return base / "health"


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class HealthReporter:
    """Writes one process's health file every `interval_s` from a daemon thread."""

    def __init__(
        self, path: Path, writer: _Writer | None = None, *, interval_s: float = INTERVAL_S
    ) -> None:
        self.path = path
        self.writer = writer
        self.interval_s = interval_s
        self._probes: list[Probe] = []
        self._down_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-file", daemon=True)

    def add_probe(self, probe: Probe) -> None:
        self._probes.append(probe)

    def start(self) -> HealthReporter:
        with contextlib.suppress(OSError):  # unwritable: write_once says nothing, check says why
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.write_once()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _component(
        self, name: str, ok: bool, state: str, detail: str, now: float
    ) -> dict[str, Any]:
        if ok:
            self._down_since.pop(name, None)
        else:
            self._down_since.setdefault(name, now)
        entry: dict[str, Any] = {"ok": ok, "state": state}
        if detail:
            entry["detail"] = detail[:300]
        if not ok:
            entry["down_since"] = self._down_since[name]
        return entry

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        components: dict[str, Any] = {}
        if self.writer is not None:
            state = self.writer.influx_state()
            detail = str(getattr(self.writer, "last_error", "") or "") if state != "ok" else ""
            components["influxdb"] = self._component("influxdb", state == "ok", state, detail, now)
        for probe in self._probes:
            try:
                name, ok, detail = probe()
            except Exception as exc:  # noqa: BLE001 - a broken probe is a finding, not a crash
                name, ok, detail = "probe", False, f"{type(exc).__name__}: {exc}"
            components[name] = self._component(name, ok, "ok" if ok else "down", detail, now)
        return {"time": now, "pid": os.getpid(), "components": components}

    def write_once(self) -> None:
        try:
            _write_atomic(self.path, self.snapshot())
        except OSError:
            pass  # a read-only state dir must not stop the process; the check then says stale

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.write_once()


def judge(
    data: dict[str, Any], *, now: float, max_age_s: float = MAX_AGE_S, grace_s: float = GRACE_S
) -> str | None:
    """None when healthy, else why not (one line)."""
    age = now - float(data.get("time", 0))
    if age > max_age_s:
        return f"no health report for {age:.0f} s (process stuck or gone)"
    for name, c in sorted((data.get("components") or {}).items()):
        if c.get("ok"):
            continue
        detail = f": {c['detail']}" if c.get("detail") else ""
        if name == "influxdb" and c.get("state") == "unauthorized":
            return f"InfluxDB refused the token (HTTP 401/403){detail}"
        down = now - float(c.get("down_since", now))
        if down >= grace_s:
            return f"{name} {c.get('state', 'down')} for {down:.0f} s{detail}"
    return None


def check(
    patterns: Sequence[str],
    *,
    directory: Path,
    now: float | None = None,
    max_age_s: float = MAX_AGE_S,
    grace_s: float = GRACE_S,
) -> list[str]:
    """Problems of every health file matching `patterns` (names without .json); [] = healthy."""
    now = time.time() if now is None else now
    problems: list[str] = []
    for pattern in patterns:
        files = sorted(glob.glob(str(directory / f"{pattern}.json")))
        if not files:
            problems.append(f"{pattern}: no health file in {directory} (not started yet?)")
        for f in files:
            name = Path(f).stem
            try:
                data = json.loads(Path(f).read_text())
            except (OSError, ValueError) as exc:
                problems.append(f"{name}: unreadable health file ({exc})")
                continue
            why = judge(data, now=now, max_age_s=max_age_s, grace_s=grace_s)
            if why:
                problems.append(f"{name}: {why}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m fabricscope.health",
        description="exit 0 when the named processes' health files say healthy (container checks)",
    )
    p.add_argument("names", nargs="+", help="health file names without .json; globs allowed")
    p.add_argument("--dir", type=Path, default=None, help="health dir (default <state dir>/health)")
    p.add_argument("--max-age", type=float, default=MAX_AGE_S)
    p.add_argument("--grace", type=float, default=GRACE_S)
    args = p.parse_args(argv)
    problems = check(
        args.names,
        directory=args.dir or health_dir(),
        max_age_s=args.max_age,
        grace_s=args.grace,
    )
    for problem in problems:
        print(f"unhealthy: {problem}")
    if not problems:
        print("healthy")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
