"""Analyzer logs (issue #12): library loggers at WARNING, one line per analyzer run; -v shows all.
A real `fabricscope analyze --once` against a real InfluxDB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _analyze(influxdb: Any, db: str, tmp_path: Path, *flags: str) -> list[str]:
    env = {
        **os.environ,
        "FABRICSCOPE_INFLUX_URL": influxdb.url,
        "FABRICSCOPE_INFLUX_BUCKET": db,
        "FABRICSCOPE_STATE_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "fabricscope.cli", *flags, "analyze", "--once"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_one_line_per_run_and_no_library_chatter(influxdb, influx_db, tmp_path) -> None:
    lines = _analyze(influxdb, influx_db, tmp_path)
    assert not [ln for ln in lines if "HTTP Request" in ln or "apscheduler" in ln], lines
    runs = [ln for ln in lines if " analyzers.scheduler: analyzer " in ln]
    assert len(runs) == 2, lines  # move_cause and traffic, once each
    assert any("analyzer move_cause: ok in " in ln and "moves_analysed 0" in ln for ln in runs)
    assert any("analyzer traffic: ok in " in ln for ln in runs)
    assert len(lines) <= 4, lines  # nothing else at INFO for a quiet run


def test_verbose_shows_the_library_loggers(influxdb, influx_db, tmp_path) -> None:
    lines = _analyze(influxdb, influx_db, tmp_path, "-v")
    assert any("HTTP Request" in ln for ln in lines), lines[:20]
