#!/usr/bin/env bash
# The test command (README): install what is missing, lint, type-check, run the whole suite
# against real components (InfluxDB on loopback, pmacct's sfprobe, UDP sockets, websockets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
python3 -m ruff check .
python3 -m mypy
python3 -m pytest "$@"
