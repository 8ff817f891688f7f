#!/usr/bin/env bash
# The test command (README): install what is missing (scripts/setup.sh: Debian packages, the
# project venv .venv pinned by constraints.txt, InfluxDB 1.8.10), then lint, type-check and run
# the whole suite with the venv's Python against real components (InfluxDB on loopback, pmacct's
# sfprobe, UDP sockets, websockets, headless Chromium). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PY=.venv/bin/python
"$PY" -m ruff check .
"$PY" -m mypy
"$PY" grafana/build_dashboards.py --check  # the committed dashboards are what the builder makes
"$PY" -m pytest --durations=15 "$@"  # the slowest tests in the log: CI time is budgeted
