#!/usr/bin/env bash
# Install everything fabricscope and its tests need on a fresh Debian 12 machine of this kind:
# Python deps, pmacct (a real sFlow agent: sfprobe), Chromium + chromedriver (UI tests), and the
# managed InfluxDB 1.8.10 (built from the Go module proxy, cached under ~/.cache/fabricscope).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v pmacctd >/dev/null 2>&1 || need_apt+=(pmacct)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)  # the native sFlow flow path (optional)
if ((${#need_apt[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: apt-get install ${need_apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "setup: missing ${need_apt[*]} (run as root, or: sudo apt-get install ${need_apt[*]})" >&2
    fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "Running pip as the 'root' user" || true

# The sFlow collector's native flow path (collector/sflow/_flowscan.c), built in place for this
# checkout; without it the collector runs its pure-Python fast path (same output, slower).
python3 setup.py -q build_ext --inplace >/dev/null 2>&1 \
    || echo "setup: native sFlow flow path not built (no C compiler or Python headers): pure Python"

# Build influxd 1.8.10 now (≈75 s with a warm module cache) rather than inside the first test.
python3 - <<'PY'
from fabricscope.influxdb_local import ensure_influxd
print("setup: influxd at", ensure_influxd())
PY
